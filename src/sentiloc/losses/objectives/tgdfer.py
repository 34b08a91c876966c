"""TG-DFER's objectives (docs/methods.md §7).

``tgdfer`` (recognition): the bag cross-entropy plus an optional instance-level term.

- bag: cross-entropy of the cosine logits ``cos(z, ĝ_c) / τ`` against the clip label;
- instance (``instance_weight`` > 0): with ``m_c = max_t cos(ṽ_t, ĝ_c)`` over the clip's real
  frames, a hinge ``mean_{c ≠ y} max(0, margin − (m_y − m_c))`` pushes the best frame of the
  labelled class above the best frame of every other class by ``margin``.

Both are means over the labelled clips (label ≠ -1); unlabelled clips never change the loss.

``tgdfer_video`` (localization, TSL-300 video labels): a binary cross-entropy per class of the
per-class bag logits of ``tgdfer_tsl`` (a video can hold several sentiment classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.data.recognition.batch import UNLABELLED, RecognitionBatch
from sentiloc.losses.objectives.cten import clip_ce, masked_mean
from sentiloc.losses.registry import Objective, register_objective
from sentiloc.models.localization.tgdfer import TGDFERLocalizationOutput
from sentiloc.models.recognition.tgdfer import TGDFEROutput


def instance_hinge(best: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Per-clip instance term ``(B,)``: ``mean_{c≠y} relu(margin − (m_y − m_c))``.

    Args:
        best: ``(B, C)`` ``m_c = max_t cos(ṽ_t, ĝ_c)`` over each clip's real frames (the model's ``best_frame``).
        labels: ``(B,)`` class indices; -1 (unlabelled) gives 0.
        margin: the cosine margin.
    """
    target = best.gather(1, labels.clamp(min=0)[:, None])                          # (B, 1)
    others = torch.ones_like(best, dtype=torch.bool).scatter(1, labels.clamp(min=0)[:, None], False)
    hinge = torch.relu(margin - (target - best)) * others
    return hinge.sum(dim=1) / others.sum(dim=1).clamp(min=1) * (labels != UNLABELLED)


@dataclass
class TGDFERObjectiveConfig:
    """The ``loss:`` section of ``loss.name: tgdfer``.

    Attributes:
        instance_weight: weight of the instance-level term (0 = the bag loss alone).
        margin: the cosine margin of the instance-level term.
        label_smoothing: ε of the bag cross-entropy.
    """

    instance_weight: float = 0.0
    margin: float = 0.1
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.instance_weight < 0 or not 0.0 <= self.margin <= 2.0:
            raise SentilocError(f"loss.instance_weight {self.instance_weight} must be >= 0 and loss.margin "
                                f"{self.margin} in [0, 2] (a cosine difference)")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SentilocError(f"loss.label_smoothing must lie in [0, 1), got {self.label_smoothing}")


@register_objective("tgdfer", TGDFERObjectiveConfig)
class TGDFERObjective(Objective):
    """``CE(bag logits) + instance_weight · instance hinge`` over the labelled clips."""

    needs = TGDFEROutput

    def __init__(self, cfg: TGDFERObjectiveConfig, supervision: str, num_classes: int) -> None:
        """``supervision`` (always ``video``) and ``num_classes`` are the registry's common arguments."""
        self.cfg = cfg

    def __call__(self, out: TGDFEROutput, batch: RecognitionBatch) -> dict[str, Tensor]:
        labels = batch.labels
        counted = labels != UNLABELLED
        bag = masked_mean(clip_ce(out.logits, labels, self.cfg.label_smoothing), counted)
        instance = masked_mean(instance_hinge(out.best_frame, labels, self.cfg.margin), counted)
        return {"total": bag + self.cfg.instance_weight * instance, "ce_bag": bag, "instance": instance}


@dataclass
class TGDFERVideoConfig:
    """The ``loss:`` section of ``loss.name: tgdfer_video`` (no options: the per-class BCE is the whole loss)."""


@register_objective("tgdfer_video", TGDFERVideoConfig)
class TGDFERVideoObjective(Objective):
    """``BCE(per-class bag logits, video labels)``, mean over the C classes and the videos (docs/methods.md §7.6)."""

    needs = TGDFERLocalizationOutput

    def __init__(self, cfg: TGDFERVideoConfig, supervision: str, num_classes: int) -> None:
        """Reads only ``batch.video_labels``, which every supervision level provides; ``num_classes`` is unused."""
        self.cfg = cfg

    def __call__(self, out: TGDFERLocalizationOutput, batch: Batch) -> dict[str, Tensor]:
        bce = F.binary_cross_entropy_with_logits(out.video_logits.float(), batch.video_labels.float())
        return {"total": bce, "bce_video": bce}
