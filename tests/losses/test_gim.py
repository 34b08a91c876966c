"""GIM pseudo-labels (docs/methods.md §6): hand-computed windows, pseudo-apex, duration, feature Gaussians,
negatives, the epoch schedule, detachment and padding."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.losses.gim import (
    GIMConfig,
    by_type,
    estimate_duration,
    feature_gaussian,
    gim_targets,
    hard_windows,
    pseudo_apex,
    reliable_threshold,
    select_negatives,
    soft_delta,
    stage,
    windows,
)

CFG = GIMConfig()
MACRO, MICRO = 0, 1


def clicks(*pairs: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One video's clicks ``(frame, type)`` as ``(1, P)`` tensors, all valid."""
    t = torch.tensor([[p for p, _ in pairs]])
    kind = torch.tensor([[k for _, k in pairs]])
    return t, kind, torch.ones_like(t, dtype=torch.bool)


def real(length: int, total: int | None = None) -> torch.Tensor:
    return (torch.arange(total or length) < length)[None, :]


def frames(support: torch.Tensor) -> list[int]:
    return torch.nonzero(support.flatten()).flatten().tolist()


# --- schedule -------------------------------------------------------------------------------


def test_stage_schedule_and_soft_delta() -> None:
    # epochs 0 | 1–2 (δ = 1) | 3–4 (δ = 2) | ≥ 5 adaptive
    assert [stage(e, CFG) for e in range(7)] == ["hard", "soft", "soft", "soft", "soft", "adaptive", "adaptive"]
    assert [soft_delta(e, CFG) for e in range(1, 5)] == [1, 1, 2, 2]


@pytest.mark.parametrize(("epoch", "theta"), [(5, 0.8), (13, 0.7), (21, 0.6), (28, 0.5125), (29, 0.5), (60, 0.5)])
def test_reliable_threshold_decays_from_08_to_05(epoch: int, theta: float) -> None:
    # θ_r = 0.8 − (e − 5)/80 for e < 29, then 0.5: e.g. e = 13 -> 0.8 − 8/80 = 0.7; e = 28 -> 0.8 − 23/80.
    assert reliable_threshold(epoch, CFG) == pytest.approx(theta)


def test_schedule_constants_are_validated() -> None:
    with pytest.raises(SentilocError, match="soft_epochs .* must increase and end before adaptive_epoch"):
        GIMConfig(soft_epochs=(1, 6), adaptive_epoch=5)
    with pytest.raises(SentilocError, match="same length"):
        GIMConfig(soft_deltas=(1,))


# --- windows --------------------------------------------------------------------------------


def test_hard_windows_are_half_open_and_clipped_to_the_video() -> None:
    point_t, kind, valid = clicks((10, MACRO), (2, MICRO), (18, MACRO))
    support = hard_windows(point_t, kind, valid, real(20), CFG)
    assert frames(support[0, 0]) == list(range(5, 15))  # [10 − 5, 10 + 5)
    assert frames(support[0, 1]) == [0, 1, 2, 3, 4]  # [2 − 3, 2 + 3) clipped at 0
    assert frames(support[0, 2]) == [13, 14, 15, 16, 17, 18, 19]  # [13, 23) clipped at T = 20


def test_windows_never_select_padding_or_invalid_clicks() -> None:
    centre, reach = torch.tensor([[8, 3]]), torch.tensor([[4, 1]])
    support = windows(centre, reach, reach, torch.tensor([[True, False]]), real(10, 14))
    assert frames(support[0, 0]) == [4, 5, 6, 7, 8, 9] and not support[0, 1].any()


# --- pseudo-apex ----------------------------------------------------------------------------


def test_pseudo_apex_is_the_intensity_peak_within_a_quarter_window() -> None:
    a = torch.full((1, 35), 0.1)
    a[0, 1] = 1.0  # outside 10 ± 8 (K = 32) of the macro click
    a[0, 16] = 0.6
    a[0, 29] = 0.95  # outside 24 ± 4 (K = 16) of the micro click
    a[0, 27] = 0.4
    point_t, kind, valid = clicks((10, MACRO), (24, MICRO))
    assert pseudo_apex(a, point_t, kind, valid, real(35), CFG).tolist() == [[16, 27]]


