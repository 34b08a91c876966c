"""The MEGC facial-expression spotting metric (docs/methods.md §6, "Metric"), vectorised.

Ground truth and predictions are native frame indices with inclusive ends. Within one video and
type, predictions are taken by descending score (equal scores: the one listed first) and each
takes the unmatched ground-truth interval of that video and type with the highest IoU, when that
IoU is ``>= 0.5`` (equal IoUs: the one listed first): a true positive. Other predictions are false
positives, unmatched ground truth false negatives. Counts are pooled over all videos (hence over
subjects, never averaged per subject), per type and overall (both types summed):

    P = TP / (TP + FP),   R = TP / (TP + FN),   F1 = 2 TP / (2 TP + FP + FN),

each defined as 0 when its denominator is 0 (no predictions, no ground truth, neither). The apex
error is the mean over true positives of ``|apex_gt - apex_pred| / (offset_gt - onset_gt + 1)``,
null without a true positive. IoU is "continuous" or "inclusive"
(:data:`~sentiloc.postprocess.spotting.IOU_CONVENTIONS`); the metrics say which one was used.

Matching is sequential only within one (video, type) group, so the loop runs over a prediction's
rank inside its group (at most the per-video cap, e.g. 8) and each round resolves every group at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain, pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_json, load_json, refuse_clobber
from sentiloc.data.spotting.annotations import read_ground_truth
from sentiloc.data.spotting.batch import EXPRESSION_TYPES
from sentiloc.postprocess.spotting import check_convention, interval_iou

logger = logging.getLogger(__name__)

PREDICTIONS_VERSION = "sentiloc-spotting-1"
PREDICTIONS_UNIT = "frame"
#: Metric names of the expression types, in ``EXPRESSION_TYPES`` order.
TYPE_KEYS = ("MaE", "ME")
#: A prediction matches a ground-truth interval at IoU >= this (MEGC).
MATCH_IOU = 0.5
_FIELDS = ("onset", "apex", "offset")
_PREDICTION_FORM = ('{"onset": int, "apex": int, "offset": int, "type": "macro"|"micro", "score": finite number} '
                    "with 0 <= onset <= apex <= offset")


# --------------------------------------------------------------------------- loading


def load_ground_truth(path: Path | str) -> dict:
    """The validated ground truth of a spotting DATA folder (``videos.csv`` + ``annotations.csv``)."""
    return read_ground_truth(Path(path))


def load_predictions(path: Path | str) -> dict:
    """Read and validate a spotting predictions file (native frames, see :func:`parse_predictions`)."""
    path = Path(path)
    return parse_predictions(load_json(path, "predictions"), path)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _prediction_problem(entry: object) -> str | None:
    """Why one prediction is malformed, or None."""
    if not isinstance(entry, dict) or not all(_is_int(entry.get(key)) for key in _FIELDS):
        return "is not " + _PREDICTION_FORM
    if entry.get("type") not in EXPRESSION_TYPES:
        return f"has type {entry.get('type')!r}, not one of {list(EXPRESSION_TYPES)}"
    score = entry.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return f"has score {score!r}, not a finite number"
    if not 0 <= entry["onset"] <= entry["apex"] <= entry["offset"]:
        return "needs 0 <= onset <= apex <= offset (native frame indices)"
    return None


def parse_predictions(raw: Any, path: Path | str) -> dict:
    """Validate parsed spotting predictions; ``path`` names their source in the one-line errors."""
    if not isinstance(raw, dict) or raw.get("version") != PREDICTIONS_VERSION or raw.get("unit") != PREDICTIONS_UNIT:
        raise SentilocError(f'{path}: not a spotting predictions file; expected {{"version": "{PREDICTIONS_VERSION}", '
                            f'"unit": "{PREDICTIONS_UNIT}", "results": {{video: [...]}}}} (write it with sentiloc predict)')
    results = raw.get("results")
    if not isinstance(results, dict):
        raise SentilocError(f'{path}: "results" must be an object {{video: [predictions]}}; fix or regenerate the file')
    for video_id, entries in results.items():
        if not isinstance(entries, list):
            raise SentilocError(f"{path}: results of video {video_id!r} must be a list of predictions; fix that entry")
        for entry in entries:
            problem = _prediction_problem(entry)
            if problem:
                raise SentilocError(f"{path}: video {video_id!r}: prediction {entry!r} {problem}; fix or regenerate it")
    return raw


# --------------------------------------------------------------------------- result


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0 when the denominator is 0 (the metric's 0/0 convention)."""
    return float(numerator / denominator) if denominator else 0.0


