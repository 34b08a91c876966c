"""CTEN, the Cross-modal Temporal Erasing Network, on cached segment features (docs/methods.md §8).

Data flow for a padded batch of clips, all ``(B, T, ·)``, per modality m ∈ {v, a} (``mode: visual``
reads v only):

    F_m  = W_m X_m                                            linear alignment to width d
    F'_m = F_m + W_z softmax(Q_m K_mᵀ/√d) V_m                 intra-modal non-local (``intra``)
           (``residual: released``: BN(W_z Z) + α F_m, α initialised at 0)
    F''_v = F_v + W S(Q_v, K_a) V_a, F''_a likewise           inter-modal cross attention (``inter``)
    G_m  = F'_m + F''_m                                       (F'_m alone without ``inter``)
    A_m  = ReLU(W_1 ∗ tanh(W_2 G_m))                         temporal attention, (B, T)
    A*_m = min-max of A_m over the clip's real segments
    keyframes: A*_v ≥ θ and A*_a ≥ θ   ⇔   attention = min_m A*_m ≥ θ
    x    = Linear(Dropout([mean_{t kept} A_m,t G_m,t]_m))     one classifier for every pass

The erased passes x_k (keyframes only) and x_l (keyframes erased) run the same network on the
same features with the erased segments masked out, i.e. treated exactly like padding, and are
recomputed at every training forward (the paper's iterative erasing). The pieces are public so
the localization model of :mod:`sentiloc.models.localization.cten` reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError
from sentiloc.core.registry import Registry
from sentiloc.models.base import BaseModel, CTENOutput, require_dims
from sentiloc.models.blocks import CrossAttention, MaskedConv1d
from sentiloc.models.registry import register_model

#: ``model.mode`` -> how many streams CTEN reads (visual first, then audio).
MODES = {"audio_visual": 2, "visual": 1}
#: Attention spans at most this small over a clip's real segments count as constant (A* = 1).
FLAT_SPAN = 1e-6


@dataclass
class CTENOptions:
    """The hyper-parameters CTEN has in every task (docs/methods.md §8).

    Attributes:
        dims: stream name -> per-segment feature width, read from the data.
        num_classes: classes C of the clip classifier.
        mode: ``audio_visual`` (the paper) or ``visual`` (what the released code runs).
        hidden: width d every stream is aligned to.
        heads: heads of the intra- and inter-modal attentions (1 = the paper's non-local block).
        attention_hidden: width of W_2, the per-segment channel reduction of the temporal attention.
        attention_kernel: span (segments, odd) of W_1, the masked temporal conv that stands in for
            the paper's fixed-T time mixing; 1 = no mixing across segments.
        theta: keyframe threshold θ on the min-max normalised attention.
        intra: build the intra-modal non-local blocks.
        inter: build the inter-modal cross attention; None = on in ``audio_visual``, off in ``visual``.
        erase: compute the erased passes in training (false = the no-erasing ablation).
        residual: ``paper`` (F + W_z Z) or ``released`` (BN(W_z Z) + α F, α initialised at 0).
        dropout: dropout on the pooled clip feature before the classifier.
    """

    dims: dict[str, int]
    num_classes: int = 2
    mode: str = "audio_visual"
    hidden: int = 512
    heads: int = 1
    attention_hidden: int = 128
    attention_kernel: int = 3
    theta: float = 0.7
    intra: bool = True
    inter: bool | None = None
    erase: bool = True
    residual: str = "paper"
    dropout: float = 0.5

    def check_options(self, roles: tuple[str, ...], role_key: str) -> None:
        """Validate every option against the data's streams ``roles`` (named ``data.<role_key>`` in errors)."""
        if self.mode not in MODES:
            raise SentilocError(f"model.mode {self.mode!r}: choose one of {sorted(MODES)}")
        RESIDUALS.get(self.residual)
        for key in ("num_classes", "hidden", "heads", "attention_hidden"):
            if int(getattr(self, key)) < 1:
                raise SentilocError(f"model.{key} must be >= 1, got {getattr(self, key)}")
        if self.hidden % self.heads:
            raise SentilocError(f"model.hidden ({self.hidden}) must be divisible by model.heads ({self.heads})")
        if self.attention_kernel < 1 or self.attention_kernel % 2 != 1:
            raise SentilocError(f"model.attention_kernel must be a positive odd number, got {self.attention_kernel}")
        if not 0.0 < self.theta <= 1.0:
            raise SentilocError(f"model.theta must lie in (0, 1], got {self.theta}")
        if not 0.0 <= self.dropout < 1.0:
            raise SentilocError(f"model.dropout must lie in [0, 1), got {self.dropout}")
        if self.inter is None:
            self.inter = MODES[self.mode] > 1
        if self.inter and MODES[self.mode] < 2:
            raise SentilocError("model.inter needs a second modality; set model.mode: audio_visual or model.inter: false")
        if len(roles) < MODES[self.mode]:
            raise SentilocError(
                f"model.mode {self.mode} reads {MODES[self.mode]} stream(s) (visual, then audio) but data.{role_key} "
                f"lists {list(roles)}; add the stream or set model.mode: visual"
            )
        require_dims(self.read_streams(roles), self.dims)

    def read_streams(self, roles: tuple[str, ...]) -> tuple[str, ...]:
        """The streams CTEN reads: the visual one (``roles[0]``) and, in ``audio_visual``, the audio one."""
        return tuple(roles[: MODES[self.mode]])


@dataclass
class CTENConfig(CTENOptions):
    """``model.name: cten`` on the recognition task.

    Attributes:
        streams: the data's streams in order (``data.streams``, derived); visual = first,
            audio = second; further streams are not read.
    """

    streams: tuple[str, ...] = ("visual", "audio")

    def __post_init__(self) -> None:
        self.streams = tuple(self.streams)
        self.check_options(self.streams, "streams")


class PaperResidual(nn.Module):
    """The paper's non-local residual ``F' = F + W_z Z``."""

    def __init__(self, dim: int) -> None:
        """``dim`` is unused (no parameters); every residual form is built the same way."""
        super().__init__()

    def forward(self, f: Tensor, wz: Tensor, mask: Tensor) -> Tensor:
        """``f, wz (B, T, d)`` -> ``f + wz`` (zero at padding, as both are)."""
        return f + wz


class ReleasedResidual(nn.Module):
    """The released code's non-local output ``BN(W_z Z) + α F`` with ``α`` initialised at 0.

    The batch norm sees only real segments (padding would otherwise shift its statistics), and the
    scaled term is the *input*, so at initialisation F' is the normalised attention alone.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(dim)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, f: Tensor, wz: Tensor, mask: Tensor) -> Tensor:
        """``f, wz (B, T, d)``, ``mask (B, T)`` -> ``(B, T, d)``, zero at padding."""
        normed = torch.zeros_like(f).index_put((mask,), self.norm(wz[mask]).to(f.dtype))
        return normed + self.alpha * f


#: ``model.residual`` -> the non-local block's residual form.
RESIDUALS: Registry[type[nn.Module]] = Registry("non-local residual", "model.residual")
RESIDUALS.register("paper")(PaperResidual)
RESIDUALS.register("released")(ReleasedResidual)


class TemporalAttention(nn.Module):
    """``A = ReLU(W_1 ∗ tanh(W_2 G))``: one non-negative weight per real segment.

    The paper's W_2 reduces channels and its W_1 mixes time with a fixed ``T × T`` matrix (the
    released code: Conv1d(2048 → 1), BN, tanh, Linear(T → T), ReLU). Clips here have any length,
    so W_2 is a per-segment ``Linear(d → h)`` followed by the released tanh, and W_1 a masked
    temporal convolution ``h → 1`` of span ``kernel_size``. W_1's bias starts at 1 so every segment
    starts with a live, equal weight (x_o starts as a mean pooling) instead of at ReLU's dead zero.
    """

    def __init__(self, dim: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        self.reduce = nn.Linear(dim, hidden)
        self.mix = MaskedConv1d(hidden, 1, kernel_size)
        nn.init.ones_(self.mix.bias)

    def forward(self, g: Tensor, mask: Tensor) -> Tensor:
        """``g (B, T, d)``, ``mask (B, T)`` -> ``A (B, T)`` float32, >= 0, zero at padding."""
        return F.relu(self.mix(torch.tanh(self.reduce(g)), mask).squeeze(-1).float()).masked_fill(~mask, 0.0)


def minmax_over_real(a: Tensor, mask: Tensor) -> Tensor:
    """``A* = (A − min A) / (max A − min A)`` over each clip's real segments, zero at padding.

    A clip whose real segments all have the same attention (within :data:`FLAT_SPAN`, a one-segment
    clip included) has no segment that stands out; it gets ``A* = 1`` everywhere, which is also what
    the released rule ``γ ≥ 0.7 max γ + 0.3 min γ`` selects (every segment a keyframe).

    Args:
        a: ``(B, T)`` attention (any values at padding).
        mask: ``(B, T)`` bool, True on real segments.

    Returns:
        ``(B, T)`` in [0, 1]; 0 everywhere for a clip without real segments.
    """
    real = mask.any(dim=1, keepdim=True)
    inf = torch.tensor(float("inf"), dtype=a.dtype, device=a.device)
    lo = torch.where(real, torch.where(mask, a, inf).amin(dim=1, keepdim=True), 0.0)
    hi = torch.where(real, torch.where(mask, a, -inf).amax(dim=1, keepdim=True), 0.0)
    span = hi - lo
    flat = span <= FLAT_SPAN
    scaled = (a - lo) / torch.where(flat, torch.ones_like(span), span)
    return torch.where(flat, torch.ones_like(a), scaled).masked_fill(~mask, 0.0)


def keyframe_mask(attention: Tensor, mask: Tensor, theta: float) -> Tensor:
    """``(B, T)`` bool: real segments whose attention (min over modalities of A*) is at least ``theta``."""
    return (attention >= theta) & mask


def attention_pool(g: Tensor, a: Tensor, keep: Tensor) -> Tensor:
    """The released pooling ``mean_t A_t G_t`` over each clip's kept segments.

    Args:
        g: ``(B, T, d)`` segment features.
        a: ``(B, T)`` raw (not min-max normalised) attention.
        keep: ``(B, T)`` bool, the segments of this pass.

    Returns:
        ``(B, d)``; zero for a pass without segments.
    """
    weight = (a * keep).to(g.dtype)
    return (weight[..., None] * g).sum(dim=1) / keep.sum(dim=1, keepdim=True).clamp(min=1).to(g.dtype)


@dataclass
class CTENPasses:
    """What one CTEN forward computes, shared by the recognition and localization models.

    Attributes:
        logits: ``(B, C)`` float32 clip logits x_o over every real segment.
        attention: ``(B, T)`` float32 min over modalities of A*, zero at padding.
        keyframes: ``(B, T)`` bool keyframe mask (attention ≥ θ on real segments).
        features: ``(B, T, M·d)`` the segments' G, modalities concatenated (zero at padding).
        keyframe_logits, context_logits: ``(B, C)`` float32 x_k and x_l; None when not erasing.
        keyframe_valid, context_valid: ``(B,)`` bool, the pass had a segment; None when not erasing.
    """

    logits: Tensor
    attention: Tensor
    keyframes: Tensor
    features: Tensor
    keyframe_logits: Tensor | None = None
    context_logits: Tensor | None = None
    keyframe_valid: Tensor | None = None
    context_valid: Tensor | None = None

    def clip_output(self) -> CTENOutput:
        """The clip-level outputs of these passes, as the recognition task types them."""
        return CTENOutput(logits=self.logits, attention=self.attention, keyframe_logits=self.keyframe_logits,
                          context_logits=self.context_logits, keyframe_valid=self.keyframe_valid,
                          context_valid=self.context_valid, keyframe_mask=self.keyframes)


class CTENNetwork(nn.Module):
    """The CTEN network on named streams: alignment, relations, temporal attention, one classifier."""

    def __init__(self, cfg: CTENOptions, streams: tuple[str, ...]) -> None:
        """``streams``: the streams read, visual first (:meth:`CTENOptions.read_streams`)."""
        super().__init__()
        self.cfg = cfg
        self.streams = streams
        d = cfg.hidden
        self.align = nn.ModuleDict({m: nn.Linear(cfg.dims[m], d) for m in streams})
        self.intra = nn.ModuleDict({m: CrossAttention(d, cfg.heads) for m in streams}) if cfg.intra else None
        self.residual = nn.ModuleDict({m: RESIDUALS.get(cfg.residual)(d) for m in streams}) if cfg.intra else None
        self.inter = nn.ModuleDict({m: CrossAttention(d, cfg.heads) for m in streams}) if cfg.inter else None
        self.attention = nn.ModuleDict(
            {m: TemporalAttention(d, cfg.attention_hidden, cfg.attention_kernel) for m in streams}
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(len(streams) * d, cfg.num_classes)

    def encode(self, streams: dict[str, Tensor], mask: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Segment features ``G_m (B, T, d)`` and raw attention ``A_m (B, T)`` of the segments in ``mask``.

        Segments outside ``mask`` are never read (zeroed before alignment, never attended to) and
        come out zero, whether they are padding or erased.
        """
        keep = mask[..., None]
        f = {}
        for m, align in self.align.items():
            if m not in streams:
                raise SentilocError(f"CTEN needs stream '{m}' but the batch has {sorted(streams)}; check data.streams")
            if streams[m].shape[-1] != self.cfg.dims[m]:
                raise SentilocError(f"stream '{m}' has dim {streams[m].shape[-1]} but the model was built for "
                                    f"{self.cfg.dims[m]}; set the model's dims from the data")
            f[m] = align(streams[m].masked_fill(~keep, 0.0)).masked_fill(~keep, 0.0)
        g = dict(f)
        if self.intra is not None:
            g = {m: self.residual[m](f[m], self.intra[m](f[m], f[m], mask, mask), mask) for m in self.streams}
        if self.inter is not None:
            visual, audio = self.streams
            other = {visual: audio, audio: visual}
            g = {m: g[m] + f[m] + self.inter[m](f[m], f[other[m]], mask, mask) for m in self.streams}
        a = {m: self.attention[m](g[m], mask) for m in self.streams}
        return g, a

    def pool_logits(self, g: dict[str, Tensor], a: dict[str, Tensor], keep: Tensor) -> Tensor:
        """``(B, C)`` float32 logits of the segments in ``keep``: the one classifier on the pooled G."""
        pooled = torch.cat([attention_pool(g[m], a[m], keep) for m in self.streams], dim=-1)
        return self.classifier(self.dropout(pooled)).float()

    def segment_logits(self, features: Tensor) -> Tensor:
        """``(B, T, C)`` float32: the classifier on each segment's G (no dropout, no attention weight)."""
        return self.classifier(features).float()

    def forward(self, streams: dict[str, Tensor], mask: Tensor) -> CTENPasses:
        """x_o, the attention and keyframes; in training (with ``erase``) also x_k and x_l.

        The two erased passes run as one batch of ``2B`` clips, with the keyframes and the context
        as their masks.
        """
        mask = mask.bool()
        g, a = self.encode(streams, mask)
        attention = torch.stack([minmax_over_real(a[m], mask) for m in self.streams]).amin(dim=0)
        keyframes = keyframe_mask(attention, mask, self.cfg.theta)
        passes = CTENPasses(
            logits=self.pool_logits(g, a, mask),
            attention=attention,
            keyframes=keyframes,
            features=torch.cat([g[m] for m in self.streams], dim=-1),
        )
        if self.training and self.cfg.erase:
            erased = torch.cat([keyframes, mask & ~keyframes])
            g2, a2 = self.encode({m: torch.cat([streams[m], streams[m]]) for m in self.streams}, erased)
            passes.keyframe_logits, passes.context_logits = self.pool_logits(g2, a2, erased).chunk(2)
            passes.keyframe_valid, passes.context_valid = erased.any(dim=1).chunk(2)
        return passes


@register_model("cten", CTENConfig)
class CTEN(BaseModel):
    """CTEN for clip emotion recognition from clip labels (docs/methods.md §8)."""

    task = "recognition"
    output_type = CTENOutput

    def __init__(self, cfg: CTENConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.network = CTENNetwork(cfg, cfg.read_streams(cfg.streams))

    def forward(self, streams: dict[str, Tensor], mask: Tensor) -> CTENOutput:
        """Classify a padded batch of clips.

        Args:
            streams: stream name -> ``(B, T, D_s)`` segment features (any values at padding).
            mask: ``(B, T)`` bool, True on real segments.

        Returns:
            :class:`CTENOutput` in float32; the erased passes only in training with ``erase``.
        """
        return self.network(streams, mask).clip_output()
