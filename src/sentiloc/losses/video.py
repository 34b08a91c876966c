"""Video-level losses on the top-k video scores ``v (B, C)`` (docs/methods.md §2.7, §2.10).

The paper's ``L_base = −Σ_c avg(ŷ_c) log avg(y_c)`` compares a class distribution implied by the
labels with one implied by the predictions. Both are normalised over the C sentiment classes
(**[design]**), which makes the loss a cross-entropy between two distributions; with clicks only,
the label side is TSL-Net's label-count distribution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-8


def _distribution_ce(video_scores: Tensor, mass: Tensor, eps: float) -> Tensor:
    """``−Σ_c q_c log p_c`` averaged over videos with label mass.

    Args:
        video_scores: ``(B, C)`` non-negative scores v; ``p = v / Σ v`` (clamped by ``eps``).
        mass: ``(B, C)`` non-negative label mass; ``q = mass / Σ mass`` (treated as constant).
        eps: clamp for the normalisers and the log.

    Returns:
        Scalar mean over videos whose mass sums to > 0; 0 (attached to ``video_scores``) if none.
    """
    mass = mass.detach().to(video_scores.dtype)
    total = mass.sum(dim=1, keepdim=True)
    has = total.squeeze(1) > 0  # (B,)
    q = mass / total.clamp(min=eps)
    v = video_scores.clamp(min=0.0)
    p = v / v.sum(dim=1, keepdim=True).clamp(min=eps)
    per_video = -(q * torch.log(p.clamp(min=eps))).sum(dim=1)
    per_video = torch.where(has, per_video, torch.zeros_like(per_video))
    return per_video.sum() / has.sum().clamp(min=1).to(per_video.dtype)


def video_loss_paper(
    video_scores: Tensor, targets: Tensor, weight: Tensor, mask: Tensor, eps: float = EPS
) -> Tensor:
    """**[design]** ``L_base`` with the label side taken from the frame targets.

    ``q_c = Σ_t ŷ[t, c]`` over real, supervised snippets (``mask`` and ``weight > 0``), normalised
    over the C sentiment classes (∅ excluded); ``p_c = v_c / Σ_c v_c``. Videos whose targets hold
    no sentiment mass (e.g. every window gated to ∅) are left out of the mean.

    Args:
        video_scores: ``(B, C)`` top-k video scores.
        targets: ``(B, T, C+1)`` frame targets ŷ (treated as constants).
        weight: ``(B, T)`` snippet weights; 0 = ignored.
        mask: ``(B, T)`` bool, True on real snippets.
        eps: numerical clamp.

    Returns:
        Scalar.
    """
    num_classes = video_scores.shape[1]
    keep = (mask & (weight > 0))[..., None]
    sentiment = torch.where(keep, targets[..., :num_classes], torch.zeros_like(targets[..., :num_classes]))
    return _distribution_ce(video_scores, sentiment.sum(dim=1), eps)


def video_loss_labels(video_scores: Tensor, video_labels: Tensor, eps: float = EPS) -> Tensor:
    """The same cross-entropy with ``q`` = the multi-hot video labels normalised over classes.

    Used under video-level supervision, where no frame targets exist before the pseudo-points.

    Args:
        video_scores: ``(B, C)``.
        video_labels: ``(B, C)``, 1 for each class present.
        eps: numerical clamp.
    """
    return _distribution_ce(video_scores, video_labels, eps)


def video_bce(video_scores: Tensor, video_labels: Tensor, eps: float = EPS) -> Tensor:
    """Plain multi-label BCE of ``v_c`` against the video labels (the MIL baseline).

    Unlike the normalised cross-entropy it also pushes absent classes towards 0. Mean over B·C.

    Args:
        video_scores: ``(B, C)`` probabilities.
        video_labels: ``(B, C)`` in {0, 1}.
        eps: probability clamp.
    """
    p = video_scores.clamp(eps, 1.0 - eps)
    return F.binary_cross_entropy(p, video_labels.to(p.dtype))


def label_distribution_kl(video_logits: Tensor, class_counts: Tensor) -> Tensor:
    """TSL-Net's label-distribution video loss ``KL(d ‖ D^vid)`` (docs/methods.md §4).

    ``d_c`` = share of the video's clicks with class c (the paper's best "label-based"
    variant); ``D^vid = softmax_c`` of the pooled DIST class logits. The sum over classes is
    divided by C because the reference's ``KLDivLoss`` mean reduction does so (one video per
    forward pass), which fixes the loss scale that λ₁ = 2 was tuned for.

    Args:
        video_logits: ``(B, C)`` top-k mean DIST logits of the sentiment classes.
        class_counts: ``(B, C)`` number of clicks of each class.

    Returns:
        Scalar mean over videos with at least one click; 0 (attached) if none.
    """
    counts = class_counts.detach().to(video_logits.dtype)
    total = counts.sum(dim=1, keepdim=True)
    d = counts / total.clamp(min=1.0)
    # kl_div computes d·(log d − log D) with 0·log 0 = 0 (absent classes contribute nothing)
    per_video = F.kl_div(F.log_softmax(video_logits, dim=1), d, reduction="none").sum(dim=1) / video_logits.shape[1]
    has = total.squeeze(1) > 0
    per_video = torch.where(has, per_video, torch.zeros_like(per_video))
    return per_video.sum() / has.sum().clamp(min=1).to(per_video.dtype)
