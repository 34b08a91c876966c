"""Exact TSL-300 / ActivityNet-style detection metrics, vectorised.

Definitions follow the reference evaluator (``shared/fixtures/eval/README.md``): per class and
tIoU threshold, predictions of all videos are ranked by score (equal scores: the one listed
later in the prediction file first, the reference's observed order) and greedily matched to
the highest-tIoU unmatched ground-truth segment of their video; AP is VOC-2011 interpolated;
TSL-300's Precision/Recall are the *means of the cumulative precision/recall curves*, averaged
over classes, and F2 combines those. Two reference defects are fixed: a class without
predictions scores 0 (the reference crashes), and F2 is 0 where P = R = 0 (the reference gives NaN).

Matching is sequential only *within* one (class, video) group, so the loop runs over the rank
of a prediction inside its group (at most the largest number of predictions per video), each
round resolving every group and every threshold at once with array operations.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiloc.errors import SentilocError
from sentiloc.io import atomic_write_json, load_json, refuse_clobber

DEFAULT_TIOU = np.linspace(0.1, 0.3, 5)
REFERENCE_EVAL_S = 2.0


def parse_tiou(spec: str) -> np.ndarray:
    """``"0.1:0.3:0.05"`` (inclusive stop) or ``"0.1,0.5"`` -> thresholds in (0, 1]."""
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            values = start + step * np.arange(int(math.floor((stop - start) / step + 1e-9)) + 1)
        else:
            values = np.array([float(x) for x in spec.split(",") if x.strip()])
    except ValueError:
        raise SentilocError(
            f"--tiou {spec!r}: expected START:STOP:STEP (e.g. 0.1:0.3:0.05) or a comma list (e.g. 0.1,0.5)"
        ) from None
    values = np.round(values, 10)
    if len(values) == 0 or (values <= 0).any() or (values > 1).any():
        raise SentilocError(f"--tiou {spec!r}: thresholds must lie in (0, 1]")
    return values


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError
    return number


def load_ground_truth(path: Path | str) -> dict:
    """Read and validate a TSL-300 ``gt.json``; errors name the file, the video and the fix."""
    path = Path(path)
    raw = load_json(path, "ground truth")
    database = raw.get("database") if isinstance(raw, dict) else None
    if not isinstance(database, dict):
        raise SentilocError(f'{path}: no top-level "database" object; expected the TSL-300 gt.json schema')
    for video_id, entry in database.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations", []), list):
            raise SentilocError(f'{path}: video {video_id!r} needs {{"subset": ..., "annotations": [...]}}')
        for annotation in entry.get("annotations", []):
            try:
                start, end = annotation["segment"]
                _seconds(start), _seconds(end)
                str(annotation["label"])
            except (KeyError, TypeError, ValueError):
                raise SentilocError(
                    f'{path}: video {video_id!r} has a malformed annotation {annotation!r}; '
                    'expected {"segment": [start_s, end_s], "label": "p"|"n"} with numbers or numeric strings'
                ) from None
    return raw


def load_predictions(path: Path | str) -> dict:
    """Read and validate an ActivityNet-style predictions file."""
    path = Path(path)
    raw = load_json(path, "predictions")
    results = raw.get("results") if isinstance(raw, dict) else None
    if not isinstance(results, dict):
        raise SentilocError(f'{path}: no top-level "results" object; expected {{"results": {{video: [...]}}}}')
    for video_id, entries in results.items():
        if not isinstance(entries, list):
            raise SentilocError(f"{path}: results of video {video_id!r} must be a list of segments")
        for entry in entries:
            try:
                start, end = entry["segment"]
                _seconds(start), _seconds(end), _seconds(entry["score"])
                str(entry["label"])
            except (KeyError, TypeError, ValueError):
                raise SentilocError(
                    f'{path}: video {video_id!r} has a malformed prediction {entry!r}; expected '
                    '{"label": ..., "score": finite number, "segment": [start_s, end_s]}'
                ) from None
    return raw


@dataclass
class DetectionResult:
    """All TSL-300 detection metrics; every value is a fraction in [0, 1]."""

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
        """Plain-JSON view (the ``--json`` output)."""
        return {
            "tiou": self.tiou,
            "mAP": self.mAP,
            "average_mAP": self.average_mAP,
            "class_ap": self.class_ap,
            "ap_per_tiou": {label: [float(x) for x in self.ap[:, c]] for c, label in enumerate(self.class_order)},
            "recall": self.recall,
            "precision": self.precision,
            "f2": self.f2,
            "recall_avg": float(np.mean(self.recall)),
            "precision_avg": float(np.mean(self.precision)),
            "f2_avg": float(np.mean(self.f2)),
            "dropped_labels": self.dropped_labels,
        }


@dataclass
class _Flat:
    """Segments flattened into arrays, in file order."""

    video: np.ndarray
    label: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray


def _flatten_gt(ground_truth: Mapping, subset: str) -> tuple[_Flat, list[str], dict[str, int]]:
    videos: dict[str, int] = {}
    classes: dict[str, int] = {}
    rows = []
    for video_id, entry in ground_truth["database"].items():
        if entry.get("subset") != subset:
            continue
        v = videos.setdefault(video_id, len(videos))
        for annotation in entry.get("annotations", []):
            c = classes.setdefault(str(annotation["label"]), len(classes))
            start, end = annotation["segment"]
            rows.append((v, c, _seconds(start), _seconds(end)))
    array = np.array(rows, dtype=np.float64).reshape(-1, 4)
    flat = _Flat(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2], array[:, 3], np.ones(len(array)))
    return flat, list(classes), videos


def _as_float(values: list, what: str) -> np.ndarray:
    """Numbers or numeric strings -> float64 array, refusing NaN/inf (one conversion, no loop)."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SentilocError(f"{what}: a segment bound or score is not a number") from None
    if not np.isfinite(array).all():
        raise SentilocError(f"{what}: a segment bound or score is NaN or infinite")
    return array


