"""TSL-Net losses: CPC sign, label-distribution KL, greedy search rules, frame-loss weighting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.losses.contrastive import reverse_mapping_loss
from sentiloc.losses.objectives.tslnet import (
    TSLNetLossConfig,
    TSLNetObjective,
    click_targets,
    per_video_focal,
)
from sentiloc.losses.pseudo_labels.greedy_search import (
    greedy_pseudo_labels,
    greedy_search_batch,
)
from sentiloc.losses.registry import build_objective
from sentiloc.losses.video import label_distribution_kl
from sentiloc.models import TSLNet, TSLNetConfig, TSLNetOutput
from tests.losses.clicks import make_clicks
from tests.losses.sections import loss_spec, typed_loss

LN2 = math.log(2.0)


def focal(p: float, q: float, focus: float | None = None) -> float:
    """Reference focal BCE of one element, from the formula."""
    f = q if focus is None else focus
    return ((1 - p) * f + p * (1 - f)) ** 2 * -(q * math.log(p) + (1 - q) * math.log(1 - p))


# --------------------------------------------------------------------------------------------
# L_fuse


def test_reverse_mapping_loss_by_hand_and_padding_ignored() -> None:
    f = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])
    recon = torch.tensor([[[3.0, 0.0], [0.0, 1.0], [-7.0, 1.0]]])  # third snippet is padding
    mask = torch.tensor([[True, True, False]])
    # cos = identity on the real 2 x 2 block: each snippet gives log(e + 1) − 1
    expected = math.log(math.e + 1) - 1
    assert reverse_mapping_loss(f, recon, mask).item() == pytest.approx(expected, rel=1e-6)
    swapped = recon[:, [1, 0, 2]]  # each snippet's own reconstruction is now orthogonal
    assert reverse_mapping_loss(f, swapped, mask).item() == pytest.approx(math.log(1 + math.e), rel=1e-6)


def fake_output(cas: torch.Tensor, mask: torch.Tensor, **fields: torch.Tensor) -> TSLNetOutput:
    b, t, _ = cas.shape
    zeros = torch.zeros(b, t, 2)
    base = {
        "dist_video": torch.zeros(b, cas.shape[-1] - 1),
        "feat_visual": zeros, "feat_audio": zeros, "recon_visual": zeros, "recon_audio": zeros,
    }
    return TSLNetOutput(cas, None, mask.float(), torch.zeros(b, t, 4), cas[..., :-1].amax(1), **{**base, **fields})


def point_batch(mask: torch.Tensor, times: list[list[int]], classes: list[list[int]]) -> Batch:
    point_t, point_cls, point_mask = make_clicks(times, classes)
    b, t = mask.shape
    return Batch({}, mask, mask.clone(), [f"v{i}" for i in range(b)], torch.full((b,), 25.0, dtype=torch.float64),
                 torch.ones(b, 2), point_t, point_cls, point_mask)


@pytest.mark.parametrize(("sign", "factor"), [("paper", 1.0), ("code", -1.0)])
def test_cpc_sign_flag(sign: str, factor: float) -> None:
    mask = torch.ones(1, 2, dtype=torch.bool)
    eye = torch.eye(2)[None]
    out = fake_output(torch.full((1, 2, 3), 0.5), mask, feat_visual=eye, recon_visual=eye, feat_audio=eye,
                      recon_audio=eye[:, [1, 0]])
    terms = TSLNetObjective(TSLNetLossConfig(cpc_sign=sign), "point", 2)(out, point_batch(mask, [[0]], [[0]]))
    per_modality = (math.log(math.e + 1) - 1) + math.log(1 + math.e)  # visual + audio
    assert terms["fuse"].item() == pytest.approx(factor * per_modality, rel=1e-6)


# --------------------------------------------------------------------------------------------
# L_video


def test_label_distribution_kl_by_hand() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0], [0.0, 0.0], [4.0, -2.0]])
    counts = torch.tensor([[1.0, 3.0], [1.0, 3.0], [0.0, 2.0], [0.0, 0.0]])  # last video: no clicks
    per_video = [
        0.0,  # d = D = (1/4, 3/4)
        (0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)) / 2,  # divided by C = 2
        math.log(1 / 0.5) / 2,  # absent class contributes 0 · log 0 = 0
    ]
    assert label_distribution_kl(logits, counts).item() == pytest.approx(sum(per_video) / 3, abs=1e-7)


def test_video_term_counts_clicks_per_class() -> None:
    mask = torch.ones(1, 6, dtype=torch.bool)
    out = fake_output(torch.full((1, 6, 3), 0.5), mask, dist_video=torch.tensor([[0.0, 0.0]]))
    terms = TSLNetObjective(TSLNetLossConfig(), "point", 2)(out, point_batch(mask, [[0, 2, 4]], [[1, 1, 0]]))
    d = (1 / 3, 2 / 3)
    expected = (d[0] * math.log(d[0] / 0.5) + d[1] * math.log(d[1] / 0.5)) / 2
    assert terms["video"].item() == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------------------------
# greedy search


def search(b: list[float], points: list[int], fused: list[list[float]] | None = None):
    b_arr = np.array(b, dtype=np.float32)
    fused_arr = np.zeros((len(b), 2), np.float32) if fused is None else np.array(fused, np.float32)
    return greedy_pseudo_labels(b_arr, fused_arr, np.array(points))


def test_left_gap_sum_at_least_one_fills_to_the_last_marked() -> None:
    # two marked (0.97, 0.96): seed value = gap max 0.97, sum 1.94 >= 1 -> seeds [0, 2]
    _, _, seeds = search([0.97, 0.2, 0.96, 0.1, 0.0], [4])
    np.testing.assert_allclose(seeds, [0.97, 0.97, 0.97, 0, 0])


def test_left_gap_sum_below_one_marks_start_to_argmax() -> None:
    # one marked (0.96): sum 0.96 < 1 -> from the start to the argmax (index 1)
    _, _, seeds = search([0.3, 0.96, 0.5, 0.2, 0.0], [4])
    np.testing.assert_allclose(seeds, [0.96, 0.96, 0, 0, 0])
    # nothing marked at all: still start .. argmax, with the (low) gap maximum as the value
    _, _, seeds = search([0.1, 0.2, 0.6, 0.3, 0.0], [4])
    np.testing.assert_allclose(seeds, [0.6, 0.6, 0.6, 0, 0])


def test_right_gap_mirrors_the_left() -> None:
    _, _, seeds = search([0.0, 0.1, 0.97, 0.2, 0.96], [0])  # sum 1.94: first marked .. end
    np.testing.assert_allclose(seeds, [0, 0, 0.97, 0.97, 0.97])
    _, _, seeds = search([0.0, 0.2, 0.96, 0.5, 0.3], [0])  # sum 0.96: argmax .. end
    np.testing.assert_allclose(seeds, [0, 0, 0.96, 0.96, 0.96])


def test_inner_gap_sum_rules() -> None:
    # three marked: 3 x 0.98 >= 2 -> everything between the first and last marked
    _, _, seeds = search([0, 0.1, 0.96, 0.3, 0.98, 0.95, 0.2, 0], [0, 7])
    np.testing.assert_allclose(seeds, [0, 0, 0.98, 0.98, 0.98, 0.98, 0, 0])
    # two marked: 2 x 0.99 = 1.98 < 2 -> only the argmax
    _, _, seeds = search([0, 0.1, 0.98, 0.3, 0.99, 0.2, 0], [0, 6])
    np.testing.assert_allclose(seeds, [0, 0, 0, 0, 0.99, 0, 0])


def test_foreground_expansion_walks_out_and_stops_at_the_first_failure() -> None:
    # clicks at 2 and 6; ok(t) = b_t <= max_c fused_t
    b = [0.9, 0.1, 0.0, 0.2, 0.97, 0.3, 0.0, 0.1, 0.6, 0.1]
    fused = [[0.05, 0.0], [0.5, 0.2], [0, 0], [0.1, 0.4], [0.0, 0.01], [0.5, 0.0], [0, 0], [0.3, 0.2], [0.2, 0.1],
             [0.9, 0.0]]
    targets, weights, seeds = search(b, [6, 2], fused)
    expanded = [1, 3, 5, 7]  # 0: b 0.9 > 0.05; 4: b 0.97; 8: b 0.6 > 0.2 stops the right walk before 9
    expected = np.zeros((10, 3), np.float32)
    for t in expanded:
        expected[t] = [*fused[t], b[t]]
    np.testing.assert_allclose(targets, expected)
    np.testing.assert_allclose(weights, expected.max(axis=1))
    # seeds: left gap [0, 1] none marked -> start..argmax(0); inner [3..5] one marked -> argmax 4;
    # right gap [7..9] none marked -> argmax 8 .. end
    np.testing.assert_allclose(seeds, [0.9, 0, 0, 0, 0.97, 0, 0, 0, 0.6, 0.6])


def test_seed_of_value_one_blocks_the_walk() -> None:
    # left gap [0, 1], both marked at b = 1: seeds of value 1. Snippet 1 passes the score test
    # (b 1.0 <= max fused 1.0) but is a seed of value >= 1, so the walk from the click stops at once.
    targets, _, seeds = search([1.0, 1.0, 0.1], [2], [[0, 0], [1.0, 0], [0, 0]])
    np.testing.assert_allclose(seeds, [1, 1, 0])
    assert targets.sum() == 0
    # the same with seed value 0.99 < 1: snippet 1 is expanded (and stays a seed)
    targets, _, seeds = search([0.99, 0.99, 0.1], [2], [[0, 0], [0.99, 0], [0, 0]])
    np.testing.assert_allclose(seeds, [0.99, 0.99, 0])
    np.testing.assert_allclose(targets, [[0, 0, 0], [0.99, 0, 0.99], [0, 0, 0]])


def test_adjacent_duplicate_and_out_of_range_clicks() -> None:
    targets, weights, seeds = search([0.2, 0.1, 0.99, 0.98], [1, 0, 1, 9, -1])
    # clicks {0, 1}: no left gap, no inner gap; right gap [2, 3], sum 1.98 >= 1 -> seeds from 2
    np.testing.assert_allclose(seeds, [0, 0, 0.99, 0.99])
    assert weights.sum() == 0
    targets, weights, seeds = search([0.2, 0.1], [])
    assert targets.shape == (2, 3) and targets.sum() == 0 and weights.sum() == 0 and seeds.sum() == 0


def test_batch_search_matches_per_video_and_ignores_padding() -> None:
    gen = torch.Generator().manual_seed(0)
    cas = torch.rand(2, 9, 3, generator=gen)
    cas[..., 2] = torch.where(torch.rand(2, 9, generator=gen) > 0.6, 0.97, cas[..., 2])
    mask = torch.arange(9)[None] < torch.tensor([[9], [6]])
    point_t, _, point_mask = make_clicks([[2, 6], [1, 7]], [[0, 1], [1, 0]])  # 7 is on padding
    targets, weights, seeds = greedy_search_batch(cas, mask, point_t, point_mask)
    for i, (n, clicks) in enumerate([(9, [2, 6]), (6, [1])]):
        video = cas[i, :n].numpy()
        exp = greedy_pseudo_labels(video[:, 2], video[:, :2], np.array(clicks))
        for got, want in zip((targets[i, :n], weights[i, :n], seeds[i, :n]), exp):
            np.testing.assert_allclose(got.numpy(), want)
    assert targets[1, 6:].abs().sum() == 0 and seeds[1, 6:].abs().sum() == 0


# --------------------------------------------------------------------------------------------
# frame losses


def test_click_targets_smoothing_and_weight() -> None:
    point_t, point_cls, point_mask = make_clicks([[1, 3, 3]], [[0, 1, 0]])
    targets, weight = click_targets(point_t, point_cls, point_mask, 5, 2, 0.9, 0.1)
    expected = torch.zeros(1, 5, 3)
    expected[0, 1] = torch.tensor([0.9, 0.1, 0.0])
    expected[0, 3] = torch.tensor([0.9, 0.9, 0.0])  # both classes clicked there
    torch.testing.assert_close(targets, expected)
    torch.testing.assert_close(weight, torch.tensor([[0, 0.9, 0, 0.9, 0]]))


def test_pact_weights_each_element_by_its_target_and_focuses_on_the_binarised_one() -> None:
    pred = torch.tensor([[[0.8, 0.5, 0.5]]])
    target = torch.tensor([[[0.6, 0.0, 0.3]]])
    got = per_video_focal(pred, target, target, target.amax(-1), 2.0, focus=target > 0.5)
    # elements: 0.6·ℓ(0.8, 0.6 | focus 1) + 0 + 0.3·ℓ(0.5, 0.3 | focus 0), normalised by max = 0.6
    expected = (0.6 * focal(0.8, 0.6, 1.0) + 0.3 * focal(0.5, 0.3, 0.0)) / 0.6
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_frame_loss_weighting_by_hand() -> None:
    """One video, click at t = 1 (class 1); the search gives seeds {0: 0.97, 3: 0.96}, expansion {2}."""
    cas = torch.tensor([[[0.1, 0.1, 0.97], [0.3, 0.6, 0.2], [0.2, 0.8, 0.3], [0.1, 0.1, 0.96]]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    terms = TSLNetObjective(TSLNetLossConfig(), "point", 2)(fake_output(cas, mask), point_batch(mask, [[1]], [[1]]))

    def fused(row: list[float]) -> list[float]:
        return [row[0] * (1 - row[2]), row[1] * (1 - row[2]), row[2]]

    rows = [fused(r) for r in cas[0].tolist()]
    point = 0.9 * sum(focal(p, q) for p, q in zip(rows[1], [0.1, 0.9, 0.0])) / 0.9
    bkg = sum(s * sum(focal(p, q) for p, q in zip(rows[t], [0, 0, 1])) for t, s in [(0, 0.97), (3, 0.96)]) / (0.97 + 0.96)
    q = rows[2]  # the expanded snippet's target is its own fused vector
    pact = 0.5 * sum(qc * focal(pc, qc, float(qc > 0.5)) for pc, qc in zip(rows[2], q)) / max(q)
    assert terms["point"].item() == pytest.approx(point, rel=1e-5)
    assert terms["bkg"].item() == pytest.approx(bkg, rel=1e-5)
    assert terms["pact"].item() == pytest.approx(pact, rel=1e-5)
    assert terms["frame"].item() == pytest.approx(0.5 * point + 0.5 * (bkg + pact), rel=1e-5)
    expected_total = terms["fuse"] + 2.0 * terms["video"] + terms["frame"]
    assert terms["total"].item() == pytest.approx(expected_total.item(), rel=1e-6)


# --------------------------------------------------------------------------------------------
# objective contract


def tiny_model() -> TSLNet:
    torch.manual_seed(0)
    return TSLNet(TSLNetConfig(dims={"rgb": 6, "logmfcc": 4}, hidden=8, trunk_hidden=12)).eval()


def model_batch(lengths: tuple[int, ...], times: list[list[int]], classes: list[list[int]], seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    t = max(lengths)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    batch = point_batch(mask, times, classes)
    batch.features = {m: torch.randn(len(lengths), t, d, generator=gen) * mask[..., None] for m, d in
                      (("rgb", 6), ("logmfcc", 4))}
    return batch


def test_padded_batch_equals_mean_of_videos_alone() -> None:
    model, objective = tiny_model(), TSLNetObjective(TSLNetLossConfig(), "point", 2)
    batch = model_batch((24, 15), [[3, 12, 20], [4, 9]], [[1, 0, 1], [0, 0]])
    terms = objective(model(batch.features, batch.mask, batch.face_present), batch)
    singles = []
    for i, (n, times, classes) in enumerate([(24, [3, 12, 20], [1, 0, 1]), (15, [4, 9], [0, 0])]):
        alone = point_batch(batch.mask[i : i + 1, :n], [times], [classes])
        alone.features = {m: x[i : i + 1, :n] for m, x in batch.features.items()}
        singles.append(objective(model(alone.features, alone.mask, alone.face_present), alone))
    for key, value in terms.items():
        torch.testing.assert_close(value, (singles[0][key] + singles[1][key]) / 2, atol=1e-5, rtol=1e-5, msg=key)


class NoDenseBatch(Batch):
    """A batch whose dense segments must never be read."""

    def __getattribute__(self, name: str):
        if name == "dense":
            raise AssertionError("the TSL-Net objective read batch.dense")
        return super().__getattribute__(name)


def test_tslnet_point_never_reads_dense_segments() -> None:
    model = tiny_model().train()
    source = model_batch((10,), [[2, 7]], [[0, 1]])
    batch = NoDenseBatch(source.features, source.mask, source.face_present, source.video_ids, source.fps,
                         source.video_labels, source.point_t, source.point_cls, source.point_mask,
                         dense=torch.full((1, 10, 3), float("nan")))
    terms = TSLNetObjective(TSLNetLossConfig(), "point", 2)(model(batch.features, batch.mask, batch.face_present), batch)
    assert torch.isfinite(terms["total"])
    terms["total"].backward()


@pytest.mark.parametrize("supervision", ["video", "full"])
def test_only_point_supervision(supervision: str) -> None:
    with pytest.raises(SentilocError, match="needs point supervision"):
        TSLNetObjective(TSLNetLossConfig(), supervision, 2)


def test_config_section_and_registry() -> None:
    name, cfg = typed_loss({"name": "tslnet", "lambda_video": 3.0})
    assert name == "tslnet" and cfg == TSLNetLossConfig(lambda_video=3.0)
    assert isinstance(build_objective(loss_spec({"name": "tslnet"}), {"num_classes": 2}, "point", "tslnet"),
                      TSLNetObjective)
    with pytest.raises(SentilocError, match="unknown key"):
        typed_loss({"name": "tslnet", "lambda_pssc": 1.0})
    with pytest.raises(SentilocError, match="cpc_sign"):
        TSLNetLossConfig(cpc_sign="flipped")


def test_needs_the_reverse_mappings() -> None:
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = fake_output(torch.full((1, 3, 3), 0.5), mask, recon_visual=None)
    with pytest.raises(SentilocError, match="needs the reverse mappings"):
        TSLNetObjective(TSLNetLossConfig(), "point", 2)(out, point_batch(mask, [[1]], [[0]]))
