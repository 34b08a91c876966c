"""``tgdfer_tsl`` and ``tgdfer_notext_tsl``: TG-DFER's frame relevance as a CAS, from video labels (docs/methods.md §7.6).

The TG-DFER network of :mod:`sentiloc.models.recognition.tgdfer` (frame projection, multi-grained
temporal network, class embeddings, visual prompts) runs unchanged on the TSL-300 streams. A
TSL-300 video can hold several sentiment classes, so its video logits come from one bag per
class instead of the single bag of a one-label clip:

    S_{t,c} = cos(ṽ_t, ĝ_c) / τ                      the bag classifier on each snippet
    r_c = softmax_t(S_{·,c})  over real snippets      class-c relevance
    z_c = Σ_t r_{c,t} ṽ_t,  logit_c = cos(z_c, ĝ_c) / τ

and the CAS that post-processing reads is the attention-gated CAS of CTEN's localization
(:func:`sentiloc.models.ops.attention_cas`), with TG-DFER's relevance as the attention:

    A(t) = min-max over real snippets of max_c S_{t,c}
    cas_c(t) = A(t) · σ(S_{t,c}),   cas_∅(t) = 1 − A(t)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, LocalizationOutput
from sentiloc.models.ops import attention_cas, masked_topk_mean
from sentiloc.models.recognition.cten import minmax_over_real
from sentiloc.models.recognition.tgdfer import (
    LearnedClasses,
    TextClasses,
    TGDFERConfig,
    TGDFERNetwork,
    TGDFERNoTextConfig,
    cosine,
    masked_softmax,
)
from sentiloc.models.registry import register_model


@dataclass
class TGDFERLocalizationOutput(LocalizationOutput):
    """TG-DFER on the localization task: the CAS of its relevance plus the per-class bag logits.

    Attributes:
        video_logits: ``(B, C)`` ``cos(z_c, ĝ_c) / τ``, the multi-label video logits the objective
            ``tgdfer_video`` trains. Always set by the model; the default only follows the field
            order of a dataclass subclass.
    """

    video_logits: Tensor | None = None


@dataclass
class TGDFERTSLNoTextConfig(TGDFERNoTextConfig):
    """``model.name: tgdfer_notext_tsl`` (the options of ``tgdfer_notext``, plus:)

    Attributes:
        streams: the streams read, concatenated per snippet; empty (the default) reads every
            stream of ``data.modalities`` but the face stream, as CTEN's localization does.
        modalities, face: the data's streams and its face stream (derived).
        r_act: video score = mean of the top ⌊length / r_act⌋ CAS values (as every localization model).
    """

    streams: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ("rgb", "logmfcc", "img")
    face: str | None = "img"
    r_act: int = 8

    def __post_init__(self) -> None:
        self.modalities = tuple(self.modalities)
        if not tuple(self.streams):
            self.streams = tuple(m for m in self.modalities if m != self.face)
        super().__post_init__()
        if self.r_act < 1:
            raise SentilocError(f"model.r_act must be >= 1, got {self.r_act}")


@dataclass
class TGDFERTSLConfig(TGDFERTSLNoTextConfig, TGDFERConfig):
    """``model.name: tgdfer_tsl``: the localization options above plus ``tgdfer``'s text guidance
    (``text``, ``context_tokens`` and ``class_text``, derived from the sentiment classes' descriptions)."""


def class_bag_logits(frames: Tensor, aligned: Tensor, snippet_logits: Tensor, mask: Tensor, tau: float) -> Tensor:
    """Multi-label video logits ``(B, C)``: one relevance-weighted bag per class (module docstring).

    Args:
        frames: ``(B, T, d)`` ṽ, zero at padding.
        aligned: ``(B, C, d)`` the clip-aligned class embeddings ĝ.
        snippet_logits: ``(B, T, C)`` S = cos(ṽ_t, ĝ_c) / τ.
        mask: ``(B, T)`` bool, True on real snippets.
        tau: the cosine temperature τ.
    """
    relevance = masked_softmax(snippet_logits.transpose(1, 2), mask[:, None, :].expand(-1, aligned.shape[1], -1))
    bags = relevance @ frames                                                   # (B, C, d)
    return torch.diagonal(cosine(bags, aligned), dim1=1, dim2=2) / tau


class TGDFERTSLNetwork(BaseModel):
    """TG-DFER on TSL-300 streams, returning a localization CAS and multi-label video logits."""

    output_type = TGDFERLocalizationOutput

    def __init__(self, cfg: TGDFERTSLNoTextConfig, classes: nn.Module) -> None:
        super().__init__()
        self.cfg = cfg
        self.network = TGDFERNetwork(cfg, classes)

    def forward(self, features: dict[str, Tensor], mask: Tensor, face_present: Tensor,
                cas_only: bool = False) -> TGDFERLocalizationOutput:
        """Score every snippet of a padded batch (the localization model interface).

        Args:
            features: modality -> ``(B, T, D_m)``; ``model.streams`` are read.
            mask: ``(B, T)`` bool, True on real snippets.
            face_present: accepted for interface parity (a face stream, if read, is read as it is).
            cas_only: accepted for interface parity; the video logits are cheap.

        Returns:
            :class:`TGDFERLocalizationOutput` in float32, zero at padding; ``global_cas`` None,
            ``w_sent`` the real-snippet mask, ``embeddings`` the snippets' ṽ.
        """
        mask = mask.bool()
        frames, aligned, similarity = self.network.frame_similarity(features, mask)
        snippet_logits = similarity / self.cfg.tau                                  # (B, T, C)
        attention = minmax_over_real(snippet_logits.amax(dim=-1), mask)             # (B, T)
        cas = attention_cas(attention, snippet_logits, mask)
        return TGDFERLocalizationOutput(
            cas=cas,
            global_cas=None,
            w_sent=mask.float(),
            embeddings=frames.float(),
            video_scores=masked_topk_mean(cas[..., : self.cfg.num_classes], mask, self.cfg.r_act),
            video_logits=class_bag_logits(frames, aligned, snippet_logits, mask, self.cfg.tau).float(),
        )


@register_model("tgdfer_tsl", TGDFERTSLConfig)
class TGDFERTSL(TGDFERTSLNetwork):
    """``tgdfer_tsl``: class embeddings from the sentiment classes' text descriptions."""

    def __init__(self, cfg: TGDFERTSLConfig) -> None:
        super().__init__(cfg, TextClasses.from_config(cfg))


@register_model("tgdfer_notext_tsl", TGDFERTSLNoTextConfig)
class TGDFERNoTextTSL(TGDFERTSLNetwork):
    """``tgdfer_notext_tsl``: learnable class embeddings, no language model."""

    def __init__(self, cfg: TGDFERTSLNoTextConfig) -> None:
        super().__init__(cfg, LearnedClasses(cfg.num_classes, cfg.hidden))
