"""Model-selection metrics computable from the labels each supervision level owns.

Model selection must never look at the test set, and a point-level run must never read dense
segments, so the validation split (carved from the training videos) is scored with what the
run is allowed to see:

* full supervision  -> detection average mAP against the validation videos' dense segments;
* point supervision -> :func:`click_hit_map`: a predicted segment is a hit when it contains a
  not-yet-matched click of its class, and AP is computed over the ranked predictions with the
  clicks as the positives (one click per ground-truth instance, as annotated);
* video supervision -> :func:`video_classification_map`: AP of the video scores per class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _voc_ap(hits: np.ndarray, n_positive: int) -> float:
    """All-point interpolated AP of a ranked hit list (the VOC rule the detection evaluator uses)."""
    if n_positive == 0 or len(hits) == 0:
        return 0.0
    tp = np.cumsum(hits)
    recall = tp / n_positive
    precision = tp / np.arange(1, len(hits) + 1)
    precision = np.concatenate([[0.0], precision, [0.0]])
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    changed = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[changed] - recall[changed - 1]) * precision[changed]))


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
        aps.append(_voc_ap(hits, sum(len(t) for t in times.values())))
    return float(np.mean(aps)) if aps else 0.0


def video_classification_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the AP of ``scores`` (V, C) against multi-hot ``labels`` (V, C)."""
    aps = []
    for c in range(labels.shape[1]):
        order = np.argsort(-scores[:, c], kind="stable")
        aps.append(_voc_ap(labels[order, c], int(labels[:, c].sum())))
    return float(np.mean(aps)) if aps else 0.0