def _flatten_predictions(predictions: Mapping, classes: Sequence[str], videos: Mapping[str, int]) -> tuple[_Flat, dict[str, int]]:
    index = {label: c for c, label in enumerate(classes)}
    video, label, segments, scores = [], [], [], []
    for video_id, entries in predictions["results"].items():
        v = videos.get(video_id, -1)
        for entry in entries:
            video.append(v)
            label.append(index.get(str(entry["label"]), -1))
            segments.append(entry["segment"])
            scores.append(entry["score"])
    label_array = np.array(label, dtype=np.int64)
    known = label_array >= 0
    dropped: dict[str, int] = {}
    if not known.all():
        for video_id, entries in predictions["results"].items():
            for entry in entries:
                if str(entry["label"]) not in index:
                    dropped[str(entry["label"])] = dropped.get(str(entry["label"]), 0) + 1
        warnings.warn(f"dropped predictions with labels absent from the ground truth: {dropped}", stacklevel=3)
    bounds = _as_float(segments, "predictions").reshape(-1, 2)[known]
    return (
        _Flat(np.array(video, dtype=np.int64)[known], label_array[known], bounds[:, 0], bounds[:, 1],
              _as_float(scores, "predictions")[known]),
        dropped,
    )


def _interpolated_ap(tp: np.ndarray, n_positive: int) -> np.ndarray:
    """VOC-2011 AP for each row of ``tp`` ``(n_tiou, K)`` (ranked true-positive flags)."""
    n_tiou, k = tp.shape
    tp_cum = np.cumsum(tp, axis=1)
    recall = tp_cum / n_positive
    precision = tp_cum / np.arange(1, k + 1)
    mprec = np.concatenate([np.zeros((n_tiou, 1)), precision, np.zeros((n_tiou, 1))], axis=1)
    mrec = np.concatenate([np.zeros((n_tiou, 1)), recall, np.ones((n_tiou, 1))], axis=1)
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    step = np.diff(mrec, axis=1)
    return np.sum(np.where(step != 0, step * mprec[:, 1:], 0.0), axis=1)


