"""Recognition metrics (docs/methods.md §8): clip accuracy, UAR, WAR and keyframe detection mAP.

Ground truth is a recognition DATA folder (``classes.txt``, the labels file, optional
``keyframes.json``), read by the data layer's strict readers. Predictions are the file that
``sentiloc predict`` writes on a recognition checkpoint
(:data:`~sentiloc.postprocess.recognition.PREDICTIONS_VERSION`). Its ``classes`` may list the
classes in another order than ``classes.txt``, or only some of them: labels are matched by name,
and a name ``classes.txt`` does not know is an error.

Over the labelled videos of a subset (``all``, ``train``, ``test`` or ``fold:K``), with ``n_c`` the
videos of class c and ``M`` the confusion matrix (rows true, columns predicted):

    accuracy = WAR = Σ_c M[c, c] / Σ_c n_c,     recall_c = M[c, c] / n_c,
    UAR = mean of recall_c over the classes with n_c > 0

(WAR, the recall weighted by ``n_c``, is the accuracy itself). A video of the subset without a
prediction counts as wrong: it is in ``n_c`` but in no cell of ``M`` (so a row of ``M`` sums to
``n_c`` minus its missing videos), and a warning names how many there are.

Keyframe detection scores the ``evidence`` segments as class-agnostic detections of the
``keyframes.json`` spans of the subset's annotated videos (those with an entry there), with the
exact detection evaluator (:func:`~sentiloc.evaluation.detection.evaluate_detection`, VOC AP from
:mod:`sentiloc.evaluation.ap`) at tIoU 0.1, 0.2, ..., 0.5. Inclusive segment spans ``[first, last]``
become ``[first, last + 1)``, so tIoU counts shared segments over segments in either. It is
reported when ``keyframes.json`` exists, the subset holds a span and the predictions carry evidence.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_json, load_json, refuse_clobber
from sentiloc.data.recognition import layout
from sentiloc.data.recognition.annotations import (
    read_classes,
    read_keyframes,
    read_labels,
)
from sentiloc.evaluation.detection import evaluate_detection
from sentiloc.postprocess.recognition import PREDICTIONS_VERSION

logger = logging.getLogger(__name__)

#: tIoU thresholds of keyframe detection (CTEN's Ekman-6 protocol), exact decimals.
KEYFRAME_TIOU = (0.1, 0.2, 0.3, 0.4, 0.5)
#: How far the class probabilities of one prediction may sum away from 1 (float32 softmax, JSON rounding).
SCORE_SUM_TOLERANCE = 1e-3
#: The metrics :func:`fold_summary` averages over folds.
FOLD_METRICS = ("accuracy", "uar", "war")
SUBSET_FORMS = "all, train, test or fold:K"
_ENTRY_FORM = ('{"label": class, "scores": [C probabilities], "attention": [T values in [0, 1]], '
               '"evidence": [{"segment": [first, last], "score": number}]}')
_KEYFRAME_LABEL = "keyframe"


# --------------------------------------------------------------------------- loading


def load_ground_truth(path: Path | str) -> dict:
    """The validated ground truth of a recognition DATA folder (or of one labels file inside it).

    ``path`` is the DATA folder (its ``labels.csv``) or a labels file such as
    ``DATA/labels_split03.csv`` (``data.labels_file``). Returns ``{"classes": [...], "labels": {video:
    class index | None}, "split": {video: "train" | "test" | None}, "fold": {video: K | None},
    "keyframes": {video: [[first, last], ...]} | None}``, videos in file order.
    """
    path = Path(path)
    root, labels_file = (path.parent, path.name) if path.is_file() else (path, layout.LABELS_FILE)
    classes = read_classes(root)
    rows = read_labels(root, classes, labels_file)
    index = {name: c for c, name in enumerate(classes)}
    keyframes = read_keyframes(root, rows)
    return {
        "classes": list(classes),
        "labels": {video: None if row.label is None else index[row.label] for video, row in rows.items()},
        "split": {video: row.split for video, row in rows.items()},
        "fold": {video: row.fold for video, row in rows.items()},
        "keyframes": None if keyframes is None else {v: [list(s) for s in spans] for v, spans in keyframes.items()},
    }


def load_predictions(path: Path | str) -> dict:
    """Read and validate a recognition predictions file (see :func:`parse_predictions`)."""
    path = Path(path)
    return parse_predictions(load_json(path, "predictions"), path)


def _finite(value: object) -> bool:
    """Whether ``value`` is a finite JSON number (no bool, no string, no integer beyond the float range)."""
    try:
        return type(value) in (int, float) and math.isfinite(value)
    except OverflowError:
        return False


def _numbers(values: object) -> np.ndarray | None:
    """``values`` as a float64 array when it is a list of finite numbers (see :func:`_finite`), else None."""
    if not isinstance(values, list) or not all(map(_finite, values)):
        return None
    return np.array(values, dtype=np.float64)


def _evidence_problem(evidence: object, n_segments: int) -> str | None:
    """Why an ``evidence`` list on a clip of ``n_segments`` segments is malformed, or None."""
    if not isinstance(evidence, list):
        return "has evidence that is not a list of segments"
    for item in evidence:
        segment = item.get("segment") if isinstance(item, dict) else None
        if not (isinstance(segment, list) and len(segment) == 2 and all(type(x) is int for x in segment)
                and _finite(item.get("score"))):
            return f'has evidence {str(item)[:80]}, not {{"segment": [first, last], "score": finite number}}'
        if not 0 <= segment[0] <= segment[1] < n_segments:
            return (f"has evidence {str(segment)[:80]}, not inclusive segment indices 0 <= first <= last < "
                    f"{n_segments} (the attention's length)")
    return None


def _entry_problem(entry: object, classes: Sequence[str]) -> str | None:
    """Why one video's prediction is malformed, or None (``attention`` may be absent, and then ``evidence`` too)."""
    if not isinstance(entry, dict):
        return f"is not {_ENTRY_FORM}"
    if entry.get("label") not in classes:
        return f"has label {str(entry.get('label'))[:60]!r}, not one of the file's classes {list(classes)[:10]}"
    scores = _numbers(entry.get("scores"))
    if scores is None or len(scores) != len(classes):
        return f"needs scores: a list of {len(classes)} finite numbers (one per class of the file)"
    if scores.min() < 0 or abs(scores.sum() - 1.0) > SCORE_SUM_TOLERANCE:
        return f"has scores summing to {scores.sum():.6g} or below 0; scores are softmax probabilities"
    attention = entry.get("attention")
    values = None if attention is None else _numbers(attention)
    if attention is not None and (values is None or len(values) == 0 or values.min() < 0 or values.max() > 1):
        return "has attention that is not a non-empty list of finite numbers in [0, 1]"
    evidence = entry.get("evidence")
    if evidence is not None and values is None:
        return "has evidence but no attention; evidence segments index the attention's T segments"
    return None if evidence is None else _evidence_problem(evidence, len(values))


