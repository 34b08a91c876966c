"""P-FES loss terms by hand and the ``pfes`` objective over the GIM schedule (docs/methods.md §6)."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.data.spotting.batch import SpottingBatch
from sentiloc.losses.objectives.pfes import PFESObjective, PFESObjectiveConfig
from sentiloc.losses.registry import build_objective, check_fit
from sentiloc.losses.spotting import (
    apex_focal,
    apex_labels,
    contrast_labels,
    gather_members,
    intensity_contrastive,
    intensity_mse,
    pair_weights,
    reward,
    signed_temporal_term,
    sparsity,
)
from sentiloc.models import PFES, PFESConfig

# --- loss terms by hand ---------------------------------------------------------------------


def test_intensity_mse_by_hand() -> None:
    a = torch.tensor([[0.5, 0.2, 0.9, 0.1]])
    soft = torch.tensor([[[1.0, 0.0], [0.5, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    covered = soft > 0
    negatives = torch.tensor([[False, False, False, True]])
    # macro: ((0.5 − 1)² + (0.2 − 0.5)²) / 2 = 0.17; micro: no frame -> 0; negatives: 0.1² = 0.01
    torch.testing.assert_close(intensity_mse(a, soft, covered, negatives), torch.tensor([0.18]))


def test_reward_by_hand_and_empty_sets_give_zero_not_nan() -> None:
    a = torch.tensor([[0.5, 0.2, 0.9, 0.1]])
    soft = torch.tensor([[[0.8, 0.0], [0.5, 0.0], [0.0, 0.6], [0.0, 0.9]]])
    # macro ŝ > 0.5: frame 0 -> −0.4·0.5; micro: frames 2, 3 -> −0.6·(0.9 + 0.1)/2; total −0.5
    torch.testing.assert_close(reward(a, soft, (0.4, 0.6)), torch.tensor([-0.5]))
    assert reward(a, torch.zeros(1, 4, 2), (0.4, 0.6)).tolist() == [0.0]


def test_signed_temporal_term_is_the_end_to_end_slope() -> None:
    a = torch.tensor([[0.2, 0.9, 0.1, 0.6, 0.0], [0.3, 0.5, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True] * 4 + [False], [True] * 2 + [False] * 3])
    # (0.6 − 0.2)/3 and (0.5 − 0.3)/1
    torch.testing.assert_close(signed_temporal_term(a, mask), torch.tensor([0.4 / 3, 0.2]))


def test_apex_labels_band_negatives_and_apex_frames() -> None:
    soft = torch.zeros(1, 20, 2)
    soft[0, 10, 0] = 0.8
    negatives = torch.zeros(1, 20, dtype=torch.bool)
    negatives[0, 0] = True
    apex = torch.zeros(1, 20, 2, dtype=torch.bool)
    apex[0, 9:12, 0] = True
    mask = (torch.arange(20) < 18)[None, :]
    q = apex_labels(soft, negatives, apex, mask, radius=6)
    expected_macro = [0.0] + [-1.0] * 3 + [0.0] * 5 + [1.0] * 3 + [0.0] * 5 + [-1.0] * 3  # band 4–16, apex 9–11
    assert q[0, :, 0].tolist() == expected_macro
    assert q[0, :, 1].tolist() == [0.0 if v >= 0 else -1.0 for v in expected_macro]


def test_apex_focal_by_hand_on_three_frames() -> None:
    e = torch.tensor([[[0.8, 0.1], [0.3, 0.5], [0.5, 0.5]]])
    q = torch.tensor([[[1.0, 0.0], [0.0, -1.0], [-1.0, -1.0]]])
    eps = 1e-5
    # macro: −(0.9·0.2·log(0.8 + ε) + 0.1·|0.25 − 0.3|·log(0.7 + ε)) / 3 = 0.013982
    macro = -(0.9 * 0.2 * math.log(0.8 + eps) + 0.1 * 0.05 * math.log(0.7 + eps)) / 3
    # micro: −(0.07·|0.25 − 0.1|·log(0.9 + ε)) / 3 = 0.000369, weighted 1.8
    micro = -(0.07 * 0.15 * math.log(0.9 + eps)) / 3
    got = apex_focal(e, q, torch.ones(1, 3, dtype=torch.bool), (0.90, 0.93), 1.0, 0.25, (1.0, 1.8))
    torch.testing.assert_close(got, torch.tensor([macro + 1.8 * micro]))
    assert got.item() == pytest.approx(0.014646, abs=1e-6)


def test_contrast_labels_macro_wins_and_intensity_is_the_max() -> None:
    soft = torch.tensor([[[0.9, 0.0], [0.6, 0.7], [0.0, 0.8], [0.3, 0.0], [0.0, 0.0]]])
    negatives = torch.tensor([[False, False, False, False, True]])
    labels, level = contrast_labels(soft, negatives)
    assert labels.tolist() == [[1, 1, 2, -1, 0]]
    torch.testing.assert_close(level, torch.tensor([[0.9, 0.7, 0.8, 0.3, 0.0]]))


def test_pair_weights_by_hand() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2])
    level = torch.tensor([0.0, 0.0, 0.9, 0.6, 0.7])
    w = pair_weights(labels, level)
    assert w[0, 1] == 1.0  # neutral–neutral
    assert w[0, 2] == pytest.approx(0.9) and w[3, 0] == pytest.approx(0.6)  # neutral–expression: |ΔI|
    assert w[2, 3] == pytest.approx(1 - 0.3)  # same type: 1 − |ΔI|
    assert w[2, 4] == pytest.approx(0.2) and w[4, 3] == pytest.approx(0.1)  # macro–micro: |ΔI|
    torch.testing.assert_close(w, w.T)


def test_contrastive_loss_by_hand_on_three_frames() -> None:
    # Frames: neutral (I 0, h 0), macro (I 0.9, h 1), macro (I 0.7, h 1); τ = 0.5 so s_ij = 2 h_i h_j.
    # w01 = 0.9, w02 = 0.7, w12 = 1 − 0.2 = 0.8. The neutral anchor has no positive (left out).
    # ℓ1 = −(0.5/0.07)(log 0.8 + 2 − log(0.9 + 0.8e²)) = 1.012275
    # ℓ2 = −(0.5/0.07)(log 0.8 + 2 − log(0.7 + 0.8e²)) = 0.799397;  loss = mean = 0.905836
    h = torch.tensor([[[0.0], [1.0], [1.0]]])
    labels = torch.tensor([[0, 1, 1]])
    level = torch.tensor([[0.0, 0.9, 0.7]])
    e2 = math.exp(2.0)
    l1 = -(0.5 / 0.07) * (math.log(0.8) + 2 - math.log(0.9 + 0.8 * e2))
    l2 = -(0.5 / 0.07) * (math.log(0.8) + 2 - math.log(0.7 + 0.8 * e2))
    got = intensity_contrastive(h, labels, level)
    torch.testing.assert_close(got, torch.tensor([(l1 + l2) / 2]))
    assert got.item() == pytest.approx(0.905836, abs=1e-5)


def test_contrastive_loss_ignores_unlabelled_frames_and_padding_and_is_zero_without_positives() -> None:
    h = torch.tensor([[[0.0], [1.0], [5.0], [1.0], [3.0]]])
    labels = torch.tensor([[0, 1, -1, 1, -1]])  # frames 2 and 4 (say, padding) are out of the set
    level = torch.tensor([[0.0, 0.9, 0.0, 0.7, 0.0]])
    three = intensity_contrastive(h[:, [0, 1, 3]], labels[:, [0, 1, 3]], level[:, [0, 1, 3]])
    torch.testing.assert_close(intensity_contrastive(h, labels, level), three)
    lonely = intensity_contrastive(h[:, :2], labels[:, :2], level[:, :2])
    assert lonely.tolist() == [0.0]


def test_contrastive_subsampling_is_capped_seeded_and_keeps_time_order() -> None:
    labels = torch.tensor([[0, -1, 1, 1, 2, 0, -1, 1]])
    index, member = gather_members(labels, cap=3, generator=torch.Generator().manual_seed(5))
    again, _ = gather_members(labels, cap=3, generator=torch.Generator().manual_seed(5))
    assert member.all() and index.shape == (1, 3) and torch.equal(index, again)
    assert index[0].tolist() == sorted(index[0].tolist()) and (labels[0, index[0]] >= 0).all()
    full, _ = gather_members(labels, cap=100)
    assert full[0].tolist() == [0, 2, 3, 4, 5, 7]


def test_sparsity_is_the_mean_over_real_frames() -> None:
    a = torch.tensor([[0.2, 0.4, 0.9]])
    torch.testing.assert_close(sparsity(a, torch.tensor([[True, True, False]])), torch.tensor([0.3]))


# --- the objective --------------------------------------------------------------------------


def make_batch(lengths: tuple[int, ...] = (80, 60), dim: int = 6, seed: int = 0) -> SpottingBatch:
    gen = torch.Generator().manual_seed(seed)
    t = max(lengths)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    clicks = [[(15, 0), (50, 1)], [(20, 1), (40, 0)]][: len(lengths)]
    return SpottingBatch(
        features=torch.randn(len(lengths), t, dim, generator=gen) * mask[..., None],
        mask=mask,
        video_ids=[f"v{i}" for i in range(len(lengths))],
        stride=torch.ones(len(lengths), dtype=torch.long),
        n_frames=torch.tensor(lengths),
        point_t=torch.tensor([[p for p, _ in c] for c in clicks]),
        point_type=torch.tensor([[k for _, k in c] for c in clicks]),
        point_mask=torch.ones(len(lengths), 2, dtype=torch.bool),
    )


def make_model(seed: int = 0) -> PFES:
    torch.manual_seed(seed)
    return PFES(PFESConfig(dims={"frame": 6}, hidden=16, temporal_layers=2))


def test_builds_from_an_empty_section_and_fits_only_the_spotting_model() -> None:
    objective = build_objective(ComponentSpec("loss", "pfes", {}), {"num_classes": 2}, "point", "pfes")
    assert isinstance(objective, PFESObjective) and objective.cfg == PFESObjectiveConfig()
    assert objective.cfg.contrastive_weight == 1.4e-5 and objective.cfg.sparsity_weight == 2.5
    with pytest.raises(SentilocError, match="reads SpottingOutput.*'fsenet'.*use it with model.name 'pfes'"):
        check_fit("pfes", "fsenet")
    with pytest.raises(SentilocError, match="loss.schedule 'soft': unknown GIM schedule; known: gim, hard"):
        PFESObjectiveConfig(schedule="soft")


@pytest.mark.parametrize("epoch", [0, 2, 6])
def test_objective_runs_at_every_stage_and_reaches_every_parameter(epoch: int) -> None:
    model, batch = make_model().train(), make_batch()
    objective = PFESObjective(PFESObjectiveConfig())
    objective.start_epoch(epoch)
    terms = objective(model(**batch.inputs()), batch)
    assert {"total", "intensity", "reward", "apex", "contrastive", "sparsity"} == set(terms)
    assert all(torch.isfinite(v) and v.dim() == 0 for v in terms.values())
    assert (terms["apex"] > 0) == (epoch >= 5)
    terms["total"].backward()
    untouched = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # the apex head is trained from the adaptive stage on only
    assert untouched == ([] if epoch >= 5 else ["heads.apex_out.weight", "heads.apex_out.bias"])


def test_the_schedule_changes_the_targets_and_hard_keeps_them() -> None:
    model, batch = make_model().eval(), make_batch()
    out = model(**batch.inputs())
    gim, hard = PFESObjective(PFESObjectiveConfig()), PFESObjective(PFESObjectiveConfig(schedule="hard"))
    covered = {}
    for epoch in (0, 2, 6):
        gim.start_epoch(epoch)
        hard.start_epoch(epoch)
        covered[epoch] = gim.targets(out, batch).covered
        torch.testing.assert_close(hard.targets(out, batch).covered, covered[0])
    assert gim.stage == "adaptive" and hard.stage == "hard"
    assert covered[0][0, :, 0].sum() == 10 and covered[2][0, :, 0].sum() == 5  # [p−5, p+5) then p ± 2
    assert not torch.equal(covered[2], covered[6])


def test_hard_baseline_trains_the_apex_branch_on_the_click() -> None:
    model, batch = make_model().eval(), make_batch(lengths=(80,))
    hard = PFESObjective(PFESObjectiveConfig(schedule="hard"))
    hard.start_epoch(6)
    apex = hard.targets(model(**batch.inputs()), batch).apex
    assert torch.nonzero(apex[0, :, 0]).flatten().tolist() == [13, 14, 15, 16, 17]  # click 15 ± 2
    assert torch.nonzero(apex[0, :, 1]).flatten().tolist() == [49, 50, 51]  # click 50 ± 1
    assert hard(model(**batch.inputs()), batch)["apex"] > 0


def test_legacy_smoothness_only_behind_its_flag() -> None:
    model, batch = make_model().eval(), make_batch()
    out = model(**batch.inputs())
    plain = PFESObjective(PFESObjectiveConfig())(out, batch)
    legacy = PFESObjective(PFESObjectiveConfig(legacy_smoothness=True))(out, batch)
    assert "smoothness" not in plain
    torch.testing.assert_close(legacy["total"], plain["total"] + 0.1 * legacy["smoothness"])


def test_total_is_the_weighted_sum_of_the_terms() -> None:
    model, batch = make_model().eval(), make_batch()
    objective = PFESObjective(PFESObjectiveConfig())
    objective.start_epoch(6)
    t = objective(model(**batch.inputs()), batch)
    expected = t["intensity"] + t["reward"] + t["apex"] + 1.4e-5 * t["contrastive"] + 2.5 * t["sparsity"]
    torch.testing.assert_close(t["total"], expected)


@pytest.mark.parametrize("epoch", [0, 6])
def test_a_padded_batch_gives_the_mean_of_its_videos_alone(epoch: int) -> None:
    model, batch = make_model().eval(), make_batch()
    objective = PFESObjective(PFESObjectiveConfig())
    objective.start_epoch(epoch)
    batched = objective(model(**batch.inputs()), batch)
    alone = []
    for i, length in enumerate((80, 60)):
        one = SpottingBatch(features=batch.features[i:i + 1, :length], mask=batch.mask[i:i + 1, :length],
                            video_ids=[batch.video_ids[i]], stride=batch.stride[i:i + 1],
                            n_frames=batch.n_frames[i:i + 1], point_t=batch.point_t[i:i + 1],
                            point_type=batch.point_type[i:i + 1], point_mask=batch.point_mask[i:i + 1])
        alone.append(objective(model(**one.inputs()), one))
    for name, value in batched.items():
        torch.testing.assert_close(value, (alone[0][name] + alone[1][name]) / 2, atol=1e-5, rtol=1e-5, msg=name)


def test_a_batch_without_clicks_trains_on_one_negative_and_sparsity() -> None:
    model = make_model().eval()
    batch = SpottingBatch(features=torch.randn(1, 30, 6), mask=torch.ones(1, 30, dtype=torch.bool), video_ids=["v"],
                          stride=torch.ones(1, dtype=torch.long), n_frames=torch.tensor([30]),
                          point_t=torch.zeros(1, 0, dtype=torch.long), point_type=torch.zeros(1, 0, dtype=torch.long),
                          point_mask=torch.zeros(1, 0, dtype=torch.bool))
    objective = PFESObjective(PFESObjectiveConfig())
    for epoch in (0, 2, 6):
        objective.start_epoch(epoch)
        out = model(**batch.inputs())
        terms = objective(out, batch)
        assert int(objective.targets(out, batch).negatives.sum()) == 1  # k = max(1, min(30, 0))
        assert all(torch.isfinite(v) for v in terms.values())
        assert terms["reward"] == 0 and terms["contrastive"] == 0
