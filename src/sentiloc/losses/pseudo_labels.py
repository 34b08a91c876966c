"""Frame-level pseudo-labels from points: one module, several strategies (METHODS.md §2.5).

Every strategy turns each click ``(t_p, c_p)`` into a *mound* over nearby snippets (its shape is
what differs) plus the *support* where the click speaks at all. The mounds of all clicks are then
combined the same way for every strategy:

* per class, the maximum over that class's clicks; where classes compete, the larger value
  (the nearer click) wins — [design];
* BSPG's confidence gate: ``I_t = 0`` where the detached non-sentiment score exceeds τ;
* inside the support, ``ŷ[t, c] = mound·I_t`` and ``ŷ[t, ∅] = 1 − ŷ[t, c]``;
* outside every support, snippets are ignored except background seeds (``y_∅ ≥ τ`` → ``ŷ[t, ∅] = 1``)
  — [design], the τ rule of the TSL/LACP seed search;
* the snippet weight is ``max_c ŷ[t, c]`` (0 where ignored and at padding).

Strategies: ``bspg`` (the paper's linear decay to β over ±w), ``threshold`` (hard square wave:
class 1 where the model's class score passes a threshold inside ±w — [design], the paper gives no
rule), ``gaussian`` (P-FES/GIM instance-adaptive Gaussian around a pseudo-apex), ``none`` (the
click snippets alone). All are vectorised over batch, clicks and time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sentiloc.errors import SentilocError

STRATEGIES = ("bspg", "threshold", "gaussian", "none")


@dataclass
class PseudoLabelConfig:
    """The ``loss.pseudo`` section: strategy and its parameters (window ``w`` in snippets)."""

    strategy: str = "bspg"
    window: int = 7
    beta: float = 0.6
    tau: float = 0.95
    bg_seeds: bool = True
    threshold: float = 0.5
    gaussian_sigma_scale: float = 0.5

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SentilocError(f"loss.pseudo.strategy {self.strategy!r}: choose one of {STRATEGIES}")
        if self.window < 0 or not 0.0 <= self.beta <= 1.0:
            raise SentilocError("loss.pseudo.window must be >= 0 and loss.pseudo.beta in [0, 1]")


def _click_distance(point_t: Tensor, length: int) -> Tensor:
    """``|t − t_p|`` for every click and snippet: ``(B, P, T)``."""
    t = torch.arange(length, device=point_t.device)
    return (t[None, None, :] - point_t[:, :, None]).abs()


def _class_scores_at(cas: Tensor, point_cls: Tensor) -> Tensor:
    """The detached CAS column of each click's class over time: ``(B, P, T)``."""
    return torch.gather(cas.transpose(1, 2), 1, point_cls[:, :, None].expand(-1, -1, cas.shape[1]))


def bspg_mounds(dist: Tensor, cfg: PseudoLabelConfig) -> tuple[Tensor, Tensor]:
    """Linear decay ``β + (1 − β)(1 − |t − t_p| / w)`` over ``|t − t_p| ≤ w``."""
    support = dist <= cfg.window
    decay = 1.0 - dist.float() / max(cfg.window, 1)
    return (cfg.beta + (1.0 - cfg.beta) * decay) * support, support


def threshold_mounds(dist: Tensor, class_cas: Tensor, cfg: PseudoLabelConfig) -> tuple[Tensor, Tensor]:
    """Square wave: 1 where the click's class score passes ``threshold`` within ±w (and at the click)."""
    support = dist <= cfg.window
    active = support & ((class_cas >= cfg.threshold) | (dist == 0))
    return active.float(), support


def gaussian_mounds(dist: Tensor, class_cas: Tensor, cfg: PseudoLabelConfig) -> tuple[Tensor, Tensor]:
    """P-FES/GIM instance-adaptive Gaussian.

    The pseudo-apex is the highest class score within ±w of the click; the instance duration D is
    the run of snippets around the apex whose score stays ≥ half the apex score (clipped to
    [1, 2w + 1]); the target is ``exp(−(t − apex)² / 2σ²)`` with ``σ = max(0.5, s·D/2)`` over ±3σ.
    """
    window = dist <= cfg.window
    scores = class_cas.masked_fill(~window, -1.0)
    apex = scores.argmax(dim=2)
    peak = scores.max(dim=2).values
    above = window & (class_cas >= 0.5 * peak[..., None])
    breaks = torch.cumsum((~above).int(), dim=2)
    in_run = above & (breaks == torch.gather(breaks, 2, apex[..., None]))
    duration = in_run.sum(dim=2).clamp(1, 2 * cfg.window + 1).float()
    sigma = (cfg.gaussian_sigma_scale * duration / 2).clamp(min=0.5)
    t = torch.arange(class_cas.shape[2], device=class_cas.device)
    offset = (t[None, None, :] - apex[..., None]).float()
    support = offset.abs() <= 3 * sigma[..., None]
    return torch.exp(-offset**2 / (2 * sigma[..., None] ** 2)) * support, support


def point_targets(
    point_t: Tensor, point_cls: Tensor, point_mask: Tensor, cas_detached: Tensor, mask: Tensor, cfg: PseudoLabelConfig
) -> tuple[Tensor, Tensor]:
    """Pseudo-label targets ``(B, T, C + 1)`` and snippet weights ``(B, T)`` from clicks.

    Args:
        point_t, point_cls, point_mask: ``(B, P)`` click snippets, classes and validity.
        cas_detached: ``(B, T, C + 1)`` current CAS (no gradient), for the gate, the seeds and
            the score-dependent strategies.
        mask: ``(B, T)`` real snippets.
    """
    batch, length, columns = cas_detached.shape
    num_classes = columns - 1
    cas = cas_detached.detach().float()
    dist = _click_distance(point_t, length)
    if cfg.strategy == "bspg":
        mound, support = bspg_mounds(dist, cfg)
    elif cfg.strategy == "threshold":
        mound, support = threshold_mounds(dist, _class_scores_at(cas, point_cls), cfg)
    elif cfg.strategy == "gaussian":
        mound, support = gaussian_mounds(dist, _class_scores_at(cas, point_cls), cfg)
    else:
        support = dist == 0
        mound = support.float()
    valid = point_mask[:, :, None] & mask[:, None, :]
    mound, support = mound * valid, support & valid
    # per class: max over that class's clicks -> (B, C, T); competing classes: the larger wins
    one_hot = torch.nn.functional.one_hot(point_cls, num_classes).bool() & point_mask[..., None]
    per_class = torch.where(one_hot[..., None], mound[:, :, None, :], torch.zeros((), device=cas.device)).amax(dim=1)
    value, winner = per_class.max(dim=1)
    covered = support.any(dim=1)
    background = cas[..., num_classes]
    gated = cfg.strategy != "none"
    if gated:
        value = value * (background <= cfg.tau)
    targets = torch.zeros(batch, length, columns, device=cas.device)
    value = value * covered
    targets.scatter_(2, winner[..., None], value[..., None])
    targets[..., num_classes] = torch.where(covered, 1.0 - value, torch.zeros_like(value))
    weight = torch.where(covered, targets.amax(dim=2), torch.zeros_like(value))
    if gated and cfg.bg_seeds:
        seeds = ~covered & (background >= cfg.tau) & mask
        targets[..., num_classes] = torch.where(seeds, torch.ones_like(value), targets[..., num_classes])
        weight = torch.where(seeds, torch.ones_like(weight), weight)
    weight = weight * mask
    return targets * mask[..., None], weight