def _match_class(pred: _Flat, gt: _Flat, tiou: np.ndarray) -> np.ndarray:
    """``(n_tiou, K)`` true-positive flags of one class's predictions, in rank order."""
    k = len(pred.score)
    # Equal scores: the prediction listed later ranks first (stable ascending sort, reversed).
    order = np.argsort(pred.score, kind="stable")[::-1]
    video = pred.video[order]
    start, end = pred.start[order], pred.end[order]
    n_videos = int(max(gt.video.max(initial=-1), video.max(initial=-1))) + 1
    # ground truth of this class grouped by video, padded to (n_videos, G)
    gt_count = np.bincount(gt.video, minlength=n_videos)
    width = max(1, int(gt_count.max(initial=0)))
    gt_order = np.argsort(gt.video, kind="stable")
    slot = np.arange(len(gt.video)) - np.repeat(np.cumsum(gt_count) - gt_count, gt_count)
    gt_start = np.full((n_videos, width), np.nan)
    gt_end = np.full((n_videos, width), np.nan)
    gt_start[gt.video[gt_order], slot] = gt.start[gt_order]
    gt_end[gt.video[gt_order], slot] = gt.end[gt_order]
    # rank of each prediction within its video
    has_video = video >= 0
    tp = np.zeros((len(tiou), k), dtype=bool)
    idx = np.flatnonzero(has_video)
    if len(idx) == 0:
        return tp
    v = video[idx]
    by_video = np.argsort(v, kind="stable")
    counts = np.bincount(v, minlength=n_videos)
    rank_in_video = np.empty(len(idx), dtype=np.int64)
    rank_in_video[by_video] = np.arange(len(idx)) - np.repeat(np.cumsum(counts) - counts, counts)[np.arange(len(idx))]
    matched = np.zeros((n_videos, len(tiou), width), dtype=bool)
    for r in range(int(rank_in_video.max()) + 1):
        sel = idx[rank_in_video == r]
        vv = video[sel]
        s0, e0 = start[sel, None], end[sel, None]
        gs, ge = gt_start[vv], gt_end[vv]
        inter = np.clip(np.minimum(e0, ge) - np.maximum(s0, gs), 0.0, None)
        union = (e0 - s0) + (ge - gs) - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(np.isnan(gs), -np.inf, inter / union)
        ok = (iou[:, None, :] >= tiou[None, :, None]) & ~matched[vv]
        candidate = np.where(ok, iou[:, None, :], -np.inf)
        # equal tIoUs: the later ground-truth segment first (reversed stable order, as the reference)
        best = width - 1 - np.argmax(candidate[:, :, ::-1], axis=2)
        hit = ok.any(axis=2)
        rows, thr = np.nonzero(hit)
        matched[vv[rows], thr, best[rows, thr]] = True
        tp[:, sel] = hit.T
    return tp


def evaluate_detection(
    ground_truth: Mapping, predictions: Mapping, subset: str = "test", tiou: Sequence[float] = DEFAULT_TIOU
) -> DetectionResult:
    """Evaluate parsed ground truth against parsed predictions (see module docstring)."""
    thresholds = np.asarray(tiou, dtype=np.float64)
    gt, classes, videos = _flatten_gt(ground_truth, subset)
    pred, dropped = _flatten_predictions(predictions, classes, videos)
    n_tiou = len(thresholds)
    ap = np.zeros((n_tiou, len(classes)))
    mean_precision = np.zeros((n_tiou, len(classes)))
    mean_recall = np.zeros((n_tiou, len(classes)))
    for c in range(len(classes)):
        mine = pred.label == c
        if not mine.any():
            continue  # the reference crashes here; a class without predictions scores 0
        g = gt.label == c
        gt_c = _Flat(gt.video[g], gt.label[g], gt.start[g], gt.end[g], gt.score[g])
        pred_c = _Flat(pred.video[mine], pred.label[mine], pred.start[mine], pred.end[mine], pred.score[mine])
        tp = _match_class(pred_c, gt_c, thresholds)
        n_positive = int(g.sum())
        ap[:, c] = _interpolated_ap(tp, n_positive)
        tp_cum = np.cumsum(tp, axis=1)
        mean_precision[:, c] = np.mean(tp_cum / np.arange(1, tp.shape[1] + 1), axis=1)
        mean_recall[:, c] = np.mean(tp_cum / n_positive, axis=1)
    precision = mean_precision.mean(axis=1) if classes else np.zeros(n_tiou)
    recall = mean_recall.mean(axis=1) if classes else np.zeros(n_tiou)
    denominator = 4 * precision + recall
    f2 = np.divide(5 * precision * recall, denominator, out=np.zeros(n_tiou), where=denominator > 0)
    m_ap = ap.mean(axis=1) if classes else np.zeros(n_tiou)
    return DetectionResult(
        tiou=[float(x) for x in thresholds],
        mAP=[float(x) for x in m_ap],
        average_mAP=float(m_ap.mean()),
        class_order=classes,
        ap=ap,
        class_ap={label: float(ap[:, c].mean()) for c, label in enumerate(classes)},
        precision=[float(x) for x in precision],
        recall=[float(x) for x in recall],
        f2=[float(x) for x in f2],
        dropped_labels=dropped,
    )


