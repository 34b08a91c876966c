"""PSSC — Point-aware Sentiment Semantics Contrast (docs/methods.md §2.6, §2.10), batch-vectorised.

Clicks pin down only one snippet per segment. PSSC spreads their semantics: each class present
in a video gets a prototype from its click embeddings, the snippets that look most like that
class (weighted by the GSP sentiment intensity W) become its positives, and the positives of the
other classes in the same video become its negatives, so

    L_c = −log  Σ_{f∈U_c^+} exp(f·p̄_c/κ)  /  Σ_{f∈U_c^+ ∪ U_c^-} exp(f·p̄_c/κ).

The per-video loss is Σ_c L_c over the present classes; the batch loss is the mean over videos
with at least two present classes (a single-class video has no negatives).

Sets are carried as ``(B, C, T)`` bool masks so the whole batch is one einsum plus masked
log-sum-exps; padding and clicked snippets are simply never in a set.

TSL-Net's reverse-mapping (CPC) loss, :func:`reverse_mapping_loss`, lives here too: it is the
same masked log-sum-exp contrast, with each snippet's own reconstruction as the positive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sentiloc.models.ops import topk_k


def _masked_logsumexp(x: Tensor, keep: Tensor) -> Tensor:
    """Log-sum-exp over the last axis restricted to ``keep``.

    Rows with nothing kept are computed over an all-zero row instead of ``-inf`` (and must be
    discarded by the caller), so no NaN appears in the forward *or* backward pass.
    """
    empty = ~keep.any(dim=-1, keepdim=True)
    safe_keep = keep | empty
    neg_inf = torch.tensor(float("-inf"), dtype=x.dtype, device=x.device)
    safe_x = torch.where(empty, torch.zeros_like(x), x)
    return torch.where(safe_keep, safe_x, neg_inf).logsumexp(dim=-1)


def _others(sets: Tensor) -> Tensor:
    """``(B, C, T)``: snippet belongs to the set of at least one *other* class."""
    count = sets.sum(dim=1, keepdim=True)
    return (count - sets.long()) > 0


def _contrast(f: Tensor, prototypes: Tensor, positives: Tensor, present: Tensor, kappa: float) -> Tensor:
    """Mean over contributing videos of ``Σ_c L_c``.

    Args:
        f: ``(B, T, E)`` L2-normalised snippet embeddings.
        prototypes: ``(B, C, E)`` L2-normalised class prototypes.
        positives: ``(B, C, T)`` bool positive sets U_c^+ (empty for absent classes).
        present: ``(B, C)`` bool classes present in each video.
        kappa: temperature κ.

    Returns:
        Scalar; 0 attached to ``f``'s graph when no video contributes.
    """
    negatives = _others(positives)
    logits = torch.einsum("bte,bce->bct", f, prototypes) / kappa  # (B, C, T)
    usable = present & positives.any(dim=-1)  # (B, C)
    video_ok = usable.sum(dim=1) >= 2  # negatives need a second class with positives
    active = usable & video_ok[:, None]
    log_num = _masked_logsumexp(logits, positives)
    log_den = _masked_logsumexp(logits, positives | negatives)
    per_class = torch.where(active, log_den - log_num, torch.zeros_like(log_num))
    n_videos = video_ok.sum().clamp(min=1).to(per_class.dtype)
    return per_class.sum() / n_videos


def _click_sets(
    f: Tensor,
    w_sent: Tensor,
    point_t: Tensor,
    point_cls: Tensor,
    point_mask: Tensor,
    mask: Tensor,
    num_classes: int,
    ratio: int,
    disjoint: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Prototypes, positive sets and present classes from clicks (point / video supervision).

    ``disjoint``: each snippet stays in the positive set of its highest-scoring present class only.

    Returns:
        ``prototypes (B, C, E)`` (differentiable), ``positives (B, C, T)`` bool and
        ``present (B, C)`` bool.
    """
    b, t, e = f.shape
    lengths = mask.sum(dim=1)
    valid = point_mask & (point_t >= 0) & (point_t < lengths[:, None])  # clicks on real snippets
    idx = torch.where(valid, point_t, torch.zeros_like(point_t))
    onehot = F.one_hot(point_cls.clamp(0, num_classes - 1), num_classes).to(f.dtype)
    onehot = onehot * valid[..., None].to(f.dtype)  # (B, P, C)
    present = onehot.sum(dim=1) > 0  # (B, C)

    at_clicks = f.gather(1, idx[..., None].expand(-1, -1, e))  # (B, P, E) = p_n
    summed = torch.einsum("bpc,bpe->bce", onehot, at_clicks)  # Σ_n p_n per class
    # normalise(mean) == normalise(sum): the count cancels
    prototypes = F.normalize(summed, dim=-1)

    with torch.no_grad():
        # (B, P, T) comparison rather than a scatter: padded clicks share index 0 with real ones
        steps = torch.arange(t, device=f.device)
        clicked = ((steps[None, None, :] == idx[..., None]) & valid[..., None]).any(dim=1) & mask
        eligible = mask & ~clicked  # (B, T)
        affinity = torch.einsum("bte,bce->bct", f, summed)  # d_t^c = Σ_n cos(f_t, p_n)
        score = w_sent.detach().to(f.dtype)[:, None, :] * affinity
        score = torch.where(eligible[:, None, :], score, torch.full_like(score, float("-inf")))
        k = torch.minimum(topk_k(lengths, ratio), eligible.sum(dim=1))  # (B,)
        order = score.sort(dim=-1, descending=True, stable=True).indices  # (B, C, T)
        in_top = torch.arange(t, device=f.device)[None, None, :] < k[:, None, None]
        positives = torch.zeros(b, num_classes, t, dtype=torch.bool, device=f.device)
        positives.scatter_(2, order, in_top.expand_as(order))
        positives = positives & eligible[:, None, :] & present[..., None]
        if disjoint:
            owner = score.masked_fill(~present[..., None], float("-inf")).argmax(dim=1)  # (B, T)
            positives = positives & F.one_hot(owner, num_classes).transpose(1, 2).bool()
    return prototypes, positives, present


