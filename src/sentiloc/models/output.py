"""What every localization model returns, so losses and post-processing are model-agnostic."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ModelOutput:
    """Per-snippet outputs of a localization model for a padded batch.

    Attributes:
        cas: ``(B, T, C + 1)`` sigmoid class activation sequence y; column C is non-sentiment.
        global_cas: ``(B, T, C + 1)`` Global CAS ỹ re-weighted by ``w_sent`` (None without GSP).
        w_sent: ``(B, T)`` GSP sentiment weights W in [0, 1] (ones without GSP).
        embeddings: ``(B, T, E)`` snippet embeddings for contrastive losses (not normalised).
        video_scores: ``(B, C)`` top-k mean of ``cas[..., :C]`` over real snippets.
        extras: method-specific tensors (e.g. TSL-Net's distribution logits), by name.
    """

    cas: torch.Tensor
    global_cas: torch.Tensor | None
    w_sent: torch.Tensor
    embeddings: torch.Tensor
    video_scores: torch.Tensor
    extras: dict[str, torch.Tensor] | None = None


def sigmoid_cas(logits: Tensor, mask: Tensor) -> Tensor:
    """The CAS ``σ(logits)`` of a padded batch, zero at padding, in float32.

    Float32 even under bf16 autocast: bf16 would round scores near 0 and 1, exactly where the
    focal losses and the proposal thresholds look. Every model's CAS comes from here.

    Args:
        logits: ``(B, T, K)`` pre-sigmoid scores (meaningless at padding).
        mask: ``(B, T)`` bool, True on real snippets.
    """
    return torch.sigmoid(logits.float()).masked_fill(~mask[..., None], 0.0)