@dataclass(frozen=True)
class Counts:
    """Pooled true positives, false positives and false negatives, and the fractions they give."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_json(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True)
class SpottingResult:
    """MEGC spotting metrics: pooled counts per type (keyed by :data:`TYPE_KEYS`), the apex error and the IoU used."""

    by_type: dict[str, Counts]
    apex_error: float | None
    iou: str

    @property
    def overall(self) -> Counts:
        return sum(self.by_type.values(), Counts(0, 0, 0))

    def to_json(self) -> dict:
        """``{"overall": {tp, fp, fn, precision, recall, f1}, "MaE": {...}, "ME": {...}, "apex_error", "iou"}``."""
        return {"overall": self.overall.to_json(), **{key: c.to_json() for key, c in self.by_type.items()},
                "apex_error": self.apex_error, "iou": self.iou}


# --------------------------------------------------------------------------- flattening


@dataclass(frozen=True)
class _Intervals:
    """Intervals as parallel ``(N,)`` int64 arrays; ``video`` indexes the kept videos, ``type`` ``EXPRESSION_TYPES``."""

    video: np.ndarray
    type: np.ndarray
    onset: np.ndarray
    apex: np.ndarray
    offset: np.ndarray

    @property
    def group(self) -> np.ndarray:
        """``(N,)`` key of the (video, type) group: only intervals of one group can match."""
        return self.video * len(EXPRESSION_TYPES) + self.type


def _flatten(per_video: list[list[Mapping]], video: list[int]) -> _Intervals:
    """Entries of ``per_video`` (lists of ``{"onset", "apex", "offset", "type", ...}``) as arrays; ``video[i]`` owns list i."""
    entries = list(chain.from_iterable(per_video))
    n = len(entries)
    type_number = {name: t for t, name in enumerate(EXPRESSION_TYPES)}
    columns = [np.fromiter(map(itemgetter(key), entries), dtype=np.int64, count=n) for key in _FIELDS]
    types = np.fromiter((type_number[e["type"]] for e in entries), dtype=np.int64, count=n)
    owners = np.repeat(np.asarray(video, dtype=np.int64), [len(x) for x in per_video])
    return _Intervals(owners, types, *columns)


def subset_videos(ground_truth: Mapping, subset: str) -> list[str]:
    """Videos of ``subset``: every video for ``"all"``, else those of the subject ``subset`` (maybe none)."""
    return [v for v, entry in ground_truth.items() if subset == "all" or entry["subject"] == subset]


def selected_videos(ground_truth: Mapping, subset: str) -> list[str]:
    """:func:`subset_videos`, with a one-line error when ``subset`` is no subject of the ground truth."""
    videos = subset_videos(ground_truth, subset)
    if not videos and subset != "all":
        subjects = sorted({str(entry["subject"]) for entry in ground_truth.values()})
        raise SentilocError(f"subset {subset!r} is no subject of the ground truth; use 'all' or one of {subjects}")
    return videos


def has_instances(ground_truth: Mapping, subset: str) -> bool:
    """Whether the videos of ``subset`` hold at least one annotated instance (False for an unknown subject)."""
    return any(ground_truth[video_id]["instances"] for video_id in subset_videos(ground_truth, subset))


def _kept_predictions(ground_truth: Mapping, predictions: Mapping, videos: list[str]) -> tuple[list, list[int]]:
    """The prediction lists of the kept videos and their video indices; predictions for unknown videos are dropped with a warning."""
    results = predictions["results"]
    unknown = [video_id for video_id in results if video_id not in ground_truth]
    if unknown:
        logger.warning("ignored predictions for %d video(s) absent from the ground truth, e.g. %s",
                       len(unknown), unknown[:3])
    index = {video_id: v for v, video_id in enumerate(videos)}
    kept = [video_id for video_id in results if video_id in index]
    return [results[video_id] for video_id in kept], [index[video_id] for video_id in kept]


def _check_inside(pred: _Intervals, n_frames: np.ndarray, videos: list[str]) -> None:
    """Refuse predictions ending past their video's last native frame."""
    outside = np.flatnonzero(pred.offset >= n_frames[pred.video])
    if len(outside):
        i = outside[0]
        video_id = videos[pred.video[i]]
        raise SentilocError(f"predictions: video {video_id!r} has an interval ending at frame {pred.offset[i]}, past its "
                            f"last frame {n_frames[pred.video[i]] - 1}; predictions are native frame indices of the video")


