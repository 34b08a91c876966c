"""CAS -> temporal proposals (METHODS.md §2.9): the multi-threshold scheme of TSL-Net/FSENet.

For each predicted class the fused class track ``y_c (1 - y_∅)`` and the actionness track
``1 - y_∅`` are upsampled 24x, cut at many thresholds into runs of consecutive samples, and each
run is scored by its outer-inner contrast plus a share of the video score. All runs of a class
are pooled and reduced by NMS. Loops run only over the few classes and thresholds; everything
over time is array arithmetic (run detection with ``np.diff``, run means with cumulative sums).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import interp1d

from sentiloc.data.timebase import snippet_to_seconds
from sentiloc.postprocess.nms import nms_1d


@dataclass
class PostprocessConfig:
    """The ``postprocess:`` section of a config (defaults: the released FSENet/TSL-Net values)."""

    upsample: int = 24
    cas_thresholds: tuple[float, ...] = tuple(np.round(np.arange(10) * 0.025, 4))
    act_thresholds: tuple[float, ...] = tuple(np.round(0.4 + np.arange(14) * 0.025, 4))
    class_threshold: float = 0.5
    oic_margin: float = 0.03
    video_score_weight: float = 0.3
    nms_iou: float = 0.5
    legacy_nms_plus_one: bool = False
    max_proposals: int | None = None

    def __post_init__(self) -> None:
        self.cas_thresholds = tuple(float(x) for x in self.cas_thresholds)
        self.act_thresholds = tuple(float(x) for x in self.act_thresholds)


def upsample_track(track: np.ndarray, scale: int) -> np.ndarray:
    """Linear interpolation of ``track (T,)`` onto ``{0, 1/scale, ..., T - 1/scale}`` (extrapolated past T-1)."""
    if len(track) == 1:
        return np.repeat(track, scale)
    grid = np.arange(len(track) * scale) / scale
    return interp1d(np.arange(len(track)), track, kind="linear", fill_value="extrapolate", assume_sorted=True)(grid)


def find_runs(keep: np.ndarray) -> np.ndarray:
    """``(R, 2)`` inclusive [first, last] indices of the runs of True in a boolean array."""
    edges = np.diff(np.concatenate([[0], keep.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return np.stack([starts, ends], axis=1)


def outer_inner_contrast(track: np.ndarray, runs: np.ndarray, margin: float) -> np.ndarray:
    """Mean of ``track`` inside each run minus the mean over its outer margins (mean(∅) = 0).

    The outer region of run [i0, i1] (length L) is [max(0, ⌊i0 - margin·L⌋), i0) ∪
    (i1, min(N - 1, ⌊i1 + margin·L⌋)], both sides pooled into one mean.
    """
    csum = np.concatenate([[0.0], np.cumsum(track)])
    i0, i1 = runs[:, 0], runs[:, 1]
    length = i1 - i0 + 1
    inner = (csum[i1 + 1] - csum[i0]) / length
    left = np.maximum(0, np.floor(i0 - margin * length).astype(np.int64))
    right = np.minimum(len(track) - 1, np.floor(i1 + margin * length).astype(np.int64))
    right = np.maximum(right, i1)
    n_outer = (i0 - left) + (right - i1)
    s_outer = (csum[i0] - csum[left]) + (csum[right + 1] - csum[i1 + 1])
    outer = np.divide(s_outer, n_outer, out=np.zeros_like(s_outer), where=n_outer > 0)
    return inner - outer


def predicted_classes(video_scores: np.ndarray, threshold: float) -> np.ndarray:
    """Classes with ``v_c >= threshold``; the argmax alone when none passes."""
    chosen = np.flatnonzero(video_scores >= threshold)
    return chosen if len(chosen) else np.array([int(np.argmax(video_scores))])


def class_proposals(
    class_track: np.ndarray, actionness: np.ndarray, video_score: float, cfg: PostprocessConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Runs (upsampled indices, ``(R, 2)``) and scores ``(R,)`` of one class over all thresholds."""
    runs_all, scores_all = [], []
    for threshold in cfg.cas_thresholds:
        thresholded = np.where(class_track >= threshold, class_track, 0.0)
        runs = find_runs(thresholded > 0)
        runs_all.append(runs)
        scores_all.append(outer_inner_contrast(thresholded, runs, cfg.oic_margin))
    for threshold in cfg.act_thresholds:
        runs = find_runs(actionness > threshold)
        runs_all.append(runs)
        scores_all.append(outer_inner_contrast(class_track, runs, cfg.oic_margin))
    runs = np.concatenate(runs_all)
    scores = np.concatenate(scores_all) + cfg.video_score_weight * video_score
    return runs, scores


def video_proposals(
    cas: np.ndarray, video_scores: np.ndarray, fps: float, cfg: PostprocessConfig, class_names: Sequence[str]
) -> list[dict]:
    """ActivityNet-style segments of one video from its unfused CAS.

    Args:
        cas: ``(T, C + 1)`` sigmoid scores y of the real snippets; column C = non-sentiment.
        video_scores: ``(C,)`` top-k means of the unfused class columns.
        fps: native frame rate, for snippet -> seconds.
    Returns:
        ``[{"label", "score", "segment": [start_s, end_s]}]`` after class-wise NMS, best first.
    """
    num_classes = len(class_names)
    background = upsample_track(cas[:, num_classes], cfg.upsample)
    actionness = 1.0 - background
    out: list[dict] = []
    for c in predicted_classes(video_scores, cfg.class_threshold):
        track = upsample_track(cas[:, c] * (1.0 - cas[:, num_classes]), cfg.upsample)
        runs, scores = class_proposals(track, actionness, float(video_scores[c]), cfg)
        if not len(runs):
            continue
        start_s = snippet_to_seconds(runs[:, 0] / cfg.upsample, fps)
        end_s = snippet_to_seconds((runs[:, 1] + 1) / cfg.upsample, fps)
        segments = np.stack([start_s, end_s], axis=1)
        for i in nms_1d(segments, scores, cfg.nms_iou, cfg.legacy_nms_plus_one):
            out.append({"label": class_names[c], "score": float(scores[i]), "segment": [float(segments[i, 0]), float(segments[i, 1])]})
    out.sort(key=lambda p: -p["score"])
    return out[: cfg.max_proposals] if cfg.max_proposals else out
