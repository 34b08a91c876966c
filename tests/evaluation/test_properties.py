"""Property tests of the detection evaluator, temporal IoU and NMS on random segment sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.evaluation import evaluate_detection
from sentiloc.postprocess import nms_1d, temporal_iou

TIOU = [0.1, 0.3, 0.5, 0.7]
#: Integer-second segments: every tIoU is a ratio of exact floats, so shifts cannot move one across a threshold.
SEGMENT = st.tuples(st.integers(0, 200), st.integers(1, 60)).map(lambda p: (p[0], p[0] + p[1]))
LABELLED = st.tuples(st.sampled_from(["v0", "v1", "v2"]), SEGMENT, st.sampled_from(["p", "n"]))


def ground_truth(segments: list[tuple], shift: int = 0) -> dict:
    database = {v: {"subset": "test", "annotations": []} for v in ("v0", "v1", "v2")}
    for video, (start, end), label in segments:
        database[video]["annotations"].append({"segment": [start + shift, end + shift], "label": label})
    return {"database": database}


def predictions(segments: list[tuple], scores: list[float], shift: int = 0) -> dict:
    results: dict[str, list] = {}
    for (video, (start, end), label), score in zip(segments, scores):
        results.setdefault(video, []).append({"label": label, "score": score, "segment": [start + shift, end + shift]})
    return {"results": results}


@settings(max_examples=60, deadline=None)
@given(st.lists(LABELLED, min_size=1, max_size=8), st.lists(LABELLED, max_size=12),
       st.lists(st.floats(0, 1), min_size=12, max_size=12), st.integers(1, 500))
def test_ap_is_a_fraction_and_invariant_to_a_common_shift(gt: list, pred: list, scores: list, shift: int) -> None:
    result = evaluate_detection(ground_truth(gt), predictions(pred, scores), tiou=TIOU)
    assert np.all((result.ap >= 0) & (result.ap <= 1))
    assert all(0 <= x <= 1 for x in result.precision + result.recall + result.f2)
    shifted = evaluate_detection(ground_truth(gt, shift), predictions(pred, scores, shift), tiou=TIOU)
    np.testing.assert_array_equal(result.ap, shifted.ap)
    assert result.recall == shifted.recall and result.precision == shifted.precision


@settings(max_examples=60, deadline=None)
@given(st.lists(LABELLED, min_size=1, max_size=10))
def test_perfect_predictions_score_one(gt: list) -> None:
    scores = list(np.linspace(1.0, 0.5, len(gt)))
    result = evaluate_detection(ground_truth(gt), predictions(gt, scores), tiou=TIOU)
    np.testing.assert_array_equal(result.ap, 1.0)
    assert result.average_mAP == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=20), st.floats(0.05, 0.95))
def test_nms_keeps_no_pair_above_its_threshold(segments: list, threshold: float) -> None:
    array = np.array(segments, dtype=float)
    scores = np.random.default_rng(len(segments)).random(len(segments))
    keep = nms_1d(array, scores, threshold)
    assert len(keep) >= 1 and len(set(keep.tolist())) == len(keep)
    kept = array[keep]
    iou = temporal_iou(kept, kept)
    np.fill_diagonal(iou, 0.0)
    assert np.all(iou < threshold)
    assert np.argmax(scores) in keep


@settings(max_examples=60, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=10), SEGMENT)
def test_temporal_iou_is_a_symmetric_fraction(segments: list, other: tuple) -> None:
    array = np.array(segments, dtype=float)
    one = np.array(other, dtype=float)
    iou = temporal_iou(array, one)
    assert np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_allclose(iou, temporal_iou(one[None], array)[0])
    np.testing.assert_array_equal(temporal_iou(array, array).diagonal(), 1.0)
