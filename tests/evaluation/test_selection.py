"""The model-selection metrics that choose ``best.pt``, each against a case computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sentiloc.data.dataset import Supervision
from sentiloc.evaluation.ap import voc_ap
from sentiloc.evaluation.selection import SELECTION, ValidationSet, click_hit_map, video_classification_map


def pred(label: str, score: float, start: float, end: float) -> dict:
    return {"label": label, "score": score, "segment": [start, end]}


def test_voc_ap_by_hand() -> None:
    # ranks: hit, miss, hit; 2 positives. Precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3.
    # AP = (1 + 2/3) / 2 at the two hits.
    assert voc_ap(np.array([1, 0, 1]), 2) == pytest.approx(5 / 6)
    assert voc_ap(np.array([0, 1]), 4) == pytest.approx(0.5 / 4)
    assert voc_ap(np.array([]), 3) == 0.0 and voc_ap(np.array([1]), 0) == 0.0


def test_click_hit_map_by_hand() -> None:
    predictions = {
        "a": [pred("p", 0.9, 0, 10), pred("p", 0.8, 0, 10), pred("n", 0.7, 20, 30)],
        "b": [pred("p", 0.6, 5, 8)],
    }
    clicks = {"a": [(4.0, "p"), (25.0, "n"), (50.0, "n")], "b": [(6.0, "p")]}
    # p: ranked 0.9 (a, hits the click at 4 s), 0.8 (a, that click is used: miss), 0.6 (b, hit);
    #    2 clicks -> precision 1, 1/2, 2/3 -> AP 5/6.
    # n: one prediction hitting 1 of 2 clicks -> AP 1/2.
    assert click_hit_map(predictions, clicks, ["n", "p"]) == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert click_hit_map({}, clicks, ["n", "p"]) == 0.0


def test_video_classification_map_by_hand() -> None:
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.7]])
    labels = np.array([[1, 0], [0, 1], [0, 1]], dtype=float)
    # class 0: order 0.9 (+), 0.6 (-), 0.2 (-) -> AP 1; class 1: 0.8 (+), 0.7 (+), 0.1 (-) -> AP 1
    assert video_classification_map(scores, labels) == pytest.approx(1.0)
    labels[2] = [1, 0]
    # class 0: +, +, - -> 1; class 1: 0.8 (+), 0.7 (-), 0.1 (-) -> 1
    assert video_classification_map(scores, labels) == pytest.approx(1.0)
    labels[:] = [[0, 0], [0, 1], [1, 0]]
    # class 0: 0.9 (-), 0.6 (+) -> AP 1/2; class 1: 0.8 (+) -> 1
    assert video_classification_map(scores, labels) == pytest.approx(0.75)


def test_each_supervision_level_has_its_registered_metric() -> None:
    assert SELECTION.names() == ["full", "point", "video"]
    assert [SELECTION.get(level).name for level in ("full", "point", "video")] == [
        "val_mAP", "val_click_mAP", "val_video_mAP"]


def test_registered_metrics_score_their_level_s_labels() -> None:
    """A class without clicks or video labels scores 0 and still counts in the point and video means."""
    classes = ["n", "p"]
    proposals = {"v": [pred("p", 0.9, 1.0, 3.0)]}
    scores = {"v": np.array([0.1, 0.9])}
    fps = {"v": 16.0}  # one snippet per second: snippet 1's centre is at 1.5 s
    point = Supervision(np.array([0.0, 1.0]), clicks_t=np.array([1]), clicks_cls=np.array([1]))
    assert SELECTION.get("point").score(ValidationSet(proposals, scores, {"v": point}, fps, classes)) == 0.5
    dense = Supervision(np.array([0.0, 1.0]), segments=[(1.0, 3.0, 1)])
    # detection mAP averages over the classes of the ground truth (only p here)
    assert SELECTION.get("full").score(ValidationSet(proposals, scores, {"v": dense}, fps, classes)) == 1.0
    video = Supervision(np.array([0.0, 1.0]))
    assert SELECTION.get("video").score(ValidationSet(proposals, scores, {"v": video}, fps, classes)) == 0.5
