"""Average precision of a ranked list: the one VOC-2011 implementation every evaluator uses."""

from __future__ import annotations

import numpy as np


def ranked_metrics(tp: np.ndarray, n_positive: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, mean precision and mean recall of ranked true-positive flags, over the last axis.

    VOC-2011 AP pads the curve with (R 0, P 0) and (R 1, P 0), replaces each precision by the
    best precision at that or a later rank, and sums (R_k - R_k-1) * P_k where recall rises.
    Recall rises by exactly 1/N at each true positive and nowhere else, so the sum is the
    interpolated precision at the true positives, divided by N: fewer temporaries, same value.
    The mean precision and recall are TSL-300's curve means (docs/methods.md §3).

    Args:
        tp: ``(..., K)`` 0/1 flags of the K predictions in rank order (best first).
        n_positive: N, the number of ground-truth positives (> 0).

    Returns:
        ``(ap, mean_precision, mean_recall)``, each of shape ``tp.shape[:-1]``.
    """
    tp_cum = np.cumsum(tp, axis=-1)
    precision = tp_cum / np.arange(1, tp.shape[-1] + 1)
    envelope = np.flip(np.maximum.accumulate(np.flip(precision, axis=-1), axis=-1), axis=-1)
    ap = np.where(tp, envelope, 0.0).sum(axis=-1) / n_positive
    return ap, precision.mean(axis=-1), tp_cum.mean(axis=-1) / n_positive


def voc_ap(hits: np.ndarray, n_positive: int) -> float:
    """AP of one ranked 0/1 hit list; 0 when there are no positives or no predictions."""
    hits = np.asarray(hits, dtype=float)
    if n_positive == 0 or hits.size == 0:
        return 0.0
    return float(ranked_metrics(hits, n_positive)[0])
