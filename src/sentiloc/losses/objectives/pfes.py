"""P-FES's training objective with GIM pseudo-labels (docs/methods.md §6).

Per video, with the pseudo-labels of the epoch's stage (:mod:`sentiloc.losses.gim`):

    L = L_int + L_reward + [e ≥ e_a] L_apex + λ_c L_con + h_a mean_t a_t (+ 0.1 L_signed, legacy only)

averaged over the batch's videos. ``schedule: gim`` walks the hard -> soft -> adaptive stages;
``schedule: hard`` is the hard-window baseline: the epoch-0 windows for the whole run, and from
``gim.adaptive_epoch`` on an apex branch trained on the click ± ``gim.apex_half_width`` frames
(the click stands in for the pseudo-apex it never searches for).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.registry import Registry
from sentiloc.data.spotting.batch import SpottingBatch
from sentiloc.losses.clicks import valid_clicks
from sentiloc.losses.gim import GIMConfig, GIMTargets, gim_targets, stage
from sentiloc.losses.registry import Objective, register_objective
from sentiloc.losses.spotting import (
    apex_focal,
    apex_labels,
    contrast_labels,
    intensity_contrastive,
    intensity_mse,
    reward,
    signed_temporal_term,
    sparsity,
)
from sentiloc.models.base import SpottingOutput

#: ``loss.schedule`` -> the GIM stage of an epoch.
SCHEDULES: Registry[Callable[[int, GIMConfig], str]] = Registry("GIM schedule", "loss.schedule")
SCHEDULES.register("gim")(stage)


@SCHEDULES.register("hard")
def hard_only(epoch: int, cfg: GIMConfig) -> str:
    """The hard-window baseline: the epoch-0 stage at every epoch."""
    return "hard"


@dataclass
class PFESObjectiveConfig:
    """The ``loss:`` section of ``loss.name: pfes`` (defaults: the GIM code on CAS(ME)²; SAMM uses
    ``contrastive_weight: 2.0e-6`` and ``sparsity_weight: 0.3``).

    Attributes:
        schedule: ``gim`` (hard -> soft -> adaptive) or ``hard`` (the hard-window baseline).
        gim: the pseudo-label constants (:class:`sentiloc.losses.gim.GIMConfig`).
        reward_weights: (macro, micro) weights of the reward term.
        expression_threshold: ŝ above which a frame counts as an expression for the reward, the
            apex branch's zero band and the contrastive labels.
        apex_alpha, apex_gamma, apex_smoothing, apex_class_weights, apex_radius: the apex loss.
        contrastive_weight, contrastive_tau, contrastive_tau_base: λ_c, τ and τ_b.
        contrastive_max_frames: at most this many frames per video enter the contrastive loss (a
            seeded random subset beyond it; the pair matrix is quadratic in it).
        sparsity_weight: h_a.
        legacy_smoothness, smoothness_weight: add the GIM code's signed temporal term.
        seed: seed of the contrastive subsampling.
    """

    schedule: str = "gim"
    gim: GIMConfig = field(default_factory=GIMConfig)
    reward_weights: tuple[float, float] = (0.4, 0.6)
    expression_threshold: float = 0.5
    apex_alpha: tuple[float, float] = (0.90, 0.93)
    apex_gamma: float = 1.0
    apex_smoothing: float = 0.25
    apex_class_weights: tuple[float, float] = (1.0, 1.8)
    apex_radius: int = 6
    contrastive_weight: float = 1.4e-5
    contrastive_tau: float = 0.5
    contrastive_tau_base: float = 0.07
    contrastive_max_frames: int = 2048
    sparsity_weight: float = 2.5
    legacy_smoothness: bool = False
    smoothness_weight: float = 0.1
    seed: int = 3552

    def __post_init__(self) -> None:
        SCHEDULES.get(self.schedule)
        if not all(0.0 <= a <= 1.0 for a in self.apex_alpha):
            raise SentilocError(f"config 'loss.apex_alpha' must lie in [0, 1], got {list(self.apex_alpha)}")
        if self.contrastive_tau <= 0 or self.contrastive_tau_base <= 0:
            raise SentilocError("config 'loss.contrastive_tau' and 'loss.contrastive_tau_base' must be > 0")
        if self.contrastive_max_frames < 2:
            raise SentilocError(f"config 'loss.contrastive_max_frames' must be >= 2, got {self.contrastive_max_frames}")
        if self.apex_radius < 0 or self.apex_gamma < 0:
            raise SentilocError("config 'loss.apex_radius' and 'loss.apex_gamma' must be >= 0")


@register_objective("pfes", PFESObjectiveConfig)
class PFESObjective(Objective):
    """GIM pseudo-labels and the P-FES loss terms for one batch; returns a dict with ``total``."""

    needs = SpottingOutput

    def __init__(self, cfg: PFESObjectiveConfig, supervision: str = "point", num_classes: int = 2) -> None:
        """``supervision`` and ``num_classes`` (the registry's common arguments) are fixed for spotting:
        clicks, and the two expression types."""
        self.cfg = cfg
        self.epoch = 0
        self.generator = torch.Generator().manual_seed(cfg.seed)

    def start_epoch(self, epoch: int) -> None:
        """Remember the epoch: it picks the GIM stage, θ_r and whether the apex branch trains."""
        self.epoch = int(epoch)

    @property
    def stage(self) -> str:
        """The GIM stage of the current epoch under the configured schedule."""
        return SCHEDULES.get(self.cfg.schedule)(self.epoch, self.cfg.gim)

    @property
    def trains_apex(self) -> bool:
        """The apex branch trains from ``gim.adaptive_epoch`` on (under either schedule)."""
        return self.epoch >= self.cfg.gim.adaptive_epoch

    def targets(self, out: SpottingOutput, batch: SpottingBatch) -> GIMTargets:
        """The batch's pseudo-labels at the current epoch (detached)."""
        valid = valid_clicks(batch.point_t, batch.point_mask, batch.mask)
        return gim_targets(self.stage, self.epoch, out.intensity, out.embeddings, batch.point_t, batch.point_type,
                           valid, batch.mask, self.cfg.gim)

    def __call__(self, out: SpottingOutput, batch: SpottingBatch) -> dict[str, torch.Tensor]:
        cfg, mask = self.cfg, batch.mask
        gim = self.targets(out, batch)
        a = out.intensity
        terms = {
            "intensity": intensity_mse(a, gim.soft, gim.covered, gim.negatives),
            "reward": reward(a, gim.soft, cfg.reward_weights, cfg.expression_threshold),
            "sparsity": sparsity(a, mask),
        }
        labels, level = contrast_labels(gim.soft, gim.negatives, cfg.expression_threshold)
        terms["contrastive"] = intensity_contrastive(
            out.embeddings, labels, level, cfg.contrastive_tau, cfg.contrastive_tau_base,
            cfg.contrastive_max_frames, self.generator,
        )
        if self.trains_apex:
            q = apex_labels(gim.soft, gim.negatives, gim.apex, mask, cfg.apex_radius, cfg.expression_threshold)
            terms["apex"] = apex_focal(out.apex, q, mask, cfg.apex_alpha, cfg.apex_gamma, cfg.apex_smoothing,
                                       cfg.apex_class_weights)
        else:
            terms["apex"] = torch.zeros_like(terms["intensity"])
        total = (terms["intensity"] + terms["reward"] + terms["apex"]
                 + cfg.contrastive_weight * terms["contrastive"] + cfg.sparsity_weight * terms["sparsity"])
        if cfg.legacy_smoothness:
            terms["smoothness"] = signed_temporal_term(a, mask)
            total = total + cfg.smoothness_weight * terms["smoothness"]
        result = {name: value.mean() for name, value in terms.items()}
        result["total"] = total.mean()
        return result
