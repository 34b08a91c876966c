"""Evaluator registry: how a task's prediction files are scored against its ground truth.

A task names its evaluator (``Task.evaluator``); studies and apps look it up here instead of
importing one task's metrics. Spotting (interval F1) and recognition (accuracy, UAR, WAR) add
entries beside ``detection``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiloc.core.registry import Registry
from sentiloc.evaluation import detection


@dataclass(frozen=True)
class Evaluator:
    """Parsers of the two files, the metric computation, and the one number a table reports.

    Attributes:
        load_ground_truth, load_predictions: path -> validated JSON dict (errors name the file).
        evaluate: ``(ground_truth, predictions, subset) -> result`` with ``to_json()``.
        headline: the key of ``result.to_json()`` that summarises a run (e.g. ``average_mAP``).
        format: result -> the human-readable table.
        has_ground_truth: ``(ground_truth, subset) -> bool``: is there anything to score in ``subset``.
    """

    load_ground_truth: Callable[[Path | str], Mapping]
    load_predictions: Callable[[Path | str], Mapping]
    evaluate: Callable[[Mapping, Mapping, str], Any]
    headline: str
    format: Callable[[Any], str]
    has_ground_truth: Callable[[Mapping, str], bool]


EVALUATORS: Registry[Evaluator] = Registry("evaluator")

EVALUATORS.register("detection")(Evaluator(
    load_ground_truth=detection.load_ground_truth,
    load_predictions=detection.load_predictions,
    evaluate=detection.evaluate_detection,
    headline="average_mAP",
    format=detection.format_table,
    has_ground_truth=detection.has_segments,
))