def parse_predictions(raw: Any, path: Path | str) -> dict:
    """Validate parsed recognition predictions; ``path`` names their source in the one-line errors."""
    if not isinstance(raw, dict) or raw.get("version") != PREDICTIONS_VERSION:
        raise SentilocError(f'{path}: not a recognition predictions file; expected {{"version": "{PREDICTIONS_VERSION}", '
                            '"classes": [...], "results": {video: {...}}} (write it with sentiloc predict)')
    classes = raw.get("classes")
    if (not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) and c for c in classes)
            or len(set(classes)) != len(classes)):
        raise SentilocError(f'{path}: "classes" must list at least two distinct class names, in the order of '
                            'every "scores" list; fix or regenerate the file')
    results = raw.get("results")
    if not isinstance(results, dict) or not results:
        raise SentilocError(f'{path}: "results" must be a non-empty object {{video: prediction}}; '
                            "predict a split first (sentiloc predict)")
    for video_id, entry in results.items():
        problem = _entry_problem(entry, classes)
        if problem:
            raise SentilocError(f"{path}: video {video_id!r} {problem}; fix or regenerate the file")
    return raw


# --------------------------------------------------------------------------- subsets


def _subset_rule(ground_truth: Mapping, subset: str) -> tuple[str, object]:
    """``(column, value)`` of a ``train``/``test``/``fold:K`` subset: the videos with ``ground_truth[column][v] == value``."""
    if subset in layout.SPLITS:
        if all(split is None for split in ground_truth["split"].values()):
            raise SentilocError(f"subset {subset!r}: the labels file has no split column; use all or fold:K")
        return "split", subset
    kind, _, number = subset.partition(":")
    if kind != "fold" or not (number.isascii() and number.isdigit()):
        raise SentilocError(f"subset {subset!r}: use {SUBSET_FORMS}")
    folds = sorted({f for f in ground_truth["fold"].values() if f is not None})
    if int(number) not in folds:
        listed = f"folds {folds[0]}..{folds[-1]}" if folds else "no fold column"
        raise SentilocError(f"subset {subset!r}: the labels file has {listed}; use all, train/test or fold:K "
                            "with one of its folds")
    return "fold", int(number)


