"""Small tensor operations that several models share.

Masked top-k pooling: the video score of TSL-Net/FSENet on a padded batch (docs/methods.md §2.4).

A video's class score is the mean of its ``k = max(1, ⌊T/ratio⌋)`` largest snippet scores, with
``T`` the video's own length. In a padded batch every video has its own ``k``, and padded
snippets must never be picked, so the pooling is done as one top-``k_max`` over the batch
followed by a per-video rank mask instead of a loop over videos.

The attention-gated CAS: how a clip-level model with a temporal attention (CTEN, TG-DFER) gives
the localization CAS that post-processing reads (docs/methods.md §7.6 and §8.9).
"""

from __future__ import annotations

import torch
from torch import Tensor


def topk_k(lengths: Tensor, ratio: int = 8) -> Tensor:
    """Number of snippets pooled per video: ``k = max(1, ⌊length / ratio⌋)``.

    The floor of 1 keeps videos shorter than ``ratio`` snippets from pooling nothing (the
    released code's ``T // 8`` can be 0, docs/methods.md §5 #15).

    Args:
        lengths: ``(B,)`` integer number of real snippets per video.
        ratio: the top-k ratio (``r_act``, 8 in the papers).

    Returns:
        ``(B,)`` long.
    """
    if ratio < 1:
        raise ValueError(f"top-k ratio must be >= 1, got {ratio}")
    return torch.div(lengths.long(), int(ratio), rounding_mode="floor").clamp(min=1)


def masked_topk_mean(x: Tensor, mask: Tensor, ratio: int = 8) -> Tensor:
    """Mean of the top-k values over the real snippets of each video, per channel.

    Padded positions are set to ``-inf`` so they sort last; ranks at or beyond a video's own
    ``k`` (or its length, for an empty video) are then dropped with a mask. The result is
    differentiable with respect to the selected entries of ``x``.

    Args:
        x: ``(B, T, K)`` scores.
        mask: ``(B, T)`` bool, True on real snippets.
        ratio: the top-k ratio; ``k`` per video comes from :func:`topk_k`.

    Returns:
        ``(B, K)``; 0 for a video without real snippets.
    """
    lengths = mask.sum(dim=1)
    k = topk_k(lengths, ratio)
    k_max = max(1, min(int(k.max()), x.shape[1])) if x.shape[0] else 1
    neg_inf = torch.tensor(float("-inf"), dtype=x.dtype, device=x.device)
    top = torch.where(mask[..., None], x, neg_inf).topk(k_max, dim=1).values  # sorted, (B, k_max, K)
    rank = torch.arange(k_max, device=x.device)
    keep = (rank[None, :] < k[:, None]) & (rank[None, :] < lengths[:, None])  # (B, k_max)
    kept = torch.where(keep[..., None], top, torch.zeros((), dtype=x.dtype, device=x.device))
    return kept.sum(dim=1) / k[:, None].to(x.dtype)


def attention_cas(attention: Tensor, segment_logits: Tensor, mask: Tensor) -> Tensor:
    """The ``(B, T, C + 1)`` CAS ``[A σ(logits), 1 − A]``, float32, zero at padding.

    Args:
        attention: ``(B, T)`` the model's per-snippet attention A in [0, 1] (CTEN's A*, TG-DFER's relevance).
        segment_logits: ``(B, T, C)`` the classifier on each snippet.
        mask: ``(B, T)`` bool, True on real snippets.
    """
    a = attention.float()[..., None]
    cas = torch.cat([a * torch.sigmoid(segment_logits.float()), 1.0 - a], dim=-1)
    return cas.masked_fill(~mask[..., None], 0.0)
