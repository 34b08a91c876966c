"""Exact TSL-300 / ActivityNet-style detection metrics, vectorised.

The definitions are those of the TSL-300 reference evaluator (docs/methods.md §3): per class
and tIoU threshold, the predictions of all videos are ranked by score and greedily matched to the highest-tIoU unmatched ground-truth
segment of their video; AP is VOC-2011 interpolated; TSL-300's Precision/Recall are the *means
of the cumulative precision/recall curves*, averaged over classes, and F2 combines those.

Where the reference is undefined or broken, sentiloc pins one behaviour:

* equal scores rank the prediction listed later in the predictions file first (what the reference
  produced on the fixture machine, i.e. a stable ascending sort reversed); equal tIoUs likewise
  prefer the ground-truth segment listed later (no fixture depends on the latter);
* a class without predictions scores AP = P = R = 0 and still counts in every mean (the
  reference crashes), and F2 is 0 where P = R = 0 (the reference gives NaN);
* predicted labels that the ground truth does not know are dropped with a warning (the
  reference raises ``KeyError``).

Why it is fast: matching is sequential only *within* one (class, video) group, because only
predictions of the same class in the same video compete for ground-truth segments. The
evaluator therefore loops over the rank of a prediction inside its group, and each round
resolves every group and every threshold at once with array operations. Predictions that
reach no segment at the lowest threshold can never change the matching, so they are marked
false positives up front and do not lengthen the loop.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_json, load_json, refuse_clobber
from sentiloc.data import layout
from sentiloc.data.annotations import read_number_dict
from sentiloc.data.formats.activitynet import (
    finite_number,
    parse_ground_truth,
    raise_first,
)
from sentiloc.evaluation.ap import ranked_metrics

logger = logging.getLogger(__name__)

#: How far (s) a prediction may end past its video's duration (one snippet at 8 fps) before it is refused.
DURATION_SLACK_S = 2.0
DEFAULT_TIOU = np.linspace(0.1, 0.3, 5)
_TIOU_FORMS = "expected START:STOP:STEP with an inclusive stop (e.g. 0.1:0.3:0.05) or a comma list (e.g. 0.1,0.5)"


# --------------------------------------------------------------------------- thresholds


def parse_tiou(spec: str) -> np.ndarray:
    """Parse ``--tiou``: ``"0.1:0.3:0.05"`` (inclusive stop) or a comma list ``"0.1,0.5"``.

    A range is built with ``numpy.linspace`` so that the default spec yields exactly
    :data:`DEFAULT_TIOU`, bit for bit: a tIoU lying exactly on a threshold must match or miss
    as it does in the reference, which uses ``linspace`` too.
    """
    try:
        if ":" in spec:
            values = _tiou_range(*(float(part) for part in spec.split(":")))
        else:
            values = np.array([float(part) for part in spec.split(",")], dtype=np.float64)
    except (TypeError, ValueError):
        raise SentilocError(f"--tiou {spec!r}: {_TIOU_FORMS}") from None
    if len(values) == 0 or not np.all((values > 0) & (values <= 1)):
        raise SentilocError(f"--tiou {spec!r}: thresholds must lie in (0, 1]; {_TIOU_FORMS}")
    return values


def _tiou_range(start: float, stop: float, step: float) -> np.ndarray:
    """Inclusive ``start..stop`` by ``step``, tolerant of float error (0.2 / 0.05 = 4.000000000000001)."""
    if not (step > 0 and stop >= start):
        raise ValueError
    n_steps = math.floor((stop - start) / step + 1e-9)
    last = start + n_steps * step
    if math.isclose(last, stop, rel_tol=1e-9, abs_tol=1e-12):
        last = stop
    return np.linspace(start, last, n_steps + 1)


# --------------------------------------------------------------------------- loading


def _check_segment(segment: object) -> None:
    """Raise ValueError unless ``segment`` is two finite numbers (or numeric strings)."""
    if not isinstance(segment, (list, tuple)) or len(segment) != 2:
        raise ValueError("a segment is [start, end]")
    for bound in segment:
        finite_number(bound)


def load_ground_truth(path: Path | str) -> dict:
    """Read and validate a TSL-300 ``gt.json`` so that evaluation cannot fail half-way.

    The schema is checked by the shared parser (:mod:`sentiloc.data.formats.activitynet`); the
    evaluator also needs every video's ``subset``. Errors name the file, the video and the form.
    """
    path = Path(path)
    raw = load_json(path, "ground truth")
    videos, problems = parse_ground_truth(raw)
    raise_first(path, problems)
    for video_id, video in videos.items():
        if not isinstance(video.subset, str):
            raise SentilocError(
                f'{path}: video {video_id!r} must be {{"subset": "test"|"train", "annotations": [...]}}; '
                "fix that entry"
            )
        for segment in video.segments:
            if segment.end_s <= segment.start_s or segment.start_s < 0:
                raise SentilocError(f"{path}: video {video_id!r} has segment [{segment.start_s}, {segment.end_s}] "
                                    "with end <= start or a negative start; fix the segment bounds")
    return raw


def load_predictions(path: Path | str) -> dict:
    """Read and validate an ActivityNet-style predictions file (``{"results": {video: [...]}}``)."""
    path = Path(path)
    return parse_predictions(load_json(path, "predictions"), path)


def parse_predictions(raw: Any, path: Path | str) -> dict:
    """Validate parsed ActivityNet-style predictions; ``path`` names their source in errors."""
    results = raw.get("results") if isinstance(raw, dict) else None
    if not isinstance(results, dict):
        raise SentilocError(
            f'{path}: no top-level "results" object; '
            'expected {"results": {video: [{"label": ..., "score": ..., "segment": [start_s, end_s]}]}}'
        )
    if not results:
        raise SentilocError(f'{path}: "results" holds no video; predict a split first (`sentiloc predict`)')
    for video_id, entries in results.items():
        if not isinstance(entries, list):
            raise SentilocError(f"{path}: results of video {video_id!r} must be a list of predictions; fix that entry")
        for entry in entries:
            try:
                _check_segment(entry["segment"])
                if isinstance(entry["score"], str):
                    raise ValueError("a score is a number, not a string")
                finite_number(entry["score"])
                if not isinstance(entry["label"], str):
                    raise ValueError("label must be a string")
            except (KeyError, TypeError, ValueError):
                raise SentilocError(
                    f"{path}: video {video_id!r} has a malformed prediction {entry!r}; expected "
                    '{"label": "p"|"n", "score": finite number, "segment": [start_s, end_s]}'
                ) from None
            start, end = (finite_number(bound) for bound in entry["segment"])
            if end < start or start < 0:
                raise SentilocError(f"{path}: video {video_id!r} has a prediction [{start}, {end}] with end < start "
                                    "or a negative start; predictions are seconds within the video")
    return raw


# --------------------------------------------------------------------------- result


@dataclass
class DetectionResult:
    """All TSL-300 detection metrics; every metric is a fraction in [0, 1].

    ``ap`` is ``(n_tiou, n_classes)`` with columns in ``class_order``; ``precision``, ``recall``
    and ``f2`` are TSL-300's curve means (see the module docstring), one value per threshold.
    """

    tiou: list[float]
    mAP: list[float]
    average_mAP: float
    class_order: list[str]
    ap: np.ndarray
    class_ap: dict[str, float]
    precision: list[float]
    recall: list[float]
    f2: list[float]
    dropped_labels: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain-JSON view (``sentiloc evaluate --json``); classes are keyed by name, never index."""
        return {
            "tiou": self.tiou,
            "mAP": self.mAP,
            "average_mAP": self.average_mAP,
            "class_ap": self.class_ap,
            "ap_per_tiou": {label: [float(x) for x in self.ap[:, c]] for c, label in enumerate(self.class_order)},
            "recall": self.recall,
            "precision": self.precision,
            "f2": self.f2,
            "recall_avg": _mean(self.recall),
            "precision_avg": _mean(self.precision),
            "f2_avg": _mean(self.f2),
            "dropped_labels": self.dropped_labels,
        }