def subset_videos(ground_truth: Mapping, subset: str) -> list[str]:
    """The labelled videos of ``subset`` (file order); an unknown subset is a one-line error."""
    labelled = [video for video, label in ground_truth["labels"].items() if label is not None]
    if subset == "all":
        return labelled
    column, value = _subset_rule(ground_truth, subset)
    return [video for video in labelled if ground_truth[column][video] == value]


def has_labelled_videos(ground_truth: Mapping, subset: str) -> bool:
    """Whether ``subset`` holds a labelled video (False for an unknown subset)."""
    try:
        return bool(subset_videos(ground_truth, subset))
    except SentilocError:
        return False


def selected_videos(ground_truth: Mapping, subset: str) -> list[str]:
    """:func:`subset_videos`, with a one-line error when the subset holds no labelled video."""
    videos = subset_videos(ground_truth, subset)
    if not videos:
        raise SentilocError(f"subset {subset!r} holds no labelled video; check --subset ({SUBSET_FORMS})")
    return videos


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class KeyframeResult:
    """Class-agnostic keyframe detection: mAP per tIoU threshold, their mean, and the annotated videos scored."""

    tiou: list[float]
    mAP: list[float]
    average_mAP: float
    videos: int

    def to_json(self) -> dict:
        return {"tiou": self.tiou, "mAP": self.mAP, "average_mAP": self.average_mAP, "videos": self.videos}


