"""TSL-Net's greedy pseudo-label search around clicks (docs/methods.md §4, after LACP).

Clicks split a video into gaps: before the first click, between consecutive clicks, after the
last. Each gap must contain some background (two segments are never adjacent), and the
snippets next to a click probably still belong to its segment. So, on the model's detached
scores (b_t = y_{t,∅}, Ĉ_{t,c} = y_{t,c}(1 − b_t)):

1. **Background seeds**, per gap. Snippets with b_t ≥ τ are marked with the gap's maximum b
   (the seed value, not 1). Outer gaps: if the seed values sum to ≥ 1, everything between the
   video end and the innermost marked snippet becomes a seed; otherwise the stretch from the
   video end to the gap's first maximum of b does. Inner gaps: if the sum is ≥ 2, everything
   between the first and last marked snippet; otherwise only the gap's first maximum of b.
2. **Foreground expansion**, from each click outward into its neighbouring gaps (both ends of an
   inner gap), while ``b_t ≤ max_c Ĉ_{t,c}`` and t is not a seed of value ≥ 1. Visited
   snippets take the model's current fused vector ``[Ĉ_t, b_t]`` as a soft target.

The search is sequential over gaps, so it runs per video on detached numpy arrays; within a
gap, marking and the leading run of an expansion are vectorised (comparisons, cumulative
products). Click snippets themselves are never targets here (the point loss covers them).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

TAU_BG = 0.95


def _gap_seeds(gap_b: np.ndarray, side: str, tau: float) -> np.ndarray:
    """Seed values of one non-empty gap; ``side`` is ``left``, ``right`` or ``inner``."""
    value = gap_b.max()
    marked = np.flatnonzero(gap_b >= tau)
    total = value * len(marked)
    peak = int(gap_b.argmax())
    seeds = np.zeros_like(gap_b)
    if side == "left":
        seeds[: (marked[-1] if total >= 1 else peak) + 1] = value
    elif side == "right":
        seeds[(marked[0] if total >= 1 else peak) :] = value
    elif total >= 2:
        seeds[marked[0] : marked[-1] + 1] = value
    else:
        seeds[peak] = value
    return seeds


def _gaps(points: np.ndarray, length: int) -> list[tuple[int, int, str]]:
    """``(start, stop, side)`` of every non-empty gap around sorted unique clicks, half-open."""
    bounds = [(0, int(points[0]), "left")]
    bounds += [(int(lo) + 1, int(hi), "inner") for lo, hi in zip(points[:-1], points[1:])]
    bounds += [(int(points[-1]) + 1, length, "right")]
    return [(lo, hi, side) for lo, hi, side in bounds if hi > lo]


def _clean_points(points: np.ndarray, length: int) -> np.ndarray:
    """Sorted unique click indices inside ``[0, length)``."""
    points = np.unique(np.asarray(points, dtype=np.int64))
    return points[(points >= 0) & (points < length)]


def background_seeds(b: np.ndarray, points: np.ndarray, tau: float = TAU_BG) -> np.ndarray:
    """Step 1 of the search alone: the seed value of every snippet of one video (0 = no seed).

    Args:
        b: ``(T,)`` detached non-sentiment scores y_{t,∅}.
        points: click snippet indices (any order; duplicates and out-of-range ones are dropped).
        tau: background threshold τ_bg.
    """
    points = _clean_points(points, len(b))
    gaps = _gaps(points, len(b)) if len(points) else []
    return _seeds_in_gaps(b, gaps, tau)


def _seeds_in_gaps(b: np.ndarray, gaps: list[tuple[int, int, str]], tau: float) -> np.ndarray:
    """Seed values of one video from its gaps (see :func:`_gaps`); 0 outside every seed."""
    seeds = np.zeros(len(b), dtype=b.dtype)
    for lo, hi, side in gaps:
        seeds[lo:hi] = _gap_seeds(b[lo:hi], side, tau)
    return seeds


def background_seeds_batch(
    background: Tensor, mask: Tensor, point_t: Tensor, point_mask: Tensor, tau: float = TAU_BG
) -> Tensor:
    """:func:`background_seeds` for every video of a padded batch: ``(B, T)``, 0 at padding."""
    scores = background.detach().float().cpu().numpy()
    clicks = point_t.cpu().numpy()
    valid = point_mask.cpu().numpy()
    seeds = np.zeros(scores.shape, dtype=np.float32)
    for i, n in enumerate(mask.sum(dim=1).tolist()):
        seeds[i, :n] = background_seeds(scores[i, :n], clicks[i][valid[i]], tau)
    return torch.from_numpy(seeds).to(device=background.device, dtype=background.dtype)


def _leading_run(ok: np.ndarray) -> int:
    """Length of the leading run of True values (where a greedy walk stops)."""
    return int(np.cumprod(ok).sum())


def greedy_pseudo_labels(
    b: np.ndarray, fused: np.ndarray, points: np.ndarray, tau: float = TAU_BG
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background seeds and expanded foreground targets of one video (module docstring).

    Args:
        b: ``(T,)`` detached non-sentiment scores y_{t,∅}.
        fused: ``(T, C)`` detached fused class scores Ĉ_{t,c} = y_{t,c}(1 − b_t).
        points: click snippet indices (any order; duplicates and indices outside [0, T) are
            dropped).
        tau: background threshold τ_bg.

    Returns:
        ``targets (T, C+1)``: ``[Ĉ_t, b_t]`` on expanded snippets, 0 elsewhere;
        ``weights (T,)``: ``max_c targets`` on expanded snippets, 0 elsewhere;
        ``bkg_seeds (T,)``: seed value on background seeds, 0 elsewhere.
    """
    length = len(b)
    points = _clean_points(points, length)
    if len(points) == 0:  # nothing to search from
        seeds = np.zeros(length, dtype=b.dtype)
        return np.zeros((length, fused.shape[1] + 1), dtype=b.dtype), np.zeros_like(seeds), seeds

    # Gaps are disjoint, so all seeds are placed before any walk checks them.
    gaps = _gaps(points, length)
    seeds = _seeds_in_gaps(b, gaps, tau)
    expanded = np.zeros(length, dtype=bool)
    ok = (b <= fused.max(axis=1)) & (seeds < 1.0)
    for lo, hi, side in gaps:
        if side != "left":  # walk right from the click at lo - 1
            expanded[lo : lo + _leading_run(ok[lo:hi])] = True
        if side != "right":  # walk left from the click at hi
            expanded[hi - _leading_run(ok[lo:hi][::-1]) : hi] = True

    targets = np.where(expanded[:, None], np.concatenate([fused, b[:, None]], axis=1), 0.0).astype(b.dtype)
    return targets, targets.max(axis=1), seeds


