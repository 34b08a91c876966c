"""Recognition post-processing: evidence segments from the attention, checked against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.config import typed_section
from sentiloc.core.errors import SentilocError
from sentiloc.postprocess.nms import temporal_iou
from sentiloc.postprocess.recognition import (
    PREDICTIONS_VERSION,
    RecognitionPostprocessConfig,
    contrast_scores,
    evidence_segments,
    prediction_entry,
    prediction_file,
)

#: segments 0..7; two bumps: [2, 3] (0.9, 1.0) and [6] (0.8)
ATTENTION = np.array([0.0, 0.2, 0.9, 1.0, 0.3, 0.0, 0.8, 0.1])


def segments(evidence: list[dict]) -> list[tuple[list[int], float]]:
    return [(item["segment"], round(item["score"], 10)) for item in evidence]


def config(**values) -> RecognitionPostprocessConfig:
    return RecognitionPostprocessConfig(**values)


# --------------------------------------------------------------------------- scoring by hand


def test_contrast_has_the_same_width_on_both_sides() -> None:
    runs = np.array([[2, 3], [6, 6], [0, 1], [0, 7]])
    # margin 0.25: [2, 3] (L 2) gets ceil(0.5) = 1 segment a side: inner (0.9 + 1.0) / 2 = 0.95,
    #   outer (0.2 + 0.3) / 2 = 0.25 -> 0.70
    # [6, 6] (L 1) gets ceil(0.25) = 1 a side: inner 0.8, outer (0.0 + 0.1) / 2 = 0.05 -> 0.75
    # [0, 1] at the start: no left segment, right one (0.9): inner 0.1 - 0.9 = -0.8
    # [0, 7], the whole clip: no outer part (counts 0) -> its mean 3.3 / 8 = 0.4125
    np.testing.assert_allclose(contrast_scores(ATTENTION, runs, 0.25), [0.70, 0.75, -0.8, 0.4125])
    # margin 1.0: [2, 3] gets 2 a side: outer (0.0 + 0.2 + 0.3 + 0.0) / 4 = 0.125 -> 0.825
    np.testing.assert_allclose(contrast_scores(ATTENTION, runs[:1], 1.0), [0.825])
    # margin 0: the mean inside
    np.testing.assert_allclose(contrast_scores(ATTENTION, runs, 0.0), [0.95, 0.8, 0.1, 0.4125])
    # 0.3 * 10 is 3.0000000000000004 in floats: still 3 segments a side, not 4
    ramp = np.arange(30) / 30
    np.testing.assert_allclose(contrast_scores(ramp, np.array([[10, 19]]), 0.3),
                               [np.mean(ramp[10:20]) - np.mean(np.r_[ramp[7:10], ramp[20:23]])])


def test_one_threshold_ranks_runs_by_contrast() -> None:
    # at 0.5 the runs are [2, 3] (contrast 0.70) and [6, 6] (0.75): the lone peak stands out more
    assert segments(evidence_segments(ATTENTION, config(thresholds=(0.5,)))) == [([6, 6], 0.75), ([2, 3], 0.7)]
    # the mean inside (margin 0) prefers the higher plateau: 0.95 > 0.8
    assert segments(evidence_segments(ATTENTION, config(thresholds=(0.5,), outer_margin=0.0))) == [
        ([2, 3], 0.95), ([6, 6], 0.8)]


def test_thresholds_pool_runs_and_nms_removes_copies_and_overlaps() -> None:
    # thresholds 0.2 and 0.5, mean inside: at 0.2 [1, 4] (0.6) and [6, 6] (0.8); at 0.5 [2, 3] (0.95), [6, 6] (0.8)
    # NMS at 0.5 on [first, last + 1): [2, 3] kept; [6, 6] kept (disjoint); its copy IoU 1 -> dropped;
    # [1, 4] vs [2, 3]: [1, 5) vs [2, 4) = 2 / 4 = 0.5 >= 0.5 -> dropped
    cfg = config(thresholds=(0.2, 0.5), outer_margin=0.0)
    assert segments(evidence_segments(ATTENTION, cfg)) == [([2, 3], 0.95), ([6, 6], 0.8)]
    # with NMS at 0.6 the overlap 0.5 survives; the exact copy still goes
    cfg = config(thresholds=(0.2, 0.5), outer_margin=0.0, nms_iou=0.6)
    assert segments(evidence_segments(ATTENTION, cfg)) == [([2, 3], 0.95), ([6, 6], 0.8), ([1, 4], 0.6)]


def test_limits_on_count_and_score() -> None:
    base = {"thresholds": (0.2, 0.5), "outer_margin": 0.0, "nms_iou": 0.6}
    assert segments(evidence_segments(ATTENTION, config(**base, max_segments=1))) == [([2, 3], 0.95)]
    assert segments(evidence_segments(ATTENTION, config(**base, min_score=0.8))) == [([2, 3], 0.95), ([6, 6], 0.8)]
    assert evidence_segments(ATTENTION, config(**base, min_score=2.0)) == []


def test_flat_and_empty_attention() -> None:
    # never reaching the lowest threshold: no evidence; uniform attention (a mean-pooling model):
    # the whole clip, scored its mean 1.0, found at every threshold and kept once
    assert evidence_segments(np.zeros(5), config()) == []
    assert segments(evidence_segments(np.ones(5), config())) == [([0, 4], 1.0)]
    assert segments(evidence_segments(np.ones(1), config())) == [([0, 0], 1.0)]
    evidence = evidence_segments(np.ones(5), config())
    assert all(type(x) is int for x in evidence[0]["segment"]) and type(evidence[0]["score"]) is float


def test_bad_attention_is_refused() -> None:
    with pytest.raises(SentilocError, match="NaN or infinite attention"):
        evidence_segments(np.array([0.1, np.nan]), config())
    with pytest.raises(ValueError, match="shape"):
        evidence_segments(np.zeros((2, 3)), config())
    with pytest.raises(ValueError, match="shape"):
        evidence_segments(np.zeros(0), config())


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(("values", "message"), [
    ({"thresholds": []}, "thresholds"),
    ({"thresholds": [0.0, 0.5]}, "thresholds"),
    ({"thresholds": [1.5]}, "thresholds"),
    ({"outer_margin": -0.1}, "outer_margin"),
    ({"nms_iou": 0.0}, "nms_iou"),
    ({"max_segments": 0}, "max_segments"),
    ({"max_segments": True}, "max_segments"),
    ({"min_score": float("nan")}, "min_score"),
])
def test_config_refuses_values_that_would_misbehave(values: dict, message: str) -> None:
    with pytest.raises(SentilocError, match=f"postprocess.{message}"):
        RecognitionPostprocessConfig(**values)


def test_config_from_yaml_section() -> None:
    cfg = typed_section(RecognitionPostprocessConfig, {"thresholds": [0.5, 0.7], "max_segments": None}, "postprocess")
    assert cfg.thresholds == (0.5, 0.7) and cfg.max_segments is None
    with pytest.raises(SentilocError, match="postprocess"):
        typed_section(RecognitionPostprocessConfig, {"threshold": [0.5]}, "postprocess")


# --------------------------------------------------------------------------- prediction entries


def test_prediction_entry_and_file() -> None:
    classes = ["anger", "joy", "sadness"]
    entry = prediction_entry(np.array([0.2, 0.5, 0.3], dtype=np.float32), ATTENTION, classes,
                             config(thresholds=(0.5,)))
    assert entry["label"] == "joy"
    assert entry["scores"] == pytest.approx([0.2, 0.5, 0.3]) and len(entry["attention"]) == 8
    assert [item["segment"] for item in entry["evidence"]] == [[6, 6], [2, 3]]
    # ties: the first class
    assert prediction_entry(np.array([0.4, 0.4, 0.2]), ATTENTION, classes, config())["label"] == "anger"
    made = prediction_file({"v1": entry}, classes)
    assert made == {"version": PREDICTIONS_VERSION, "classes": classes, "results": {"v1": entry}}


def test_prediction_entry_refuses_mismatched_or_broken_scores() -> None:
    with pytest.raises(ValueError, match="probs must have shape"):
        prediction_entry(np.array([0.5, 0.5]), ATTENTION, ["a", "b", "c"], config())
    with pytest.raises(SentilocError, match="NaN or infinite class scores"):
        prediction_entry(np.array([np.nan, 0.5, 0.5]), ATTENTION, ["a", "b", "c"], config())


# --------------------------------------------------------------------------- properties


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40),
       st.lists(st.floats(0.05, 1.0), min_size=1, max_size=6),
       st.floats(0.1, 1.0), st.floats(0.0, 1.0), st.integers(1, 5))
def test_evidence_is_inside_sorted_and_suppressed(values: list, thresholds: list, nms_iou: float, margin: float,
                                                 cap: int) -> None:
    attention = np.array(values)
    cfg = config(thresholds=tuple(thresholds), nms_iou=nms_iou, outer_margin=margin, max_segments=cap)
    evidence = evidence_segments(attention, cfg)
    spans = np.array([item["segment"] for item in evidence]).reshape(-1, 2)
    scores = np.array([item["score"] for item in evidence])
    assert len(evidence) <= cap
    assert np.all((0 <= spans[:, 0]) & (spans[:, 0] <= spans[:, 1]) & (spans[:, 1] < len(attention)))
    assert np.all(np.diff(scores) <= 0)
    # every kept segment is a run at some threshold: all its segments reach the lowest one
    assert all(attention[first:last + 1].min() >= min(thresholds) for first, last in spans)
    half_open = np.column_stack([spans[:, 0], spans[:, 1] + 1]).astype(float)
    iou = temporal_iou(half_open, half_open) if len(spans) else np.zeros((0, 0))
    assert np.all(iou[np.triu_indices(len(spans), 1)] < nms_iou)
    # some run exists exactly when the attention reaches the lowest threshold
    assert bool(evidence) == bool(attention.max() >= min(thresholds))
