"""Model-selection metrics computable from the labels each supervision level owns.

Model selection must never look at the test set, and a point-level run must never read dense
segments, so the validation split (carved from the training videos) is scored with what the
run is allowed to see:

* full supervision  -> detection average mAP against the validation videos' dense segments;
* point supervision -> :func:`click_hit_map`: a predicted segment is a hit when it contains a
  not-yet-matched click of its class, and AP is computed over the ranked predictions with the
  clicks as the positives (one click per ground-truth instance, as annotated);
* video supervision -> :func:`video_classification_map`: AP of the video scores per class.

Each is registered in :data:`SELECTION` under its supervision level, with the name it is logged
and checkpointed under (``val_mAP``, ``val_click_mAP``, ``val_video_mAP``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sentiloc.core.registry import Registry
from sentiloc.core.timebase import snippet_to_seconds
from sentiloc.data.dataset import Supervision
from sentiloc.evaluation.ap import voc_ap
from sentiloc.evaluation.detection import evaluate_detection


def click_hit_map(
    predictions: Mapping[str, Sequence[Mapping]],
    clicks_s: Mapping[str, Sequence[tuple[float, str]]],
    classes: Sequence[str],
) -> float:
    """Mean over classes of the AP of predictions that contain an unmatched click of their class.

    Args:
        predictions: video -> ActivityNet-style entries ``{"label", "score", "segment": [s, e]}``.
        clicks_s: video -> ``(time_s, label)`` clicks of the validation videos.
        classes: class names to average over (a class without clicks scores 0).
    """
    aps = []
    for label in classes:
        entries = [
            (float(p["score"]), vid, float(p["segment"][0]), float(p["segment"][1]))
            for vid, preds in predictions.items()
            for p in preds
            if p["label"] == label
        ]
        entries.sort(key=lambda e: -e[0])
        times = {vid: np.array([t for t, c in clicks if c == label]) for vid, clicks in clicks_s.items()}
        used = {vid: np.zeros(len(t), dtype=bool) for vid, t in times.items()}
        hits = np.zeros(len(entries))
        for rank, (_, vid, start, end) in enumerate(entries):
            inside = np.flatnonzero((times.get(vid, np.empty(0)) >= start) & (times.get(vid, np.empty(0)) <= end))
            free = inside[~used[vid][inside]] if len(inside) else inside
            if len(free):
                used[vid][free[0]] = True
                hits[rank] = 1.0
        aps.append(voc_ap(hits, sum(len(t) for t in times.values())))
    return float(np.mean(aps)) if aps else 0.0


def video_classification_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the AP of ``scores`` (V, C) against multi-hot ``labels`` (V, C)."""
    aps = []
    for c in range(labels.shape[1]):
        order = np.argsort(-scores[:, c], kind="stable")
        aps.append(voc_ap(labels[order, c], int(labels[:, c].sum())))
    return float(np.mean(aps)) if aps else 0.0


@dataclass(frozen=True)
class ValidationSet:
    """What a selection metric may read of the validation videos: their predictions and own labels.

    Attributes:
        proposals: video -> ActivityNet-style entries (seconds), best first or in any order.
        video_scores: video -> ``(C,)`` video-level class scores.
        supervision: video -> the labels of the run's supervision level (nothing more).
        fps: video -> native frame rate (click frames -> seconds).
        classes: class names in index order.
    """

    proposals: Mapping[str, Sequence[Mapping]]
    video_scores: Mapping[str, np.ndarray]
    supervision: Mapping[str, Supervision]
    fps: Mapping[str, float]
    classes: Sequence[str]


@dataclass(frozen=True)
class SelectionMetric:
    """A validation score to maximise, and the name it is logged under."""

    name: str
    score: Callable[[ValidationSet], float]


SELECTION: Registry[SelectionMetric] = Registry("selection metric", "data.supervision")


def _dense_map(val: ValidationSet) -> float:
    """Detection average mAP against the validation videos' dense segments (full supervision)."""
    database = {
        v: {"subset": "val", "annotations": [
            {"segment": [s, e], "label": val.classes[c]} for s, e, c in val.supervision[v].segments
        ]}
        for v in val.proposals
    }
    return float(evaluate_detection({"database": database}, {"results": dict(val.proposals)}, subset="val").average_mAP)


def _click_map(val: ValidationSet) -> float:
    """:func:`click_hit_map` with each click at the centre of its snippet, in seconds (point supervision)."""
    clicks = {
        v: [(float(snippet_to_seconds(t + 0.5, val.fps[v])), val.classes[c])
            for t, c in zip(val.supervision[v].clicks_t, val.supervision[v].clicks_cls)]
        for v in val.proposals
    }
    return click_hit_map(val.proposals, clicks, val.classes)


def _video_map(val: ValidationSet) -> float:
    """:func:`video_classification_map` of the video scores against the video labels (video supervision)."""
    videos = list(val.video_scores)
    return video_classification_map(np.stack([val.video_scores[v] for v in videos]),
                                    np.stack([val.supervision[v].video_labels for v in videos]))


SELECTION.register("full")(SelectionMetric("val_mAP", _dense_map))
SELECTION.register("point")(SelectionMetric("val_click_mAP", _click_map))
SELECTION.register("video")(SelectionMetric("val_video_mAP", _video_map))
