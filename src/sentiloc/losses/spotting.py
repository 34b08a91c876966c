"""P-FES loss terms on GIM pseudo-labels (docs/methods.md §6), each returning one value per video ``(B,)``.

All take padded ``(B, T, ·)`` tensors and the ``(B, T)`` real-frame mask; a term whose frame set
is empty in a video contributes 0 for that video (the GIM code returns NaN there). Targets
(ŝ, the negatives, apex frames) come from :mod:`sentiloc.losses.gim` and carry no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

#: Frame label of the contrastive loss: negatives, macro, micro (-1 = not in the set).
NEUTRAL, MACRO, MICRO = 0, 1, 2


def masked_mean(x: Tensor, selected: Tensor) -> Tensor:
    """``(B,)`` mean of ``x (B, T)`` over ``selected (B, T)`` frames; 0 for a video with none selected."""
    weight = selected.to(x.dtype)
    return (x * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)


def intensity_mse(intensity: Tensor, soft: Tensor, covered: Tensor, negatives: Tensor) -> Tensor:
    """``(B,)``: Σ_type MSE(a, ŝ_type) over that type's pseudo frames + MSE(a, 0) over the negatives.

    Args:
        intensity: ``(B, T)`` a_t.
        soft: ``(B, T, 2)`` ŝ per type; covered: ``(B, T, 2)`` bool, the pseudo-positive frames.
        negatives: ``(B, T)`` bool.
    """
    per_type = sum(masked_mean((intensity - soft[..., c]).square(), covered[..., c]) for c in range(soft.shape[-1]))
    return per_type + masked_mean(intensity.square(), negatives)


def reward(intensity: Tensor, soft: Tensor, weights: Sequence[float], threshold: float = 0.5) -> Tensor:
    """``(B,)``: −Σ_type w_type · mean(a_t over frames with ŝ_type > threshold) (0.4 macro, 0.6 micro)."""
    return -sum(w * masked_mean(intensity, soft[..., c] > threshold) for c, w in enumerate(weights))


def signed_temporal_term(intensity: Tensor, mask: Tensor) -> Tensor:
    """``(B,)``: mean_t (a_{t+1} − a_t) over a video's real frames = (a_last − a_first) / (L − 1).

    The GIM code's "smoothness" term, kept only behind ``loss.legacy_smoothness``: being signed,
    it rewards a falling intensity across the video rather than a smooth one. 0 for L < 2.
    """
    diff = intensity[:, 1:] - intensity[:, :-1]
    return masked_mean(diff, mask[:, 1:] & mask[:, :-1])


def apex_labels(soft: Tensor, negatives: Tensor, apex_frames: Tensor, mask: Tensor, radius: int = 6,
                threshold: float = 0.5) -> Tensor:
    """Apex-branch targets q ``(B, T, 2)`` in {−1 (ignore), 0, 1}.

    −1 by default (and at padding); 0 within ±``radius`` frames of any frame whose ŝ (either type)
    exceeds ``threshold`` and on the negatives; 1 on the type's apex frames (set last).
    """
    strong = ((soft > threshold).any(dim=2) & mask).float()[:, None, :]
    near = F.max_pool1d(strong, 2 * radius + 1, stride=1, padding=radius)[:, 0, :] > 0
    zero = ((near | negatives) & mask)[..., None].expand_as(apex_frames)
    q = torch.full(apex_frames.shape, -1.0, dtype=soft.dtype, device=soft.device)
    q = torch.where(zero, torch.zeros_like(q), q)
    return torch.where(apex_frames & mask[..., None], torch.ones_like(q), q)


def apex_focal(apex: Tensor, q: Tensor, mask: Tensor, alpha: Sequence[float], gamma: float, smoothing: float,
               class_weights: Sequence[float], eps: float = 1e-5) -> Tensor:
    """``(B,)``: the GIM apex loss, Σ_type weight_type · ℓ_type.

    ℓ = −mean_t [α |q − p|^γ log(p + ε) [q > 0] + (1 − α) |q + smoothing − p|^γ log(1 − p + ε) [q = 0]],
    the mean over the video's real frames (ignored frames, q = −1, add 0 but count, as in the code).

    Args:
        apex: ``(B, T, 2)`` e_t; q: ``(B, T, 2)`` targets (:func:`apex_labels`).
        alpha, class_weights: per type (0.90, 0.93) and (1, 1.8); gamma 1; smoothing 0.25.
    """
    a = torch.tensor(list(alpha), dtype=apex.dtype, device=apex.device)
    pos = a * (q - apex).abs().pow(gamma) * torch.log(apex + eps) * (q > 0)
    neg = (1.0 - a) * (q + smoothing - apex).abs().pow(gamma) * torch.log(1.0 - apex + eps) * (q == 0)
    m = mask[..., None].to(apex.dtype)
    per_type = -((pos + neg) * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)  # (B, 2)
    return (per_type * torch.tensor(list(class_weights), dtype=apex.dtype, device=apex.device)).sum(dim=1)


def contrast_labels(soft: Tensor, negatives: Tensor, threshold: float = 0.5) -> tuple[Tensor, Tensor]:
    """Contrastive frame labels ``(B, T)`` long and intensities I ``(B, T)``.

    Label −1 (left out), 0 on the negatives, 2 where ŝ_micro > threshold, 1 where ŝ_macro > threshold
    (macro wins a frame both claim, as in the code); I = max_type ŝ (0 on the negatives).
    """
    labels = torch.full(negatives.shape, -1, dtype=torch.long, device=negatives.device)
    labels = torch.where(negatives, torch.full_like(labels, NEUTRAL), labels)
    labels = torch.where(soft[..., 1] > threshold, torch.full_like(labels, MICRO), labels)
    labels = torch.where(soft[..., 0] > threshold, torch.full_like(labels, MACRO), labels)
    return labels, soft.amax(dim=2)


def pair_weights(labels: Tensor, intensity: Tensor) -> Tensor:
    """Intensity-aware pair weights w ``(..., M, M)`` for labels and intensities ``(..., M)``.

    w_ij = 1 for two neutral frames, 1 − |I_i − I_j| for two expression frames of one type, and
    |I_i − I_j| otherwise (neutral–expression and macro–micro pairs).
    """
    diff = (intensity[..., :, None] - intensity[..., None, :]).abs()
    same = labels[..., :, None] == labels[..., None, :]
    both_neutral = same & (labels[..., :, None] == NEUTRAL)
    same_expression = same & (labels[..., :, None] > NEUTRAL)
    w = torch.where(same_expression, 1.0 - diff, diff)
    return torch.where(both_neutral, torch.ones_like(w), w)


def gather_members(labels: Tensor, cap: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Frames of each video with label ≥ 0, as ``index (B, M)`` long and ``member (B, M)`` bool.

    Members keep their time order; a video with more than ``cap`` members keeps a uniformly random
    ``cap`` of them, drawn from ``generator`` (reproducible for a seeded generator). M is the
    largest kept count in the batch (at least 1).
    """
    selected = labels >= 0
    noise = torch.rand(labels.shape, generator=generator).to(labels.device)
    # Members first, in random order; then keep the first `cap` and restore time order.
    key = torch.where(selected, noise, torch.full_like(noise, 2.0))
    keep_rank = torch.argsort(torch.argsort(key, dim=1), dim=1)
    kept = selected & (keep_rank < cap)
    m = max(1, int(kept.sum(dim=1).max()) if kept.numel() else 1)
    t = torch.arange(labels.shape[1], device=labels.device).expand_as(labels)
    order = torch.where(kept, t, t + labels.shape[1]).argsort(dim=1)[:, :m]
    return order, kept.gather(1, order)