def greedy_search_batch(
    fused_cas: Tensor, mask: Tensor, point_t: Tensor, point_mask: Tensor, tau: float = TAU_BG
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`greedy_pseudo_labels` for every video of a padded batch.

    Args:
        fused_cas: ``(B, T, C+1)`` fused CAS ``[Ĉ, b]`` (detached here).
        mask: ``(B, T)`` bool, True on real snippets.
        point_t, point_mask: ``(B, P)`` click snippets and their validity.
        tau: background threshold τ_bg.

    Returns:
        ``targets (B, T, C+1)``, ``weights (B, T)``, ``bkg_seeds (B, T)`` on ``fused_cas``'s
        device and dtype, 0 at padding.
    """
    scores = fused_cas.detach().float().cpu().numpy()
    lengths = mask.sum(dim=1).tolist()
    clicks = point_t.cpu().numpy()
    valid = point_mask.cpu().numpy()
    targets = np.zeros(scores.shape, dtype=np.float32)
    weights = np.zeros(scores.shape[:2], dtype=np.float32)
    seeds = np.zeros(scores.shape[:2], dtype=np.float32)
    for i, n in enumerate(lengths):
        video = scores[i, :n]
        targets[i, :n], weights[i, :n], seeds[i, :n] = greedy_pseudo_labels(
            video[:, -1], video[:, :-1], clicks[i][valid[i]], tau
        )

    def back(x: np.ndarray) -> Tensor:
        return torch.from_numpy(x).to(device=fused_cas.device, dtype=fused_cas.dtype)

    return back(targets), back(weights), back(seeds)
