"""Recognition post-processing (docs/methods.md §8): one clip's outputs -> its prediction-file entry.

A recognition model gives the class probabilities ``probs: (C,)`` of a clip and its per-segment
evidence ``attention: (T,)`` in [0, 1] (CTEN's min-max normalised temporal attention, uniform for a
mean-pooling classifier). The label is the argmax class. The *evidence segments* are what a
keyframe detector reads from the attention, on the clip's inclusive segment timeline:

1. runs of consecutive segments with ``attention >= θ`` for every threshold θ (all thresholds in
   one ``(K, T)`` array, one pass of :func:`~sentiloc.postprocess.proposals.runs_by_row`);
2. each run ``[first, last]`` of ``L`` segments is scored by its outer-inner contrast on the
   attention: the mean inside minus the mean of the ``⌈outer_margin · L⌉`` segments on *each*
   side (clipped to the clip; an empty outer part counts as 0, so a whole-clip run scores its
   mean). The contrast prefers a run that stands out from its surroundings over a long plateau
   that merely sits high; ``outer_margin: 0`` scores the plain mean inside. Unlike the
   localization scheme (:func:`~sentiloc.postprocess.proposals.outer_inner_contrast`, whose
   ``⌊·⌋`` bounds give a short run an outer segment on its left only), both sides get the same
   width: on a grid of 10-16 segments a one-sided margin would decide the ranking;
3. runs below ``min_score`` are dropped, and greedy 1-D NMS (:func:`~sentiloc.postprocess.nms.nms_1d`)
   on the half-open ``[first, last + 1)`` ranges keeps the best of overlapping runs (the same run
   found at several thresholds is one run); at most ``max_segments`` are kept, best first.

The prediction file (``sentiloc predict`` on a recognition checkpoint, docs/recognition.md) is
``{"version": PREDICTIONS_VERSION, "classes": [...], "results": {video: entry}}`` with entries
from :func:`prediction_entry`; :mod:`sentiloc.evaluation.recognition` reads and scores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.postprocess.nms import nms_1d
from sentiloc.postprocess.proposals import runs_by_row

PREDICTIONS_VERSION = "sentiloc-recognition-1"


@dataclass
class RecognitionPostprocessConfig:
    """The ``postprocess:`` section of a recognition config: how the attention becomes evidence segments.

    ``thresholds`` cut the attention (in (0, 1]); ``outer_margin`` sets the outer part of the
    contrast score as a fraction of a run's length (0: the mean inside); ``nms_iou`` drops a run
    whose IoU with a better kept one is ``>=`` it; ``max_segments`` caps the evidence per clip
    (null: keep all); ``min_score`` drops runs scoring below it (null: keep all).
    """

    thresholds: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    outer_margin: float = 0.25
    nms_iou: float = 0.5
    max_segments: int | None = 10
    min_score: float | None = None

    def __post_init__(self) -> None:
        """Normalise YAML lists to a float tuple and refuse values that would silently misbehave."""
        self.thresholds = tuple(float(x) for x in self.thresholds)
        if not self.thresholds or not all(0.0 < x <= 1.0 for x in self.thresholds):
            raise SentilocError(f"postprocess.thresholds must be a non-empty list in (0, 1], "
                                f"got {list(self.thresholds)}")
        if not self.outer_margin >= 0.0:
            raise SentilocError(f"postprocess.outer_margin must be >= 0, got {self.outer_margin!r}")
        if not 0.0 < self.nms_iou <= 1.0:
            raise SentilocError(f"postprocess.nms_iou must lie in (0, 1], got {self.nms_iou!r}")
        if self.max_segments is not None and (isinstance(self.max_segments, bool) or self.max_segments < 1):
            raise SentilocError(f"postprocess.max_segments must be a positive integer or null (keep all), "
                                f"got {self.max_segments!r}")
        if self.min_score is not None and not np.isfinite(self.min_score):
            raise SentilocError(f"postprocess.min_score must be a finite number or null, got {self.min_score!r}")


def check_attention(attention: np.ndarray) -> np.ndarray:
    """A float64 copy of ``attention (T,)``; NaN or infinite values are a user-facing error."""
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim != 1 or len(attention) == 0:
        raise ValueError(f"attention must have shape (T >= 1,), got {attention.shape}")
    if not np.isfinite(attention).all():
        raise SentilocError("the model produced NaN or infinite attention; check the checkpoint and the features")
    return attention


def contrast_scores(attention: np.ndarray, runs: np.ndarray, outer_margin: float) -> np.ndarray:
    """``(R,)`` outer-inner contrast of inclusive ``runs (R, 2)`` on ``attention (T,)`` (module docstring, step 2).

    Every sum is a difference of one cumulative sum, so the cost does not grow with the runs' length.
    The outer width ``⌈outer_margin · L⌉`` forgives float rounding (``0.3 · 10`` is 3, not 4).
    """
    csum = np.concatenate([[0.0], np.cumsum(attention)])
    first, last = runs[:, 0], runs[:, 1]
    length = last - first + 1
    width = np.ceil(outer_margin * length - 1e-9).astype(np.int64)
    left, right = np.maximum(first - width, 0), np.minimum(last + width, len(attention) - 1)
    inner = (csum[last + 1] - csum[first]) / length
    n_outer = (first - left) + (right - last)
    s_outer = (csum[first] - csum[left]) + (csum[right + 1] - csum[last + 1])
    return inner - np.divide(s_outer, n_outer, out=np.zeros(len(runs)), where=n_outer > 0)


def evidence_segments(attention: np.ndarray, cfg: RecognitionPostprocessConfig) -> list[dict]:
    """The evidence segments of one clip (steps 1-3 of the module docstring), best first.

    Args:
        attention: ``(T,)`` per-segment evidence in [0, 1] on the clip's real segments.
        cfg: thresholds, scoring margin, NMS and limits.
    Returns:
        ``[{"segment": [first, last], "score": float}]`` with inclusive 0-based segment indices;
        ``[]`` when the attention never reaches the lowest threshold. Equal scores keep the order
        of discovery (thresholds ascending, runs in time order).
    """
    attention = check_attention(attention)
    keep = attention[None, :] >= np.asarray(cfg.thresholds)[:, None]  # (K, T)
    runs = runs_by_row(keep)[1]
    scores = contrast_scores(attention, runs, cfg.outer_margin)
    if cfg.min_score is not None:
        passed = scores >= cfg.min_score
        runs, scores = runs[passed], scores[passed]
    half_open = np.column_stack([runs[:, 0], runs[:, 1] + 1]).astype(np.float64)
    kept = nms_1d(half_open, scores, cfg.nms_iou)[:cfg.max_segments]
    return [{"segment": [int(runs[i, 0]), int(runs[i, 1])], "score": float(scores[i])} for i in kept]


def prediction_entry(probs: np.ndarray, attention: np.ndarray, classes: Sequence[str],
                     cfg: RecognitionPostprocessConfig) -> dict:
    """One clip's prediction-file entry ``{"label", "scores", "attention", "evidence"}``.

    Args:
        probs: ``(C,)`` softmax class probabilities, columns in ``classes`` order.
        attention: ``(T,)`` per-segment evidence in [0, 1] on the clip's real segments.
        classes: the C class names (``classes.txt`` order).
        cfg: how the attention becomes evidence segments.
    Returns:
        ``label``: the argmax class (the first on ties); ``scores``: the C probabilities;
        ``attention``: the T values; ``evidence``: :func:`evidence_segments`. Plain JSON types.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (len(classes),):
        raise ValueError(f"probs must have shape ({len(classes)},) for the classes {list(classes)}, got {probs.shape}")
    if not np.isfinite(probs).all():
        raise SentilocError("the model produced NaN or infinite class scores; check the checkpoint and the features")
    attention = check_attention(attention)
    return {"label": str(classes[int(np.argmax(probs))]), "scores": probs.tolist(), "attention": attention.tolist(),
            "evidence": evidence_segments(attention, cfg)}


def prediction_file(results: Mapping[str, Mapping], classes: Sequence[str]) -> dict:
    """``{"version", "classes", "results": {video: entry}}``: the whole prediction file, entries in the given order."""
    return {"version": PREDICTIONS_VERSION, "classes": [str(c) for c in classes], "results": dict(results)}
