"""Spotting post-processing (docs/methods.md §6, "Inference"), checked against hand arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.config import typed_section
from sentiloc.core.errors import SentilocError
from sentiloc.postprocess.spotting import (
    Spots,
    SpottingPostprocessConfig,
    capped,
    interval_iou,
    length_score_mask,
    pairwise_iou,
    run_peaks,
    soft_nms,
    spot_video,
    threshold_runs,
)

#: No length, score or count limits: the scoring steps alone.
OPEN = {"min_length": (1, 1), "max_length": (10_000, 10_000), "min_score": (-10.0, -10.0),
        "max_per_video": (100, 100)}


def spots(rows: list[tuple[int, int, int, float]]) -> Spots:
    """Spots from ``(start, end, type_index, score)`` rows; the apex is the start."""
    array = np.array(rows, dtype=np.float64).reshape(-1, 4)
    start, end, kind = (array[:, i].astype(np.int64) for i in range(3))
    return Spots(start, end, start.copy(), kind, array[:, 3])


# --------------------------------------------------------------------------- IoU


def test_iou_conventions_by_hand() -> None:
    # [10, 19] vs [15, 24]: continuous inter 19 - 15 = 4, union 9 + 9 - 4 = 14 -> 4/14;
    # inclusive: frames 15..19 = 5 shared, 10 + 10 - 5 = 15 in either -> 5/15
    assert interval_iou(10, 19, 15, 24, "continuous") == pytest.approx(4 / 14)
    assert interval_iou(10, 19, 15, 24, "inclusive") == pytest.approx(5 / 15)
    # nested [10, 14] in [10, 19]: continuous 4/9 = 0.444, inclusive 5/10 = 0.5 exactly
    assert interval_iou(10, 14, 10, 19, "continuous") == pytest.approx(4 / 9)
    assert interval_iou(10, 14, 10, 19, "inclusive") == 0.5
    # touching [0, 4] and [4, 8] share frame 4: continuous 0, inclusive 1 / 9
    assert interval_iou(0, 4, 4, 8, "continuous") == 0.0
    assert interval_iou(0, 4, 4, 8, "inclusive") == pytest.approx(1 / 9)
    # one-frame intervals: continuous lengths are 0 (empty union -> 0); inclusive, the same frame -> 1
    assert interval_iou(3, 3, 3, 3, "continuous") == 0.0
    assert interval_iou(3, 3, 3, 3, "inclusive") == 1.0


def test_pairwise_iou_shape_and_unknown_convention() -> None:
    a = np.array([[10, 19], [0, 4]])
    b = np.array([[15, 24], [10, 14], [100, 101]])
    matrix = pairwise_iou(a, b, "inclusive")
    assert matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix[0], [1 / 3, 0.5, 0.0])
    np.testing.assert_allclose(matrix[1], [0.0, 0.0, 0.0])
    with pytest.raises(SentilocError, match="'frames'.*continuous"):
        pairwise_iou(a, b, "frames")


# --------------------------------------------------------------------------- runs and peaks


def test_threshold_runs_by_hand() -> None:
    a = np.array([0.1, 0.5, 0.9, 0.5, 0.1, 0.3, 0.3])
    # >= 0.2: frames 1-3 and 5-6; >= 0.5: frames 1-3 (0.5 reaches 0.5); >= 0.6: frame 2
    runs = threshold_runs(a, (0.2, 0.5, 0.6))
    np.testing.assert_array_equal(runs, [[1, 3], [5, 6], [1, 3], [2, 2]])
    assert threshold_runs(np.zeros(5), (0.2,)).shape == (0, 2)
    assert threshold_runs(np.zeros(0), (0.2,)).shape == (0, 2)


def test_run_peaks_first_argmax() -> None:
    a = np.array([0.1, 0.5, 0.9, 0.9, 0.1])
    # [0, 4]: 0.9 first at frame 2 (tie with 3); [1, 1]: itself; [3, 4]: frame 3
    np.testing.assert_array_equal(run_peaks(a, np.array([[0, 4], [1, 1], [3, 4]])), [2, 1, 3])
    assert run_peaks(a, np.zeros((0, 2), dtype=np.int64)).shape == (0,)


# --------------------------------------------------------------------------- scoring


def test_outer_inner_contrast_plus_apex_by_hand() -> None:
    a = np.zeros(20)
    a[5:10] = 0.8  # run [5, 9], length 5, margin 0.2 * 5 = 1 frame on each side: frames 4 and 10
    a[4], a[10] = 0.1, 0.3
    e = np.zeros((20, 2))
    e[:, 0], e[:, 1] = 0.9, 0.4  # macro passes apex_min 0.5, micro does not
    cfg = SpottingPostprocessConfig(thresholds=(0.5,), **OPEN)
    out = spot_video(a, e, cfg)
    # inner 0.8, outer (0.1 + 0.3) / 2 = 0.2 -> 0.6; + 0.2 * e_macro(5) = 0.18 -> 0.78
    assert len(out) == 1
    assert (out.start[0], out.end[0], out.apex[0], out.type_index[0]) == (5, 9, 5, 0)
    assert out.score[0] == pytest.approx(0.78)


def test_outer_margin_is_clipped_to_the_video() -> None:
    a = np.array([0.8] * 5 + [0.2] * 3)  # run [0, 4]: no frame left of it; right margin frame 5
    e = np.full((8, 2), 0.6)
    cfg = SpottingPostprocessConfig(thresholds=(0.5,), **OPEN)
    out = spot_video(a, e, cfg)
    # inner 0.8 - outer 0.2 + 0.2 * 0.6 = 0.72, once per type (the run passes both apex scores)
    np.testing.assert_allclose(out.score, [0.72, 0.72])
    np.testing.assert_array_equal(out.type_index, [0, 1])


def test_apex_min_is_strict_and_picks_the_type() -> None:
    a = np.zeros(12)
    a[2:6] = 0.9
    e = np.zeros((12, 2))
    e[2] = [0.5, 0.51]  # at the peak (frame 2): macro exactly 0.5 is not > 0.5, micro is
    out = spot_video(a, e, SpottingPostprocessConfig(thresholds=(0.5,), **OPEN))
    np.testing.assert_array_equal(out.type_index, [1])
    # inner 0.9 - outer 0 + 0.2 * 0.51
    assert out.score[0] == pytest.approx(0.9 + 0.102)


# --------------------------------------------------------------------------- soft-NMS


def test_soft_nms_by_hand() -> None:
    intervals = np.array([[0, 9], [0, 4], [20, 29]])
    # inclusive IoU([0, 9], [0, 4]) = 5/10 -> weight exp(-0.25 / 0.3) = 0.434598; [20, 29] is disjoint
    decayed = soft_nms(intervals, np.array([0.9, 0.8, 0.7]), 0.3, "inclusive")
    np.testing.assert_allclose(decayed, [0.9, 0.8 * math.exp(-0.25 / 0.3), 0.7])


def test_soft_nms_revisits_the_new_best() -> None:
    # A [0, 9] 1.0, B [5, 14] 0.9, C [10, 19] 0.8; inclusive IoU(A, B) = IoU(B, C) = 5/15, IoU(A, C) = 0.
    # A first: B *= exp(-(1/9) / 0.3) -> 0.6214 < C; C next (unchanged 0.8): B decays once more,
    # B = 0.9 * exp(-2 (1/9) / 0.3) = 0.9 * 0.476761 = 0.429085
    decayed = soft_nms(np.array([[0, 9], [5, 14], [10, 19]]), np.array([1.0, 0.9, 0.8]), 0.3, "inclusive")
    np.testing.assert_allclose(decayed, [1.0, 0.9 * math.exp(-2 / 9 / 0.3), 0.8])
    np.testing.assert_allclose(decayed[1], 0.429085, atol=1e-6)


def test_soft_nms_identical_copies_decay_by_exp_minus_one_over_sigma() -> None:
    decayed = soft_nms(np.array([[3, 8], [3, 8]]), np.array([0.6, 0.6]), 0.3, "continuous")
    np.testing.assert_allclose(decayed, [0.6, 0.6 * math.exp(-1 / 0.3)])
    assert soft_nms(np.zeros((0, 2)), np.zeros(0), 0.3, "inclusive").shape == (0,)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 30), st.floats(-1, 2)), min_size=1, max_size=25),
       st.floats(0.05, 2.0), st.sampled_from(["continuous", "inclusive"]))
def test_soft_nms_never_moves_a_score_away_from_zero(rows: list, sigma: float, convention: str) -> None:
    intervals = np.array([[s, s + n] for s, n, _ in rows])
    scores = np.array([x for _, _, x in rows])
    decayed = soft_nms(intervals, scores, sigma, convention)
    assert np.all(np.abs(decayed) <= np.abs(scores))
    positive = scores >= 0
    assert np.all(decayed[positive] <= scores[positive]) and np.all(decayed[positive] >= 0)
    assert decayed.max() == scores.max() or scores.max() < 0


# --------------------------------------------------------------------------- filters and caps


def test_length_and_score_filters_at_their_bounds() -> None:
    cfg = SpottingPostprocessConfig(min_score=(0.4, 0.3))
    # macro lengths 14, 15, 240, 241 (end - start + 1); micro 8, 9, 15, 16; then two below the score minima
    candidates = spots([(0, 13, 0, 0.9), (0, 14, 0, 0.9), (0, 239, 0, 0.9), (0, 240, 0, 0.9),
                        (0, 7, 1, 0.9), (0, 8, 1, 0.9), (0, 14, 1, 0.9), (0, 15, 1, 0.9),
                        (0, 20, 0, 0.39), (0, 10, 1, 0.29), (0, 20, 0, 0.4), (0, 10, 1, 0.3)])
    np.testing.assert_array_equal(length_score_mask(candidates, cfg),
                                  [False, True, True, False, False, True, True, False, False, False, True, True])


def test_cap_is_greedy_by_score_with_strict_iou() -> None:
    cfg = SpottingPostprocessConfig()
    # [0, 9] 0.9 kept; [0, 5] 0.8: inclusive IoU 6/10 = 0.6 > 0.5, skipped; [0, 4] 0.7: IoU 5/10 = 0.5, not > 0.5, kept;
    # [50, 59] 0.6 would be next but the limit is 2
    candidates = spots([(0, 5, 1, 0.8), (0, 9, 1, 0.9), (50, 59, 1, 0.6), (0, 4, 1, 0.7)])
    np.testing.assert_array_equal(capped(candidates, 2, cfg), [1, 3])
    np.testing.assert_array_equal(capped(candidates, 8, cfg), [1, 3, 2])
    assert len(capped(candidates, 0, cfg)) == 0


def test_cap_limits_each_type_per_video() -> None:
    t = 400
    a = np.zeros(t)
    e = np.zeros((t, 2))
    for k in range(10):  # ten separate 20-frame macro runs of falling height
        a[k * 40:k * 40 + 20] = 0.9 - 0.01 * k
        e[k * 40:k * 40 + 20, 0] = 0.9
    out = spot_video(a, e, SpottingPostprocessConfig())
    assert len(out) == 8 and np.all(out.type_index == 0)
    # the eight best runs: the first eight, each once (its copies at lower thresholds were decayed and capped)
    np.testing.assert_array_equal(np.sort(out.start), np.arange(8) * 40)
    assert np.all(np.diff(out.score) <= 0)


# --------------------------------------------------------------------------- the whole video


def test_spot_video_two_expressions() -> None:
    a = np.zeros(300)
    a[50:80] = 0.9  # 30 frames: macro length
    a[150:162] = 0.7  # 12 frames: micro length
    e = np.zeros((300, 2))
    e[50:80, 0] = 0.9
    e[150:162, 1] = 0.8
    out = spot_video(a, e, SpottingPostprocessConfig())
    # macro: 0.9 - 0 + 0.2 * 0.9 = 1.08; micro: 0.7 + 0.2 * 0.8 = 0.86; copies at other thresholds are capped
    np.testing.assert_array_equal(out.start, [50, 150])
    np.testing.assert_array_equal(out.end, [79, 161])
    np.testing.assert_array_equal(out.apex, [50, 150])
    np.testing.assert_array_equal(out.type_index, [0, 1])
    np.testing.assert_allclose(out.score, [1.08, 0.86])


def test_spot_video_refuses_bad_scores() -> None:
    cfg = SpottingPostprocessConfig()
    bad = np.full(10, 0.5)
    bad[3] = np.nan
    with pytest.raises(SentilocError, match="NaN"):
        spot_video(bad, np.zeros((10, 2)), cfg)
    with pytest.raises(ValueError, match="apex"):
        spot_video(np.zeros(10), np.zeros((10, 3)), cfg)
    assert len(spot_video(np.zeros(0), np.zeros((0, 2)), cfg)) == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**31 - 1))
def test_spots_respect_every_limit(length: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.clip(np.cumsum(rng.normal(0, 0.15, length)), 0, 1)  # smooth-ish random walk: long runs
    e = rng.random((length, 2))
    cfg = SpottingPostprocessConfig(min_score=(0.0, 0.0))
    out = spot_video(a, e, cfg)
    n = out.end - out.start + 1
    t = out.type_index
    assert np.all((out.start <= out.apex) & (out.apex <= out.end) & (out.start >= 0) & (out.end < length))
    assert np.all((n >= np.array(cfg.min_length)[t]) & (n <= np.array(cfg.max_length)[t]))
    assert np.all(out.score >= 0) and np.all(np.diff(out.score) <= 0)
    assert np.all(np.bincount(t, minlength=2) <= cfg.max_per_video)
    np.testing.assert_array_equal(e[out.apex, t] > cfg.apex_min, True)


# --------------------------------------------------------------------------- config


def test_config_from_yaml_values() -> None:
    cfg = typed_section(SpottingPostprocessConfig, {"min_score": [0.4, 0.3], "max_per_video": [8, 8],
                                                    "thresholds": [0.3, 0.5]}, "postprocess")
    assert cfg.min_score == (0.4, 0.3) and cfg.max_per_video == (8, 8) and cfg.thresholds == (0.3, 0.5)
    defaults = SpottingPostprocessConfig()
    assert defaults.thresholds == (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    assert (defaults.min_length, defaults.max_length, defaults.max_per_video) == ((15, 9), (240, 15), (8, 2))


@pytest.mark.parametrize(("values", "message"), [
    ({"thresholds": []}, "postprocess.thresholds"),
    ({"thresholds": [0.0, 0.5]}, "postprocess.thresholds"),
    ({"outer_margin": -0.1}, "postprocess.outer_margin"),
    ({"apex_min": 1.0}, "postprocess.apex_min"),
    ({"soft_nms_sigma": 0}, "postprocess.soft_nms_sigma"),
    ({"min_length": [16, 9], "max_length": [15, 15]}, "min <= max"),
    ({"min_length": [0, 9]}, "min <= max"),
    ({"min_score": [0.5, float("nan")]}, "postprocess.min_score"),
    ({"max_per_video": [8, -1]}, "postprocess.max_per_video"),
    ({"cap_iou": 0}, "postprocess.cap_iou"),
    ({"iou_convention": "frames"}, "postprocess.iou_convention 'frames'"),
    ({"max_per_video": [8]}, "postprocess.max_per_video"),
    ({"soft_nms": 0.3}, "unknown key"),
])
def test_config_errors_are_one_line(values: dict, message: str) -> None:
    with pytest.raises(SentilocError, match=message) as info:
        typed_section(SpottingPostprocessConfig, values, "postprocess")
    assert "\n" not in str(info.value)