@dataclass(frozen=True)
class RecognitionResult:
    """Clip recognition metrics of one subset; every rate is a fraction in [0, 1].

    Attributes:
        classes: the C class names, ``classes.txt`` order.
        confusion: ``(C, C)`` int64 counts, rows true class, columns predicted class (predicted videos only).
        support: ``(C,)`` int64 labelled videos of each class in the subset, missing predictions included.
        missing: videos of the subset without a prediction (counted wrong).
        keyframes: keyframe detection, or None when it does not apply (see the module docstring).
    """

    classes: list[str]
    confusion: np.ndarray
    support: np.ndarray
    missing: int
    keyframes: KeyframeResult | None = None

    @property
    def videos(self) -> int:
        return int(self.support.sum())

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy over the subset's labelled videos (= WAR)."""
        return float(np.trace(self.confusion) / self.videos)

    @property
    def recall(self) -> np.ndarray:
        """``(C,)`` recall per class, NaN for a class without videos in the subset."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.confusion) / np.where(self.support > 0, self.support, np.nan)

    @property
    def uar(self) -> float:
        """Unweighted average recall over the classes with videos in the subset."""
        return float(np.nanmean(self.recall))

    def to_json(self) -> dict:
        """``{"classes", "videos", "accuracy", "war", "uar", "per_class_recall", "confusion",
        "missing_predictions", "keyframes"}``; rates are fractions, recall null for a class without videos."""
        recall = self.recall
        return {
            "classes": list(self.classes),
            "videos": self.videos,
            "accuracy": self.accuracy,
            "war": self.accuracy,
            "uar": self.uar,
            "per_class_recall": {name: None if np.isnan(r) else float(r) for name, r in zip(self.classes, recall)},
            "confusion": self.confusion.tolist(),
            "missing_predictions": self.missing,
            "keyframes": None if self.keyframes is None else self.keyframes.to_json(),
        }


# --------------------------------------------------------------------------- metrics


def _class_index(ground_truth: Mapping, predictions: Mapping) -> dict[str, int]:
    """Prediction class name -> ``classes.txt`` index; a name ``classes.txt`` lacks is a one-line error."""
    index = {name: c for c, name in enumerate(ground_truth["classes"])}
    unknown = [name for name in predictions["classes"] if name not in index]
    if unknown:
        raise SentilocError(f"predictions: class(es) {unknown[:5]} are not in {layout.CLASSES_FILE} "
                            f"{list(index)[:10]}; predict with a checkpoint trained on this dataset's classes")
    return index


def evaluate_recognition(ground_truth: Mapping, predictions: Mapping, subset: str = "all") -> RecognitionResult:
    """Score validated predictions against the labelled videos of ``subset`` (``all``, ``train``, ``test``, ``fold:K``).

    Predictions of videos outside the subset are not scored; those of videos absent from the
    labels file are ignored with a warning; a subset video without a prediction counts as wrong
    (warning). An unknown or empty subset, and a predicted class ``classes.txt`` lacks, are errors.
    """
    videos = selected_videos(ground_truth, subset)
    index = _class_index(ground_truth, predictions)
    results = predictions["results"]
    unknown = [video for video in results if video not in ground_truth["labels"]]
    if unknown:
        logger.warning("ignored predictions for %d video(s) absent from the labels file, e.g. %s",
                       len(unknown), unknown[:3])
    n_classes = len(ground_truth["classes"])
    true = np.fromiter((ground_truth["labels"][v] for v in videos), dtype=np.int64, count=len(videos))
    predicted = np.fromiter((index[results[v]["label"]] if v in results else -1 for v in videos),
                            dtype=np.int64, count=len(videos))
    missing = int(np.count_nonzero(predicted < 0))
    if missing:
        logger.warning("%d of %d video(s) of subset %r have no prediction and count as wrong, e.g. %s",
                       missing, len(videos), subset, [v for v in videos if v not in results][:3])
    made = predicted >= 0
    confusion = np.bincount(true[made] * n_classes + predicted[made], minlength=n_classes * n_classes)
    return RecognitionResult(
        classes=list(ground_truth["classes"]),
        confusion=confusion.reshape(n_classes, n_classes),
        support=np.bincount(true, minlength=n_classes),
        missing=missing,
        keyframes=keyframe_detection(ground_truth, predictions, videos),
    )


def keyframe_detection(ground_truth: Mapping, predictions: Mapping, videos: Sequence[str]) -> KeyframeResult | None:
    """Class-agnostic mAP of the evidence against the keyframe spans of ``videos`` (see the module docstring).

    None when it does not apply: no ``keyframes.json``, no span in ``videos``, or no evidence in the predictions.
    """
    keyframes = ground_truth["keyframes"]
    results = predictions["results"]
    annotated = [v for v in videos if keyframes is not None and v in keyframes]
    has_evidence = any(results.get(v, {}).get("evidence") is not None for v in annotated)
    if not has_evidence or not any(keyframes[v] for v in annotated):
        return None
    _check_same_segments(keyframes, results, annotated)
    database = {v: {"subset": "test", "annotations": [{"label": _KEYFRAME_LABEL, "segment": [first, last + 1]}
                                                      for first, last in keyframes[v]]} for v in annotated}
    detections = {v: [{"label": _KEYFRAME_LABEL, "score": item["score"],
                       "segment": [item["segment"][0], item["segment"][1] + 1]}
                      for item in results[v].get("evidence") or []] for v in annotated if v in results}
    result = evaluate_detection({"database": database}, {"results": detections}, "test", KEYFRAME_TIOU)
    return KeyframeResult(list(KEYFRAME_TIOU), result.mAP, result.average_mAP, len(annotated))


def _check_same_segments(keyframes: Mapping[str, list], results: Mapping[str, Mapping], videos: Sequence[str]) -> None:
    """Refuse a keyframe span past the attention of its video's prediction: the two would index different segments."""
    for video in videos:
        attention = results.get(video, {}).get("attention")
        last = max((span[1] for span in keyframes[video]), default=-1)
        if attention is not None and last >= len(attention):
            raise SentilocError(f"{layout.KEYFRAMES_FILE}: video {video!r} has a keyframe ending at segment {last} but "
                                f"its prediction has {len(attention)} segments; keyframes and predictions must index "
                                "the same segments (predict without data.segments pooling, or fix the spans)")


