"""CTEN's objectives and the plain clip cross-entropy (docs/methods.md §8).

- ``cten`` (recognition): ``ℓ = CE(x_o) + CE(x_k) + CE(x_l)``, one cross-entropy per pass of the
  one classifier: the whole clip, its keyframes, and its context with the keyframes erased. The
  paper sums the three (``reduction: sum``); the released code averages them (``reduction: mean``).
  Optional polarity-consistent CE (PCCE, the released code's option): a clip whose predicted
  class has the other polarity than its label gets CE weight ``1 + λ`` instead of 1.
- ``video_ce`` (recognition): cross-entropy of the clip logits, with optional label smoothing.
- ``cten_video`` (localization, TSL-300 video labels): the same three passes with a multi-label
  BCE, since a TSL-300 video can hold several sentiment classes (docs/methods.md §8.9).

Each pass's loss is the mean over the clips that count in it: labelled clips (label ≠ -1) whose
pass had at least one segment. A pass without such clips adds 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.data.recognition.batch import UNLABELLED, RecognitionBatch
from sentiloc.losses.registry import Objective, register_objective
from sentiloc.models.base import CTENLocalizationOutput, CTENOutput, RecognitionOutput

#: ``loss.reduction`` -> the factor on the sum of the ``n`` computed pass losses.
REDUCTIONS: dict[str, Callable[[int], float]] = {"sum": lambda n: 1.0, "mean": lambda n: 1.0 / n}
#: The passes of a CTEN output: (loss-term suffix, logits field, validity field or None).
PASSES = (("original", "logits", None), ("keyframes", "keyframe_logits", "keyframe_valid"),
          ("context", "context_logits", "context_valid"))


def masked_mean(per_clip: Tensor, counted: Tensor) -> Tensor:
    """Mean of ``per_clip (B,)`` over the ``counted (B,)`` clips; 0, still in the graph, when none count."""
    weight = counted.to(per_clip.dtype)
    return (per_clip * weight).sum() / weight.sum().clamp(min=1.0)


def pass_losses(out: Any, per_clip: Callable[[Tensor], Tensor], counted: Tensor, prefix: str,
                reduction: str) -> dict[str, Tensor]:
    """The three-pass loss of a CTEN output: ``{"total", f"{prefix}_original", ..._keyframes, ..._context}``.

    Args:
        out: an output with CTEN's pass fields (``logits``, ``keyframe_logits``, ``keyframe_valid``, ...).
        per_clip: logits ``(B, C)`` -> per-clip loss ``(B,)``.
        counted: ``(B,)`` bool, the clips with a label.
        prefix: name of the loss terms (``ce``, ``bce``).
        reduction: ``sum`` or ``mean`` over the computed passes (erased passes are absent outside
            training and under ``erase: false``; their terms are then 0).
    """
    terms = {}
    for suffix, logits_field, valid_field in PASSES:
        logits = getattr(out, logits_field)
        if logits is None:
            continue
        ok = counted if valid_field is None else counted & getattr(out, valid_field)
        terms[f"{prefix}_{suffix}"] = masked_mean(per_clip(logits), ok)
    total = sum(terms.values()) * REDUCTIONS[reduction](len(terms))
    zero = torch.zeros_like(total).detach()
    return {"total": total, **{f"{prefix}_{s}": terms.get(f"{prefix}_{s}", zero) for s, _, _ in PASSES}}


def clip_ce(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Per-clip cross-entropy ``(B,)`` of ``logits (B, C)``; unlabelled clips (-1) get 0."""
    return F.cross_entropy(logits.float(), labels.clamp(min=0), reduction="none",
                           label_smoothing=label_smoothing) * (labels != UNLABELLED)


def polarity_weight(logits: Tensor, labels: Tensor, positive: Tensor, pcce_lambda: float) -> Tensor:
    """PCCE's clip weights ``(B,)``: ``1 + λ`` where the argmax class's polarity differs from the label's, else 1.

    Args:
        logits: ``(B, C)``.
        labels: ``(B,)`` class indices (-1 = unlabelled: weight 1).
        positive: ``(C,)`` bool, the positive classes.
        pcce_lambda: λ.
    """
    disagree = positive[logits.argmax(dim=1)] != positive[labels.clamp(min=0)]
    return 1.0 + pcce_lambda * (disagree & (labels != UNLABELLED)).to(logits.dtype)


def positive_classes(names: Sequence[str], classes: Sequence[str]) -> Tensor:
    """``(C,)`` bool mask of the classes named in ``names``; an unknown name is a config error."""
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise SentilocError(f"loss.polarity_positive names {unknown}, which are not classes of the data "
                            f"({list(classes)}); use names from classes.txt")
    return torch.tensor([c in names for c in classes], dtype=torch.bool)


