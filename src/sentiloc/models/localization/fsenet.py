"""FSENet (CVPR 2026), following the paper (docs/methods.md §2.2–2.4).

Data flow for a padded batch, all ``(B, T, ·)``:

    X^v, X^a, X^f --ModalityAlign--> V, A, F (d)
    FCI:  V1 = V + MHA(F, V, V),   A1 = A + MHA(F, A, A)       (update only where a face exists)
          V2 = V1 + MHA(A1, V1, V1), A2 = A1 + MHA(V1, A1, A1)
          F_mix = [V2, A2] (2d)
    CAS:  y = σ(CLS(H)), H = Dropout(ReLU(Conv_k3(F_mix)))     (C + 1 columns, column C = ∅)
    GSP:  W = σ(Reg(Dropout(ReLU(Conv_k3([A, V, F])))))
          ỹ = [W · y[:, :, :C], (1 − W) · y[:, :, C]]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, LocalizationOutput, require_dims, sigmoid_cas
from sentiloc.models.blocks import ClassHead, CrossAttention, ModalityAlign, sinusoidal_positions
from sentiloc.models.ops import masked_topk_mean
from sentiloc.models.registry import register_model

PSSC_FEATURES = ("fmix", "gsp_trunk")
FCI_POSITIONS = ("none", "sinusoidal")


@dataclass
class FSENetConfig:
    """FSENet hyper-parameters; defaults are the paper's (C-FSE where the paper is silent).

    Attributes:
        dims: modality name -> input feature dim, read from the data.
        visual, audio, face: which entries of ``dims`` / ``Batch.features`` play each role.
        num_classes: sentiment classes C (the CAS has C + 1 columns).
        hidden: alignment width d; F_mix has 2d channels.
        heads, attn_dropout: FCI attention heads and attention-weight dropout.
        fci_stages: 0 = no FCI (F_mix = [V, A]), 1 = face-query stage only, 2 = both (paper).
        fci_norm: LayerNorm after each FCI residual (not in the paper).
        fci_centre_values: subtract each video's mean value inside every FCI attention, so a
            uniform attention map adds nothing (docs/methods.md §13.11; off = the paper).
        fci_position: "none" (the paper) or "sinusoidal": snippet-index codes added to the
            queries and keys of every FCI attention (the released code's block has them).
        use_gsp: build the GSP branch (W and the Global CAS).
        gsp_hidden, gsp_dropout: GSP trunk width and dropout.
        trunk_hidden, trunk_dropout: CAS trunk width and dropout.
        r_act: video score = mean of the top ⌊length / r_act⌋ CAS values.
        checkpoint_min_length: in training, videos at least this long recompute each FCI
            attention during the backward pass instead of storing its T x T maps (0 = never). It
            bounds the memory of the longest videos at the cost of one extra FCI forward for them.
        pssc_feature: snippet embeddings for PSSC: F_mix ("fmix", paper figure) or the GSP trunk
            before dropout ("gsp_trunk", C-FSE).
    """

    dims: dict[str, int]
    visual: str = "rgb"
    audio: str = "logmfcc"
    face: str = "img"
    num_classes: int = 2
    hidden: int = 512
    heads: int = 4
    attn_dropout: float = 0.2
    fci_stages: int = 2
    fci_norm: bool = False
    fci_centre_values: bool = False
    fci_position: str = "none"
    use_gsp: bool = True
    gsp_hidden: int = 2048
    gsp_dropout: float = 0.7
    trunk_hidden: int = 2048
    trunk_dropout: float = 0.7
    r_act: int = 8
    pssc_feature: str = "fmix"
    checkpoint_min_length: int = 1024

    def __post_init__(self) -> None:
        if self.fci_stages not in (0, 1, 2):
            raise SentilocError(f"model.fci_stages must be 0, 1 or 2, got {self.fci_stages}")
        if self.fci_position not in FCI_POSITIONS:
            raise SentilocError(f"model.fci_position must be one of {FCI_POSITIONS}, got '{self.fci_position}'")
        if self.pssc_feature not in PSSC_FEATURES:
            raise SentilocError(f"model.pssc_feature must be one of {PSSC_FEATURES}, got '{self.pssc_feature}'")
        if self.pssc_feature == "gsp_trunk" and not self.use_gsp:
            raise SentilocError("model.pssc_feature 'gsp_trunk' needs use_gsp: true; use 'fmix' without GSP")
        if self.fci_stages and self.hidden % self.heads:
            raise SentilocError(f"model.hidden ({self.hidden}) must be divisible by model.heads ({self.heads})")
        if self.r_act < 1:
            raise SentilocError(f"model.r_act must be >= 1, got {self.r_act}")
        require_dims(self.modalities, self.dims)

    @property
    def uses_face(self) -> bool:
        """The face stream feeds FCI stage 1 and GSP; with neither it is not read at all."""
        return self.fci_stages >= 1 or self.use_gsp

    @property
    def modalities(self) -> list[str]:
        """The streams this configuration reads."""
        return [self.visual, self.audio] + ([self.face] if self.uses_face else [])


def _call(module: nn.Module, *args: Tensor) -> Tensor:
    """``module(*args)``: the no-recompute twin of ``torch.utils.checkpoint.checkpoint``."""
    return module(*args)


class FaceCentricInteraction(nn.Module):
    """FCI: face-as-query attention (stage 1), then audio <-> visual attention (stage 2).

    Stage 1 only updates snippets that have a face: elsewhere the query would be an empty face
    row and the "face-guided" context would be invented, so V1 = V and A1 = A there.
    """

    def __init__(
        self,
        hidden: int,
        heads: int,
        dropout: float,
        stages: int,
        norm: bool,
        centre_values: bool = False,
        position: str = "none",
    ) -> None:
        super().__init__()
        self.stages = stages
        self.position = position
        attention = functools.partial(CrossAttention, hidden, heads, dropout, centre_values)
        self.v_from_face = attention()
        self.a_from_face = attention()
        if stages == 2:
            self.v_from_audio = attention()
            self.a_from_visual = attention()
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(2 * stages)) if norm else None

    def _residual(self, x: Tensor, update: Tensor, index: int, mask: Tensor) -> Tensor:
        """``x + update``, optionally LayerNorm-ed (re-zeroed at padding, where LN gives its bias)."""
        out = x + update
        if self.norms is not None:
            out = self.norms[index](out).masked_fill(~mask[..., None], 0.0)
        return out

    def positions(self, x: Tensor) -> Tensor | None:
        """``(T, d)`` position codes for a ``(B, T, d)`` stream, or None without positions."""
        if self.position == "none":
            return None
        return sinusoidal_positions(x.shape[1], x.shape[2], x.device).to(x.dtype)

    def forward(
        self, v: Tensor, a: Tensor, f: Tensor, mask: Tensor, face_mask: Tensor, recompute: bool = False
    ) -> Tensor:
        """``v, a, f (B, T, d)``, ``mask``/``face_mask (B, T)`` -> ``F_mix (B, T, 2d)``.

        ``recompute``: recompute each attention in the backward pass instead of storing it. With
        attention dropout the CPU kernel materialises the T x T maps (about 1.1 GiB for the four
        attentions of a 2,132-snippet video); one attention at a time, recomputed, needs a quarter.
        """
        attend = functools.partial(checkpoint, use_reentrant=False) if recompute else _call
        pos = self.positions(v)
        v1 = self._residual(v, attend(self.v_from_face, f, v, mask, face_mask, pos), 0, mask)
        a1 = self._residual(a, attend(self.a_from_face, f, a, mask, face_mask, pos), 1, mask)
        if self.stages == 1:
            return torch.cat([v1, a1], dim=-1)
        v2 = self._residual(v1, attend(self.v_from_audio, a1, v1, mask, mask, pos), 2, mask)
        a2 = self._residual(a1, attend(self.a_from_visual, v1, a1, mask, mask, pos), 3, mask)
        return torch.cat([v2, a2], dim=-1)


@register_model("fsenet", FSENetConfig)
class FSENet(BaseModel):
    """Face-guided sentiment localization network (FSENet); see the module docstring.

    Only the parts a configuration uses are built (no FCI attention with ``fci_stages=0``, no
    face branch when neither FCI nor GSP reads it), so every parameter receives a gradient.
    """

    def __init__(self, cfg: FSENetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, c = cfg.hidden, cfg.num_classes
        self.align = ModalityAlign({m: cfg.dims[m] for m in cfg.modalities}, d)
        self.fci = (
            FaceCentricInteraction(
                d, cfg.heads, cfg.attn_dropout, cfg.fci_stages, cfg.fci_norm, cfg.fci_centre_values, cfg.fci_position
            )
            if cfg.fci_stages
            else None
        )
        self.cas_head = ClassHead(2 * d, cfg.trunk_hidden, c + 1, cfg.trunk_dropout, bias=False)
        self.gsp = ClassHead(3 * d, cfg.gsp_hidden, 1, cfg.gsp_dropout, bias=True) if cfg.use_gsp else None

    def forward(
        self, features: dict[str, Tensor], mask: Tensor, face_present: Tensor, cas_only: bool = False
    ) -> LocalizationOutput:
        """Score every snippet of a padded batch.

        Args:
            features: modality -> ``(B, T, D_m)``.
            mask: ``(B, T)`` bool, True on real snippets.
            face_present: ``(B, T)`` bool, True where the face row is a real face.
            cas_only: skip the GSP branch (W, Global CAS): localization needs only the CAS, and
                GSP is the largest layer of the model, so inference is ~40% cheaper without it.

        Returns:
            :class:`LocalizationOutput` in float32 (also under bf16 autocast), zero at padding.
        """
        cfg, c = self.cfg, self.cfg.num_classes
        mask = mask.bool()
        face_mask = face_present.bool() & mask
        masks = {cfg.visual: mask, cfg.audio: mask, cfg.face: face_mask}
        aligned = self.align(features, masks)
        v, a = aligned[cfg.visual], aligned[cfg.audio]
        f = aligned.get(cfg.face)

        if self.fci is None:
            f_mix = torch.cat([v, a], dim=-1)
        else:
            recompute = self.training and torch.is_grad_enabled() and 0 < cfg.checkpoint_min_length <= mask.shape[1]
            f_mix = self.fci(v, a, f, mask, face_mask, recompute=recompute)
        cas_logits, _ = self.cas_head(f_mix, mask)
        cas = sigmoid_cas(cas_logits, mask)

        if self.gsp is None or cas_only:
            w_sent, global_cas, embeddings = mask.float(), None, f_mix
        else:
            w_logits, gsp_trunk = self.gsp(torch.cat([a, v, f], dim=-1), mask)
            w_sent = sigmoid_cas(w_logits, mask).squeeze(-1)
            w = w_sent[..., None]
            global_cas = torch.cat([w * cas[..., :c], (1.0 - w) * cas[..., c:]], dim=-1)
            embeddings = f_mix if cfg.pssc_feature == "fmix" else gsp_trunk

        return LocalizationOutput(
            cas=cas,
            global_cas=global_cas,
            w_sent=w_sent,
            embeddings=embeddings.float(),
            video_scores=masked_topk_mean(cas[..., :c], mask, cfg.r_act),
        )
