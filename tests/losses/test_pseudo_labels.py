"""Pseudo-labels from clicks (docs/methods.md §2.5): BSPG, its gate and seeds, and the ablation strategies.

Every case is small enough to write the expected vectors out by hand. C = 2 sentiment classes
(0 = n, 1 = p), so column 2 is non-sentiment ∅.
"""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.losses.pseudo_labels.strategies import PseudoLabelConfig, point_targets
from tests.losses.clicks import make_clicks

BG = 2  # the ∅ column for C = 2


def neutral_cas(batch: int, length: int, bg: float = 0.5, cls: float = 0.3) -> torch.Tensor:
    """A CAS that triggers neither the τ gate nor background seeds."""
    cas = torch.full((batch, length, 3), cls)
    cas[..., BG] = bg
    return cas


def full_mask(batch: int, length: int) -> torch.Tensor:
    return torch.ones(batch, length, dtype=torch.bool)


# ---------------------------------------------------------------------------------------------
# BSPG


def test_bspg_single_click_mound() -> None:
    # w = 2, β = 0.6, click (t=3, class 1) on T = 8:
    #   s_t = 0.6 + 0.4 (1 − |t − 3| / 2): t=1,5 -> 0.6; t=2,4 -> 0.8; t=3 -> 1.0
    #   ∅ = 1 − s: 0.4, 0.2, 0.0, 0.2, 0.4; other class 0; outside the window ignored.
    cfg = PseudoLabelConfig(window=2, beta=0.6, background="none")
    targets, weight = point_targets(*make_clicks([[3]], [[1]]), neutral_cas(1, 8), full_mask(1, 8), cfg)
    mound = torch.tensor([0.0, 0.6, 0.8, 1.0, 0.8, 0.6, 0.0, 0.0])
    torch.testing.assert_close(targets[0, :, 1], mound)
    torch.testing.assert_close(targets[0, :, BG], torch.tensor([0.0, 0.4, 0.2, 0.0, 0.2, 0.4, 0.0, 0.0]))
    torch.testing.assert_close(targets[0, :, 0], torch.zeros(8))
    # weight = max over the 3 columns = max(s, 1 − s) = s here (s ≥ 0.6); 0 where ignored
    torch.testing.assert_close(weight[0], mound)
    assert not targets.requires_grad and not weight.requires_grad


def test_bspg_tau_gate() -> None:
    # cas[t=2, ∅] = 0.96 > τ: I_2 = 0 -> class 0, ∅ 1 - 0 = 1, weight 1.
    # cas[t=4, ∅] = 0.95 = τ: not gated (the gate needs y_∅ > τ) -> keeps s = 0.8.
    cfg = PseudoLabelConfig(window=2, beta=0.6, tau=0.95, background="none")
    cas = neutral_cas(1, 8)
    cas[0, 2, BG] = 0.96
    cas[0, 4, BG] = 0.95
    targets, weight = point_targets(*make_clicks([[3]], [[1]]), cas, full_mask(1, 8), cfg)
    torch.testing.assert_close(targets[0, :, 1], torch.tensor([0.0, 0.6, 0.0, 1.0, 0.8, 0.6, 0.0, 0.0]))
    torch.testing.assert_close(targets[0, :, BG], torch.tensor([0.0, 0.4, 1.0, 0.0, 0.2, 0.4, 0.0, 0.0]))
    torch.testing.assert_close(weight[0], torch.tensor([0.0, 0.6, 1.0, 1.0, 0.8, 0.6, 0.0, 0.0]))


