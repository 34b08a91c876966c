"""``cten_tsl``: CTEN's temporal attention turned into a CAS, trained from video labels (docs/methods.md §8.9).

The CTEN network of :mod:`sentiloc.models.recognition.cten` runs unchanged on the TSL-300 streams
(visual = ``data.modalities[0]``, audio = ``data.modalities[1]``; the face stream is not read).
Its multi-label video logits x_o, x_k, x_l are what the objective trains; the CAS that
post-processing reads is built from the attention A* (min over modalities) and the classifier
applied to each snippet:

    cas_c(t) = A*(t) · σ(Linear(G_t))_c          c < C  (the one classifier, per snippet)
    cas_∅(t) = 1 − A*(t)                          the non-sentiment column

so the fused class track of post-processing, y_c (1 − y_∅), is A*(t)² σ_c(t), and its
actionness track 1 − y_∅ is A*(t).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, CTENLocalizationOutput
from sentiloc.models.ops import attention_cas, masked_topk_mean
from sentiloc.models.recognition.cten import CTENNetwork, CTENOptions
from sentiloc.models.registry import register_model


@dataclass
class CTENTSLConfig(CTENOptions):
    """``model.name: cten_tsl`` on the localization task (the CTEN options of docs/methods.md §8.5, plus:)

    Attributes:
        modalities: the data's streams in order (``data.modalities``, derived); visual = first,
            audio = second; the rest (the face stream) is not read.
        r_act: video score = mean of the top ⌊length / r_act⌋ CAS values (as every localization model).
    """

    modalities: tuple[str, ...] = ("rgb", "logmfcc", "img")
    r_act: int = 8

    def __post_init__(self) -> None:
        self.modalities = tuple(self.modalities)
        self.check_options(self.modalities, "modalities")
        if self.r_act < 1:
            raise SentilocError(f"model.r_act must be >= 1, got {self.r_act}")


@register_model("cten_tsl", CTENTSLConfig)
class CTENTSL(BaseModel):
    """CTEN on TSL-300 streams, returning a localization CAS and its multi-label pass logits."""

    output_type = CTENLocalizationOutput

    def __init__(self, cfg: CTENTSLConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.network = CTENNetwork(cfg, cfg.read_streams(cfg.modalities))

    def forward(self, features: dict[str, Tensor], mask: Tensor, face_present: Tensor,
                cas_only: bool = False) -> CTENLocalizationOutput:
        """Score every snippet of a padded batch (the localization model interface).

        Args:
            features: modality -> ``(B, T, D_m)``.
            mask: ``(B, T)`` bool, True on real snippets.
            face_present: accepted for interface parity; the face stream is not read.
            cas_only: accepted for interface parity; the erased passes exist only in training anyway.

        Returns:
            :class:`CTENLocalizationOutput` in float32, zero at padding; ``global_cas`` None,
            ``w_sent`` the real-snippet mask, ``embeddings`` the snippets' G.
        """
        mask = mask.bool()
        p = self.network(features, mask)
        cas = attention_cas(p.attention, self.network.segment_logits(p.features), mask)
        return CTENLocalizationOutput(
            cas=cas,
            global_cas=None,
            w_sent=mask.float(),
            embeddings=p.features.float(),
            video_scores=masked_topk_mean(cas[..., : self.cfg.num_classes], mask, self.cfg.r_act),
            clip=p.clip_output(),
        )
