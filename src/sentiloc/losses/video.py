"""Video-level losses on the top-k video scores ``v_c`` (METHODS.md §2.7, §2.10)."""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-8


def _cross_entropy(video_scores: Tensor, q: Tensor, eps: float) -> Tensor:
    """``−Σ_c q_c log p_c`` with ``p = v / Σ v``, averaged over videos whose ``q`` is not empty."""
    p = video_scores.clamp(min=eps)
    p = p / p.sum(dim=1, keepdim=True)
    total = q.sum(dim=1, keepdim=True)
    has = total[:, 0] > 0
    q = q / total.clamp(min=eps)
    per_video = -(q * torch.log(p.clamp(min=eps))).sum(dim=1)
    return (per_video * has).sum() / has.sum().clamp(min=1)


def video_loss_paper(video_scores: Tensor, targets: Tensor, weight: Tensor, mask: Tensor, eps: float = EPS) -> Tensor:
    """``L_base = −Σ_c avg(ŷ_c) log avg(y_c)`` — [design]: q = Σ_t ŷ[t, c] over real, weighted
    snippets normalised over the C sentiment classes (with points only this is TSL-Net's
    label-count distribution), p = normalised top-k video scores.
    """
    num_classes = video_scores.shape[1]
    q = (targets[..., :num_classes] * (mask & (weight > 0))[..., None]).sum(dim=1)
    return _cross_entropy(video_scores, q, eps)


def video_loss_labels(video_scores: Tensor, video_labels: Tensor, eps: float = EPS) -> Tensor:
    """The same cross-entropy with q = the (normalised) multi-hot video labels."""
    return _cross_entropy(video_scores, video_labels.float(), eps)


def video_bce(video_scores: Tensor, video_labels: Tensor, eps: float = EPS) -> Tensor:
    """Multi-label BCE of ``v_c`` against the video labels: the MIL objective of video-level training.

    Unlike the normalised cross-entropy it also pushes absent classes down, which is the only
    absolute signal a video-level model gets.
    """
    p = video_scores.clamp(eps, 1.0 - eps)
    labels = video_labels.float()
    return -(labels * torch.log(p) + (1.0 - labels) * torch.log(1.0 - p)).mean()
