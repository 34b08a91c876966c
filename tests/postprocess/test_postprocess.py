"""Post-processing: upsampling, runs, outer-inner contrast, class choice, NMS, results files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.errors import SentilocError
from sentiloc.postprocess import PostprocessConfig, activitynet_results, nms_1d, temporal_iou, video_proposals, write_results
from sentiloc.postprocess.proposals import find_runs, outer_inner_contrast, predicted_classes, upsample_track


def test_default_thresholds_match_the_spec() -> None:
    cfg = PostprocessConfig()
    np.testing.assert_allclose(cfg.cas_thresholds, np.arange(10) * 0.025)
    np.testing.assert_allclose(cfg.act_thresholds, 0.4 + np.arange(14) * 0.025)
    assert cfg.act_thresholds[-1] == pytest.approx(0.725)


def test_upsample_grid_and_extrapolation() -> None:
    # track [0, 1, 3] on x = 0, 1, 2, scale 2 -> grid 0, .5, 1, 1.5, 2, 2.5
    # the last sample extrapolates the final slope (2 per snippet): 3 + 0.5 * 2 = 4
    np.testing.assert_allclose(upsample_track(np.array([0.0, 1.0, 3.0]), 2), [0, 0.5, 1, 2, 3, 4])
    np.testing.assert_allclose(upsample_track(np.array([0.7]), 3), [0.7, 0.7, 0.7])


def test_runs() -> None:
    runs = find_runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool))
    np.testing.assert_array_equal(runs, [[1, 2], [4, 4], [7, 7]])
    assert find_runs(np.zeros(4, dtype=bool)).shape == (0, 2)


def test_outer_inner_contrast_by_hand() -> None:
    # run [10, 19] (length 10) with margin 0.2 -> outer = [8, 10) U (19, 21]
    track = np.zeros(30)
    track[10:20] = 0.8
    track[8:10] = 0.2
    track[20:22] = 0.4
    # inner mean 0.8; outer mean (0.2 + 0.2 + 0.4 + 0.4) / 4 = 0.3 -> 0.5
    np.testing.assert_allclose(outer_inner_contrast(track, np.array([[10, 19]]), 0.2), [0.5])
    # at the video start there is no left margin: outer = (4, 6] only
    np.testing.assert_allclose(outer_inner_contrast(track, np.array([[0, 4]]), 0.5), [0.0 - 0.0])
    # a run covering everything has no outer samples: mean(∅) = 0
    np.testing.assert_allclose(outer_inner_contrast(np.full(5, 0.6), np.array([[0, 4]]), 0.5), [0.6])


def test_class_choice() -> None:
    np.testing.assert_array_equal(predicted_classes(np.array([0.6, 0.5]), 0.5), [0, 1])
    np.testing.assert_array_equal(predicted_classes(np.array([0.2, 0.4]), 0.5), [1])


def test_plateau_becomes_a_segment_in_seconds() -> None:
    """fps 16: one snippet per second. Class p active on snippets 4..7, background elsewhere."""
    T = 12
    cas = np.zeros((T, 3))
    cas[:, 2] = 0.95
    cas[4:8, 1] = 0.9
    cas[4:8, 2] = 0.05
    proposals = video_proposals(cas, np.array([0.1, 0.8]), 16.0, PostprocessConfig(), ["n", "p"])
    assert proposals and all(p["label"] == "p" for p in proposals)
    best = proposals[0]
    # the interpolated plateau spans roughly snippets 3.x .. 7.x seconds
    assert 3.0 <= best["segment"][0] <= 4.0 and 7.0 <= best["segment"][1] <= 8.5
    assert best["score"] > 0.3 * 0.8


def test_all_zero_cas_gives_no_crash() -> None:
    proposals = video_proposals(np.zeros((5, 3)), np.zeros(2), 25.0, PostprocessConfig(), ["n", "p"])
    assert isinstance(proposals, list)


def test_temporal_iou_and_nms_by_hand() -> None:
    segs = np.array([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0]])
    np.testing.assert_allclose(temporal_iou(segs[:1], segs), [[1.0, 0.9, 0.0]])
    keep = nms_1d(segs, np.array([0.9, 0.8, 0.7]), 0.5)
    np.testing.assert_array_equal(keep, [0, 2])
    # identical segments with equal scores: the earlier one is kept
    np.testing.assert_array_equal(nms_1d(np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([0.5, 0.5]), 0.5), [0])


def test_legacy_plus_one_changes_short_segments() -> None:
    # [0, 1] and [0.6, 1.6]: exact IoU = 0.4 / 1.6 = 0.25 <= 0.5 -> both kept;
    # with +1 lengths: inter 1.4, union 2 + 2 - 1.4 = 2.6 -> 0.538 > 0.5 -> the second is suppressed
    segs = np.array([[0.0, 1.0], [0.6, 1.6]])
    scores = np.array([0.9, 0.8])
    np.testing.assert_array_equal(nms_1d(segs, scores, 0.5), [0, 1])
    np.testing.assert_array_equal(nms_1d(segs, scores, 0.5, plus_one=True), [0])


def test_results_file_round_trip_and_no_clobber(tmp_path: Path) -> None:
    results = activitynet_results({"v": [{"label": "p", "score": 0.5, "segment": [1.0, 2.0]}]})
    path = tmp_path / "pred.json"
    write_results(path, results)
    assert json.loads(path.read_text())["results"] == results["results"]
    with pytest.raises(SentilocError, match="--overwrite"):
        write_results(path, results)