def _require_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise SentilocError(f"loss.reduction {reduction!r}: choose one of {sorted(REDUCTIONS)}")


@dataclass
class CTENObjectiveConfig:
    """The ``loss:`` section of ``loss.name: cten``.

    Attributes:
        reduction: ``sum`` of the three pass losses (the paper) or their ``mean`` (the released code).
        polarity_positive: class names of positive polarity; non-empty turns PCCE on (the released
            code's VideoEmotion-8 set is anticipation, joy, surprise, trust).
        pcce_lambda: λ, added to the CE weight of a clip predicted with the wrong polarity.
        classes: the data's class names (derived from ``classes.txt``).
    """

    reduction: str = "sum"
    polarity_positive: tuple[str, ...] = ()
    pcce_lambda: float = 0.5
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_reduction(self.reduction)
        self.polarity_positive = tuple(self.polarity_positive)
        self.classes = tuple(self.classes)
        if self.pcce_lambda < 0:
            raise SentilocError(f"loss.pcce_lambda must be >= 0, got {self.pcce_lambda}")
        if self.polarity_positive and self.classes:
            positive_classes(self.polarity_positive, self.classes)


@register_objective("cten", CTENObjectiveConfig)
class CTENObjective(Objective):
    """``CE(x_o) + CE(x_k) + CE(x_l)`` (or their mean), with optional PCCE weights."""

    needs = CTENOutput

    def __init__(self, cfg: CTENObjectiveConfig, supervision: str, num_classes: int) -> None:
        """``supervision`` is always ``video`` on the recognition task; ``num_classes`` sizes the polarity mask."""
        self.cfg = cfg
        self.positive = None
        if cfg.polarity_positive:
            if len(cfg.classes) != num_classes:
                raise SentilocError("loss.polarity_positive needs the data's class names; train it on a recognition "
                                    "dataset whose classes.txt lists the classes")
            self.positive = positive_classes(cfg.polarity_positive, cfg.classes)

    def __call__(self, out: CTENOutput, batch: RecognitionBatch) -> dict[str, Tensor]:
        labels = batch.labels

        def per_clip(logits: Tensor) -> Tensor:
            ce = clip_ce(logits, labels)
            if self.positive is None:
                return ce
            return ce * polarity_weight(logits, labels, self.positive.to(logits.device), self.cfg.pcce_lambda)

        return pass_losses(out, per_clip, labels != UNLABELLED, "ce", self.cfg.reduction)


@dataclass
class VideoCEConfig:
    """The ``loss:`` section of ``loss.name: video_ce``.

    Attributes:
        label_smoothing: ε of label-smoothed cross-entropy (0 = plain CE).
    """

    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SentilocError(f"loss.label_smoothing must lie in [0, 1), got {self.label_smoothing}")


@register_objective("video_ce", VideoCEConfig)
class VideoCEObjective(Objective):
    """Cross-entropy of the clip logits over the labelled clips."""

    needs = RecognitionOutput

    def __init__(self, cfg: VideoCEConfig, supervision: str, num_classes: int) -> None:
        """``supervision`` (always ``video`` here) and ``num_classes`` are the registry's common arguments."""
        self.cfg = cfg

    def __call__(self, out: RecognitionOutput, batch: RecognitionBatch) -> dict[str, Tensor]:
        labels = batch.labels
        ce = masked_mean(clip_ce(out.logits, labels, self.cfg.label_smoothing), labels != UNLABELLED)
        return {"total": ce, "ce": ce}


@dataclass
class CTENVideoConfig:
    """The ``loss:`` section of ``loss.name: cten_video``.

    Attributes:
        reduction: ``sum`` or ``mean`` of the three pass losses, as for ``cten``.
    """

    reduction: str = "sum"

    def __post_init__(self) -> None:
        _require_reduction(self.reduction)


@register_objective("cten_video", CTENVideoConfig)
class CTENVideoObjective(Objective):
    """``BCE(x_o) + BCE(x_k) + BCE(x_l)`` against the multi-label video labels of a localization batch."""

    needs = CTENLocalizationOutput

    def __init__(self, cfg: CTENVideoConfig, supervision: str, num_classes: int) -> None:
        """Reads only ``batch.video_labels``, which every supervision level provides; ``num_classes`` is unused."""
        self.cfg = cfg

    def __call__(self, out: CTENLocalizationOutput, batch: Batch) -> dict[str, Tensor]:
        labels = batch.video_labels.float()

        def per_video(logits: Tensor) -> Tensor:
            return F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none").mean(dim=1)

        counted = torch.ones(labels.shape[0], dtype=torch.bool, device=labels.device)
        return pass_losses(out.clip, per_video, counted, "bce", self.cfg.reduction)