def intensity_contrastive(embeddings: Tensor, labels: Tensor, intensity: Tensor, tau: float = 0.5,
                          tau_base: float = 0.07, cap: int = 2048,
                          generator: torch.Generator | None = None) -> Tensor:
    """``(B,)``: the intensity-aware supervised contrastive loss of each video.

    Over a video's labelled frames (negatives, macro, micro; at most ``cap``, see
    :func:`gather_members`), with s_ij = h_i · h_j / τ and w from :func:`pair_weights`:

        ℓ_i = −(τ / τ_b) · mean_{j ≠ i, y_j = y_i} [log w_ij + s_ij − log Σ_{k ≠ i} w_ik exp(s_ik)]

    averaged over the anchors that have a positive (0 for a video with none). log w_ij is floored
    at log 1e-6 (the code's ε); pairs with w = 0 drop out of the denominator.

    Args:
        embeddings: ``(B, T, H)`` h_t (gradient flows here).
        labels: ``(B, T)`` long from :func:`contrast_labels`; intensity: ``(B, T)`` I.
    """
    index, member = gather_members(labels, cap, generator)
    h = embeddings.gather(1, index[..., None].expand(-1, -1, embeddings.shape[-1])).float()  # (B, M, H)
    y, inten = labels.gather(1, index), intensity.gather(1, index).float()
    w = pair_weights(y, inten)
    s = h @ h.transpose(1, 2) / tau  # (B, M, M)
    m = index.shape[1]
    others = member[:, :, None] & member[:, None, :] & ~torch.eye(m, dtype=torch.bool, device=h.device)
    floor = torch.finfo(s.dtype).min
    log_w = torch.log(w.clamp(min=1e-6))
    denominator = torch.logsumexp(torch.where(others & (w > 0), log_w + s, torch.full_like(s, floor)), dim=2)
    positive = others & (y[:, :, None] == y[:, None, :])
    n_pos = positive.sum(dim=2)
    log_prob = torch.where(positive, log_w + s - denominator[..., None], torch.zeros_like(s))
    per_anchor = -(tau / tau_base) * log_prob.sum(dim=2) / n_pos.clamp(min=1)
    return masked_mean(per_anchor, n_pos > 0)


def sparsity(intensity: Tensor, mask: Tensor) -> Tensor:
    """``(B,)``: mean a_t over the real frames (weighted by h_a in the objective)."""
    return masked_mean(intensity, mask)
