"""Objectives of the two reference baselines trained under the same engine as FSENet.

- ``mil`` (video-level labels): top-k multiple-instance learning with background modelling.
  Each video is a bag of snippets; a class score is the mean of its top ⌊T/r⌋ snippet scores
  and is fitted to the video labels with a multi-label BCE. The non-sentiment column ∅ is a
  class present in *every* video (every TSL-300 video is mostly non-sentiment), which is the only
  signal that tells it to fire on the non-sentiment bulk. An optional background-suppression
  branch in the spirit of BaS-Net adds the same BCE on the suppressed track
  ``y_c · (1 − y_∅)``, where ∅ is by construction absent: a labelled class can only score high
  there if ∅ is *low* on its top snippets, which is what teaches ∅ to stay off sentiment. That
  track is exactly the class track post-processing thresholds (docs/methods.md §2.9), so the branch
  also trains the quantity inference reads.
- ``frame`` (dense segments): a fully supervised per-snippet classifier, the focal BCE of
  :func:`~sentiloc.losses.frame.frame_loss` against the dense targets (class columns 1 inside
  segments, ∅ = 1 outside) on every real snippet, optionally plus the video-level BCE that
  trains the scores inference uses to pick the predicted classes.

Each objective reads only the batch fields its supervision level provides (``mil``: the video
labels; ``frame``: the dense targets and video labels), never clicks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.losses.frame import frame_loss
from sentiloc.losses.registry import Objective, register_objective
from sentiloc.losses.video import video_bce
from sentiloc.models.base import LocalizationOutput
from sentiloc.models.ops import masked_topk_mean


def _require_supervision(name: str, supervision: str, needed: str) -> None:
    """Refuse to train objective ``name`` from labels it was not designed for."""
    if supervision != needed:
        raise SentilocError(
            f"loss.name {name!r} trains from {needed}-level labels, but data.supervision is {supervision!r}; "
            f"set data.supervision: {needed} or pick another objective"
        )


def _check_non_negative(section_name: str, **values: float) -> None:
    bad = {k: v for k, v in values.items() if v < 0}
    if bad:
        raise SentilocError(f"{section_name}: {bad} must be >= 0")


def with_background(video_labels: Tensor) -> Tensor:
    """``(B, C)`` video labels -> ``(B, C + 1)`` with the ∅ column present (1) in every video."""
    return torch.cat([video_labels, torch.ones_like(video_labels[:, :1])], dim=1)


def suppressed_cas(cas: Tensor, num_classes: int) -> Tensor:
    """``(B, T, C + 1)`` CAS -> ``(B, T, C)`` class scores with background suppressed: y_c (1 − y_∅).

    ∅'s own suppressed score y_∅ (1 − y_∅) is left out: its minima are y_∅ ∈ {0, 1}, so fitting
    it to "absent" would only sharpen ∅, not suppress anything.
    """
    return cas[..., :num_classes] * (1.0 - cas[..., num_classes:])


@dataclass
class MILConfig:
    """The ``loss:`` section of the ``mil`` objective.

    Attributes:
        r_act: top-k ratio of the bag scores; keep it equal to ``model.r_act`` so the class
            scores trained here are the video scores inference thresholds.
        use_suppression: add the background-suppression branch (see the module docstring).
        lambda_suppression: its weight.
    """

    r_act: int = 8
    use_suppression: bool = True
    lambda_suppression: float = 1.0

    def __post_init__(self) -> None:
        if self.r_act < 1:
            raise SentilocError(f"loss.r_act must be >= 1, got {self.r_act}")
        _check_non_negative("loss", lambda_suppression=self.lambda_suppression)


@register_objective("mil", MILConfig)
class MILObjective(Objective):
    """Top-k MIL with a background class and optional suppression; reads only video labels."""

    def __init__(self, cfg: MILConfig, supervision: str, num_classes: int) -> None:
        _require_supervision("mil", supervision, "video")
        self.cfg = cfg
        self.num_classes = num_classes

    def __call__(self, out: LocalizationOutput, batch: Batch) -> dict[str, Tensor]:
        cfg, labels = self.cfg, batch.video_labels
        bag_scores = masked_topk_mean(out.cas, batch.mask, cfg.r_act)  # (B, C + 1), ∅ included
        terms = {"mil": video_bce(bag_scores, with_background(labels))}
        total = terms["mil"]
        if cfg.use_suppression:
            suppressed = masked_topk_mean(suppressed_cas(out.cas, self.num_classes), batch.mask, cfg.r_act)
            terms["suppression"] = video_bce(suppressed, labels)
            total = total + cfg.lambda_suppression * terms["suppression"]
        terms["total"] = total
        return terms


@dataclass
class FrameConfig:
    """The ``loss:`` section of the ``frame`` objective.

    Attributes:
        gamma: focal exponent of the per-snippet BCE (0 = plain BCE).
        use_video_loss: add the video-level BCE on the model's top-k video scores.
        lambda_video: its weight.
    """

    gamma: float = 2.0
    use_video_loss: bool = True
    lambda_video: float = 1.0

    def __post_init__(self) -> None:
        _check_non_negative("loss", gamma=self.gamma, lambda_video=self.lambda_video)


@register_objective("frame", FrameConfig)
class FrameObjective(Objective):
    """Fully supervised per-snippet focal BCE on the dense targets; never reads clicks."""

    def __init__(self, cfg: FrameConfig, supervision: str, num_classes: int) -> None:
        """``num_classes`` is part of the objective interface; the dense targets carry the width."""
        _require_supervision("frame", supervision, "full")
        self.cfg = cfg

    def __call__(self, out: LocalizationOutput, batch: Batch) -> dict[str, Tensor]:
        cfg = self.cfg
        # Every real snippet has an exact target, so all weigh 1 (padding is masked by frame_loss).
        weight = batch.mask.to(out.cas.dtype)
        terms = {"frame": frame_loss(out.cas, batch.dense, weight, batch.mask, gamma=cfg.gamma)}
        total = terms["frame"]
        if cfg.use_video_loss:
            terms["video"] = video_bce(out.video_scores, batch.video_labels)
            total = total + cfg.lambda_video * terms["video"]
        terms["total"] = total
        return terms