def test_pseudo_apex_ties_go_to_the_nearest_frame_then_the_earlier() -> None:
    a = torch.full((1, 30), 0.1)
    a[0, [5, 15]] = 0.9  # equal peaks 5 frames before and after the click at 10
    point_t, kind, valid = clicks((10, MACRO))
    assert pseudo_apex(a, point_t, kind, valid, real(30), CFG).tolist() == [[5]]
    a[0, 12] = 0.9  # a nearer equal peak
    assert pseudo_apex(a, point_t, kind, valid, real(30), CFG).tolist() == [[12]]


def test_pseudo_apex_ignores_padding() -> None:
    a = torch.full((1, 16), 0.2)
    a[0, 12:] = 5.0  # padding holds large values
    a[0, 8] = 0.5
    point_t, kind, valid = clicks((10, MACRO))
    assert pseudo_apex(a, point_t, kind, valid, real(12, 16), CFG).tolist() == [[8]]


# --- duration -------------------------------------------------------------------------------


def duration_track() -> torch.Tensor:
    """0.9 on frames 25–34 (10 frames), 0.7 on 35–39 (5 frames), 0.1 elsewhere; T = 60."""
    a = torch.full((1, 60), 0.1)
    a[0, 25:35] = 0.9
    a[0, 35:40] = 0.7
    return a


@pytest.mark.parametrize(("epoch", "n", "d"), [
    (5, 10, 16),   # θ 0.8: n = 10, round(12) = 12 < K/2 = 16 -> 16
    (21, 15, 18),  # θ 0.6: n = 15, round(18) = 18
    (40, 15, 18),  # θ 0.5: n = 15 -> 18
])
def test_duration_estimate_by_hand(epoch: int, n: int, d: int) -> None:
    point_t, kind, valid = clicks((30, MACRO))
    got_n, got_d = estimate_duration(duration_track(), point_t, kind, valid, real(60), reliable_threshold(epoch, CFG), CFG)
    assert (got_n.item(), got_d.item()) == (n, d)


def test_duration_is_capped_per_type_and_counts_strictly_above_threshold() -> None:
    ones = torch.ones(1, 100)
    point_t, kind, valid = clicks((50, MACRO), (80, MICRO))
    n, d = estimate_duration(ones, point_t, kind, valid, real(100), 0.5, CFG)
    # macro: 33 frames in 50 ± 16, round(39.6) = 40 -> cap 36; micro: 17 in 80 ± 8, round(20.4) = 20 -> cap 16
    assert n.tolist() == [[33, 17]] and d.tolist() == [[36, 16]]
    at_threshold = torch.full((1, 100), 0.8)
    n, d = estimate_duration(at_threshold, point_t, kind, valid, real(100), 0.8, CFG)
    assert n.tolist() == [[0, 0]] and d.tolist() == [[16, 8]]  # floor K/2


# --- feature-space Gaussian -----------------------------------------------------------------


def test_feature_gaussian_by_hand_in_one_dimension() -> None:
    # h = [0, 1, 2, 4, 2, 9], centre frame 2 (h = 2), support frames 0–4:
    # d² = [4, 1, 0, 4, 0], σ² = 9/5 = 1.8, ŝ = exp(−d²/3.6) = [0.3292, 0.7575, 1, 0.3292, 1], 0 at frame 5.
    h = torch.tensor([0.0, 1.0, 2.0, 4.0, 2.0, 9.0]).view(1, 6, 1)
    support = torch.tensor([[[True] * 5 + [False]]])
    got = feature_gaussian(h, torch.tensor([[2]]), support)
    expected = [math.exp(-4 / 3.6), math.exp(-1 / 3.6), 1.0, math.exp(-4 / 3.6), 1.0, 0.0]
    torch.testing.assert_close(got[0, 0], torch.tensor(expected))


