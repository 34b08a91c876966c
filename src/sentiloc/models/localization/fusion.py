"""FusionNet: the plain audio-visual(-face) model behind the MIL and frame-classifier baselines.

It is FSENet with everything that makes FSENet FSENet taken out (no face-centric attention, no
GSP re-weighting), so a baseline trained with it measures what the supervision and the loss
alone buy under the same engine, features and post-processing:

    X^m --ModalityAlign--> A^m (d)  for each configured modality m (face rows gated by face_present)
    H = Dropout(ReLU(Conv_k3([A^m ...])))
    y = σ(CLS(H))                   C + 1 columns, column C = ∅ (non-sentiment)

Because column C has the same meaning as FSENet's, post-processing (class × (1 − y_∅)) applies
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, LocalizationOutput, require_dims, sigmoid_cas
from sentiloc.models.blocks import ClassHead, ModalityAlign
from sentiloc.models.ops import masked_topk_mean
from sentiloc.models.registry import register_model


@dataclass
class FusionNetConfig:
    """FusionNet hyper-parameters (widths default to FSENet's so the baselines are comparable).

    Attributes:
        dims: modality name -> input feature dim, read from the data.
        modalities: the streams to fuse, in concatenation order.
        face: which of ``modalities`` is the face stream, read only where ``face_present``;
            None when no stream has missing rows.
        num_classes: sentiment classes C (the CAS has C + 1 columns).
        hidden: per-modality alignment width d; the fused sequence has ``len(modalities) * d``.
        trunk_hidden, trunk_dropout: CAS trunk width and dropout.
        r_act: video score = mean of the top ⌊length / r_act⌋ CAS values.
    """

    dims: dict[str, int]
    modalities: tuple[str, ...] = ("rgb", "logmfcc", "img")
    face: str | None = "img"
    num_classes: int = 2
    hidden: int = 512
    trunk_hidden: int = 2048
    trunk_dropout: float = 0.7
    r_act: int = 8

    def __post_init__(self) -> None:
        self.modalities = tuple(self.modalities)
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise SentilocError(f"model.modalities {list(self.modalities)}: list each feature stream once")
        if self.face is not None and self.face not in self.modalities:
            raise SentilocError(
                f"model.face {self.face!r} is not one of model.modalities {list(self.modalities)}; "
                "add it there or set model.face: null"
            )
        if self.r_act < 1:
            raise SentilocError(f"model.r_act must be >= 1, got {self.r_act}")
        require_dims(self.modalities, self.dims)


@register_model("fusion", FusionNetConfig)
class FusionNet(BaseModel):
    """Aligned modalities, concatenated, one temporal trunk and a C + 1 sigmoid classifier."""

    def __init__(self, cfg: FusionNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.align = ModalityAlign({m: cfg.dims[m] for m in cfg.modalities}, cfg.hidden)
        self.cas_head = ClassHead(
            len(cfg.modalities) * cfg.hidden, cfg.trunk_hidden, cfg.num_classes + 1, cfg.trunk_dropout, bias=False
        )

    def forward(
        self, features: dict[str, Tensor], mask: Tensor, face_present: Tensor, cas_only: bool = False
    ) -> LocalizationOutput:
        """Score every snippet of a padded batch (same contract as :class:`~sentiloc.models.FSENet`).

        Args:
            features: modality -> ``(B, T, D_m)``.
            mask: ``(B, T)`` bool, True on real snippets.
            face_present: ``(B, T)`` bool, True where the face row is a real face. Elsewhere the
                face stream reads as zeros, so the trunk sees "no face" rather than garbage.
            cas_only: accepted for interface parity; FusionNet has no branch to skip.

        Returns:
            :class:`LocalizationOutput` in float32 with ``global_cas`` None, ``w_sent`` = the real-snippet
            mask (no GSP weighting) and the trunk activation as embeddings; zero at padding.
        """
        cfg, c = self.cfg, self.cfg.num_classes
        mask = mask.bool()
        face_mask = face_present.bool() & mask
        aligned = self.align(features, {m: face_mask if m == cfg.face else mask for m in cfg.modalities})
        logits, trunk = self.cas_head(torch.cat([aligned[m] for m in cfg.modalities], dim=-1), mask)
        cas = sigmoid_cas(logits, mask)
        return LocalizationOutput(
            cas=cas,
            global_cas=None,
            w_sent=mask.float(),
            embeddings=trunk.float(),
            video_scores=masked_topk_mean(cas[..., :c], mask, cfg.r_act),
        )