def test_bspg_background_seeds() -> None:
    # Window of the click at t=3 (w=2) covers 1..5. Outside: t=0 (y_∅ 0.94 < τ: ignored),
    # t=6 (0.95 ≥ τ: seed), t=7 (0.99: seed). Seeds get ∅ = 1, class 0, weight 1.
    cas = neutral_cas(1, 8)
    cas[0, 0, BG], cas[0, 6, BG], cas[0, 7, BG] = 0.94, 0.95, 0.99
    clicks = make_clicks([[3]], [[1]])
    cfg = PseudoLabelConfig(window=2, beta=0.6, tau=0.95, background="seeds")
    targets, weight = point_targets(*clicks, cas, full_mask(1, 8), cfg)
    torch.testing.assert_close(targets[0, :, BG], torch.tensor([0.0, 0.4, 0.2, 0.0, 0.2, 0.4, 1.0, 1.0]))
    torch.testing.assert_close(targets[0, :, 1], torch.tensor([0.0, 0.6, 0.8, 1.0, 0.8, 0.6, 0.0, 0.0]))
    torch.testing.assert_close(weight[0], torch.tensor([0.0, 0.6, 0.8, 1.0, 0.8, 0.6, 1.0, 1.0]))
    # switched off: the two seeds are ignored again
    _, weight_off = point_targets(
        *clicks, cas, full_mask(1, 8), PseudoLabelConfig(window=2, beta=0.6, tau=0.95, background="none")
    )
    assert weight_off[0, 6] == 0 and weight_off[0, 7] == 0


