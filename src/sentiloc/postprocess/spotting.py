"""Spotting post-processing (docs/methods.md §6, "Inference"): one video's scores -> expression intervals.

Input: the class-agnostic intensity ``a: (T,)`` and the class-aware apex scores ``e: (T, 2)`` of one
video on the working timeline (columns in :data:`~sentiloc.data.spotting.batch.EXPRESSION_TYPES`
order: macro, micro). Output: :class:`Spots`, intervals of inclusive working frames. The steps:

1. runs of consecutive frames with ``a >= θ`` for every threshold θ (all thresholds in one
   ``(K, T)`` array, one pass of :func:`~sentiloc.postprocess.proposals.runs_by_row`);
2. each run's *peak* is its first argmax-``a`` frame; the intensity branch localises and the apex
   branch classifies: the run becomes a proposal of type c when ``e_c(peak) > apex_min`` (so a run
   can be a macro and a micro proposal at once), scored by the outer-inner contrast of ``a``
   (inner mean minus outer mean, margin ``outer_margin · length`` on each side, clipped to the video)
   plus ``apex_weight · e_c(peak)``;
3. Gaussian soft-NMS per type: score ``·= exp(-IoU² / σ)`` against every better proposal;
4. per-type length (inclusive frame count) and score filters;
5. per-type cap per video: greedy by score, skipping a proposal whose IoU with a kept one of its
   type is ``> cap_iou``.

Intervals are inclusive frame ranges, so IoU has two conventions (:data:`IOU_CONVENTIONS`):
"continuous" measures lengths as ``end - start`` (the released P-FES code's evaluator), "inclusive"
counts frames, ``end - start + 1`` (the MEGC definition). Soft-NMS and the cap use
``iou_convention``; the evaluator (:mod:`sentiloc.evaluation.spotting`) takes its own.
Loops run over the two types and, inside soft-NMS, over the proposals of one type (each step is
sequential by definition); everything per frame or per run is an array operation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.data.spotting.batch import EXPRESSION_TYPES
from sentiloc.postprocess.nms import broadcast_iou, nms_1d
from sentiloc.postprocess.proposals import outer_inner_contrast, runs_by_row

#: IoU convention -> frames added to every length: "continuous" (``end - start``), "inclusive" (``end - start + 1``).
IOU_CONVENTIONS: dict[str, float] = {"continuous": 0.0, "inclusive": 1.0}


def check_convention(convention: str, option: str) -> float:
    """The frames ``convention`` adds to a length; a one-line error naming ``option`` for an unknown one."""
    if convention not in IOU_CONVENTIONS:
        raise SentilocError(f"{option} {convention!r}: choose one of {list(IOU_CONVENTIONS)}")
    return IOU_CONVENTIONS[convention]


def interval_iou(start_a: np.ndarray, end_a: np.ndarray, start_b: np.ndarray, end_b: np.ndarray,
                 convention: str) -> np.ndarray:
    """Broadcast IoU of inclusive frame intervals ``[start_a, end_a]`` and ``[start_b, end_b]``.

    "continuous": intersection ``min(end) - max(start)`` and lengths ``end - start``;
    "inclusive": both plus one frame (the intersection before clipping at 0), i.e. shared frames
    over frames in either. An empty union (two one-frame intervals, continuous) gives 0.
    Scalars give shape ``(1,)``.
    """
    extra = check_convention(convention, "iou convention")
    return broadcast_iou(*(np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (start_a, end_a, start_b, end_b)),
                         extra)


def pairwise_iou(intervals_a: np.ndarray, intervals_b: np.ndarray, convention: str) -> np.ndarray:
    """``(N, M)`` IoU of ``intervals_a (N, 2)`` against ``intervals_b (M, 2)``, inclusive ``[start, end]`` frames."""
    a = np.asarray(intervals_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(intervals_b, dtype=np.float64).reshape(-1, 2)
    return interval_iou(a[:, :1], a[:, 1:], b[:, 0], b[:, 1], convention)


def _pair(values: tuple, kind: type) -> tuple:
    """A YAML list of two values -> a tuple of ``kind`` (validated by ``typed_section`` already)."""
    return tuple(kind(x) for x in values)


@dataclass
class SpottingPostprocessConfig:
    """The ``postprocess:`` section of a spotting config; frame counts are WORKING frames.

    Per-type pairs are ``(macro, micro)``. Defaults are CAS(ME)²'s (docs/methods.md §6); SAMM-LV
    uses ``min_score: [0.4, 0.3]`` and ``max_per_video: [8, 8]``, CAS(ME)³ ``min_score: [0.3, 0.3]``.
    ``min_length``/``max_length`` bound the inclusive frame count ``end - start + 1``.
    ``iou_convention`` is the IoU of soft-NMS and of the cap (see the module docstring).
    """

    thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    outer_margin: float = 0.2
    apex_weight: float = 0.2
    apex_min: float = 0.5
    soft_nms_sigma: float = 0.3
    min_length: tuple[int, int] = (15, 9)
    max_length: tuple[int, int] = (240, 15)
    min_score: tuple[float, float] = (0.5, 0.5)
    max_per_video: tuple[int, int] = (8, 2)
    cap_iou: float = 0.5
    iou_convention: str = "inclusive"

    def __post_init__(self) -> None:
        """Normalise YAML lists to tuples and refuse values that would silently misbehave."""
        self.thresholds = tuple(float(x) for x in self.thresholds)
        self.min_length, self.max_length = _pair(self.min_length, int), _pair(self.max_length, int)
        self.min_score, self.max_per_video = _pair(self.min_score, float), _pair(self.max_per_video, int)
        if not self.thresholds or not all(0.0 < x < 1.0 for x in self.thresholds):
            raise SentilocError(f"postprocess.thresholds must be a non-empty list in (0, 1), got {list(self.thresholds)}")
        for key in ("outer_margin", "apex_weight"):
            if not getattr(self, key) >= 0.0:
                raise SentilocError(f"postprocess.{key} must be >= 0, got {getattr(self, key)!r}")
        if not 0.0 <= self.apex_min < 1.0:
            raise SentilocError(f"postprocess.apex_min must lie in [0, 1), got {self.apex_min!r}")
        if not self.soft_nms_sigma > 0.0:
            raise SentilocError(f"postprocess.soft_nms_sigma must be > 0, got {self.soft_nms_sigma!r}")
        if not all(1 <= lo <= hi for lo, hi in zip(self.min_length, self.max_length)):
            raise SentilocError(f"postprocess.min_length {list(self.min_length)} and max_length "
                                f"{list(self.max_length)} need 1 <= min <= max for each type (macro, micro)")
        if not all(np.isfinite(self.min_score)):
            raise SentilocError(f"postprocess.min_score must be two finite numbers (macro, micro), got {list(self.min_score)}")
        if min(self.max_per_video) < 0:
            raise SentilocError(f"postprocess.max_per_video must be two counts >= 0 (macro, micro), "
                                f"got {list(self.max_per_video)}")
        if not 0.0 < self.cap_iou <= 1.0:
            raise SentilocError(f"postprocess.cap_iou must lie in (0, 1], got {self.cap_iou!r}")
        check_convention(self.iou_convention, "postprocess.iou_convention")


@dataclass(frozen=True)
class Spots:
    """Spotted intervals of one video, best first; frames are inclusive WORKING-frame indices.

    Attributes:
        start, end, apex: ``(N,)`` int64 frames, ``start <= apex <= end``.
        type_index: ``(N,)`` int64 index into ``EXPRESSION_TYPES`` (0 macro, 1 micro).
        score: ``(N,)`` float64 score after soft-NMS.
    """

    start: np.ndarray
    end: np.ndarray
    apex: np.ndarray
    type_index: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.score)

    def select(self, index: np.ndarray) -> Spots:
        """The spots at ``index`` (integer indices or a boolean mask), in that order."""
        return Spots(self.start[index], self.end[index], self.apex[index], self.type_index[index], self.score[index])

    @staticmethod
    def concat(parts: list[Spots]) -> Spots:
        """All ``parts`` in one, best first (ties keep the order of ``parts``)."""
        joined = Spots(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Spots)))
        return joined.select(np.argsort(-joined.score, kind="stable"))


def threshold_runs(intensity: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    """``(R, 2)`` inclusive ``[start, end]`` frames of the runs with ``intensity (T,) >= θ``, for every θ.

    Runs are listed threshold by threshold (ascending in time within one); the same run found at
    several thresholds is listed once per threshold, as in the reference, and soft-NMS decays the copies.
    """
    keep = np.asarray(intensity)[None, :] >= np.asarray(thresholds, dtype=np.float64)[:, None]
    return runs_by_row(keep)[1]


def run_peaks(intensity: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """``(R,)`` frame of each run's highest intensity (the first such frame on ties).

    All run frames are laid end to end (``Σ length <= K·T``), and ``reduceat`` takes each run's
    maximum, then the smallest frame that reaches it.
    """
    if len(runs) == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = runs[:, 1] - runs[:, 0] + 1
    offsets = np.cumsum(lengths) - lengths
    frames = np.repeat(runs[:, 0] - offsets, lengths) + np.arange(int(lengths.sum()))
    values = np.asarray(intensity)[frames]
    at_peak = values == np.repeat(np.maximum.reduceat(values, offsets), lengths)
    return np.minimum.reduceat(np.where(at_peak, frames, np.iinfo(np.int64).max), offsets)


def soft_nms(intervals: np.ndarray, scores: np.ndarray, sigma: float, convention: str) -> np.ndarray:
    """Gaussian soft-NMS: ``(N,)`` decayed scores of ``intervals (N, 2)``, in input order.

    Repeatedly take the best remaining proposal (first on ties) and multiply every other remaining
    score by ``exp(-IoU² / sigma)``. Weights lie in ``(0, 1]``, so no score moves away from 0: a
    non-negative score never increases, and the best one is unchanged. Nothing is removed.
    """
    decayed = np.array(scores, dtype=np.float64)
    weight = np.exp(-pairwise_iou(intervals, intervals, convention) ** 2 / sigma)
    alive = np.ones(len(decayed), dtype=bool)
    for _ in range(len(decayed)):
        best = int(np.argmax(np.where(alive, decayed, -np.inf)))
        alive[best] = False
        decayed[alive] *= weight[best, alive]
    return decayed


def length_score_mask(spots: Spots, cfg: SpottingPostprocessConfig) -> np.ndarray:
    """``(N,)`` True where a spot's inclusive frame count and score pass the limits of its type."""
    length = spots.end - spots.start + 1
    t = spots.type_index
    return ((length >= np.asarray(cfg.min_length)[t]) & (length <= np.asarray(cfg.max_length)[t])
            & (spots.score >= np.asarray(cfg.min_score)[t]))


