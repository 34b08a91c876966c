"""FSENet's training objective for each supervision level (docs/methods.md §2.5–2.7, §2.10).

    L = L_base + λ1 (L_frame + L_frame^glo) + λ2 L_sc

The levels differ only in where the frame targets ŷ come from: BSPG (or another pseudo-label
strategy) around the clicks (point), around the model's own top-1 snippet per labelled class
(video), or the dense segments themselves (full). Everything after that is shared, except that
the video level's L_base is a multi-label BCE on v_c ([design]: with labels only, the normalised
cross-entropy carries no absolute signal for absent classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from sentiloc.data.batch import Batch
from sentiloc.losses.contrastive import pssc_loss
from sentiloc.losses.frame import class_balanced_frame_loss, frame_loss
from sentiloc.losses.pseudo_labels.strategies import PseudoLabelConfig, point_targets
from sentiloc.losses.registry import Objective, register_objective
from sentiloc.losses.video import video_bce, video_loss_paper
from sentiloc.models.base import LocalizationOutput


@dataclass
class ObjectiveConfig:
    """The ``loss:`` section of a config (defaults = the paper's)."""

    lambda_frame: float = 1.0
    lambda_pssc: float = 0.05
    use_frame_loss: bool = True
    use_frame_loss_glo: bool = True
    use_pssc: bool = True
    frame_balance: bool = False
    gamma: float = 2.0
    kappa: float = 1.0
    pssc_disjoint: bool = False
    r_act: int = 8
    pseudo: PseudoLabelConfig = field(default_factory=PseudoLabelConfig)


def pseudo_points(cas: torch.Tensor, mask: torch.Tensor, video_labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Video-level stand-in for clicks: the top-1 snippet of each labelled class (detached).

    Returns ``(point_t, point_cls, point_mask)`` of shape ``(B, C)``: one pseudo-point per class,
    masked where the class is absent from the video.
    """
    num_classes = video_labels.shape[1]
    scores = cas.detach()[..., :num_classes].masked_fill(~mask[..., None], -1.0)
    point_t = scores.argmax(dim=1)
    point_cls = torch.arange(num_classes, device=cas.device).expand_as(point_t)
    return point_t, point_cls, video_labels > 0


@register_objective("fsenet", ObjectiveConfig)
class FSENetObjective(Objective):
    """Computes every loss term of FSENet for one batch; returns a dict with ``total``."""

    def __init__(self, cfg: ObjectiveConfig, supervision: str, num_classes: int) -> None:
        self.cfg = cfg
        self.supervision = supervision
        self.num_classes = num_classes

    def targets(self, out: LocalizationOutput, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, tuple | None]:
        """Frame targets ŷ ``(B, T, C+1)``, their weights ``(B, T)`` and the (pseudo-)points used."""
        if self.supervision == "full":
            weight = batch.mask.to(out.cas.dtype)
            return batch.dense, weight, None
        if self.supervision == "video":
            points = pseudo_points(out.cas, batch.mask, batch.video_labels)
        else:
            points = (batch.point_t, batch.point_cls, batch.point_mask)
        targets, weight = point_targets(*points, out.cas.detach(), batch.mask, self.cfg.pseudo)
        return targets, weight, points

    def __call__(self, out: LocalizationOutput, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        targets, weight, points = self.targets(out, batch)
        terms: dict[str, torch.Tensor] = {}
        if self.supervision == "video":
            terms["base"] = video_bce(out.video_scores, batch.video_labels)
        else:
            terms["base"] = video_loss_paper(out.video_scores, targets, weight, batch.mask)
        total = terms["base"]
        frame = class_balanced_frame_loss if cfg.frame_balance else frame_loss
        if cfg.use_frame_loss:
            terms["frame"] = frame(out.cas, targets, weight, batch.mask, gamma=cfg.gamma)
            total = total + cfg.lambda_frame * terms["frame"]
        if cfg.use_frame_loss_glo and out.global_cas is not None:
            terms["frame_glo"] = frame(out.global_cas, targets, weight, batch.mask, gamma=cfg.gamma)
            total = total + cfg.lambda_frame * terms["frame_glo"]
        if cfg.use_pssc:
            terms["pssc"] = self._pssc(out, batch, points)
            total = total + cfg.lambda_pssc * terms["pssc"]
        terms["total"] = total
        return terms

    def _pssc(self, out: LocalizationOutput, batch: Batch, points: tuple | None) -> torch.Tensor:
        if points is None:
            members = batch.dense[..., : self.num_classes] > 0
            dummy = torch.zeros(batch.mask.shape[0], 1, dtype=torch.long, device=batch.mask.device)
            return pssc_loss(
                out.embeddings, out.w_sent, dummy, dummy, dummy.bool(), batch.mask, self.num_classes,
                ratio=self.cfg.r_act, kappa=self.cfg.kappa, class_members=members,
            )
        return pssc_loss(
            out.embeddings, out.w_sent, *points, batch.mask, self.num_classes,
            ratio=self.cfg.r_act, kappa=self.cfg.kappa, disjoint=self.cfg.pssc_disjoint,
        )
