"""Temporal IoU and greedy 1-D non-maximum suppression (docs/methods.md §2.9 step 9).

Segments are ``[start, end]`` rows. Exact tIoU does not depend on the unit (post-processing
compares runs on the integer sample grid, see ``proposals.nms_units``); only ``plus_one``
assumes seconds. torchvision is not a dependency, and its NMS is 2-D anyway, so the greedy
loop lives here: one Python iteration per *kept* segment, each comparing the kept one against
all remaining candidates in a single array operation.
"""

from __future__ import annotations

import numpy as np


def broadcast_iou(s1: np.ndarray, e1: np.ndarray, s2: np.ndarray | float, e2: np.ndarray | float, extra: float
                  ) -> np.ndarray:
    """Broadcast tIoU of ``[s1, e1]`` and ``[s2, e2]`` with ``extra`` added to every length (0 or 1 s, or 1 frame)."""
    inter = np.minimum(e1, e2) - np.maximum(s1, s2) + extra
    np.maximum(inter, 0.0, out=inter)
    union = (e1 - s1 + extra) + (e2 - s2 + extra) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def temporal_iou(segments: np.ndarray, others: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """tIoU of ``segments (N, 2)`` against ``others`` (any one unit; seconds when ``plus_one``).

    ``others`` is either one segment ``(2,)``, giving ``(N,)``, or ``(M, 2)``, giving the
    pairwise ``(N, M)`` matrix. A pair with an empty union (two zero-length segments) has IoU 0.

    ``plus_one`` reproduces the reference NMS, which measures lengths in seconds as
    ``end - start + 1`` (a frame-index habit): it adds 1 to the intersection width *before*
    clipping at 0 and to both lengths, i.e. ``inter = max(0, min(e) - max(s) + 1)`` and
    ``union = (e1 - s1 + 1) + (e2 - s2 + 1) - inter``. Since ``(I + 1) / (U + 1) >= I / U``, this
    never lowers an IoU: short overlapping segments look much more alike than they are, and
    disjoint segments less than 1 s apart get a positive overlap. Both effects make NMS
    suppress more.
    """
    extra = 1.0 if plus_one else 0.0
    segments = np.asarray(segments, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64)
    if others.ndim == 1:
        return broadcast_iou(segments[:, 0], segments[:, 1], others[0], others[1], extra)
    return broadcast_iou(segments[:, :1], segments[:, 1:], others[:, 0], others[:, 1], extra)


def nms_1d(segments: np.ndarray, scores: np.ndarray, iou_threshold: float, plus_one: bool = False) -> np.ndarray:
    """Indices of the segments kept by greedy NMS, in descending score order.

    Args:
        segments: ``(N, 2)`` ``[start, end]`` (seconds when ``plus_one``).
        scores: ``(N,)``.
        iou_threshold: a candidate is dropped when its tIoU with a kept segment is
            ``>= iou_threshold``; this is the reference's rule (it keeps ``iou < thresh``).
        plus_one: the reference's "+1 on lengths" (see :func:`temporal_iou`).

    Equal scores are visited in index order (stable sort), so of two identical segments with
    equal scores the earlier one survives. The reference reverses an unstable argsort instead,
    so its tie order is not reproducible; ties only matter between identical scores.
    Starts and ends are put in rank order once, so each step is a handful of array operations
    on the survivors.
    """
    extra = 1.0 if plus_one else 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked = np.asarray(segments, dtype=np.float64)[order]
    starts, ends = ranked[:, 0].copy(), ranked[:, 1].copy()
    alive = np.arange(len(order))
    keep: list[int] = []
    while alive.size:
        best, rest = alive[0], alive[1:]
        keep.append(int(order[best]))
        alive = rest[broadcast_iou(starts[rest], ends[rest], starts[best], ends[best], extra) < iou_threshold]
    return np.asarray(keep, dtype=np.int64)