# --------------------------------------------------------------------------- matching


def _within_group_rank(group: np.ndarray) -> np.ndarray:
    """``(N,)`` position of each element inside its group, counting in the given order."""
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    first = np.searchsorted(sorted_group, sorted_group)
    rank = np.empty(len(group), dtype=np.int64)
    rank[by_group] = np.arange(len(group)) - first
    return rank


def _padded(gt: _Intervals) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth per (video, type) group, in listed order: sorted group keys, ``(G, W)`` onsets
    and offsets, and the ``(G, W)`` index of each slot's interval in ``gt`` (-1 on padding)."""
    keys, group = np.unique(gt.group, return_inverse=True)
    width = int(np.bincount(group).max(initial=1))
    slot = _within_group_rank(group)
    onset, offset = np.zeros((len(keys), width)), np.zeros((len(keys), width))
    row = np.full((len(keys), width), -1, dtype=np.int64)
    onset[group, slot], offset[group, slot], row[group, slot] = gt.onset, gt.offset, np.arange(len(group))
    return keys, onset, offset, row


def match(gt: _Intervals, pred: _Intervals, score: np.ndarray, convention: str) -> tuple[np.ndarray, np.ndarray]:
    """Greedy MEGC matching: ``(N_pred,)`` true-positive flags and the index of the matched ground truth (-1 if none)."""
    matched = np.full(len(score), -1, dtype=np.int64)
    keys, gt_onset, gt_offset, gt_row = _padded(gt)
    if len(keys) == 0 or len(score) == 0:
        return matched >= 0, matched
    order = np.lexsort((np.arange(len(score)), -score, pred.group))
    group = np.minimum(np.searchsorted(keys, pred.group[order]), len(keys) - 1)
    candidate = np.flatnonzero(keys[group] == pred.group[order])
    order, group = order[candidate], group[candidate]
    iou = interval_iou(pred.onset[order, None], pred.offset[order, None], gt_onset[group], gt_offset[group], convention)
    reaches = (iou >= MATCH_IOU) & (gt_row[group] >= 0)  # (M, W); padding never reaches
    # by rank inside the group (stable: groups stay sorted), so round r is one slice holding at most one per group
    rank = _within_group_rank(group)
    by_round = np.argsort(rank, kind="stable")
    order, group, iou, reaches = order[by_round], group[by_round], iou[by_round], reaches[by_round]
    bounds = np.searchsorted(rank[by_round], np.arange(int(rank.max(initial=-1)) + 2))
    taken = np.zeros(gt_onset.shape, dtype=bool)
    for lo, hi in pairwise(bounds):
        g = group[lo:hi]
        free = reaches[lo:hi] & ~taken[g]
        best = np.argmax(np.where(free, iou[lo:hi], -np.inf), axis=1)
        hit = free.any(axis=1)
        taken[g[hit], best[hit]] = True
        matched[order[lo:hi][hit]] = gt_row[g[hit], best[hit]]
    return matched >= 0, matched


# --------------------------------------------------------------------------- metrics


