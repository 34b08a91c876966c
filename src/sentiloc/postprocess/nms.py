"""Temporal IoU and greedy 1-D non-maximum suppression (torchvision cannot be installed here)."""

from __future__ import annotations

import numpy as np


def temporal_iou(segments: np.ndarray, others: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """Pairwise tIoU of ``segments (N, 2)`` and ``others (M, 2)`` in seconds -> ``(N, M)``.

    ``plus_one`` reproduces the reference NMS, which measures lengths as ``end - start + 1`` (a
    frame-index habit applied to seconds): it inflates every length by one second, so short
    overlapping segments look less overlapping and survive NMS more often.
    """
    extra = 1.0 if plus_one else 0.0
    s1, e1 = segments[:, None, 0], segments[:, None, 1]
    s2, e2 = others[None, :, 0], others[None, :, 1]
    inter = np.clip(np.minimum(e1, e2) - np.maximum(s1, s2) + extra, 0.0, None)
    union = (e1 - s1 + extra) + (e2 - s2 + extra) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms_1d(segments: np.ndarray, scores: np.ndarray, iou_threshold: float, plus_one: bool = False) -> np.ndarray:
    """Indices of the segments kept by greedy NMS, in descending score order.

    Each step keeps the best remaining segment and drops every remaining one whose tIoU with it
    exceeds ``iou_threshold`` (one vectorised comparison per kept segment). Equal scores keep
    file order (the earlier index first).
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        overlap = temporal_iou(segments[best][None], segments[rest], plus_one)[0]
        order = rest[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)
