"""Temporal IoU and greedy 1-D NMS (docs/methods.md §2.9 step 9)."""

from __future__ import annotations

import numpy as np
import pytest

from sentiloc.postprocess import nms_1d, temporal_iou


def naive_nms(segments: np.ndarray, scores: np.ndarray, threshold: float, extra: float) -> list[int]:
    """Greedy NMS written pair by pair, as a slow oracle."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        s1, e1 = segments[i]
        suppressed = False
        for j in keep:
            s2, e2 = segments[j]
            inter = max(0.0, min(e1, e2) - max(s1, s2) + extra)
            union = (e1 - s1 + extra) + (e2 - s2 + extra) - inter
            suppressed |= union > 0 and inter / union >= threshold
        if not suppressed:
            keep.append(i)
    return keep


def test_temporal_iou_by_hand_and_shapes() -> None:
    segs = np.array([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0], [5.0, 15.0]])
    # [0,10] vs [1,10]: 9 / 10; vs [20,30]: disjoint; vs [5,15]: 5 / (10 + 10 - 5) = 1/3
    np.testing.assert_allclose(temporal_iou(segs, segs[0]), [1.0, 0.9, 0.0, 1 / 3])
    matrix = temporal_iou(segs, segs[:2])
    assert matrix.shape == (4, 2)
    np.testing.assert_allclose(matrix[:, 0], temporal_iou(segs, segs[0]))
    # touching segments share no time; two zero-length segments have an empty union -> 0
    assert temporal_iou(np.array([[0.0, 1.0]]), np.array([1.0, 2.0]))[0] == 0.0
    assert temporal_iou(np.array([[3.0, 3.0]]), np.array([3.0, 3.0]))[0] == 0.0


def test_temporal_iou_matrix_matches_pairwise_values() -> None:
    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 50, 30)
    segs = np.stack([starts, starts + rng.uniform(0.1, 20, 30)], axis=1)
    matrix = temporal_iou(segs[:10], segs)
    for i in range(10):
        np.testing.assert_allclose(matrix[i], temporal_iou(segs, segs[i]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(matrix, temporal_iou(segs, segs[:10]).T, rtol=0, atol=1e-15)


def test_plus_one_iou_by_hand() -> None:
    # [0, 1] vs [0.6, 1.6]: exact 0.4 / 1.6 = 0.25; +1: inter 0.4 + 1 = 1.4, union 2 + 2 - 1.4 = 2.6 -> 0.5385
    a, b = np.array([[0.0, 1.0]]), np.array([0.6, 1.6])
    assert temporal_iou(a, b)[0] == pytest.approx(0.25)
    assert temporal_iou(a, b, plus_one=True)[0] == pytest.approx(1.4 / 2.6)
    # disjoint but 0.5 s apart: [0, 1] vs [1.5, 2.5]: exact 0; +1: inter 1 - 1.5 + 1 = 0.5, union 3.5
    assert temporal_iou(a, np.array([1.5, 2.5]))[0] == 0.0
    assert temporal_iou(a, np.array([1.5, 2.5]), plus_one=True)[0] == pytest.approx(0.5 / 3.5)


def test_nms_by_hand() -> None:
    segs = np.array([[0.0, 10.0], [2.0, 10.0], [5.0, 15.0]])
    # best [0,10] (0.9) kept; [2,10]: IoU 8/10 >= 0.5 -> dropped; [5,15]: IoU 5/15 < 0.5 -> kept
    np.testing.assert_array_equal(nms_1d(segs, np.array([0.9, 0.8, 0.7]), 0.5), [0, 2])
    # reorder the scores: [5,15] first; [0,10] vs it: 1/3 -> kept; [2,10] vs [0,10]: 0.8 -> dropped
    np.testing.assert_array_equal(nms_1d(segs, np.array([0.5, 0.4, 0.9]), 0.5), [2, 0])


def test_identical_segments_keep_the_earlier_or_higher_one() -> None:
    twins = np.array([[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(nms_1d(twins, np.array([0.5, 0.5]), 0.5), [0])
    np.testing.assert_array_equal(nms_1d(twins, np.array([0.4, 0.5]), 0.5), [1])


def test_equal_scores_keep_index_order_and_iou_at_threshold_suppresses() -> None:
    disjoint = np.array([[4.0, 5.0], [0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(nms_1d(disjoint, np.full(3, 0.3), 0.5), [0, 1, 2])
    # [0, 2] vs [0, 1]: IoU exactly 1/2 -> dropped (the reference keeps only IoU < threshold)
    np.testing.assert_array_equal(nms_1d(np.array([[0.0, 2.0], [0.0, 1.0]]), np.array([0.9, 0.8]), 0.5), [0])


def test_plus_one_changes_the_result() -> None:
    # exact IoU 0.25 < 0.5 -> both kept; with +1 it is 0.538 >= 0.5 -> the second is dropped
    segs = np.array([[0.0, 1.0], [0.6, 1.6]])
    scores = np.array([0.9, 0.8])
    np.testing.assert_array_equal(nms_1d(segs, scores, 0.5), [0, 1])
    np.testing.assert_array_equal(nms_1d(segs, scores, 0.5, plus_one=True), [0])


def test_empty_input() -> None:
    keep = nms_1d(np.zeros((0, 2)), np.zeros(0), 0.5)
    assert keep.shape == (0,) and keep.dtype == np.int64


@pytest.mark.parametrize("plus_one", [False, True])
def test_nms_matches_a_pairwise_oracle(plus_one: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(1, 120))
        starts = rng.uniform(0, 30, n).round(1)
        segs = np.stack([starts, starts + rng.uniform(0.1, 8, n).round(1)], axis=1)
        scores = rng.integers(0, 10, n) / 10.0  # many ties
        expected = naive_nms(segs, scores, 0.5, 1.0 if plus_one else 0.0)
        np.testing.assert_array_equal(nms_1d(segs, scores, 0.5, plus_one), expected)
