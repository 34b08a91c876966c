"""PSSC — Point-aware Sentiment Semantics Contrast (METHODS.md §2.6), vectorised over B and T.

For every class c present among a video's clicks: the prototype is the normalised mean of the
click embeddings; positives are the K snippets (clicks excluded) with the largest
``W_t · Σ_n cos(f_t, p_n)``; negatives are the positives of the other present classes; and

    L_c = −log Σ_{U+} exp(f·p̄_c / κ) / Σ_{U+ ∪ U−} exp(f·p̄_c / κ).

Videos whose clicks cover a single class have no negatives and contribute nothing. Under full
supervision (``class_members``) the prototype is the mean of all ground-truth snippets of the
class, positives are those snippets and negatives the other classes' snippets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _logsumexp_where(logits: Tensor, keep: Tensor) -> Tensor:
    return logits.masked_fill(~keep, float("-inf")).logsumexp(dim=1)


def _contrast(f: Tensor, prototypes: Tensor, positives: Tensor, negatives: Tensor, present: Tensor, kappa: float) -> Tensor:
    """Mean over contributing videos of ``Σ_c L_c``.

    Args:
        f: ``(B, T, E)`` normalised embeddings; prototypes ``(B, C, E)`` normalised.
        positives, negatives: ``(B, T, C)`` bool sets; present: ``(B, C)`` classes of the video.
    """
    logits = torch.einsum("bte,bce->btc", f, prototypes) / kappa
    contributes = (present.sum(dim=1) >= 2)[:, None] & present & positives.any(dim=1)
    numerator = _logsumexp_where(logits, positives)
    denominator = _logsumexp_where(logits, positives | negatives)
    per_class = torch.where(contributes, denominator - numerator, torch.zeros_like(numerator))
    videos = contributes.any(dim=1)
    return per_class.sum(dim=1).sum() / videos.sum().clamp(min=1)


def _other_classes(sets: Tensor, present: Tensor) -> Tensor:
    """``(B, T, C)``: snippet is in the set of some *other* present class."""
    sets = sets & present[:, None, :]
    count = sets.sum(dim=2, keepdim=True)
    return (count - sets.int()) > 0


def pssc_loss(
    embeddings: Tensor,
    w_sent: Tensor,
    point_t: Tensor,
    point_cls: Tensor,
    point_mask: Tensor,
    mask: Tensor,
    num_classes: int,
    ratio: int = 8,
    kappa: float = 1.0,
    class_members: Tensor | None = None,
) -> Tensor:
    """PSSC loss; see the module docstring. Shapes: embeddings ``(B, T, E)``, w_sent/mask ``(B, T)``,
    clicks ``(B, P)``, class_members ``(B, T, C)`` bool (full supervision)."""
    f = F.normalize(embeddings.float(), dim=-1)
    if class_members is not None:
        members = class_members & mask[..., None]
        present = members.any(dim=1)
        sums = torch.einsum("btc,bte->bce", members.float(), f)
        prototypes = F.normalize(sums, dim=-1)
        return _contrast(f, prototypes, members, _other_classes(members, present), present, kappa)
    one_hot = (F.one_hot(point_cls, num_classes).bool() & point_mask[..., None]).float()  # (B, P, C)
    points = torch.gather(f, 1, point_t[..., None].expand(-1, -1, f.shape[-1]))  # (B, P, E)
    present = one_hot.sum(dim=1) > 0
    prototypes = F.normalize(torch.einsum("bpc,bpe->bce", one_hot, points), dim=-1)
    with torch.no_grad():
        affinity = torch.einsum("bte,bpe,bpc->btc", f, points, one_hot)
        clicked = torch.zeros_like(mask).scatter_(1, point_t, point_mask) & mask
        eligible = mask & ~clicked
        rank_score = (w_sent.detach().float()[..., None] * affinity).masked_fill(~eligible[..., None], float("-inf"))
        k = torch.div(mask.sum(dim=1), ratio, rounding_mode="floor").clamp(min=1)
        k = torch.minimum(k, eligible.sum(dim=1))
        order = rank_score.argsort(dim=1, descending=True)
        ranks = torch.empty_like(order).scatter_(1, order, torch.arange(order.shape[1], device=f.device)[None, :, None].expand_as(order))
        positives = (ranks < k[:, None, None]) & eligible[..., None] & present[:, None, :]
    return _contrast(f, prototypes, positives, _other_classes(positives, present), present, kappa)
