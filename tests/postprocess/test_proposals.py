"""CAS -> proposals (docs/methods.md §2.9 steps 2-8), checked against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import interp1d
from scipy.ndimage import gaussian_filter1d

from sentiloc.core.errors import SentilocError
from sentiloc.postprocess import PostprocessConfig, temporal_iou, video_proposals
from sentiloc.postprocess.proposals import (
    class_proposals,
    find_runs,
    outer_inner_contrast,
    predicted_classes,
    runs_by_row,
    runs_to_seconds,
    scoring_inputs,
    thresholded,
    topk_mean,
    upsample_track,
)

NAMES = ["n", "p"]

# Tiny video, T = 4, columns [n, p, ∅]. Fused p track ȳ = y_p (1 - y_∅) = [0.1, 0.8, 0.8, 0.1];
# actionness a = 1 - y_∅ = [0.5, 1, 1, 0.5].
TINY_CAS = np.array([[0.0, 0.2, 0.5], [0.0, 0.8, 0.0], [0.0, 0.8, 0.0], [0.0, 0.2, 0.5]])
TINY_FUSED = np.array([0.1, 0.8, 0.8, 0.1])


def act_runs(actionness: np.ndarray, cfg: PostprocessConfig) -> np.ndarray:
    return runs_by_row(thresholded(actionness, cfg.act_thresholds) > 0)[1]


def test_default_thresholds_are_the_reference_aranges() -> None:
    cfg = PostprocessConfig()
    assert len(cfg.cas_thresholds) == 10 and len(cfg.act_thresholds) == 14
    assert cfg.cas_thresholds == tuple(np.arange(0, 0.25, 0.025))
    assert cfg.act_thresholds == tuple(np.arange(0.4, 0.74, 0.025))
    assert cfg.cas_thresholds[-1] == pytest.approx(0.225) and cfg.act_thresholds[-1] == pytest.approx(0.725)
    assert all(type(x) is float for x in cfg.cas_thresholds + cfg.act_thresholds)


def test_config_accepts_yaml_lists_and_refuses_bad_values() -> None:
    assert PostprocessConfig(cas_thresholds=[0, 0.1]).cas_thresholds == (0.0, 0.1)
    for bad in ({"upsample": 0}, {"upsample": 2.5}, {"nms_iou": 0.0}, {"oic_margin": -0.1}, {"max_proposals": 0}):
        with pytest.raises(SentilocError, match="postprocess"):
            PostprocessConfig(**bad)


def test_class_choice_rule() -> None:
    # v >= 0.5 is inclusive; otherwise the argmax alone
    np.testing.assert_array_equal(predicted_classes(np.array([0.6, 0.5]), 0.5), [0, 1])
    np.testing.assert_array_equal(predicted_classes(np.array([0.49, 0.7]), 0.5), [1])
    np.testing.assert_array_equal(predicted_classes(np.array([0.2, 0.4]), 0.5), [1])
    np.testing.assert_array_equal(predicted_classes(np.array([0.3, 0.3]), 0.5), [0])
    # no threshold: every class gets proposals, a sparse class with a diluted video score included
    np.testing.assert_array_equal(predicted_classes(np.array([0.3, 0.9]), None), [0, 1])


def test_class_choice_decides_the_labels() -> None:
    cas = np.zeros((10, 3))
    cas[2:5, 0] = 0.9  # a strong "n" bump ...
    cas[6:9, 1] = 0.6
    cas[:, 2] = 0.2
    # ... is ignored when only "p" is predicted (neither passes 0.5, p is the argmax)
    labels = {p["label"] for p in video_proposals(cas, np.array([0.3, 0.4]), 16.0, PostprocessConfig(), NAMES)}
    assert labels == {"p"}
    labels = {p["label"] for p in video_proposals(cas, np.array([0.5, 0.9]), 16.0, PostprocessConfig(), NAMES)}
    assert labels == {"n", "p"}


def test_upsampled_grid_by_hand() -> None:
    up = upsample_track(TINY_FUSED, 24)
    assert up.shape == (96,)  # grid {0, 1/24, ..., 4 - 1/24}
    # sample i sits at snippet x = i / 24
    assert up[0] == pytest.approx(0.1)  # x = 0: the first snippet
    assert up[12] == pytest.approx(0.45)  # x = 0.5: halfway between 0.1 and 0.8
    assert up[24] == pytest.approx(0.8) and up[48] == pytest.approx(0.8)  # x = 1, 2: knots
    assert up[60] == pytest.approx(0.45)  # x = 2.5: halfway down
    # past T - 1 = 3 the final slope (0.1 - 0.8 = -0.7 per snippet) continues:
    assert up[84] == pytest.approx(0.1 - 0.5 * 0.7)  # x = 3.5 -> -0.25
    assert up[95] == pytest.approx(0.1 - 23 / 24 * 0.7)  # x = 3 + 23/24 -> -0.5708


def test_upsample_matches_scipy_interp1d_with_extrapolation() -> None:
    rng = np.random.default_rng(0)
    for length in (2, 3, 17):
        track = rng.random((length, 3))
        grid = np.arange(length * 24) / 24
        expected = interp1d(np.arange(length), track, axis=0, kind="linear", fill_value="extrapolate")(grid)
        np.testing.assert_allclose(upsample_track(track, 24), expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(upsample_track(track[:, 1], 24), expected[:, 1], rtol=0, atol=1e-12)
    # a one-snippet video has no slope: held constant
    np.testing.assert_array_equal(upsample_track(np.array([0.7]), 3), [0.7, 0.7, 0.7])


def test_runs_of_consecutive_samples() -> None:
    np.testing.assert_array_equal(find_runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)), [[1, 2], [4, 4], [7, 7]])
    np.testing.assert_array_equal(find_runs(np.ones(3, dtype=bool)), [[0, 2]])
    assert find_runs(np.zeros(4, dtype=bool)).shape == (0, 2)
    assert find_runs(np.zeros(0, dtype=bool)).shape == (0, 2)


def test_runs_never_cross_from_one_threshold_row_to_the_next() -> None:
    keep = np.array([[0, 1, 1], [1, 1, 0], [0, 0, 0], [1, 0, 1]], dtype=bool)
    rows, runs = runs_by_row(keep)
    np.testing.assert_array_equal(rows, [0, 1, 3, 3])
    np.testing.assert_array_equal(runs, [[1, 2], [0, 1], [0, 0], [2, 2]])


def test_run_boundaries_at_one_threshold_by_hand() -> None:
    # Threshold 0.225 on the upsampled ȳ: rising part 0.1 + 0.7 i/24 >= 0.225 <=> i >= 4.29 -> i0 = 5;
    # falling part 0.8 - 0.7 (i - 48)/24 >= 0.225 <=> i - 48 <= 19.71 -> i1 = 67.
    track = thresholded(upsample_track(TINY_FUSED, 24), [0.225])[0]
    np.testing.assert_array_equal(find_runs(track > 0), [[5, 67]])
    assert track[4] == 0.0 and track[68] == 0.0 and track[5] == pytest.approx(0.1 + 0.7 * 5 / 24)


def test_outer_inner_contrast_of_a_cas_run_by_hand() -> None:
    # Run [5, 67]: L = 63, margin 0.03 * 63 = 1.89 -> outer = [⌊3.11⌋ = 3, 5) ∪ (67, ⌊68.89⌋ = 68]
    # = {3, 4, 68}, all below 0.225, hence 0 in the thresholded track -> outer mean 0.
    # Inner sum: rising i = 5..23: 19 * 0.1 + 0.7/24 * (5 + ... + 23 = 266) = 9.658333
    #            plateau i = 24..48: 25 * 0.8 = 20
    #            falling k = i - 48 = 1..19: 19 * 0.8 - 0.7/24 * 190 = 9.658333
    # mean = 39.316667 / 63 = 0.624074
    track = thresholded(upsample_track(TINY_FUSED, 24), [0.225])
    inner = (2 * (1.9 + 0.7 / 24 * 266) + 20) / 63
    np.testing.assert_allclose(outer_inner_contrast(track, np.array([[5, 67]]), 0.03, np.array([0])), [inner])
    assert inner == pytest.approx(0.624074, abs=1e-6)


def test_outer_inner_contrast_of_an_actionness_run_by_hand() -> None:
    # Actionness 0.5 + 0.5 i/24 >= 0.725 <=> i >= 10.8 -> i0 = 11; 1 - 0.5 (i - 48)/24 >= 0.725 -> i1 = 61.
    # Scored on the *unthresholded* ȳ. L = 51, margin 1.53 -> outer = {⌊9.47⌋ = 9, 10} ∪ {⌊62.53⌋ = 62}:
    #   ȳ[9] = 0.1 + 0.7 * 9/24 = 0.3625, ȳ[10] = 0.1 + 0.7 * 10/24 = 0.391667, ȳ[62] = 0.8 - 0.7 * 14/24 = 0.391667
    #   outer mean = 1.145833 / 3 = 0.381944
    # Inner: rising i = 11..23: 1.3 + 0.7/24 * 221 = 7.745833; plateau 20; falling k = 1..13: 10.4 - 0.7/24 * 91
    #   = 7.745833 -> 35.491667 / 51 = 0.695915; contrast = 0.313971
    cfg = PostprocessConfig()
    actionness = upsample_track(1.0 - TINY_CAS[:, 2], 24)
    np.testing.assert_array_equal(find_runs(actionness >= 0.725), [[11, 61]])
    inner = (2 * (1.3 + 0.7 / 24 * 221) + 20) / 51
    outer = (0.1 + 0.7 * 9 / 24 + 2 * (0.1 + 0.7 * 10 / 24)) / 3
    got = outer_inner_contrast(upsample_track(TINY_FUSED, 24), np.array([[11, 61]]), cfg.oic_margin)
    np.testing.assert_allclose(got, [inner - outer])
    assert inner - outer == pytest.approx(0.313971, abs=1e-6)


def test_tiny_video_end_to_end_by_hand() -> None:
    """fps 16 -> one snippet per second; each upsampled sample is 1/24 s."""
    cfg = PostprocessConfig()
    up = upsample_track(TINY_FUSED, 24)
    runs, scores = class_proposals(up, act_runs(upsample_track(1.0 - TINY_CAS[:, 2], 24), cfg), 0.7, cfg)
    assert len(runs) == 10 + 14  # one run per threshold here
    # the 0.225 CAS run has the sharpest contrast: 0.624074 + 0.3 * v_p (0.7)
    assert list(runs[np.argmax(scores)]) == [5, 67]
    # every other run nests with it (IoU >= min(63/77, 51/63) > 0.5), so NMS keeps it alone:
    # start = 5 / 24 s, end = (67 + 1) / 24 s
    out = video_proposals(TINY_CAS, np.array([0.1, 0.7]), 16.0, cfg, NAMES)
    assert len(out) == 1 and out[0]["label"] == "p"
    assert out[0]["score"] == pytest.approx((2 * (1.9 + 0.7 / 24 * 266) + 20) / 63 + 0.3 * 0.7)
    assert out[0]["segment"] == pytest.approx([5 / 24, 68 / 24])


def test_outer_inner_contrast_at_edges_and_against_a_loop() -> None:
    # a run covering everything has no outer samples: mean(∅) = 0
    np.testing.assert_allclose(outer_inner_contrast(np.full(5, 0.6), np.array([[0, 4]]), 0.5), [0.6])
    # the reference's per-run loop (int() truncation, both margins pooled)
    rng = np.random.default_rng(1)
    tracks = rng.random((3, 200))
    rows, runs = runs_by_row(tracks > 0.4)
    got = outer_inner_contrast(tracks, runs, 0.25, rows)
    for (i0, i1), row, value in zip(runs, rows, got):
        length = i1 - i0 + 1
        lo, hi = max(0, int(i0 - 0.25 * length)), min(199, int(i1 + 0.25 * length))
        outer = list(range(lo, i0)) + list(range(i1 + 1, hi + 1))
        expected = tracks[row, i0 : i1 + 1].mean() - (tracks[row, outer].mean() if outer else 0.0)
        assert value == pytest.approx(expected, abs=1e-12)


def test_plateau_becomes_seconds_through_fps() -> None:
    """Class p on snippets 4..7 (seconds [4, 8) at fps 16), background elsewhere.

    ȳ ramps 0 -> 1 over x = 3..4 and 1 -> 0 over x = 7..8. The best run is the 0.225 CAS one:
    (i - 72)/24 >= 0.225 -> i0 = 78; 1 - (i - 168)/24 >= 0.225 -> i1 = 186, so
    [78/24, 187/24] = [3.25, 7.79] s, inside one snippet of the plateau on each side. Its outer
    samples {74..77} ∪ {187..189} are below 0.225 (0); inner sum 10.875 + 73 + 10.875 over 109
    samples -> 0.869266 + 0.3 * v_p.
    """
    cas = np.zeros((12, 3))
    cas[:, 2] = 1.0
    cas[4:8, 1], cas[4:8, 2] = 1.0, 0.0
    for fps, snippet_s in ((16.0, 1.0), (32.0, 0.5)):
        out = video_proposals(cas, np.array([0.0, 1.0]), fps, PostprocessConfig(), NAMES)
        assert [p["label"] for p in out] == ["p"]
        assert out[0]["segment"] == pytest.approx([78 / 24 * snippet_s, 187 / 24 * snippet_s])
        assert out[0]["score"] == pytest.approx(94.75 / 109 + 0.3)
        assert 3 * snippet_s <= out[0]["segment"][0] <= 4 * snippet_s <= 7 * snippet_s <= out[0]["segment"][1] <= 8 * snippet_s


def test_all_zero_cas_gives_one_whole_video_segment_of_score_zero() -> None:
    # ȳ = 0 is never > 0 (no CAS run); a = 1 passes every actionness threshold, giving 14 copies of
    # the whole video, scored 0 (inner 0, no outer samples) + 0.3 * v = 0. The class is argmax(0, 0)
    # = the first; NMS keeps one copy. T = 5 at fps 25 -> 5 * 16 / 25 = 3.2 s.
    out = video_proposals(np.zeros((5, 3)), np.zeros(2), 25.0, PostprocessConfig(), NAMES)
    assert out == [{"label": "n", "score": 0.0, "segment": [0.0, 3.2]}]


def test_pure_background_gives_no_proposals() -> None:
    cas = np.zeros((6, 3))
    cas[:, 2] = 1.0  # a = 0 everywhere, ȳ = 0
    assert video_proposals(cas, np.array([0.2, 0.1]), 25.0, PostprocessConfig(), NAMES) == []


def test_one_snippet_video() -> None:
    out = video_proposals(np.array([[0.1, 0.9, 0.1]]), np.array([0.1, 0.9]), 16.0, PostprocessConfig(), NAMES)
    assert [p["segment"] for p in out] == [[0.0, 1.0]]


def smooth_cas(rng: np.random.Generator, length: int, sigma: float) -> np.ndarray:
    logits = gaussian_filter1d(rng.normal(0.0, 6.0, size=(length, 3)), sigma=sigma, axis=0)
    return 1.0 / (1.0 + np.exp(-logits))


def test_long_noisy_video_is_consistent_and_the_cap_applies() -> None:
    rng = np.random.default_rng(3)
    cas = smooth_cas(rng, 2131, sigma=1.5)
    scores = np.array([0.7, 0.6])
    fps = 25.0
    out = video_proposals(cas, scores, fps, PostprocessConfig(), NAMES)
    assert len(out) > 100
    values = [p["score"] for p in out]
    assert values == sorted(values, reverse=True)
    for label in NAMES:
        segments = np.array([p["segment"] for p in out if p["label"] == label])
        assert (segments[:, 0] >= 0).all() and (segments[:, 1] <= 2131 * 16 / fps + 1e-9).all()
        assert (segments[:, 1] > segments[:, 0]).all()
        iou = temporal_iou(segments, segments)
        np.fill_diagonal(iou, 0.0)
        assert iou.max() < 0.5  # class-wise NMS left no pair at IoU >= 0.5
    capped = video_proposals(cas, scores, fps, PostprocessConfig(max_proposals=7), NAMES)
    assert capped == out[:7]
    legacy = video_proposals(cas, scores, fps, PostprocessConfig(legacy_nms_plus_one=True), NAMES)
    assert len(legacy) <= len(out)  # +1 s only ever raises IoUs


def test_bad_inputs_are_refused() -> None:
    cfg = PostprocessConfig()
    with pytest.raises(ValueError, match="cas must have shape"):
        video_proposals(np.zeros((5, 2)), np.zeros(2), 25.0, cfg, NAMES)
    with pytest.raises(ValueError, match="video_scores"):
        video_proposals(np.zeros((5, 3)), np.zeros(3), 25.0, cfg, NAMES)
    nan_cas = np.zeros((5, 3))
    nan_cas[2, 1] = np.nan
    with pytest.raises(SentilocError, match="NaN"):
        video_proposals(nan_cas, np.zeros(2), 25.0, cfg, NAMES)
    with pytest.raises(SentilocError, match="frame rate"):
        video_proposals(np.zeros((5, 3)), np.zeros(2), 0.0, cfg, NAMES)


def test_kept_set_does_not_depend_on_fps() -> None:
    """IoU is unit-free, and exact ties (a run half as long as the one it nests in) are common on
    the 24x grid; NMS on the integer sample grid resolves them the same way at every frame rate."""
    rng = np.random.default_rng(11)
    for length in (2, 300):
        cas = smooth_cas(rng, length, sigma=1.0)
        scores = np.array([0.9, 0.6])
        reference = video_proposals(cas, scores, 16.0, PostprocessConfig(), NAMES)
        for fps in (21.297739493992978, 25.0, 29.97):
            out = video_proposals(cas, scores, fps, PostprocessConfig(), NAMES)
            assert [(p["label"], p["score"]) for p in out] == [(p["label"], p["score"]) for p in reference]
            np.testing.assert_allclose(
                [p["segment"] for p in out], [np.array(p["segment"]) * 16.0 / fps for p in reference], rtol=1e-12
            )


def test_proposals_can_be_cut_from_the_global_cas() -> None:
    track = np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.4], [0.8, 0.0]])
    # ratio 2 -> k = 2: column 0 top (0.8, 0.5), column 1 top (0.9, 0.4)
    np.testing.assert_allclose(topk_mean(track, 2), [0.65, 0.65])
    np.testing.assert_allclose(topk_mean(track, 8), [0.8, 0.9])  # k never below 1
    cas = np.array([[0.2, 0.1, 0.7], [0.6, 0.3, 0.1]])
    glob = np.array([[0.4, 0.3, 0.3], [0.2, 0.1, 0.5]])
    scores = np.array([0.9, 0.9])
    assert scoring_inputs(cas, glob, scores, "cas", 8)[1] is scores
    track, video = scoring_inputs(cas, glob, scores, "global", 8)
    np.testing.assert_array_equal(track, glob)
    np.testing.assert_allclose(video, [0.4, 0.3])
    track, video = scoring_inputs(cas, glob, scores, "mean", 1)
    np.testing.assert_allclose(track, (cas + glob) / 2)
    np.testing.assert_allclose(video, [0.35, 0.2])  # k = 2 with ratio 1: the mean of both rows
    with pytest.raises(SentilocError, match="needs a model with a Global CAS"):
        scoring_inputs(cas, None, scores, "global", 8)
    with pytest.raises(SentilocError, match="cas_source 'both'"):
        PostprocessConfig(cas_source="both")


def test_snippet_centres_move_segments_half_a_snippet_later() -> None:
    runs = np.array([[0, 23], [48, 71]])  # snippets 0 and 2 at 24 samples per snippet
    fps = 16.0  # one snippet per second
    np.testing.assert_allclose(runs_to_seconds(runs, fps, 24), [[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_allclose(runs_to_seconds(runs, fps, 24, centres=True, n_snippets=3), [[0.5, 1.5], [2.5, 3.0]])


def test_seconds_are_clipped_to_the_video() -> None:
    # fps 16: one snippet per second. A 2.5 s video has 3 snippets, the last one half past its end.
    runs = np.array([[0, 23], [48, 71], [66, 71]])
    np.testing.assert_allclose(runs_to_seconds(runs, 16.0, 24), [[0.0, 1.0], [2.0, 3.0], [2.75, 3.0]])
    np.testing.assert_allclose(runs_to_seconds(runs, 16.0, 24, duration_s=2.5), [[0.0, 1.0], [2.0, 2.5], [2.5, 2.5]])
    np.testing.assert_allclose(runs_to_seconds(runs, 16.0, 24, centres=True, n_snippets=3, duration_s=2.5),
                               [[0.5, 1.5], [2.5, 2.5], [2.5, 2.5]])


def test_all_zero_cas_segment_ends_with_the_video() -> None:
    # T = 5 snippets at fps 25 span 3.2 s; a 3.0 s video (75 frames) has 5 snippets too.
    out = video_proposals(np.zeros((5, 3)), np.zeros(2), 25.0, PostprocessConfig(), NAMES, duration_s=3.0)
    assert out == [{"label": "n", "score": 0.0, "segment": [0.0, 3.0]}]


def test_a_run_past_the_end_is_dropped_before_nms() -> None:
    """A 1.7 s video at fps 16: 2 snippets, ȳ_p = 0.1·x on the grid x = i / 24 (i = 0 .. 47, a = 1).

    CAS threshold 0.025·k (k = 1 .. 7) gives the run [6k, 47]: [k / 4, 2.0] s, scored by its inner
    mean 0.1·(6k + 47) / 48 (the outer samples are thresholded to 0) + 0.3·v_p = 0.03.
    Without a duration the best run is k = 7, [1.75, 2.0] s, score 0.185417 + 0.03; NMS (on
    samples) drops k = 6 (IoU 6/12 = 0.5), keeps k = 5 (6/18), which drops k = 4..2, and keeps
    k = 1 (18/42 with k = 5). Clipped to 1.7 s, k = 7 lies wholly past the end and is dropped before NMS, so k = 6,
    [1.5, 1.7] s, score 0.1·83/48 + 0.03, is kept; it suppresses k = 5 (12/18) and k = 4
    (12/24 = 0.5); k = 3, [0.75, 1.7] s, score 0.1·65/48 + 0.03, overlaps it 12/30 and stays;
    everything longer overlaps k = 3 by more than 0.5.
    """
    cas = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0]])
    scores = np.array([0.0, 0.1])
    unclipped = video_proposals(cas, scores, 16.0, PostprocessConfig(), NAMES)
    assert [p["segment"] for p in unclipped] == [[1.75, 2.0], [1.25, 2.0], [0.25, 2.0]]
    assert unclipped[0]["score"] == pytest.approx(0.1 * 89 / 48 + 0.03)
    clipped = video_proposals(cas, scores, 16.0, PostprocessConfig(), NAMES, duration_s=1.7)
    assert [p["segment"] for p in clipped] == [[1.5, 1.7], [0.75, 1.7]]
    assert [p["score"] for p in clipped] == pytest.approx([0.1 * 83 / 48 + 0.03, 0.1 * 65 / 48 + 0.03])


def test_impossible_durations_are_refused() -> None:
    for duration in (0.0, -1.0, float("nan")):
        with pytest.raises(SentilocError, match="len_duration_dict"):
            video_proposals(TINY_CAS, np.array([0.0, 0.9]), 16.0, PostprocessConfig(), NAMES, duration_s=duration)