def evaluate_spotting(ground_truth: Mapping, predictions: Mapping, subset: str = "all",
                      iou: str = "continuous") -> SpottingResult:
    """Score validated predictions (native frames) against the ground truth of ``subset`` ("all" or a subject id).

    A video of the subset without predictions contributes its instances as false negatives;
    predictions of videos outside the subset are not scored; those of videos absent from the
    ground truth are ignored with a warning; predictions past a video's last frame are an error.
    """
    check_convention(iou, "--iou")
    videos = selected_videos(ground_truth, subset)
    gt = _flatten([ground_truth[v]["instances"] for v in videos], list(range(len(videos))))
    kept, kept_video = _kept_predictions(ground_truth, predictions, videos)
    pred = _flatten(kept, kept_video)
    score = np.fromiter(map(itemgetter("score"), chain.from_iterable(kept)), dtype=np.float64, count=len(pred.onset))
    _check_inside(pred, np.array([ground_truth[v]["n_frames"] for v in videos], dtype=np.int64), videos)
    tp, matched = match(gt, pred, score, iou)
    n_types = len(EXPRESSION_TYPES)
    tp_count = np.bincount(pred.type[tp], minlength=n_types)
    pred_count = np.bincount(pred.type, minlength=n_types)
    gt_count = np.bincount(gt.type, minlength=n_types)
    by_type = {key: Counts(int(tp_count[t]), int(pred_count[t] - tp_count[t]), int(gt_count[t] - tp_count[t]))
               for t, key in enumerate(TYPE_KEYS)}
    return SpottingResult(by_type, apex_error(gt, pred, matched), iou)


def apex_error(gt: _Intervals, pred: _Intervals, matched: np.ndarray) -> float | None:
    """Mean ``|apex_gt - apex_pred| / (offset_gt - onset_gt + 1)`` over true positives; None without one."""
    hit = np.flatnonzero(matched >= 0)
    if not len(hit):
        return None
    g = matched[hit]
    return float(np.mean(np.abs(gt.apex[g] - pred.apex[hit]) / (gt.offset[g] - gt.onset[g] + 1)))


# --------------------------------------------------------------------------- reporting


def format_table(result: SpottingResult) -> str:
    """Counts and P/R/F1 per type and overall, the apex error and the IoU convention."""
    lines = [f"{'type':<8} {'TP':>5} {'FP':>5} {'FN':>5} {'Prec.':>7} {'Recall':>7} {'F1':>7}"]
    for name, c in [*result.by_type.items(), ("overall", result.overall)]:
        lines.append(f"{name:<8} {c.tp:>5} {c.fp:>5} {c.fn:>5} {c.precision:>7.4f} {c.recall:>7.4f} {c.f1:>7.4f}")
    error = "n/a (no true positive)" if result.apex_error is None else f"{result.apex_error:.4f}"
    lines.append(f"apex error: {error}; IoU: {result.iou}, match at >= {MATCH_IOU}")
    return "\n".join(lines)


def run_evaluate(gt_path: Path | str, pred_path: Path | str, subset: str = "all", iou: str = "continuous",
                 json_out: Path | str | None = None, overwrite: bool = False) -> SpottingResult:
    """``sentiloc evaluate --task spotting``: score a prediction file against a spotting folder's annotations.

    The clobber check runs first, so a refused run costs nothing; a subset without an annotated
    instance is an error (a typo in ``--subset`` would otherwise print a table of zeros).
    """
    if json_out is not None:
        refuse_clobber(Path(json_out), overwrite)
    check_convention(iou, "--iou")
    ground_truth = load_ground_truth(gt_path)
    if not has_instances(ground_truth, subset):
        raise SentilocError(f"{gt_path}: no annotated instance in subset {subset!r}; check --subset "
                            "('all' or a subject of videos.csv)")
    result = evaluate_spotting(ground_truth, load_predictions(pred_path), subset, iou)
    if json_out is not None:
        atomic_write_json(Path(json_out), result.to_json())
    return result