def capped(spots: Spots, limit: int, cfg: SpottingPostprocessConfig) -> np.ndarray:
    """Indices of the at most ``limit`` spots (one type) kept greedily by score, best first.

    A spot is skipped when its IoU with a kept one is ``> cap_iou`` (strict, as in the reference);
    :func:`~sentiloc.postprocess.nms.nms_1d` drops at ``>=``, so it gets the next float above ``cap_iou``.
    Truncating greedy NMS after ``limit`` keeps equals stopping the greedy pass there.
    """
    intervals = np.column_stack([spots.start, spots.end]).astype(np.float64)
    plus_one = IOU_CONVENTIONS[cfg.iou_convention] > 0
    return nms_1d(intervals, spots.score, float(np.nextafter(cfg.cap_iou, np.inf)), plus_one)[:limit]


def type_spots(spots: Spots, type_index: int, cfg: SpottingPostprocessConfig) -> Spots:
    """Steps 3-5 for the proposals of one type: soft-NMS, length and score filters, per-video cap."""
    intervals = np.column_stack([spots.start, spots.end])
    decayed = Spots(spots.start, spots.end, spots.apex, spots.type_index,
                    soft_nms(intervals, spots.score, cfg.soft_nms_sigma, cfg.iou_convention))
    passed = decayed.select(length_score_mask(decayed, cfg))
    return passed.select(capped(passed, cfg.max_per_video[type_index], cfg))