def format_table(result: DetectionResult) -> str:
    """Metrics table in percent: one row per tIoU, an average row and the class-wise AP."""
    lines = [f"{'tIoU':>6} {'mAP':>7} {'Recall':>7} {'Prec.':>7} {'F2':>7}"]
    for row in zip(result.tiou, result.mAP, result.recall, result.precision, result.f2):
        lines.append(f"{row[0]:>6.2f} " + " ".join(f"{100 * x:>7.2f}" for x in row[1:]))
    averages = [result.average_mAP, np.mean(result.recall), np.mean(result.precision), np.mean(result.f2)]
    lines.append(f"{'avg':>6} " + " ".join(f"{100 * x:>7.2f}" for x in averages))
    lines.append("class-wise AP: " + ", ".join(f"{label} {100 * v:.2f}" for label, v in result.class_ap.items()))
    return "\n".join(lines)


def run_evaluate(
    gt_path: Path | str,
    pred_path: Path | str,
    subset: str = "test",
    tiou_spec: str = "0.1:0.3:0.05",
    json_out: Path | str | None = None,
    overwrite: bool = False,
) -> DetectionResult:
    """``sentiloc evaluate``: load, evaluate, print the table, optionally write JSON atomically."""
    if json_out is not None:
        refuse_clobber(Path(json_out), overwrite)
    thresholds = parse_tiou(tiou_spec)
    result = evaluate_detection(load_ground_truth(gt_path), load_predictions(pred_path), subset, thresholds)
    if not result.class_order:
        raise SentilocError(f"{gt_path}: no ground-truth segment in subset {subset!r}; check --subset")
    print(format_table(result))
    if json_out is not None:
        atomic_write_json(Path(json_out), result.to_json())
    return result


def synthetic_case(n_videos: int = 100, preds_per_video: int = 90, seed: int = 0) -> tuple[dict, dict]:
    """A realistic evaluation problem (~6 GT segments and ``preds_per_video`` proposals per video)."""
    rng = np.random.default_rng(seed)
    database, results = {}, {}
    for i in range(n_videos):
        duration = float(rng.uniform(120, 600))
        starts = np.sort(rng.uniform(0, duration - 20, 6))
        gt = [{"segment": [f"{s:.3f}", f"{s + rng.uniform(2, 15):.3f}"], "label": str(rng.choice(["p", "n"]))} for s in starts]
        database[f"v{i}"] = {"subset": "test", "annotations": gt}
        centres = rng.uniform(0, duration, preds_per_video)
        lengths = rng.uniform(1, 20, preds_per_video)
        results[f"v{i}"] = [
            {"label": str(rng.choice(["p", "n"])), "score": float(rng.uniform()), "segment": [float(c - l / 2), float(c + l / 2)]}
            for c, l in zip(centres, lengths)
        ]
    return {"database": database}, {"results": results}


def benchmark_evaluator(n_videos: int = 100, preds_per_video: int = 90, seed: int = 0, repeats: int = 5) -> dict:
    """Median wall time of :func:`evaluate_detection` on :func:`synthetic_case`, against the reference."""
    ground_truth, predictions = synthetic_case(n_videos, preds_per_video, seed)
    evaluate_detection(ground_truth, predictions)
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        evaluate_detection(ground_truth, predictions)
        times.append(time.perf_counter() - tic)
    median = float(np.median(times))
    return {
        "proposals": n_videos * preds_per_video,
        "videos": n_videos,
        "median_s": median,
        "reference_s": REFERENCE_EVAL_S,
        "speedup": REFERENCE_EVAL_S / median,
    }