def _mean(values: Sequence[float]) -> float:
    """Mean that is 0 for no values, so an empty evaluation still serialises as valid JSON."""
    return float(np.mean(values)) if len(values) else 0.0


# --------------------------------------------------------------------------- flattening


@dataclass(frozen=True)
class _Segments:
    """Segments as parallel arrays in file order; ``video`` is -1 for videos outside the kept GT."""

    video: np.ndarray  # (N,) int64
    label: np.ndarray  # (N,) int64, column in the class order
    start_s: np.ndarray  # (N,) float64
    end_s: np.ndarray  # (N,) float64


def _to_float(values: Iterable, count: int, what: str) -> np.ndarray:
    """Numbers or numeric strings -> ``(count,)`` float64 in one numpy pass (no Python loop)."""
    try:
        array = np.fromiter(values, dtype=np.float64, count=count)
    except (TypeError, ValueError):
        raise SentilocError(f"{what}: every segment bound and score must be a number or a numeric string") from None
    if not np.isfinite(array).all():
        raise SentilocError(f"{what}: a segment bound or score is NaN or infinite")
    return array


def _bounds(segments: list, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end seconds of ``[start, end]`` pairs."""
    if segments and set(map(len, segments)) != {2}:
        raise SentilocError(f"{what}: every segment must be [start_s, end_s]")
    flat = _to_float(chain.from_iterable(segments), 2 * len(segments), what)
    return flat[0::2], flat[1::2]


def _flatten_ground_truth(ground_truth: Mapping, subset: str) -> tuple[_Segments, list[str], dict[str, int]]:
    """Kept segments, the class order (first appearance) and the kept videos' row index."""
    videos: dict[str, int] = {}
    classes: dict[str, int] = {}
    video, label, segments = [], [], []
    for video_id, entry in ground_truth["database"].items():
        if entry.get("subset") != subset:
            continue
        v = videos.setdefault(video_id, len(videos))
        for annotation in entry.get("annotations", []):
            video.append(v)
            label.append(classes.setdefault(annotation["label"], len(classes)))
            segments.append(annotation["segment"])
    start_s, end_s = _bounds(segments, "ground truth")
    flat = _Segments(np.array(video, dtype=np.int64), np.array(label, dtype=np.int64), start_s, end_s)
    return flat, list(classes), videos


def _flatten_predictions(
    predictions: Mapping, classes: Sequence[str], videos: Mapping[str, int]
) -> tuple[_Segments, np.ndarray, dict[str, int]]:
    """Known-label predictions in file order, their scores, and the count of each dropped label.

    Field access goes through ``map``/``itemgetter`` and ``numpy.fromiter``: parsing ~9,000
    dicts would otherwise cost more than the whole evaluation.
    """
    results = predictions["results"]
    entries = list(chain.from_iterable(results.values()))
    index = {label: c for c, label in enumerate(classes)}
    labels = list(map(itemgetter("label"), entries))
    label = np.fromiter(map(index.get, labels, repeat(-1)), dtype=np.int64, count=len(labels))
    known = label >= 0
    dropped = dict(Counter(name for name in labels if name not in index)) if not known.all() else {}
    if dropped:
        logger.warning("dropped predictions whose labels are not in the ground truth %s: %s", list(classes), dropped)
    unknown = [video_id for video_id in results if video_id not in videos]
    if unknown:
        logger.warning("%d predicted video(s) are not in the ground truth's subset (they count as false positives, "
                       "as in the reference), e.g. %s", len(unknown), unknown[:3])
    video = np.repeat(
        np.array([videos.get(video_id, -1) for video_id in results], dtype=np.int64),
        np.array([len(listed) for listed in results.values()], dtype=np.int64),
    )
    start_s, end_s = _bounds(list(map(itemgetter("segment"), entries)), "predictions")
    score = _to_float(map(itemgetter("score"), entries), len(entries), "predictions")
    flat = _Segments(video[known], label[known], start_s[known], end_s[known])
    return flat, score[known], dropped


# --------------------------------------------------------------------------- matching


def _rank_order(label: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Prediction indices by class, then score descending; equal scores: later in the file first."""
    position = np.arange(len(score))
    return np.lexsort((-position, -score, label))


def _padded_groups(gt: _Segments, n_videos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth per (class, video) group: sorted group keys and padded ``(G, W)`` starts/ends.

    Segments are stored last-listed first, so the first best slot that ``argmax`` finds is the
    later-listed segment among equal tIoUs (the pinned tie rule). Padding is NaN.
    """
    key = gt.label * n_videos + gt.video
    keys, group, counts = np.unique(key, return_inverse=True, return_counts=True)
    slot = counts[group] - 1 - _within_group_rank(group, len(keys))
    width = int(counts.max(initial=1))
    start = np.full((len(keys), width), np.nan)
    end = np.full((len(keys), width), np.nan)
    start[group, slot] = gt.start_s
    end[group, slot] = gt.end_s
    return keys, start, end


def _tiou(start_s: np.ndarray, end_s: np.ndarray, group: np.ndarray, gt_start: np.ndarray, gt_end: np.ndarray
          ) -> np.ndarray:
    """tIoU ``(N, W)`` of each prediction with the padded segments ``(G, W)`` of its group; padding gives -inf.

    The arithmetic is the reference's term for term (addition order aside, which is exact), so a
    tIoU equal to a threshold stays equal. It runs in place on the gathered copies: with ~50,000
    pairs, fresh temporaries would cost as much as the arithmetic. NaN padding is expected; a union
    past the float range (bounds near 1e308 s) is inf, its tIoU 0, and logged once instead of numpy's
    overflow warning.
    """
    intersection = np.minimum(end_s[:, None], gt_end[group])
    lower = gt_start[group]
    intersection -= np.maximum(start_s[:, None], lower)
    np.maximum(intersection, 0.0, out=intersection)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        union = gt_end[group]
        union -= lower
        union += (end_s - start_s)[:, None]
        union -= intersection
        tiou = np.divide(intersection, union, out=intersection)
    if np.isinf(union).any():
        logger.warning("a prediction and a ground-truth segment span more than the float range (bounds near 1e308 s); "
                       "such pairs count as misses (tIoU 0); check the segments' units")
    tiou[np.isnan(lower)] = -np.inf
    return tiou


def _within_group_rank(group: np.ndarray, n_groups: int) -> np.ndarray:
    """Position of each element inside its group, counting in the given order."""
    by_group = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=n_groups)
    rank = np.empty(len(group), dtype=np.int64)
    rank[by_group] = np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rank


def _match(gt: _Segments, pred: _Segments, ranked: np.ndarray, thresholds: np.ndarray, n_videos: int) -> np.ndarray:
    """True-positive flags ``(n_tiou, N)`` of the predictions taken in ``ranked`` order.

    Round r resolves the r-th candidate of every (class, video) group at every threshold at
    once: each takes the highest-tIoU segment of its group that reaches the threshold and is
    still free at that threshold.
    """
    tp = np.zeros((len(thresholds), len(ranked)), dtype=bool)
    keys, gt_start, gt_end = _padded_groups(gt, n_videos)
    if len(keys) == 0 or len(ranked) == 0:
        return tp
    video, label = pred.video[ranked], pred.label[ranked]
    key = np.where(video >= 0, label * n_videos + video, -1)
    group = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
    candidate = np.flatnonzero(keys[group] == key)  # the others are false positives
    tiou = _tiou(pred.start_s[ranked[candidate]], pred.end_s[ranked[candidate]], group[candidate], gt_start, gt_end)
    # a prediction below the lowest threshold everywhere can never take a segment: leave it out
    reaches = tiou.max(axis=1) >= thresholds.min()
    candidate, tiou = candidate[reaches], tiou[reaches]
    group = group[candidate]
    # sort by within-group rank (stable: rank order inside a round) so that each round is a slice
    rank = _within_group_rank(group, len(keys))
    by_round = np.argsort(rank, kind="stable")
    candidate, tiou, group = candidate[by_round], tiou[by_round], group[by_round]
    bounds = np.searchsorted(rank[by_round], np.arange(int(rank.max(initial=-1)) + 2))
    above = tiou[:, None, :] >= thresholds[None, :, None]  # (M, n_tiou, W)
    taken = np.zeros((len(keys), len(thresholds), gt_start.shape[1]), dtype=bool)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        g = group[lo:hi]
        free = above[lo:hi] & ~taken[g]
        best = np.argmax(np.where(free, tiou[lo:hi, None, :], -np.inf), axis=2)
        hit = free.any(axis=2)
        rows, thr = np.nonzero(hit)
        taken[g[rows], thr, best[rows, thr]] = True
        tp[:, candidate[lo:hi]] = hit.T
    return tp


# --------------------------------------------------------------------------- metrics


def evaluate_detection(
    ground_truth: Mapping, predictions: Mapping, subset: str = "test", tiou: Sequence[float] = DEFAULT_TIOU
) -> DetectionResult:
    """Evaluate parsed ground truth against parsed predictions (the JSON dicts, so training can call it in memory).

    Predictions on videos that are absent from ``subset`` count as false positives; labels
    unknown to the kept ground truth are dropped (see ``DetectionResult.dropped_labels``).
    """
    thresholds = np.asarray(tiou, dtype=np.float64).reshape(-1)
    if len(thresholds) == 0:
        raise SentilocError("tiou: give at least one threshold in (0, 1]")
    gt, classes, videos = _flatten_ground_truth(ground_truth, subset)
    pred, score, dropped = _flatten_predictions(predictions, classes, videos)
    n_tiou, n_classes = len(thresholds), len(classes)
    ranked = _rank_order(pred.label, score)
    tp = _match(gt, pred, ranked, thresholds, len(videos))
    # ranked is sorted by class: class c owns the columns first[c]:first[c + 1]
    first = np.searchsorted(pred.label[ranked], np.arange(n_classes + 1))
    n_positive = np.bincount(gt.label, minlength=n_classes)
    ap, precision, recall = (np.zeros((n_tiou, n_classes)) for _ in range(3))
    for c in range(n_classes):  # a class without predictions keeps AP = P = R = 0
        if first[c + 1] > first[c]:
            columns = tp[:, first[c]:first[c + 1]]
            ap[:, c], precision[:, c], recall[:, c] = ranked_metrics(columns, n_positive[c])
    return _result(thresholds, classes, ap, precision, recall, dropped)


def _result(
    thresholds: np.ndarray, classes: list[str], ap: np.ndarray, precision: np.ndarray, recall: np.ndarray,
    dropped: dict[str, int],
) -> DetectionResult:
    """Average the per-class arrays ``(n_tiou, n_classes)``; F2 from the class-averaged P and R."""
    n_tiou = len(thresholds)
    m_ap, p, r = (x.mean(axis=1) if classes else np.zeros(n_tiou) for x in (ap, precision, recall))
    denominator = 4 * p + r
    f2 = np.divide(5 * p * r, denominator, out=np.zeros(n_tiou), where=denominator > 0)
    return DetectionResult(
        tiou=[float(x) for x in thresholds],
        mAP=[float(x) for x in m_ap],
        average_mAP=_mean(m_ap),
        class_order=list(classes),
        ap=ap,
        class_ap={label: float(ap[:, c].mean()) for c, label in enumerate(classes)},
        precision=[float(x) for x in p],
        recall=[float(x) for x in r],
        f2=[float(x) for x in f2],
        dropped_labels=dropped,
    )


# --------------------------------------------------------------------------- reporting


def table_row(metrics: Mapping[str, Any]) -> dict[str, float]:
    """A result's ``to_json()`` as the flat columns of study tables, in percent and table order:
    mAP per tIoU (``mAP@0.1``), ``avg_mAP``, ``recall``, ``f2``, then one ``AP_<class>`` per class."""
    row = {f"mAP@{t:.2f}".rstrip("0"): 100 * v for t, v in zip(metrics["tiou"], metrics["mAP"])}
    row.update({"avg_mAP": 100 * metrics["average_mAP"], "recall": 100 * metrics["recall_avg"],
                "f2": 100 * metrics["f2_avg"]})
    row.update({f"AP_{label}": 100 * v for label, v in metrics["class_ap"].items()})
    return row


def format_table(result: DetectionResult) -> str:
    """Metrics in percent: one row per tIoU, an average row, and the class-wise AP by name."""
    lines = [f"{'tIoU':>6} {'mAP':>7} {'Recall':>7} {'Prec.':>7} {'F2':>7}"]
    for row in zip(result.tiou, result.mAP, result.recall, result.precision, result.f2):
        lines.append(f"{row[0]:>6.2f} " + " ".join(f"{100 * x:>7.2f}" for x in row[1:]))
    averages = [result.average_mAP, _mean(result.recall), _mean(result.precision), _mean(result.f2)]
    lines.append(f"{'avg':>6} " + " ".join(f"{100 * x:>7.2f}" for x in averages))
    lines.append("class-wise AP: " + ", ".join(f"{label} {100 * v:.2f}" for label, v in result.class_ap.items()))
    return "\n".join(lines)


def check_inside_videos(pred_path: Path | str, predictions: Mapping, durations: Mapping[str, float]) -> None:
    """Refuse predictions that end more than :data:`DURATION_SLACK_S` past their video (videos without a duration pass)."""
    for video_id, entries in predictions["results"].items():
        if video_id not in durations or not entries:
            continue
        end = max(finite_number(entry["segment"][1]) for entry in entries)
        if end > durations[video_id] + DURATION_SLACK_S:
            raise SentilocError(f"{pred_path}: video {video_id!r} has a prediction ending at {end} s, past the video "
                                f"({durations[video_id]} s); predictions are seconds within the video")


def has_segments(ground_truth: Mapping, subset: str) -> bool:
    """Whether a validated ground truth holds at least one segment in ``subset``."""
    return any(entry["subset"] == subset and entry["annotations"] for entry in ground_truth["database"].values())


def run_evaluate(
    gt_path: Path | str,
    pred_path: Path | str,
    subset: str = "test",
    tiou_spec: str = "0.1:0.3:0.05",
    json_out: Path | str | None = None,
    overwrite: bool = False,
) -> DetectionResult:
    """``sentiloc evaluate``: load, evaluate, optionally write the JSON atomically; the caller prints the table.

    The clobber check runs first so that a refused run costs nothing, and an empty subset is an
    error here (a typo in ``--subset`` would otherwise print a table of zeros). When the ground truth
    sits in a dataset folder, predictions far past a video's end (``len_duration_dict.json``) are refused.
    """
    if json_out is not None:
        refuse_clobber(Path(json_out), overwrite)
    thresholds = parse_tiou(tiou_spec)
    ground_truth = ground_truth_with(gt_path, subset)
    predictions = load_predictions(pred_path)
    check_durations(gt_path, predictions, pred_path)
    result = evaluate_detection(ground_truth, predictions, subset, thresholds)
    if json_out is not None:
        atomic_write_json(Path(json_out), result.to_json())
    return result


def ground_truth_with(gt_path: Path | str, subset: str) -> dict:
    """The validated ground truth of ``gt_path``, refused when ``subset`` holds no segment (a typo would score zeros)."""
    ground_truth = load_ground_truth(gt_path)
    if not has_segments(ground_truth, subset):
        raise SentilocError(f"{gt_path}: no ground-truth segment in subset {subset!r}; check --subset")
    return ground_truth


def check_durations(gt_path: Path | str, predictions: Mapping, source: Path | str) -> None:
    """When the ground truth sits in a dataset folder, refuse predictions far past their video (``len_duration_dict.json``)."""
    durations_file = Path(gt_path).parent / layout.DURATION_FILE
    if durations_file.is_file():
        check_inside_videos(source, predictions, read_number_dict(durations_file.parent, layout.DURATION_FILE, "duration"))
