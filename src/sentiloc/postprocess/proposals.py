"""CAS -> temporal proposals (docs/methods.md §2.9): the multi-threshold scheme of TSL-Net/FSENet.

For each predicted class the fused class track ``ȳ_c = y_c (1 - y_∅)`` and the actionness track
``a = 1 - y_∅`` are upsampled 24x, cut at many thresholds into runs of consecutive samples, and
each run is scored by its outer-inner contrast plus a share of the video score. All runs of a
class are pooled and reduced by NMS.

Units: ``t_snippet`` indexes snippets (16 native frames each); ``i`` indexes upsampled samples,
``i = scale * t_snippet``; seconds only appear at the end, through :mod:`sentiloc.core.timebase`,
clipped to the video's duration when it is known.
Loops run over the few classes only: all thresholds of one kind are handled as rows of one
``(K, N)`` array, runs are found with one ``np.diff`` and run means come from cumulative sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import snippet_to_seconds
from sentiloc.postprocess.nms import nms_1d

CAS_SOURCES = ("cas", "global", "mean")


@dataclass
class PostprocessConfig:
    """The ``postprocess:`` section of a config (defaults: the released FSENet/TSL-Net values).

    The threshold defaults are the reference's own ``np.arange`` values (bit for bit, e.g.
    ``0.07500000000000001``), so a sample lying exactly on a threshold is treated the same way.
    ``class_threshold`` gates which classes get proposals (the released code's 0.5); ``None``
    gives every class proposals, each scored with its own video score, so a class whose top-k
    video score is diluted by background (a sparse class) is ranked, not dropped.
    ``cas_source`` picks the scores proposals are cut from: ``cas`` (y, the released code),
    ``global`` (FSENet's Global CAS ỹ = W ⊙ y', docs/methods.md §2.4) or ``mean`` (their average);
    the video scores are then the top-k means of that source. ``snippet_centres`` places each
    snippet's score at the centre of the 16 frames it describes; ``False`` keeps the reference's
    placement at the snippet's start, which puts every segment half a snippet early.
    """

    upsample: int = 24
    cas_thresholds: tuple[float, ...] = tuple(float(x) for x in np.arange(0, 0.25, 0.025))
    act_thresholds: tuple[float, ...] = tuple(float(x) for x in np.arange(0.4, 0.74, 0.025))
    class_threshold: float | None = 0.5
    oic_margin: float = 0.03
    video_score_weight: float = 0.3
    nms_iou: float = 0.5
    legacy_nms_plus_one: bool = False
    max_proposals: int | None = None
    cas_source: str = "cas"
    snippet_centres: bool = False

    def __post_init__(self) -> None:
        """Normalise YAML lists to float tuples and refuse values that would silently misbehave."""
        self.cas_thresholds = tuple(float(x) for x in self.cas_thresholds)
        self.act_thresholds = tuple(float(x) for x in self.act_thresholds)
        if isinstance(self.upsample, bool) or not isinstance(self.upsample, int) or self.upsample < 1:
            raise SentilocError(f"postprocess.upsample must be a positive integer, got {self.upsample!r}")
        if not 0.0 < self.nms_iou <= 1.0:
            raise SentilocError(f"postprocess.nms_iou must lie in (0, 1], got {self.nms_iou!r}")
        if self.oic_margin < 0.0:
            raise SentilocError(f"postprocess.oic_margin must be >= 0, got {self.oic_margin!r}")
        if self.cas_source not in CAS_SOURCES:
            raise SentilocError(f"postprocess.cas_source {self.cas_source!r}: choose one of {list(CAS_SOURCES)}")
        if self.max_proposals is not None and (isinstance(self.max_proposals, bool) or self.max_proposals < 1):
            raise SentilocError(
                f"postprocess.max_proposals must be a positive integer or null (keep all), got {self.max_proposals!r}"
            )


def topk_mean(track: np.ndarray, ratio: int) -> np.ndarray:
    """``(C,)`` mean of the top ``max(1, ⌊T / ratio⌋)`` values of each column of a ``(T, C)`` track."""
    k = max(1, len(track) // ratio)
    return np.sort(track, axis=0)[-k:].mean(axis=0)


def scoring_inputs(cas: np.ndarray, global_cas: np.ndarray | None, video_scores: np.ndarray, source: str,
                   ratio: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(T, C + 1)`` scores proposals are cut from and the ``(C,)`` video scores, for ``source``.

    ``cas`` keeps the model's own video scores; ``global`` and ``mean`` need a Global CAS and take
    the top-k means (``ratio`` = the model's ``r_act``) of the chosen scores.
    """
    if source == "cas":
        return cas, video_scores
    if global_cas is None:
        raise SentilocError(f"postprocess.cas_source {source!r} needs a model with a Global CAS (FSENet with GSP); "
                            "use cas_source: cas")
    track = global_cas if source == "global" else (cas + global_cas) / 2
    return track, topk_mean(track[:, :-1], ratio)


def predicted_classes(video_scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """Classes with ``v_c >= threshold`` (ascending); the argmax alone when none passes; all without a threshold."""
    if threshold is None:
        return np.arange(len(video_scores))
    chosen = np.flatnonzero(video_scores >= threshold)
    return chosen if len(chosen) else np.array([int(np.argmax(video_scores))])


def upsample_track(track: np.ndarray, scale: int) -> np.ndarray:
    """Linear interpolation of ``track (T,)`` or ``(T, K)`` onto ``i / scale, i = 0 .. scale·T - 1``.

    The grid is ``{0, 1/scale, ..., T - 1/scale}`` (``scale·T`` samples) and matches
    ``scipy.interpolate.interp1d(arange(T), track, axis=0, kind="linear", fill_value="extrapolate")``
    on it to rounding, without a search per sample: sample ``i = scale·t + r`` is
    ``track[t] + (r / scale)·slope[t]`` with ``slope[t] = track[t + 1] - track[t]``, and the last
    snippet reuses the final slope, so its ``scale - 1`` samples past ``T - 1`` are linearly
    extrapolated. A one-snippet video has no slope and is held constant.
    """
    track = np.asarray(track, dtype=np.float64)
    slope = np.zeros_like(track)
    if len(track) > 1:
        slope[:-1] = track[1:] - track[:-1]
        slope[-1] = slope[-2]
    frac = (np.arange(scale) / scale).reshape((1, scale) + (1,) * (track.ndim - 1))
    return (track[:, None] + frac * slope[:, None]).reshape((len(track) * scale,) + track.shape[1:])


def thresholded(track: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """``(K, N)`` copies of ``track (N,)`` with the samples below each threshold set to 0.

    A sample "passes" threshold ``k`` when the result is > 0 (so a threshold of 0 still drops
    zero and negative, extrapolated, samples), as in the reference.
    """
    limits = np.asarray(thresholds, dtype=np.float64)[:, None]
    return np.where(track[None, :] >= limits, track[None, :], 0.0)


def find_runs(keep: np.ndarray) -> np.ndarray:
    """``(R, 2)`` inclusive ``[first, last]`` indices of the runs of True in a boolean ``(N,)``."""
    padded = np.zeros(len(keep) + 2, dtype=bool)
    padded[1:-1] = keep
    # np.diff of booleans marks changes (a[1:] != a[:-1]); with False padding at both ends they
    # alternate: change into a run (at its first index), change out of it (one past its last).
    edges = np.flatnonzero(np.diff(padded)).reshape(-1, 2)
    return edges - np.array([0, 1])


def runs_by_row(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of True in every row of ``keep (K, N)``: ``rows (R,)`` and ``runs (R, 2)`` within the row.

    The rows are laid end to end with one False column between them, so a single pass of
    :func:`find_runs` serves all thresholds and no run can cross from one row into the next.
    """
    num_rows, length = keep.shape
    padded = np.zeros((num_rows, length + 1), dtype=bool)
    padded[:, :length] = keep
    runs = find_runs(padded.ravel())
    rows = runs[:, 0] // (length + 1)
    return rows, runs - (rows * (length + 1))[:, None]


def outer_inner_contrast(
    track: np.ndarray, runs: np.ndarray, margin: float, rows: np.ndarray | None = None
) -> np.ndarray:
    """Outer-inner contrast ``(R,)`` of each run: inner mean minus outer mean (mean(∅) = 0).

    Args:
        track: ``(N,)`` scores, or ``(K, N)`` with one track per threshold.
        runs: ``(R, 2)`` inclusive ``[i0, i1]`` sample indices.
        margin: outer margin as a fraction of the run length ``L = i1 - i0 + 1``.
        rows: ``(R,)`` row of ``track`` each run is scored on (required for a 2-D ``track``).

    The outer samples are ``[max(0, ⌊i0 - margin·L⌋), i0) ∪ (i1, min(N - 1, ⌊i1 + margin·L⌋)]``,
    both sides pooled into one mean. Sums over any index range are differences of one
    cumulative sum per row, so the cost does not grow with the length of the runs.
    """
    track = np.atleast_2d(np.asarray(track, dtype=np.float64))
    rows = np.zeros(len(runs), dtype=np.int64) if rows is None else rows
    length_n = track.shape[1]
    csum = np.zeros((track.shape[0], length_n + 1))
    np.cumsum(track, axis=1, out=csum[:, 1:])
    i0, i1 = runs[:, 0], runs[:, 1]
    run_len = i1 - i0 + 1
    inner = (csum[rows, i1 + 1] - csum[rows, i0]) / run_len
    left = np.maximum(0, np.floor(i0 - margin * run_len).astype(np.int64))
    right = np.minimum(length_n - 1, np.floor(i1 + margin * run_len).astype(np.int64))
    n_outer = (i0 - left) + (right - i1)
    s_outer = (csum[rows, i0] - csum[rows, left]) + (csum[rows, right + 1] - csum[rows, i1 + 1])
    outer = np.divide(s_outer, n_outer, out=np.zeros_like(s_outer), where=n_outer > 0)
    return inner - outer


def class_proposals(
    class_track: np.ndarray, act_runs: np.ndarray, video_score: float, cfg: PostprocessConfig
) -> tuple[np.ndarray, np.ndarray]:
    """All runs of one class before NMS: ``runs (R, 2)`` in samples and their scores ``(R,)``.

    Args:
        class_track: upsampled fused track ``ȳ_c``, ``(N,)``.
        act_runs: runs of the upsampled actionness over all its thresholds (class independent,
            so found once per video), ``(R_a, 2)``.
        video_score: ``v_c``, added with weight ``cfg.video_score_weight``.

    CAS runs are scored on their own thresholded track, actionness runs on the unthresholded
    ``ȳ_c``. Order: CAS thresholds ascending, then actionness runs (the reference's order).
    """
    cas_tracks = thresholded(class_track, cfg.cas_thresholds)
    cas_rows, cas_runs = runs_by_row(cas_tracks > 0)
    cas_scores = outer_inner_contrast(cas_tracks, cas_runs, cfg.oic_margin, cas_rows)
    act_scores = outer_inner_contrast(class_track, act_runs, cfg.oic_margin)
    runs = np.concatenate([cas_runs, act_runs])
    scores = np.concatenate([cas_scores, act_scores]) + cfg.video_score_weight * video_score
    return runs, scores


def runs_to_seconds(runs: np.ndarray, fps: float, scale: int, centres: bool = False,
                    n_snippets: int | None = None, duration_s: float | None = None) -> np.ndarray:
    """``(R, 2)`` ``[start_s, end_s]`` of inclusive sample runs, within ``[0, duration_s]``.

    The reference reads sample ``i`` as time ``i / scale`` snippets, i.e. snippet ``t``'s score at
    the *start* of its frames: ``[i0 / scale, (i1 + 1) / scale]``. With ``centres`` every bound
    moves half a snippet later, to where the score was measured, and the end is clipped to the
    ``n_snippets`` of the video.

    The last snippet is a whole 16 frames even when the video ends inside it (a 30.0 s video at
    25 fps has 47 snippets, 30.08 s), so bounds can lie past the end of the video; with
    ``duration_s`` (the video's length in seconds) both bounds are clipped to ``[0, duration_s]``.
    A run that lies wholly past the end then has ``start_s == end_s == duration_s``.
    """
    bounds = np.stack([runs[:, 0], runs[:, 1] + 1], axis=1) / scale
    if centres:
        bounds = np.minimum(bounds + 0.5, n_snippets)
    seconds = snippet_to_seconds(bounds, fps)
    if duration_s is not None:
        seconds = np.clip(seconds, 0.0, duration_s)
    return seconds


def nms_units(runs: np.ndarray, seconds: np.ndarray, cfg: PostprocessConfig) -> np.ndarray:
    """The ``(R, 2)`` segments NMS compares: half-open sample ranges ``[i0, i1 + 1]``, or seconds in legacy mode.

    IoU does not depend on the unit, but ties do: a run exactly half as long as the run it
    nests in has IoU exactly 0.5, which the integer sample grid computes exactly (so it is
    always suppressed) while seconds ``i·16/(24φ)`` round either way. Such ties are common on the
    24x grid. The legacy "+1" is measured in seconds, so that mode has to compare seconds.
    """
    if cfg.legacy_nms_plus_one:
        return seconds
    return np.column_stack([runs[:, 0], runs[:, 1] + 1]).astype(np.float64)


def check_inputs(cas: np.ndarray, video_scores: np.ndarray, fps: float, num_classes: int,
                 duration_s: float | None = None) -> None:
    """Refuse shapes that do not fit the class list, scores NMS could not order and impossible time bases."""
    if cas.ndim != 2 or cas.shape[0] < 1 or cas.shape[1] != num_classes + 1:
        raise ValueError(f"cas must have shape (T >= 1, {num_classes + 1}), got {cas.shape}")
    if video_scores.shape != (num_classes,):
        raise ValueError(f"video_scores must have shape ({num_classes},), got {video_scores.shape}")
    if not (np.isfinite(cas).all() and np.isfinite(video_scores).all()):
        raise SentilocError("the model produced NaN or infinite class scores; check the checkpoint and the features")
    if not (np.isfinite(fps) and fps > 0):
        raise SentilocError(f"frame rate {fps!r} is not a positive number; check fps_dict.json")
    if duration_s is not None and not (np.isfinite(duration_s) and duration_s > 0):
        raise SentilocError(f"video duration {duration_s!r} s is not a positive number; check len_duration_dict.json")


def video_proposals(
    cas: np.ndarray, video_scores: np.ndarray, fps: float, cfg: PostprocessConfig, class_names: Sequence[str],
    duration_s: float | None = None,
) -> list[dict]:
    """ActivityNet-style segments of one video from its unfused CAS.

    Args:
        cas: ``(T, C + 1)`` sigmoid scores y of the real snippets; column C = non-sentiment.
        video_scores: ``(C,)`` top-k means of the unfused class columns (v_c).
        fps: native frame rate φ, for samples -> seconds.
        cfg: thresholds, margins and NMS settings.
        class_names: the C names, in column order.
        duration_s: the video's length in seconds; every segment is clipped to ``[0, duration_s]``
            and a run that lies wholly past the end is dropped before NMS (see
            :func:`runs_to_seconds`). NMS still compares the unclipped runs on the sample grid
            (clipping only moves bounds inside the last, partial snippet). ``None`` keeps the
            snippet grid's end.
    Returns:
        ``[{"label", "score", "segment": [start_s, end_s]}]`` after class-wise NMS, best first
        (ties: class order, then pre-NMS order), at most ``cfg.max_proposals`` of them. A video
        whose actionness never reaches the lowest threshold and whose class track is never
        positive yields ``[]``; an all-zero CAS yields one whole-video segment of score 0.
    """
    cas = np.asarray(cas, dtype=np.float64)
    video_scores = np.asarray(video_scores, dtype=np.float64)
    num_classes = len(class_names)
    check_inputs(cas, video_scores, fps, num_classes, duration_s)
    classes = predicted_classes(video_scores, cfg.class_threshold)
    actionness = 1.0 - cas[:, num_classes]
    tracks = upsample_track(np.column_stack([actionness, cas[:, classes] * actionness[:, None]]), cfg.upsample)
    _, act_runs = runs_by_row(thresholded(tracks[:, 0], cfg.act_thresholds) > 0)
    labels: list[str] = []
    scores: list[np.ndarray] = []
    segments: list[np.ndarray] = []
    for column, c in enumerate(classes, start=1):
        runs, run_scores = class_proposals(tracks[:, column], act_runs, float(video_scores[c]), cfg)
        seconds = runs_to_seconds(runs, fps, cfg.upsample, cfg.snippet_centres, len(cas), duration_s)
        inside = seconds[:, 1] > seconds[:, 0]
        runs, run_scores, seconds = runs[inside], run_scores[inside], seconds[inside]
        keep = nms_1d(nms_units(runs, seconds, cfg), run_scores, cfg.nms_iou, cfg.legacy_nms_plus_one)
        labels += [class_names[c]] * len(keep)
        scores.append(run_scores[keep])
        segments.append(seconds[keep])
    all_scores = np.concatenate(scores)
    all_segments = np.concatenate(segments)
    order = np.argsort(-all_scores, kind="stable")[: cfg.max_proposals]
    return [
        {"label": labels[i], "score": float(all_scores[i]), "segment": [float(all_segments[i, 0]), float(all_segments[i, 1])]}
        for i in order
    ]