def test_bspg_outside_windows_is_background() -> None:
    # The paper's literal rule: ŷ_c = 0 outside the windows, hence ŷ_∅ = 1 with weight 1 there,
    # whatever the model currently believes (t=0 has y_∅ 0.1); padding stays unsupervised.
    cas = neutral_cas(1, 9)
    cas[0, 0, BG] = 0.1
    mask = torch.tensor([[True] * 8 + [False]])
    cfg = PseudoLabelConfig(window=2, beta=0.6, background="outside")
    targets, weight = point_targets(*make_clicks([[3]], [[1]]), cas, mask, cfg)
    torch.testing.assert_close(targets[0, :, BG], torch.tensor([1.0, 0.4, 0.2, 0.0, 0.2, 0.4, 1.0, 1.0, 0.0]))
    torch.testing.assert_close(targets[0, :, 1], torch.tensor([0.0, 0.6, 0.8, 1.0, 0.8, 0.6, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(weight[0], torch.tensor([1.0, 0.6, 0.8, 1.0, 0.8, 0.6, 1.0, 1.0, 0.0]))


def test_bspg_gap_seeds() -> None:
    # One click (t=5, w=1: window 4..6) splits T = 10 into a left gap 0..4 and a right gap 6..9.
    # Left gap y_∅ = 0.2 0.3 0.9 0.4 0.1: nothing ≥ τ, so LACP seeds the start up to the peak
    # (t=0..2) with the peak value 0.9; t=3 is ignored; t=4 is the window's.
    # Right gap y_∅ = 0.1 0.96 0.97 0.5: two marked, 2 × 0.97 ≥ 1, so from the first marked (t=7)
    # to the end, value 0.97. Seeds: ∅ = 1, weight = seed value.
    cas = neutral_cas(1, 10)
    cas[0, :, BG] = torch.tensor([0.2, 0.3, 0.9, 0.4, 0.1, 0.1, 0.1, 0.96, 0.97, 0.5])
    cfg = PseudoLabelConfig(window=1, beta=0.6, tau=0.95, background="gaps")
    targets, weight = point_targets(*make_clicks([[5]], [[0]]), cas, full_mask(1, 10), cfg)
    torch.testing.assert_close(targets[0, :, 0], torch.tensor([0.0, 0, 0, 0, 0.6, 1.0, 0.6, 0, 0, 0]))
    torch.testing.assert_close(targets[0, :, BG], torch.tensor([1.0, 1, 1, 0, 0.4, 0.0, 0.4, 1, 1, 1]))
    torch.testing.assert_close(weight[0], torch.tensor([0.9, 0.9, 0.9, 0, 0.6, 1.0, 0.6, 0.97, 0.97, 0.97]))


def test_unknown_background_mode_is_refused() -> None:
    with pytest.raises(SentilocError, match="loss.pseudo.background"):
        PseudoLabelConfig(background="everything")


def test_bspg_overlap_same_class_takes_max() -> None:
    # clicks of class 1 at t=3 and t=5, w=2 on T=10:
    #   t=1: 0.6 (from 3) | t=2: 0.8 | t=3: max(1.0, 0.6)=1.0 | t=4: max(0.8, 0.8)=0.8
    #   t=5: max(0.6, 1.0)=1.0 | t=6: 0.8 | t=7: 0.6
    cfg = PseudoLabelConfig(window=2, beta=0.6, background="none")
    targets, _ = point_targets(*make_clicks([[3, 5]], [[1, 1]]), neutral_cas(1, 10), full_mask(1, 10), cfg)
    torch.testing.assert_close(
        targets[0, :, 1], torch.tensor([0.0, 0.6, 0.8, 1.0, 0.8, 1.0, 0.8, 0.6, 0.0, 0.0])
    )
    torch.testing.assert_close(targets[0, 1:8, BG], 1.0 - targets[0, 1:8, 1])


def test_bspg_overlap_different_classes_nearer_wins() -> None:
    # class 0 at t=2, class 1 at t=5, w=2, T=8:
    #   t=3: class 0 at distance 1 (0.8) vs class 1 at distance 2 (0.6) -> class 0, 0.8
    #   t=4: class 0 at distance 2 (0.6) vs class 1 at distance 1 (0.8) -> class 1, 0.8
    cfg = PseudoLabelConfig(window=2, beta=0.6, background="none")
    targets, weight = point_targets(*make_clicks([[2, 5]], [[0, 1]]), neutral_cas(1, 8), full_mask(1, 8), cfg)
    torch.testing.assert_close(targets[0, :, 0], torch.tensor([0.6, 0.8, 1.0, 0.8, 0.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(targets[0, :, 1], torch.tensor([0.0, 0.0, 0.0, 0.0, 0.8, 1.0, 0.8, 0.6]))
    torch.testing.assert_close(targets[0, :, BG], torch.tensor([0.4, 0.2, 0.0, 0.2, 0.2, 0.0, 0.2, 0.4]))
    torch.testing.assert_close(weight[0], torch.tensor([0.6, 0.8, 1.0, 0.8, 0.8, 1.0, 0.8, 0.6]))
    # exact tie (class 1 at t=2, class 0 at t=4, both 0.8 at t=3): the lower class index wins
    tie, _ = point_targets(*make_clicks([[2, 4]], [[1, 0]]), neutral_cas(1, 8), full_mask(1, 8), cfg)
    assert tie[0, 3, 0].item() == pytest.approx(0.8) and tie[0, 3, 1].item() == 0.0


def test_window_zero_is_the_click_only() -> None:
    cfg = PseudoLabelConfig(window=0, background="none")
    targets, weight = point_targets(*make_clicks([[2]], [[0]]), neutral_cas(1, 5), full_mask(1, 5), cfg)
    assert targets[0, :, 0].tolist() == [0, 0, 1, 0, 0] and weight[0].tolist() == [0, 0, 1, 0, 0]


# ---------------------------------------------------------------------------------------------
# padding and batching


@pytest.mark.parametrize("strategy", ["bspg", "threshold", "none", "gaussian"])
def test_batch_equals_each_video_alone(strategy: str) -> None:
    torch.manual_seed(0)
    cfg = PseudoLabelConfig(strategy=strategy, window=3, tau=0.8)  # τ = 0.8 so gates/seeds happen
    long_cas, short_cas = torch.rand(1, 14, 3), torch.rand(1, 6, 3)
    batch_cas = torch.full((2, 14, 3), 0.99)  # padding looks like confident background: must not seed
    batch_cas[0], batch_cas[1, :6] = long_cas[0], short_cas[0]
    mask = torch.zeros(2, 14, dtype=torch.bool)
    mask[0], mask[1, :6] = True, True
    batch_clicks = make_clicks([[2, 8, 12], [4]], [[0, 1, 1], [1]])
    batch_t, batch_w = point_targets(*batch_clicks, batch_cas, mask, cfg)

    long_t, long_w = point_targets(*make_clicks([[2, 8, 12]], [[0, 1, 1]]), long_cas, full_mask(1, 14), cfg)
    short_t, short_w = point_targets(*make_clicks([[4]], [[1]]), short_cas, full_mask(1, 6), cfg)
    torch.testing.assert_close(batch_t[0], long_t[0])
    torch.testing.assert_close(batch_w[0], long_w[0])
    torch.testing.assert_close(batch_t[1, :6], short_t[0])
    torch.testing.assert_close(batch_w[1, :6], short_w[0])
    # padding: no target, no weight (the short video's window 1..7 reaches into padding at 6, 7)
    assert (batch_t[1, 6:] == 0).all() and (batch_w[1, 6:] == 0).all()


def test_click_on_padding_is_dropped() -> None:
    mask = torch.tensor([[True] * 5 + [False] * 3])
    cfg = PseudoLabelConfig(window=2, background="none")
    targets, weight = point_targets(*make_clicks([[6]], [[1]]), neutral_cas(1, 8), mask, cfg)
    assert weight.sum() == 0 and targets.sum() == 0


# ---------------------------------------------------------------------------------------------
# ablation strategies


def test_none_supervises_only_the_clicks() -> None:
    # two videos; clicks at t=1 (class 0) and t=4 (class 1) in video 0, t=2 (class 1) in video 1.
    cas = neutral_cas(2, 6)
    cas[0, 0, BG] = 0.99
    targets, weight = point_targets(
        *make_clicks([[1, 4], [2]], [[0, 1], [1]]), cas, full_mask(2, 6),
        PseudoLabelConfig(strategy="none", background="none"),
    )
    assert targets[0, :, 0].tolist() == [0, 1, 0, 0, 0, 0]
    assert targets[0, :, 1].tolist() == [0, 0, 0, 0, 1, 0]
    assert targets[1, :, 1].tolist() == [0, 0, 1, 0, 0, 0]
    assert targets[..., BG].sum() == 0  # ∅ = 0 at the clicks, nothing elsewhere
    assert weight.tolist() == [[0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0]]


def test_none_switches_off_the_mound_not_the_background() -> None:
    # the `no_pseudo` ablation drops BSPG only: the config's background rule still applies
    # (seeds: t=0 of video 0, where y_∅ = 0.99 >= τ = 0.95, is taught ∅ = 1 with full weight)
    cas = neutral_cas(2, 6)
    cas[0, 0, BG] = 0.99
    targets, weight = point_targets(
        *make_clicks([[1, 4], [2]], [[0, 1], [1]]), cas, full_mask(2, 6),
        PseudoLabelConfig(strategy="none", background="seeds", tau=0.95),
    )
    assert targets[0, :, BG].tolist() == [1, 0, 0, 0, 0, 0] and targets[1, :, BG].sum() == 0
    assert weight.tolist() == [[1, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0]]


def test_threshold_square_wave() -> None:
    # click (t=4, class 1), w=2 -> window 2..6. Class-1 scores there: 0.7, 0.2, 0.1, 0.5, 0.4.
    #   t=2: 0.7 ≥ 0.5 -> 1 | t=3: 0.2 -> ∅ | t=4: the click itself -> 1 even at 0.1
    #   t=5: 0.5 ≥ 0.5 -> 1 | t=6: 0.4 -> ∅. Window snippets all weigh 1; outside ignored.
    cas = neutral_cas(1, 9)
    cas[0, 2:7, 1] = torch.tensor([0.7, 0.2, 0.1, 0.5, 0.4])
    cas[0, 0, 1] = 0.9  # passes the threshold but lies outside the window: ignored
    cfg = PseudoLabelConfig(strategy="threshold", window=2, threshold=0.5, background="none")
    targets, weight = point_targets(*make_clicks([[4]], [[1]]), cas, full_mask(1, 9), cfg)
    assert targets[0, :, 1].tolist() == [0, 0, 1, 0, 1, 1, 0, 0, 0]
    assert targets[0, :, BG].tolist() == [0, 0, 0, 1, 0, 0, 1, 0, 0]
    assert targets[0, :, 0].tolist() == [0] * 9
    assert weight[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0]


def test_gaussian_instance_adaptive() -> None:
    # click (t=5, class 0), w=3 -> apex search over 2..8. Class-0 scores:
    #   t:      0    1    2    3    4    5    6    7    8    9   10   11
    #   a:    0.1  0.1  0.1  0.3  0.6  0.7  0.8  0.5  0.3  0.1  0.1  0.1
    # apex = t 6 (0.8); run with a ≥ 0.4 around it = 4..7 -> duration 4 (within [1, 7]);
    # σ = 0.5 · 4 / 2 = 1.0; support |t − 6| ≤ 3 -> 3..9; value exp(−d² / 2), ∅ = 1 − value.
    cas = neutral_cas(1, 12)
    cas[0, :, 0] = torch.tensor([0.1, 0.1, 0.1, 0.3, 0.6, 0.7, 0.8, 0.5, 0.3, 0.1, 0.1, 0.1])
    cfg = PseudoLabelConfig(strategy="gaussian", window=3, gaussian_sigma_scale=0.5, background="none")
    targets, weight = point_targets(*make_clicks([[5]], [[0]]), cas, full_mask(1, 12), cfg)
    g = [math.exp(-(d**2) / 2.0) for d in (3, 2, 1, 0, 1, 2, 3)]
    expected = torch.tensor([0, 0, 0, *g, 0, 0], dtype=torch.float32)
    torch.testing.assert_close(targets[0, :, 0], expected)
    torch.testing.assert_close(targets[0, 3:10, BG], 1.0 - expected[3:10])
    torch.testing.assert_close(weight[0, 3:10], torch.maximum(expected[3:10], 1.0 - expected[3:10]))
    assert weight[0, :3].sum() == 0 and weight[0, 10:].sum() == 0


def test_gaussian_duration_clipping_and_sigma_floor() -> None:
    # Flat scores: every t ties as apex -> the click itself (nearest). The run covers all 12
    # snippets -> clipped to 2w + 1 = 7 -> σ = 0.5 · 7 / 2 = 1.75, support |d| ≤ 5.25.
    cfg = PseudoLabelConfig(strategy="gaussian", window=3, background="none")
    cas = neutral_cas(1, 12, cls=0.9)
    targets, _ = point_targets(*make_clicks([[5]], [[1]]), cas, full_mask(1, 12), cfg)
    assert targets[0, 5, 1].item() == pytest.approx(1.0)
    assert targets[0, 0, 1].item() == pytest.approx(math.exp(-25 / (2 * 1.75**2)))  # d = 5
    assert targets[0, 11, 1].item() == 0.0  # d = 6 > 5.25
    # A single-snippet peak: duration 1 -> σ = 0.25, floored to 0.5 -> support |d| ≤ 1.5
    peak = neutral_cas(1, 12, cls=0.1)
    peak[0, 5, 1] = 0.9
    targets, _ = point_targets(*make_clicks([[5]], [[1]]), peak, full_mask(1, 12), cfg)
    assert targets[0, 4, 1].item() == pytest.approx(math.exp(-1 / (2 * 0.25)))  # e^-2
    assert targets[0, 3, 1].item() == 0.0


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(SentilocError, match="loss.pseudo.strategy"):
        PseudoLabelConfig(strategy="sigmoid")


@pytest.mark.parametrize("bad", [{"window": -1}, {"window": 2.5}, {"beta": 1.5}, {"gaussian_sigma_scale": 0.0}])
def test_bad_parameters_are_config_errors(bad: dict) -> None:
    with pytest.raises(SentilocError, match="loss.pseudo"):
        PseudoLabelConfig(**bad)
