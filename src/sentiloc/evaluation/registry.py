"""Evaluator registry: how a task's prediction files are scored against its ground truth.

A task names its evaluator (``Task.evaluator``); studies and apps look it up here instead of
importing one task's metrics: ``detection`` (TSL-300 mAP), ``spotting`` (MEGC interval F1) and
``recognition`` (clip accuracy = WAR, UAR, keyframe mAP).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiloc.core.registry import Registry
from sentiloc.evaluation import detection, recognition, spotting


@dataclass(frozen=True)
class Evaluator:
    """Parsers of the two files, the metric computation, and the one number a table reports.

    Attributes:
        load_ground_truth, load_predictions: path -> validated JSON dict (errors name the file).
        evaluate: ``(ground_truth, predictions, subset) -> result`` with ``to_json()``.
        headline: the key of ``result.to_json()`` that summarises a run (e.g. ``average_mAP``);
            a dotted path reaches into nested metrics (``overall.f1``). Read it with :meth:`headline_value`.
        format: result -> the human-readable table.
        has_ground_truth: ``(ground_truth, subset) -> bool``: is there anything to score in ``subset``.
        run: ``sentiloc evaluate``: ``(gt_path, pred_path, subset=..., json_out=..., overwrite=..., **options)
            -> result``, with the task's default subset.
        options: the keyword options ``run`` takes beyond those (``--tiou``, ``--iou``), by name.
        table_row: ``result.to_json() -> {column: value in %}``, the flat columns of ``sentiloc study``
            tables in the order they are shown; None when runs must not be averaged as separate rows
            (spotting pools its counts over folds: ``sentiloc crossval``).
        fold_summary: ``{fold: result.to_json()} -> dict`` for metrics that are averaged over folds
            rather than pooled (recognition: mean and sample std of accuracy, UAR and WAR); when set,
            ``sentiloc crossval`` reports the mean over folds it returns, not only the metrics of the
            pooled predictions. None: the pooled metrics alone.
    """

    load_ground_truth: Callable[[Path | str], Mapping]
    load_predictions: Callable[[Path | str], Mapping]
    evaluate: Callable[[Mapping, Mapping, str], Any]
    headline: str
    format: Callable[[Any], str]
    has_ground_truth: Callable[[Mapping, str], bool]
    run: Callable[..., Any]
    options: tuple[str, ...] = ()
    table_row: Callable[[Mapping[str, Any]], dict[str, float]] | None = None
    fold_summary: Callable[[Mapping[str, Mapping]], dict] | None = None

    def headline_value(self, metrics: Mapping[str, Any]) -> float:
        """The headline number of ``metrics`` (a ``result.to_json()``), following the dotted path."""
        value: Any = metrics
        for key in self.headline.split("."):
            value = value[key]
        return float(value)


EVALUATORS: Registry[Evaluator] = Registry("evaluator")

EVALUATORS.register("detection")(Evaluator(
    load_ground_truth=detection.load_ground_truth,
    load_predictions=detection.load_predictions,
    evaluate=detection.evaluate_detection,
    headline="average_mAP",
    format=detection.format_table,
    has_ground_truth=detection.has_segments,
    run=detection.run_evaluate,
    options=("tiou_spec",),
    table_row=detection.table_row,
))

EVALUATORS.register("spotting")(Evaluator(
    load_ground_truth=spotting.load_ground_truth,
    load_predictions=spotting.load_predictions,
    evaluate=spotting.evaluate_spotting,
    headline="overall.f1",
    format=spotting.format_table,
    has_ground_truth=spotting.has_instances,
    run=spotting.run_evaluate,
    options=("iou",),
))

EVALUATORS.register("recognition")(Evaluator(
    load_ground_truth=recognition.load_ground_truth,
    load_predictions=recognition.load_predictions,
    evaluate=recognition.evaluate_recognition,
    headline="accuracy",
    format=recognition.format_table,
    has_ground_truth=recognition.has_labelled_videos,
    run=recognition.run_evaluate,
    table_row=recognition.table_row,
    fold_summary=recognition.fold_summary,
))