def test_feature_gaussian_of_identical_features_is_one_not_nan() -> None:
    h = torch.ones(1, 8, 3)
    support = torch.zeros(1, 1, 8, dtype=torch.bool)
    support[0, 0, 2:6] = True
    got = feature_gaussian(h, torch.tensor([[3]]), support)
    assert got[0, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0]


def test_overlapping_clicks_of_one_type_take_the_max() -> None:
    values = torch.tensor([[[0.2, 0.9, 0.5, 0.0], [0.0, 0.4, 0.7, 0.3], [0.6, 0.6, 0.6, 0.6]]])
    support = torch.tensor([[[1, 1, 1, 0], [0, 1, 1, 1], [1, 1, 0, 0]]]).bool()
    labels, covered = by_type(values, support, torch.tensor([[MACRO, MACRO, MICRO]]))
    torch.testing.assert_close(labels[0, :, 0], torch.tensor([0.2, 0.9, 0.7, 0.3]))
    torch.testing.assert_close(labels[0, :, 1], torch.tensor([0.6, 0.6, 0.0, 0.0]))
    assert covered[0, :, 1].tolist() == [True, True, False, False]


# --- negatives ------------------------------------------------------------------------------


def test_negatives_are_the_k_least_intense_frames_outside_the_windows() -> None:
    a = torch.tensor([[0.5, 0.3, 0.0, 0.0, 0.3, 0.9, 0.1, 0.3, 0.0, 0.0]])
    covered = torch.zeros(1, 10, dtype=torch.bool)
    covered[0, 2:4] = True  # 2 pseudo-positive frames -> k = min(8, 2) = 2
    mask = real(8, 10)  # frames 8, 9 are padding (a = 0 there: largest 1 − a, never picked)
    # outside and real: 0, 1, 4, 5, 6, 7 with 1 − a = 0.5, 0.7, 0.7, 0.1, 0.9, 0.7 -> frame 6, then the
    # earliest of the tied 0.7s (frame 1)
    assert frames(select_negatives(a, covered, mask)) == [1, 6]


def test_negatives_without_positives_and_without_room() -> None:
    a = torch.tensor([[0.5, 0.2, 0.4, 0.6]])
    none = torch.zeros(1, 4, dtype=torch.bool)
    assert frames(select_negatives(a, none, real(4))) == [1]  # k = max(1, min(4, 0)) = 1
    assert frames(select_negatives(a, ~none, real(4))) == []  # everything covered: no negative


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.integers(0, 8), st.integers(0, 10_000))
def test_negatives_property_real_outside_and_exactly_k(length: int, pad: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(1, length + pad, generator=gen)
    covered = torch.rand(1, length + pad, generator=gen) < 0.3
    mask = real(length, length + pad)
    chosen = select_negatives(a, covered, mask)
    n_out, n_pos = int((mask & ~covered).sum()), int((mask & covered).sum())
    assert not (chosen & ~mask).any() and not (chosen & covered).any()
    assert int(chosen.sum()) == min(max(1, min(n_out, n_pos)), n_out)
    if chosen.any() and (mask & ~covered & ~chosen).any():  # every chosen frame is at most as intense as the rest
        assert a[chosen].max() <= a[mask & ~covered & ~chosen].min()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(0, 1)), min_size=1, max_size=6), st.integers(0, 10_000))
