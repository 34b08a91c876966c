"""GIM pseudo-labels for point-supervised expression spotting (docs/methods.md §6).

From one click per expression instance, GIM builds per-frame intensity targets whose shape
follows an epoch schedule:

- **hard** (epoch 0): 1 on ``[p − 5, p + 5)`` (macro) / ``[p − 3, p + 3)`` (micro) around click p;
- **soft** (epochs 1–4): a Gaussian in *feature space* centred on the click's own feature, on
  ``[p − w, p + w]`` with w = 2δ (macro) / δ (micro), δ = 1 (epochs 1–2) then 2 (epochs 3–4);
- **adaptive** (epoch ≥ 5): per click, a pseudo-apex a* (the intensity peak near p), a duration
  D estimated from how many frames around a* pass a reliability threshold θ_r(e), and a
  feature-space Gaussian on ``[a* − D//2, a* + D//2]`` centred on h_{a*}; apex targets on
  ``a* ± 2`` (macro) / ``a* ± 1`` (micro).

Feature-space Gaussian: ŝ_t = exp(−‖h_t − h_c‖² / (2σ²)), σ² = the mean of ‖h_t − h_c‖² over the
window (so every instance has its own spread); σ² = 0 (all window features equal) gives ŝ = 1.

Everything is vectorised over clicks ``(B, P)`` and frames ``(B, P, T)``; windows are inclusive
frame ranges clipped to the video's real frames, padding is never selected, and the model's
predictions and features enter only detached (the targets carry no gradient). Where several
clicks of one type overlap, a frame takes the largest value (a max, so the result does not
depend on the order of the clicks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.core.registry import Registry
from sentiloc.data.spotting.batch import EXPRESSION_TYPES

N_TYPES = len(EXPRESSION_TYPES)


@dataclass
class GIMConfig:
    """The ``loss.gim`` section: GIM's schedule and window constants, in working frames, per type (macro, micro).

    Attributes:
        hard_half_width: epoch-0 window ``[p − h, p + h)``.
        soft_epochs, soft_deltas: δ = ``soft_deltas[i]`` from epoch ``soft_epochs[i]`` on, until
            ``adaptive_epoch``; epochs before ``soft_epochs[0]`` use the hard windows.
        soft_scale: the soft window's half-width is ``soft_scale · δ`` (2δ macro, δ micro).
        adaptive_epoch: first epoch of the adaptive stage (and of the apex branch's training).
        window: K; the pseudo-apex is searched within ``p ± K // 4``, reliable frames are counted
            within ``a* ± K // 2``, and D is at least ``K // 2``.
        max_duration: the cap on D.
        duration_scale: D = round(duration_scale · n) before clamping.
        reliable_start, reliable_floor, reliable_decay: θ_r(e) = max(floor, start − decay·(e − adaptive_epoch)).
        apex_half_width: pseudo-apex targets on ``a* ± apex_half_width``.
    """

    hard_half_width: tuple[int, int] = (5, 3)
    soft_epochs: tuple[int, ...] = (1, 3)
    soft_deltas: tuple[int, ...] = (1, 2)
    soft_scale: tuple[int, int] = (2, 1)
    adaptive_epoch: int = 5
    window: tuple[int, int] = (32, 16)
    max_duration: tuple[int, int] = (36, 16)
    duration_scale: float = 1.2
    reliable_start: float = 0.8
    reliable_floor: float = 0.5
    reliable_decay: float = 1.0 / 80.0
    apex_half_width: tuple[int, int] = (2, 1)

    def __post_init__(self) -> None:
        for key in ("hard_half_width", "soft_scale", "window", "max_duration", "apex_half_width"):
            if min(getattr(self, key)) < 0:
                raise SentilocError(f"config 'loss.gim.{key}' must hold non-negative frame counts, got {getattr(self, key)}")
        if len(self.soft_epochs) != len(self.soft_deltas) or min(self.soft_deltas, default=0) < 0:
            raise SentilocError(
                "config 'loss.gim.soft_epochs' and 'loss.gim.soft_deltas' must be lists of the same length, deltas >= 0"
            )
        epochs = [*self.soft_epochs, self.adaptive_epoch]
        if any(b <= a for a, b in pairwise(epochs)) or min(epochs) < 0:
            raise SentilocError(
                f"config 'loss.gim': soft_epochs {list(self.soft_epochs)} must increase and end before "
                f"adaptive_epoch ({self.adaptive_epoch})"
            )
        if self.duration_scale <= 0 or not 0.0 <= self.reliable_floor <= self.reliable_start <= 1.0:
            raise SentilocError("config 'loss.gim': need duration_scale > 0 and 0 <= reliable_floor <= reliable_start <= 1")


def stage(epoch: int, cfg: GIMConfig) -> str:
    """The GIM stage of ``epoch`` (0-based): ``hard``, ``soft`` or ``adaptive``."""
    if epoch >= cfg.adaptive_epoch:
        return "adaptive"
    return "soft" if cfg.soft_epochs and epoch >= cfg.soft_epochs[0] else "hard"


def soft_delta(epoch: int, cfg: GIMConfig) -> int:
    """δ of a soft-stage epoch: the delta of the last ``soft_epochs`` entry at or before it."""
    started = [d for e, d in zip(cfg.soft_epochs, cfg.soft_deltas) if e <= epoch]
    return started[-1] if started else 0


def reliable_threshold(epoch: int, cfg: GIMConfig) -> float:
    """θ_r(e) = max(floor, start − decay·(e − adaptive_epoch)).

    With the defaults this is 0.8 − (e − 5)/80, reaching 0.5 at e = 29 and staying there: the same
    values as the GIM code's "0.8 − (e − 5)/80 for e < 29, else 0.5", as one expression.
    """
    return max(cfg.reliable_floor, cfg.reliable_start - cfg.reliable_decay * (epoch - cfg.adaptive_epoch))


def per_click(values: Sequence[int], point_type: Tensor) -> Tensor:
    """``(B, P)`` long: the per-type constant ``values[type]`` of every click."""
    return torch.tensor(list(values), dtype=torch.long, device=point_type.device)[point_type.clamp(0, N_TYPES - 1)]


def windows(centre: Tensor, left: Tensor, right: Tensor, valid: Tensor, mask: Tensor) -> Tensor:
    """``(B, P, T)`` bool: the real frames of ``[centre − left, centre + right]`` (inclusive) of each valid click.

    Args:
        centre, left, right: ``(B, P)`` long frame index and reaches (broadcastable).
        valid: ``(B, P)`` bool, clicks that count.
        mask: ``(B, T)`` bool, real frames.
    """
    t = torch.arange(mask.shape[1], device=mask.device)[None, None, :]
    lo, hi = (centre - left)[..., None], (centre + right)[..., None]
    return valid[..., None] & mask[:, None, :] & (t >= lo) & (t <= hi)


def hard_windows(point_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor, cfg: GIMConfig) -> Tensor:
    """``(B, P, T)`` bool: epoch-0 windows ``[p − h, p + h)``, h = ``hard_half_width[type]``."""
    h = per_click(cfg.hard_half_width, point_type)
    return windows(point_t, h, h - 1, valid, mask)


def feature_gaussian(h: Tensor, centre: Tensor, support: Tensor) -> Tensor:
    """Feature-space Gaussian ŝ ``(B, P, T)`` on each click's ``support``, centred on the feature at ``centre``.

    ŝ_t = exp(−d_t² / (2σ²)) with d_t = ‖h_t − h_centre‖ and σ² = mean of d_t² over the support;
    σ² = 0 gives ŝ = 1 on the support. Zero off the support.

    Args:
        h: ``(B, T, H)`` frame features (detached by the caller).
        centre: ``(B, P)`` long frame of each click's centre.
        support: ``(B, P, T)`` bool.
    """
    centre_h = h.gather(1, centre.clamp(0, h.shape[1] - 1)[..., None].expand(-1, -1, h.shape[2]))  # (B, P, H)
    d2 = torch.cdist(centre_h, h, compute_mode="donot_use_mm_for_euclid_dist").square()  # (B, P, T)
    d2 = torch.where(support, d2, torch.zeros_like(d2))
    sigma2 = d2.sum(dim=2, keepdim=True) / support.sum(dim=2, keepdim=True).clamp(min=1)
    ratio = torch.where(sigma2 > 0, d2 / (2.0 * sigma2).clamp(min=torch.finfo(d2.dtype).tiny), torch.zeros_like(d2))
    return torch.where(support, torch.exp(-ratio), torch.zeros_like(d2))


def soft_windows(point_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor, delta: int, cfg: GIMConfig) -> Tensor:
    """``(B, P, T)`` bool: soft-stage windows ``[p − w, p + w]``, w = ``soft_scale[type] · δ``."""
    w = per_click([s * delta for s in cfg.soft_scale], point_type)
    return windows(point_t, w, w, valid, mask)


def pseudo_apex(intensity: Tensor, point_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor,
                cfg: GIMConfig) -> Tensor:
    """a* ``(B, P)`` long: the frame of largest intensity within ``p ± K // 4`` (real frames).

    Ties go to the frame nearest the click, then to the earlier frame. A click whose window holds
    no real frame (an invalid click) keeps ``a* = p``.

    Args:
        intensity: ``(B, T)`` detached a_t.
        point_t, point_type, valid: ``(B, P)`` clicks.
        mask: ``(B, T)`` bool.
    """
    reach = per_click([k // 4 for k in cfg.window], point_type)
    inside = windows(point_t, reach, reach, valid, mask)
    scored = torch.where(inside, intensity[:, None, :], torch.full_like(inside, -1.0, dtype=intensity.dtype))
    peak = scored.amax(dim=2, keepdim=True)
    t = torch.arange(mask.shape[1], device=mask.device)[None, None, :]
    offset = t - point_t[..., None]
    # Rank ties by distance to the click, the earlier frame first: key 2|o| (before) or 2|o| + 1 (after).
    key = 2 * offset.abs() + (offset > 0).long()
    key = torch.where(inside & (scored == peak), key, torch.full_like(key, 4 * mask.shape[1] + 4))
    return torch.where(inside.any(dim=2), key.argmin(dim=2), point_t)


def estimate_duration(intensity: Tensor, apex_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor,
                      threshold: float, cfg: GIMConfig) -> tuple[Tensor, Tensor]:
    """Reliable-frame count n and duration D per click, both ``(B, P)`` long.

    n = #{t ∈ [a* − K//2, a* + K//2] real : a_t > θ_r};  D = clamp(round(scale · n), K//2, cap).

    Args:
        intensity: ``(B, T)`` detached a_t.
        apex_t: ``(B, P)`` pseudo-apexes a*.
        threshold: θ_r (:func:`reliable_threshold`).
    """
    k = per_click(cfg.window, point_type)
    inside = windows(apex_t, k // 2, k // 2, valid, mask)
    n = (inside & (intensity[:, None, :] > threshold)).sum(dim=2)
    scaled = torch.round(cfg.duration_scale * n.double()).long()
    return n, torch.minimum(torch.maximum(scaled, k // 2), per_click(cfg.max_duration, point_type))


def instance_windows(apex_t: Tensor, duration: Tensor, valid: Tensor, mask: Tensor) -> Tensor:
    """``(B, P, T)`` bool: the adaptive window ``[a* − D//2, a* + D//2]``."""
    return windows(apex_t, duration // 2, duration // 2, valid, mask)


def apex_windows(centre: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor, cfg: GIMConfig) -> Tensor:
    """``(B, P, T)`` bool: apex targets on ``centre ± apex_half_width[type]``."""
    r = per_click(cfg.apex_half_width, point_type)
    return windows(centre, r, r, valid, mask)


def by_type(values: Tensor, support: Tensor, point_type: Tensor) -> tuple[Tensor, Tensor]:
    """Per-click proposals -> per-type frame labels, overlaps resolved by the max.

    Args:
        values: ``(B, P, T)`` proposed values (used only on ``support``).
        support: ``(B, P, T)`` bool.
        point_type: ``(B, P)`` long.

    Returns:
        ``labels (B, T, 2)`` (0 off every support) and ``covered (B, T, 2)`` bool.
    """
    onehot = torch.nn.functional.one_hot(point_type.clamp(0, N_TYPES - 1), N_TYPES).bool()  # (B, P, 2)
    member = support[:, :, None, :] & onehot[..., None]  # (B, P, 2, T)
    proposals = torch.where(member, values[:, :, None, :], torch.zeros_like(values[:, :, None, :]))
    # A zero row under the clicks: the max of no proposal is 0 (a batch without clicks has P = 0).
    labels = torch.nn.functional.pad(proposals, (0, 0, 0, 0, 0, 1)).amax(dim=1)
    return labels.transpose(1, 2), member.any(dim=1).transpose(1, 2)


def select_negatives(intensity: Tensor, covered: Tensor, mask: Tensor) -> Tensor:
    """``(B, T)`` bool: the k real frames outside every pseudo window with the largest 1 − a_t.

    k = max(1, min(#outside, #covered)), never more than #outside (a video covered entirely
    has no negatives). Ties go to the earlier frame.

    Args:
        intensity: ``(B, T)`` detached a_t.
        covered: ``(B, T)`` bool, frames inside any pseudo window (either type).
        mask: ``(B, T)`` bool.
    """
    outside = mask & ~covered
    n_out, n_pos = outside.sum(dim=1), (covered & mask).sum(dim=1)
    k = torch.minimum(torch.clamp(torch.minimum(n_out, n_pos), min=1), n_out)
    score = torch.where(outside, 1.0 - intensity, torch.full_like(intensity, -1.0))
    order = torch.sort(score, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(mask.shape[1], device=mask.device).expand_as(order))
    return outside & (rank < k[:, None])


@dataclass
class GIMTargets:
    """Pseudo-labels of one batch.

    Attributes:
        soft: ``(B, T, 2)`` ŝ per type (macro, micro), 0 outside the pseudo windows.
        covered: ``(B, T, 2)`` bool, the pseudo-positive frames of each type (the windows).
        negatives: ``(B, T)`` bool, the selected negative frames.
        apex: ``(B, T, 2)`` bool, apex-target frames per type (around a* in the adaptive
            stage, around the click otherwise).
    """

    soft: Tensor
    covered: Tensor
    negatives: Tensor
    apex: Tensor


@dataclass
class ClickFrames:
    """Where a stage puts each click's pseudo-label: ``centre (B, P)`` long, ``support (B, P, T)`` bool, and
    whether the values are feature-space Gaussians (else 1 on the support)."""

    centre: Tensor
    support: Tensor
    gaussian: bool


def _hard_stage(epoch: int, intensity: Tensor, point_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor,
                cfg: GIMConfig) -> ClickFrames:
    return ClickFrames(point_t, hard_windows(point_t, point_type, valid, mask, cfg), gaussian=False)


def _soft_stage(epoch: int, intensity: Tensor, point_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor,
                cfg: GIMConfig) -> ClickFrames:
    support = soft_windows(point_t, point_type, valid, mask, soft_delta(epoch, cfg), cfg)
    return ClickFrames(point_t, support, gaussian=True)


def _adaptive_stage(epoch: int, intensity: Tensor, point_t: Tensor, point_type: Tensor, valid: Tensor, mask: Tensor,
                    cfg: GIMConfig) -> ClickFrames:
    apex_t = pseudo_apex(intensity, point_t, point_type, valid, mask, cfg)
    _, duration = estimate_duration(intensity, apex_t, point_type, valid, mask, reliable_threshold(epoch, cfg), cfg)
    return ClickFrames(apex_t, instance_windows(apex_t, duration, valid, mask), gaussian=True)


#: Stage name (:func:`stage`) -> where its labels go; every stage shares the rest of :func:`gim_targets`.
STAGES: Registry[Callable[..., ClickFrames]] = Registry("GIM stage")
STAGES.register("hard")(_hard_stage)
STAGES.register("soft")(_soft_stage)
STAGES.register("adaptive")(_adaptive_stage)


def gim_targets(stage_name: str, epoch: int, intensity: Tensor, h: Tensor, point_t: Tensor, point_type: Tensor,
                valid: Tensor, mask: Tensor, cfg: GIMConfig) -> GIMTargets:
    """The pseudo-labels of stage ``stage_name`` (``hard`` | ``soft`` | ``adaptive``) at ``epoch``.

    Args:
        intensity: ``(B, T)`` a_t; h: ``(B, T, H)`` frame features. Both are detached here.
        point_t, point_type, valid: ``(B, P)`` clicks (working frames, type index, counts).
        mask: ``(B, T)`` bool.
    """
    intensity, h = intensity.detach().float(), h.detach().float()
    frames = STAGES.get(stage_name)(epoch, intensity, point_t, point_type, valid, mask, cfg)
    values = feature_gaussian(h, frames.centre, frames.support) if frames.gaussian else frames.support.float()
    soft, covered = by_type(values, frames.support, point_type)
    apex_support = apex_windows(frames.centre, point_type, valid, mask, cfg)
    _, apex = by_type(apex_support.float(), apex_support, point_type)
    return GIMTargets(soft=soft, covered=covered, negatives=select_negatives(intensity, covered.any(dim=2), mask),
                      apex=apex)
