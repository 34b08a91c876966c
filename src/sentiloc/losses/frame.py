"""Frame-level focal BCE against soft pseudo-labels (docs/methods.md §2.7).

Most snippets of a long video are easy (clear background or the middle of a segment). The focal
weight ``w = ((1 − p) q + p (1 − q))^γ`` is the soft probability of being wrong, so those
contribute little and the loss concentrates on the uncertain snippets near boundaries, which is
exactly where the BSPG mound is soft. Targets are soft (q ∈ [0, 1]), so the weight uses q itself
rather than a hard label.
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-8


def focal_bce(
    pred: Tensor, target: Tensor, gamma: float = 2.0, eps: float = EPS, focus: Tensor | None = None
) -> Tensor:
    """Elementwise focal binary cross-entropy for soft targets.

    ``ℓ(p, q) = w · BCE(p, q)`` with ``w = ((1 − p) q + p (1 − q))^γ`` and
    ``BCE = −(q log p + (1 − q) log(1 − p))``.
    ``p`` and ``1 − p`` are each clamped to ``[eps, 1 − eps]`` so saturated sigmoids give a finite
    loss (half-precision inputs are computed in float32 for the same reason).

    Args:
        pred: probabilities, any shape.
        target: soft targets in [0, 1], broadcastable to ``pred``.
        gamma: focusing exponent (2 in the paper).
        eps: probability clamp.
        focus: optional target for the focal weight only (default ``target``). TSL-Net's
            self-training loss weights by a binarised target while its BCE keeps the soft one.

    Returns:
        A tensor of ``pred``'s shape; the focal weight is not detached.
    """
    if pred.dtype in (torch.float16, torch.bfloat16):
        pred = pred.float()  # eps = 1e-8 underflows in half precision
    p = pred.clamp(eps, 1.0 - eps)
    # In float32 1 − 1e-8 rounds to 1, so clamping p alone leaves log(1 − p) = −inf at p = 1;
    # clamp 1 − p on its own instead.
    one_minus_p = (1.0 - pred).clamp(eps, 1.0 - eps)
    q = target.to(p.dtype)
    f = q if focus is None else focus.to(p.dtype)
    wrong = one_minus_p * f + p * (1.0 - f)
    bce = -(q * torch.log(p) + (1.0 - q) * torch.log(one_minus_p))
    return wrong.pow(gamma) * bce


def frame_loss(pred: Tensor, targets: Tensor, weight: Tensor, mask: Tensor, gamma: float = 2.0) -> Tensor:
    """Snippet-weighted focal BCE over a padded batch.

    ``L = Σ_{b,t} m_{b,t} ω_{b,t} Σ_{c ≤ C} ℓ(y_{b,t,c}, ŷ_{b,t,c}) / (Σ_{b,t} m_{b,t} ω_{b,t} + ε)``
    with ``ω = weight`` (``max_c ŷ``: confident targets count more, ignored snippets not at all)
    and ``m`` the real-snippet mask. Normalising over the whole batch (not per video) matches the
    reference's one-video-at-a-time accumulation only up to a per-video weighting, which we accept
    (**[design]**): longer, more densely supervised videos weigh more.

    Args:
        pred: ``(B, T, C+1)`` probabilities (y or the Global CAS ỹ).
        targets: ``(B, T, C+1)`` soft targets ŷ.
        weight: ``(B, T)`` snippet weights, 0 where ignored.
        mask: ``(B, T)`` bool, True on real snippets.
        gamma: focal exponent.

    Returns:
        A scalar. 0 when no snippet has weight, still attached to ``pred``'s graph.
    """
    w = torch.where(mask, weight.to(pred.dtype), torch.zeros((), dtype=pred.dtype, device=pred.device))
    per_snippet = focal_bce(pred, targets, gamma).sum(dim=-1)  # (B, T)
    # where(), not a product, so that a non-finite value at padding cannot leak into the sum
    weighted = torch.where(w > 0, per_snippet * w, torch.zeros_like(per_snippet))
    return weighted.sum() / (w.sum() + EPS)


def class_balanced_frame_loss(
    pred: Tensor, targets: Tensor, weight: Tensor, mask: Tensor, gamma: float = 2.0
) -> Tensor:
    """:func:`frame_loss` with each class column's positives and negatives balanced (docs/methods.md §13.11).

    A sparse class (negative sentiment covers a median 6% of a TSL-300 test video) has far fewer
    positive than negative targets, so in the plain loss its column learns mostly "absent". Here
    each column ``c`` splits the focal BCE ``ℓ = w (−q log p) + w (−(1 − q) log(1 − p))`` into its
    positive and negative parts and averages each over its own target mass:

        L = Σ_c ½ [ Σ ω ℓ⁺_c / (Σ ω q_c + ε) + Σ ω ℓ⁻_c / (Σ ω (1 − q_c) + ε) ]

    with ``ω`` the snippet weights over real snippets, ``w`` the focal weight of ``q_c``. A column
    with no positive mass contributes its negative half only.

    Args:
        pred: ``(B, T, C+1)`` probabilities.
        targets: ``(B, T, C+1)`` soft targets ŷ.
        weight: ``(B, T)`` snippet weights, 0 where ignored.
        mask: ``(B, T)`` bool, True on real snippets.
        gamma: focal exponent.

    Returns:
        A scalar, still attached to ``pred``'s graph when no snippet has weight.
    """
    w = torch.where(mask, weight.to(pred.dtype), torch.zeros((), dtype=pred.dtype, device=pred.device))[..., None]
    q = targets.to(torch.float32 if pred.dtype in (torch.float16, torch.bfloat16) else pred.dtype)
    positive = focal_bce(pred, torch.ones_like(q), gamma, focus=q) * q  # w(q) · (−q log p)
    negative = focal_bce(pred, torch.zeros_like(q), gamma, focus=q) * (1.0 - q)  # w(q) · (−(1−q) log(1−p))
    zero = torch.zeros_like(positive)
    pos_sum = torch.where(w > 0, positive * w, zero).sum(dim=(0, 1))  # (C+1,)
    neg_sum = torch.where(w > 0, negative * w, zero).sum(dim=(0, 1))
    pos_mass = (w * q).sum(dim=(0, 1))
    neg_mass = (w * (1.0 - q)).sum(dim=(0, 1))
    return 0.5 * (pos_sum / (pos_mass + EPS) + neg_sum / (neg_mass + EPS)).sum()