def check_scores(intensity: np.ndarray, apex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 copies of ``intensity (T,)`` and ``apex (T, 2)``; NaN or infinite scores are a user-facing error."""
    intensity = np.asarray(intensity, dtype=np.float64)
    apex = np.asarray(apex, dtype=np.float64)
    if intensity.ndim != 1 or apex.shape != (len(intensity), len(EXPRESSION_TYPES)):
        raise ValueError(f"intensity must be (T,) and apex (T, {len(EXPRESSION_TYPES)}), "
                         f"got {intensity.shape} and {apex.shape}")
    if not (np.isfinite(intensity).all() and np.isfinite(apex).all()):
        raise SentilocError("the model produced NaN or infinite intensity or apex scores; "
                            "check the checkpoint and the features")
    return intensity, apex


def spot_video(intensity: np.ndarray, apex: np.ndarray, cfg: SpottingPostprocessConfig) -> Spots:
    """Expression intervals of one video (steps 1-5 of the module docstring), best first.

    Args:
        intensity: ``(T,)`` intensity ``a`` in [0, 1] on the video's real working frames.
        apex: ``(T, 2)`` apex scores ``e`` (macro, micro) in [0, 1].
        cfg: thresholds, scoring weights, filters and caps.
    Returns:
        :class:`Spots` in working frames; the apex of a spot is its run's peak frame.
    """
    intensity, apex = check_scores(intensity, apex)
    runs = threshold_runs(intensity, cfg.thresholds)
    peak = run_peaks(intensity, runs)
    contrast = outer_inner_contrast(intensity, runs, cfg.outer_margin) if len(runs) else np.zeros(0)
    run_index, type_index = np.nonzero(apex[peak] > cfg.apex_min)
    apex_score = apex[peak[run_index], type_index]
    proposals = Spots(runs[run_index, 0], runs[run_index, 1], peak[run_index], type_index,
                      contrast[run_index] + cfg.apex_weight * apex_score)
    return Spots.concat([type_spots(proposals.select(type_index == c), c, cfg)
                         for c in range(len(EXPRESSION_TYPES))])
