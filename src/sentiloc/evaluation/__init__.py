"""Evaluation: exact TSL-300 detection metrics and validation-only model-selection metrics."""

from sentiloc.evaluation.detection import (
    DEFAULT_TIOU,
    DetectionResult,
    evaluate_detection,
    format_table,
    load_ground_truth,
    load_predictions,
    parse_tiou,
    run_evaluate,
)

__all__ = [
    "DEFAULT_TIOU",
    "DetectionResult",
    "evaluate_detection",
    "format_table",
    "load_ground_truth",
    "load_predictions",
    "parse_tiou",
    "run_evaluate",
]
