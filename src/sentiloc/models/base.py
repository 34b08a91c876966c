"""What every model is and returns: the base class, and typed outputs per task.

A model declares the output type it returns (:attr:`BaseModel.output_type`); an objective
declares the output type it needs, so a model and an objective that do not fit together are
refused when training starts (see ``sentiloc.losses.registry``), not by a ``KeyError`` deep in
a loss. Method-specific tensors are fields of a subclass (:class:`TSLNetOutput`), never an untyped
dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError


@dataclass
class LocalizationOutput:
    """Per-snippet outputs of a localization model for a padded batch, float32, zero at padding.

    Attributes:
        cas: ``(B, T, C + 1)`` sigmoid class activation sequence y; column C is non-sentiment.
        global_cas: ``(B, T, C + 1)`` Global CAS ỹ re-weighted by ``w_sent`` (None without GSP).
        w_sent: ``(B, T)`` GSP sentiment weights W in [0, 1] (the real-snippet mask without GSP).
        embeddings: ``(B, T, E)`` snippet embeddings for contrastive losses (not normalised).
        video_scores: ``(B, C)`` top-k mean of ``cas[..., :C]`` over real snippets.
    """

    cas: Tensor
    global_cas: Tensor | None
    w_sent: Tensor
    embeddings: Tensor
    video_scores: Tensor


@dataclass
class TSLNetOutput(LocalizationOutput):
    """TSL-Net's outputs: the localization ones plus what its objective needs (docs/methods.md §4).

    Attributes:
        dist_logits: ``(B, T, C + 1)`` DIST head logits.
        dist_video: ``(B, C)`` top-k mean of the DIST class logits (the video distribution's logits).
        feat_visual, feat_audio: ``(B, T, d)`` the aligned streams V and A.
        recon_visual, recon_audio: ``(B, T, d)`` the reverse mappings F'_m(f_z); None under ``cas_only``.
    """

    dist_logits: Tensor | None = None
    dist_video: Tensor | None = None
    feat_visual: Tensor | None = None
    feat_audio: Tensor | None = None
    recon_visual: Tensor | None = None
    recon_audio: Tensor | None = None


@dataclass
class SpottingOutput:
    """Per-frame outputs of a spotting model on the working timeline, float32, zero at padding.

    Attributes:
        intensity: ``(B, T)`` class-agnostic expression intensity a_t in [0, 1].
        apex: ``(B, T, 2)`` class-aware apex scores e_t in [0, 1] (macro, micro).
        embeddings: ``(B, T, H)`` the backbone's frame features h_t (GIM's feature-space Gaussians
            and the contrastive loss read them).
    """

    intensity: Tensor
    apex: Tensor
    embeddings: Tensor


@dataclass
class RecognitionOutput:
    """Clip-level outputs of a recognition model for a padded batch of videos, float32.

    Attributes:
        logits: ``(B, C)`` class logits of the whole clip (what inference reads; softmax for scores).
        attention: ``(B, T)`` per-segment evidence in [0, 1], zero at padding: how much each
            segment carries the clip's emotion (CTEN's min-max normalised temporal attention,
            TG-DFER's frame relevance, uniform for a mean-pooling classifier). Evidence detection
            and localization from video labels read it.
    """

    logits: Tensor
    attention: Tensor


@dataclass
class CTENOutput(RecognitionOutput):
    """CTEN's outputs: the clip ones plus the two erased passes its objective reads (docs/methods.md §8).

    Attributes:
        keyframe_logits: ``(B, C)`` logits of the keyframes only (x_k); None outside training.
        context_logits: ``(B, C)`` logits of the context with the keyframes erased (x_l); None outside training.
        keyframe_valid, context_valid: ``(B,)`` bool, False where the pass had no segment to pool
            (no keyframe, or every segment a keyframe); such a pass adds no loss.
        keyframe_mask: ``(B, T)`` bool, the keyframes of this forward pass (False at padding).
    """

    keyframe_logits: Tensor | None = None
    context_logits: Tensor | None = None
    keyframe_valid: Tensor | None = None
    context_valid: Tensor | None = None
    keyframe_mask: Tensor | None = None


@dataclass
class CTENLocalizationOutput(LocalizationOutput):
    """CTEN on the localization task: a CAS built from its attention (docs/methods.md §8.9).

    Attributes:
        clip: CTEN's clip-level outputs for the same videos (the pass logits are multi-label
            video logits here; ``attention`` is the A* the CAS is built from). Always set by the
            model; the default only follows the field order of a dataclass subclass.
    """

    clip: CTENOutput | None = None


def require_dims(streams: Sequence[str], dims: Mapping[str, int], fix: str = "read dims from the data") -> None:
    """Refuse a model config whose ``dims`` (from the data) lack one of the ``streams`` it reads, naming ``fix``."""
    missing = [s for s in streams if s not in dims]
    if missing:
        raise SentilocError(f"model.dims has no entry for {missing} (has {sorted(dims)}); {fix}")


class BaseModel(nn.Module):
    """Every registered model: an ``nn.Module`` with a declared task, output type and optimiser groups."""

    #: The task whose batches the model reads (``sentiloc.tasks``).
    task: ClassVar[str] = "localization"
    #: What :meth:`forward` returns; objectives check it against what they need.
    output_type: ClassVar[type] = LocalizationOutput

    @property
    def normalises_inputs(self) -> set[str]:
        """Streams the model scales itself, left out of the data's standardisation (none by default)."""
        return set()

    def param_groups(self, lr: float) -> list[dict]:
        """Optimiser parameter groups (one group at ``lr`` by default)."""
        return [{"params": list(self.parameters()), "lr": lr}]


def sigmoid_cas(logits: Tensor, mask: Tensor) -> Tensor:
    """The CAS ``σ(logits)`` of a padded batch, zero at padding, in float32.

    Float32 even under bf16 autocast: bf16 would round scores near 0 and 1, exactly where the
    focal losses and the proposal thresholds look. Every model's CAS comes from here.

    Args:
        logits: ``(B, T, K)`` pre-sigmoid scores (meaningless at padding).
        mask: ``(B, T)`` bool, True on real snippets.
    """
    return torch.sigmoid(logits.float()).masked_fill(~mask[..., None], 0.0)