def test_targets_do_not_depend_on_the_order_of_the_clicks(pairs: list, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    inputs = {"intensity": torch.rand(1, 40, generator=gen), "h": torch.randn(1, 40, 3, generator=gen),
              "mask": real(40)}
    forward, backward = clicks(*pairs), clicks(*reversed(pairs))
    for epoch in (0, 3, 7):
        one = gim_targets(stage(epoch, CFG), epoch, **inputs, point_t=forward[0], point_type=forward[1],
                          valid=forward[2], cfg=CFG)
        two = gim_targets(stage(epoch, CFG), epoch, **inputs, point_t=backward[0], point_type=backward[1],
                          valid=backward[2], cfg=CFG)
        for name in ("soft", "covered", "negatives", "apex"):
            torch.testing.assert_close(getattr(one, name), getattr(two, name), msg=name)


# --- stages end to end ----------------------------------------------------------------------


def stage_inputs(lengths: tuple[int, ...] = (60,)) -> dict:
    gen = torch.Generator().manual_seed(0)
    t = max(lengths)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return {
        "intensity": duration_track()[:, :t].expand(len(lengths), -1).clone() * mask,
        "h": torch.randn(len(lengths), t, 4, generator=gen) * mask[..., None],
        "point_t": torch.tensor([[30, 10]] * len(lengths)),
        "point_type": torch.tensor([[MACRO, MICRO]] * len(lengths)),
        "valid": torch.ones(len(lengths), 2, dtype=torch.bool),
        "mask": mask,
    }


@pytest.mark.parametrize(("epoch", "macro", "micro"), [
    (0, range(25, 35), range(7, 13)),   # hard: [30 − 5, 30 + 5), [10 − 3, 10 + 3)
    (2, range(28, 33), range(9, 12)),   # soft δ = 1: 30 ± 2, 10 ± 1
    (4, range(26, 35), range(8, 13)),   # soft δ = 2: 30 ± 4, 10 ± 2
    # adaptive, e = 6, θ = 0.8 − 1/80 = 0.7875. Macro: frames 25–34 tie at 0.9, the nearest to the
    # click is 30 itself, so a* = 30; n = 10 (the 0.7s do not pass) -> D = max(12, 16) = 16 -> 30 ± 8.
    # Micro: flat 0.1 around 10, a* = 10, n = 0 -> D = K/2 = 8 -> 10 ± 4.
    (6, range(22, 39), range(6, 15)),
])
def test_each_stage_puts_its_windows_where_the_spec_says(epoch: int, macro: range, micro: range) -> None:
    got = gim_targets(stage(epoch, CFG), epoch, **stage_inputs(), cfg=CFG)
    assert frames(got.covered[0, :, 0]) == list(macro)
    assert frames(got.covered[0, :, 1]) == list(micro)
    values = got.soft[0][got.covered[0]]
    if epoch == 0:
        assert (values == 1).all()
    else:  # feature Gaussians: 1 at the centre's own feature, in (0, 1] on the window
        assert got.soft[0, 30, 0] == 1 and got.soft[0, 10, 1] == 1 and ((values > 0) & (values <= 1)).all()


def test_adaptive_apex_targets_sit_around_the_pseudo_apex() -> None:
    inputs = stage_inputs()
    inputs["intensity"][0, 33] = 0.95  # the pseudo-apex of the macro click moves to 33
    got = gim_targets("adaptive", 6, **inputs, cfg=CFG)
    assert frames(got.apex[0, :, 0]) == [31, 32, 33, 34, 35]  # a* ± 2
    assert frames(got.apex[0, :, 1]) == [9, 10, 11]  # a* ± 1 (micro a* = 10)
    assert got.soft[0, 33, 0] == 1.0  # the Gaussian is centred on h_{a*}


def test_targets_carry_no_gradient() -> None:
    inputs = stage_inputs()
    inputs["intensity"].requires_grad_(True)
    inputs["h"].requires_grad_(True)
    got = gim_targets("adaptive", 6, **inputs, cfg=CFG)
    assert not got.soft.requires_grad


@pytest.mark.parametrize("epoch", [0, 2, 6])
def test_a_padded_video_gets_the_targets_it_gets_alone(epoch: int) -> None:
    batched = stage_inputs((60, 45))
    batched["h"][1, 45:] = 100.0  # garbage at padding
    batched["intensity"][1, 45:] = 1.0
    alone = stage_inputs((45,))
    alone["h"] = batched["h"][1:, :45]
    got_b = gim_targets(stage(epoch, CFG), epoch, **batched, cfg=CFG)
    got_a = gim_targets(stage(epoch, CFG), epoch, **alone, cfg=CFG)
    for name in ("soft", "covered", "negatives", "apex"):
        torch.testing.assert_close(getattr(got_b, name)[1:, :45], getattr(got_a, name), msg=name)
        assert not getattr(got_b, name)[1, 45:].any(), name