def _member_sets(f: Tensor, class_members: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Prototypes, positive sets and present classes from dense membership (full supervision)."""
    members = (class_members.bool() & mask[..., None]).transpose(1, 2)  # (B, C, T)
    present = members.any(dim=-1)
    summed = torch.einsum("bct,bte->bce", members.to(f.dtype), f)
    return F.normalize(summed, dim=-1), members, present


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
    disjoint: bool = False,
) -> Tensor:
    """PSSC loss for a padded batch.

    Point mode (``class_members is None``): for each class c among a video's clicks,
    ``p̄_c = normalise(mean_n f_{t_n})``; ``U_c^+`` = the K eligible snippets with the largest
    ``W_t · Σ_n cos(f_t, p_n)`` (W and the ranking detached), where eligible = real and not
    clicked, and ``K = min(max(1, ⌊T/ratio⌋), #eligible)`` with T the video's own length; ties in
    the ranking go to the earlier snippet. ``U_c^-`` = union of the other present classes'
    positives; a snippet in both sets counts once in the denominator.

    Full mode (``class_members`` given, docs/methods.md §2.10): prototypes are the normalised mean of
    all member snippets of a class, positives are those members, negatives the members of the
    other classes; clicks, W and ``ratio`` are ignored.

    Args:
        embeddings: ``(B, T, E)`` snippet embeddings (normalised here).
        w_sent: ``(B, T)`` GSP weights W (ones without GSP).
        point_t, point_cls, point_mask: ``(B, P)`` clicks.
        mask: ``(B, T)`` bool, True on real snippets.
        num_classes: C.
        ratio: top-k ratio for K.
        kappa: temperature κ (1 in the paper).
        class_members: optional ``(B, T, C)`` bool dense membership.
        disjoint: point mode only: a snippet among the top K of two classes stays a positive of
            the one whose score ``W_t · Σ_n cos(f_t, p_n)`` is higher, so no snippet is pulled
            towards two prototypes at once (docs/methods.md §13.11).

    Returns:
        Scalar: mean over videos with ≥ 2 usable classes of ``Σ_c L_c``; 0 (attached to the graph)
        if none. Gradients flow through f and the prototypes.
    """
    f = F.normalize(embeddings, dim=-1)
    if class_members is not None:
        prototypes, positives, present = _member_sets(f, class_members, mask)
    else:
        prototypes, positives, present = _click_sets(
            f, w_sent, point_t, point_cls, point_mask, mask, num_classes, ratio, disjoint
        )
    return _contrast(f, prototypes, positives, present, kappa)


def reverse_mapping_loss(features: Tensor, recon: Tensor, mask: Tensor) -> Tensor:
    """TSL-Net's CPC-style reverse-mapping loss for one modality (docs/methods.md §4), paper sign.

    The fused embedding f_z should still hold each modality's content: a reverse mapping
    F'_m(f_z^t) must pick out its own snippet's modality feature f_m^t among all snippets of the
    video. With cosine similarity D,

        L_m = mean_t [ log Σ_j exp D(f_m^t, F'_m(f_z^j)) − D(f_m^t, F'_m(f_z^t)) ]  (≥ 0),

    where t and j run over the video's real snippets (j = t included in the denominator). The
    released code adds the negation of this quantity; callers flip the sign for that variant.

    Args:
        features: ``(B, T, d)`` modality features f_m (the targets; not detached).
        recon: ``(B, T, d)`` reverse-mapped fused embeddings F'_m(f_z).
        mask: ``(B, T)`` bool, True on real snippets.

    Returns:
        Scalar: mean over videos with at least one real snippet of ``L_m``.
    """
    sim = torch.einsum("btd,bjd->btj", F.normalize(features, dim=-1), F.normalize(recon, dim=-1))
    keys = mask[:, None, :].expand_as(sim)
    per_snippet = _masked_logsumexp(sim, keys) - sim.diagonal(dim1=1, dim2=2)  # (B, T)
    per_snippet = torch.where(mask, per_snippet, torch.zeros_like(per_snippet))
    lengths = mask.sum(dim=1)
    per_video = per_snippet.sum(dim=1) / lengths.clamp(min=1).to(sim.dtype)
    has = lengths > 0
    return per_video.sum() / has.sum().clamp(min=1).to(sim.dtype)