def fold_summary(per_fold: Mapping[str, Mapping]) -> dict:
    """Mean and sample standard deviation over folds of accuracy, UAR and WAR.

    Args:
        per_fold: fold name -> that fold's :meth:`RecognitionResult.to_json`, in fold order.
    Returns:
        ``{"accuracy", "uar", "war": means, "std": {same keys: sample std (n - 1), null for one fold},
        "per_fold": [{"fold", "accuracy", "uar", "war"}]}``.
    """
    if not per_fold:
        raise SentilocError("fold summary: no fold was evaluated")
    values = np.array([[float(metrics[key]) for key in FOLD_METRICS] for metrics in per_fold.values()])
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else None
    return {
        **{key: float(mean[k]) for k, key in enumerate(FOLD_METRICS)},
        "std": {key: None if std is None else float(std[k]) for k, key in enumerate(FOLD_METRICS)},
        "per_fold": [{"fold": fold, **{key: float(row[k]) for k, key in enumerate(FOLD_METRICS)}}
                     for fold, row in zip(per_fold, values)],
    }


# --------------------------------------------------------------------------- reporting


def table_row(metrics: Mapping[str, Any]) -> dict[str, float]:
    """A result's ``to_json()`` as the flat columns of study tables, in percent: ``accuracy`` (= WAR), ``uar``
    and, when the evidence was scored against ``keyframes.json``, ``keyframe_mAP`` (its mean over tIoU)."""
    row = {"accuracy": 100 * metrics["accuracy"], "uar": 100 * metrics["uar"]}
    if metrics.get("keyframes"):
        row["keyframe_mAP"] = 100 * metrics["keyframes"]["average_mAP"]
    return row



def format_table(result: RecognitionResult) -> str:
    """Accuracy (= WAR) and UAR in percent, recall per class, and the keyframe mAP when it applies."""
    missing = f", {result.missing} without a prediction (counted wrong)" if result.missing else ""
    lines = [f"videos: {result.videos}{missing}",
             f"accuracy (WAR) {100 * result.accuracy:.2f} %, UAR {100 * result.uar:.2f} %",
             f"{'class':<16} {'videos':>6} {'recall':>7}"]
    for name, n, recall in zip(result.classes, result.support, result.recall):
        shown = "n/a" if np.isnan(recall) else f"{100 * recall:.2f}"
        lines.append(f"{name[:16]:<16} {int(n):>6} {shown:>7}")
    if result.keyframes is not None:
        kf = result.keyframes
        per_tiou = ", ".join(f"{t:.1f}: {100 * m:.2f}" for t, m in zip(kf.tiou, kf.mAP))
        lines.append(f"keyframe mAP (%), {kf.videos} annotated videos, by tIoU: {per_tiou}; "
                     f"average {100 * kf.average_mAP:.2f}")
    return "\n".join(lines)


#: The subset ``sentiloc evaluate --task recognition`` scores unless told otherwise: what ``sentiloc predict`` predicts.
DEFAULT_SUBSET = "test"


def run_evaluate(gt_path: Path | str, pred_path: Path | str, subset: str = DEFAULT_SUBSET,
                 json_out: Path | str | None = None, overwrite: bool = False) -> RecognitionResult:
    """``sentiloc evaluate --task recognition``: score a prediction file against a recognition DATA folder.

    ``subset`` defaults to ``test`` (what ``sentiloc predict`` predicts); a dataset with folds only
    needs ``all`` or ``fold:K``. The clobber check runs first, so a refused run costs nothing.
    """
    if json_out is not None:
        refuse_clobber(Path(json_out), overwrite)
    ground_truth = load_ground_truth(gt_path)
    predictions = load_predictions(pred_path)
    result = evaluate_recognition(ground_truth, predictions, subset)
    if json_out is not None:
        atomic_write_json(Path(json_out), result.to_json())
    return result
