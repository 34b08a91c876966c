"""Frame-level focal BCE against soft targets (METHODS.md §2.7)."""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-8


def focal_bce(pred: Tensor, target: Tensor, gamma: float = 2.0, eps: float = EPS) -> Tensor:
    """Elementwise ``w · BCE(p, q)`` with ``w = ((1 − p) q + p (1 − q))^γ``, for soft targets q.

    The weight is the (soft) probability of being wrong, so confident correct snippets — the bulk
    of a long video — contribute little and boundaries dominate.
    """
    p = pred.clamp(eps, 1.0 - eps)
    weight = ((1.0 - p) * target + p * (1.0 - target)) ** gamma
    return -weight * (target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p))


def frame_loss(pred: Tensor, targets: Tensor, weight: Tensor, mask: Tensor, gamma: float = 2.0) -> Tensor:
    """Focal BCE summed over the C + 1 columns, weighted per snippet, normalised by the weights.

    Args:
        pred: ``(B, T, C + 1)`` scores in (0, 1).
        targets: ``(B, T, C + 1)`` soft targets.
        weight: ``(B, T)`` snippet weights (``max_c ŷ``; 0 = ignored).
        mask: ``(B, T)`` real snippets.
    """
    w = weight * mask
    per_snippet = focal_bce(pred, targets, gamma).sum(dim=-1)
    return (per_snippet * w).sum() / (w.sum() + EPS)
