"""TG-DFER: text-guided multiple-instance learning for dynamic facial expression recognition (docs/methods.md §7).

A clip is a bag of frame instances with one label. Per clip (shapes per batch, ``d`` = ``hidden``):

1. frames ``x_t = W_in [streams]_t`` ``(B, T, d)``;
2. multi-grained temporal network: ``ṽ = x + Local(x) + Global(x)``, Local a depth-wise temporal
   convolution (kernel 3), Global a 2-layer Transformer encoder over the real frames (either
   branch can be switched off);
3. class embeddings ``g_c`` ``(C, d)``: ``tgdfer`` projects the cached text embedding of each
   class after its learnable context prompts (:class:`ContextPrompts`); ``tgdfer_notext`` learns
   ``g_c`` directly (no text);
4. visual prompts: ``K`` learnable tokens read the clip (cross-attention over its real frames) and
   each class embedding reads the prompts, ``ĝ_{b,c} = g_c + Attn(g_c, U_b)``, aligning the text
   with this clip's frames;
5. frame relevance ``s_{b,t} = max_c cos(ṽ_{b,t}, ĝ_{b,c}) / τ``, ``r = softmax_t(s)`` over real frames;
6. MIL pooling ``z_b = Σ_t r_{b,t} ṽ_{b,t}``; logits ``cos(z_b, ĝ_{b,c}) / τ``.

The reported ``attention`` is ``s`` min-max normalised over the clip's real frames (the same
frame order as ``r``, but in [0, 1] without the softmax's peak), zero at padding. Padding never
changes an output: every step masks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, RecognitionOutput, require_dims
from sentiloc.models.recognition.cten import minmax_over_real
from sentiloc.models.registry import register_model
from sentiloc.models.text import TextGuidanceConfig


@dataclass
class TGDFEROutput(RecognitionOutput):
    """TG-DFER's outputs: the clip ones plus what the instance-level loss term reads.

    Attributes:
        best_frame: ``(B, C)`` ``m_c = max_t cos(ṽ_t, ĝ_c)`` over the clip's real frames: how well
            the clip's best frame for each class matches that class.
    """

    best_frame: Tensor


@dataclass
class TGDFERNoTextConfig:
    """``model.name: tgdfer_notext`` (and the shared options of ``tgdfer``).

    Attributes:
        dims, streams, num_classes: from the data (derived).
        hidden: width d of the frame, prompt and class embeddings.
        heads: attention heads of the global Transformer and the prompt cross-attentions.
        layers: global Transformer layers (2 in the reference design).
        kernel: width of the local depth-wise temporal convolution (3).
        local_branch, global_branch: the multi-grained temporal network's branches (ablation switches).
        visual_prompts: clip-conditioned class embeddings through learnable visual prompts (switch).
        prompt_tokens: K, the number of visual prompt tokens.
        tau: τ of the cosine logits and of the frame relevance softmax (0.01).
        dropout: dropout in the Transformer and on the frame projection.
    """

    dims: dict[str, int]
    streams: tuple[str, ...] = ("face",)
    num_classes: int = 7
    hidden: int = 256
    heads: int = 4
    layers: int = 2
    kernel: int = 3
    local_branch: bool = True
    global_branch: bool = True
    visual_prompts: bool = True
    prompt_tokens: int = 4
    tau: float = 0.01
    dropout: float = 0.1

    def __post_init__(self) -> None:
        self.streams = tuple(self.streams)
        if not self.streams:
            raise SentilocError("data.streams is empty; list at least one feature stream")
        require_dims(self.streams, self.dims, "check data.streams against the data's features/ folders")
        if self.hidden < 1 or self.heads < 1 or self.hidden % self.heads:
            raise SentilocError(f"model.hidden {self.hidden} must be a positive multiple of model.heads {self.heads}")
        if self.layers < 1 or self.prompt_tokens < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise SentilocError("model.layers and model.prompt_tokens must be >= 1 and model.kernel odd and >= 1")
        if not self.tau > 0:
            raise SentilocError(f"model.tau must be > 0, got {self.tau}")
        if not 0.0 <= self.dropout < 1.0:
            raise SentilocError(f"model.dropout must lie in [0, 1), got {self.dropout}")


@dataclass
class TGDFERConfig(TGDFERNoTextConfig):
    """``model.name: tgdfer``: the shared options plus text guidance.

    Attributes:
        text: the frozen text encoder of the class descriptions (:class:`TextGuidanceConfig`).
        context_tokens: M, learnable context prompts per class description (8; 0 = none).
        class_text: ``(C, E)`` unit class text embeddings, derived by the recognition task from the
            class descriptions (never written in a config); stored in the checkpoint.
    """

    text: TextGuidanceConfig = field(default_factory=TextGuidanceConfig)
    context_tokens: int = 8
    class_text: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.context_tokens < 0:
            raise SentilocError(f"model.context_tokens must be >= 0, got {self.context_tokens}")
        if self.class_text is None or len(self.class_text) != self.num_classes:
            raise SentilocError("this TG-DFER model needs the class text embeddings that `sentiloc train` derives "
                                "from the dataset's class descriptions; build it through `sentiloc train`")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """``softmax_t`` of ``scores (B, T)`` over each clip's real frames (``mask (B, T)`` bool); 0 at padding."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1).masked_fill(~mask, 0.0)


def cosine(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of ``a (..., N, d)`` and ``b (..., M, d)`` -> ``(..., N, M)``."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(-1, -2)


def mil_pool(frames: Tensor, relevance: Tensor) -> Tensor:
    """Bag embedding ``z = Σ_t r_t ṽ_t``: ``frames (B, T, d)``, ``relevance (B, T)`` (0 at padding) -> ``(B, d)``."""
    return (relevance[..., None] * frames).sum(dim=1)


class ContextPrompts(nn.Module):
    """Learnable context prompts around a frozen, cached sentence embedding [design, docs/methods.md §7].

    CoOp-style prompts are tokens fed through the text encoder with the description; the encoder
    here is frozen and its outputs are cached, so the M context vectors ``P (M, E)`` act on the
    sentence embedding instead: each class embedding attends over them and adds what it reads,
    ``e'_c = e_c + softmax_m(e_c · P_m / √E) P``. With ``P`` near zero at initialisation,
    ``e'_c ≈ e_c`` (the description alone); training moves the prompts as CoOp's context does.
    """

    def __init__(self, tokens: int, width: int) -> None:
        super().__init__()
        self.context = nn.Parameter(torch.randn(tokens, width) * 0.02)

    def forward(self, text: Tensor) -> Tensor:
        """``text (C, E)`` -> prompted ``(C, E)``."""
        weights = torch.softmax(text @ self.context.T / text.shape[-1] ** 0.5, dim=-1)
        return text + weights @ self.context


class MultiGrainedTemporal(nn.Module):
    """``ṽ = x + Local(x) + Global(x)`` over the real frames; padded frames are zero in and out.

    Local: a depth-wise temporal convolution (one kernel per channel, width ``kernel``, zero padded
    at both ends, so a clip's edges see zeros whether or not the batch pads them). Global: a
    Transformer encoder whose attention ignores padding.
    """

    def __init__(self, hidden: int, heads: int, layers: int, kernel: int, dropout: float,
                 local_branch: bool, global_branch: bool) -> None:
        super().__init__()
        self.local = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2, groups=hidden) if local_branch else None
        layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout, batch_first=True, norm_first=True)
        self.global_ = (nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
                        if global_branch else None)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x (B, T, d)``, ``mask (B, T)`` bool -> ``ṽ (B, T, d)``, zero at padding."""
        x = x.masked_fill(~mask[..., None], 0.0)
        out = x
        if self.local is not None:
            out = out + self.local(x.transpose(1, 2)).transpose(1, 2)
        if self.global_ is not None:
            out = out + self.global_(x, src_key_padding_mask=~mask)
        return out.masked_fill(~mask[..., None], 0.0)


class VisualPrompts(nn.Module):
    """K learnable tokens read the clip's frames; each class embedding then reads the tokens.

    ``U_b = P + Attn(P, ṽ_b)`` over the real frames, ``ĝ_{b,c} = g_c + Attn(g_c, U_b)``: the class
    embeddings, aligned with this clip's frames, that relevance and logits compare frames with.
    """

    def __init__(self, tokens: int, hidden: int, heads: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(tokens, hidden) * 0.02)
        self.read_frames = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.read_prompts = nn.MultiheadAttention(hidden, heads, batch_first=True)

    def forward(self, frames: Tensor, mask: Tensor, classes: Tensor) -> Tensor:
        """``frames (B, T, d)``, ``mask (B, T)``, ``classes (C, d)`` -> clip-aligned class embeddings ``(B, C, d)``."""
        batch = frames.shape[0]
        queries = self.tokens.expand(batch, -1, -1)
        prompts = queries + self.read_frames(queries, frames, frames, key_padding_mask=~mask, need_weights=False)[0]
        g = classes.expand(batch, -1, -1)
        return g + self.read_prompts(g, prompts, prompts, need_weights=False)[0]


class TextClasses(nn.Module):
    """``tgdfer``'s class embeddings ``g = W_t ContextPrompts(e)`` from the cached class text ``e (C, E)``."""

    def __init__(self, class_text: Tensor, context_tokens: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("class_text", class_text)
        self.context = ContextPrompts(context_tokens, class_text.shape[1]) if context_tokens else None
        self.projection = nn.Linear(class_text.shape[1], hidden)

    @classmethod
    def from_config(cls, cfg: TGDFERConfig) -> "TextClasses":
        """The class embeddings of a text-guided config: its ``class_text``, ``context_tokens`` and ``hidden``."""
        return cls(torch.tensor(cfg.class_text, dtype=torch.float32), cfg.context_tokens, cfg.hidden)

    def forward(self) -> Tensor:
        """``g (C, d)``."""
        text = self.context(self.class_text) if self.context is not None else self.class_text
        return self.projection(text)


class LearnedClasses(nn.Module):
    """``tgdfer_notext``'s class embeddings: free parameters ``g (C, d)``, no text."""

    def __init__(self, num_classes: int, hidden: int) -> None:
        super().__init__()
        self.embeddings = nn.Parameter(torch.randn(num_classes, hidden) * 0.02)

    def forward(self) -> Tensor:
        """``g (C, d)``."""
        return self.embeddings


class TGDFERNetwork(BaseModel):
    """The network of ``tgdfer`` and ``tgdfer_notext``, which differ only in ``classes`` (what gives ``g``)."""

    task = "recognition"
    output_type = TGDFEROutput

    def __init__(self, cfg: TGDFERNoTextConfig, classes: nn.Module) -> None:
        super().__init__()
        self.cfg = cfg
        self.project = nn.Sequential(nn.Linear(sum(cfg.dims[s] for s in cfg.streams), cfg.hidden),
                                     nn.Dropout(cfg.dropout))
        self.temporal = MultiGrainedTemporal(cfg.hidden, cfg.heads, cfg.layers, cfg.kernel, cfg.dropout,
                                             cfg.local_branch, cfg.global_branch)
        self.classes = classes
        self.prompts = VisualPrompts(cfg.prompt_tokens, cfg.hidden, cfg.heads) if cfg.visual_prompts else None

    def frame_similarity(self, streams: dict[str, Tensor], mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Steps 1–4 of the module docstring: ``(ṽ (B, T, d), ĝ (B, C, d), cos(ṽ_t, ĝ_c) (B, T, C))``.

        Args:
            streams: name -> ``(B, T, D_s)``; the configured streams are read.
            mask: ``(B, T)`` bool, True on real frames.
        """
        missing = [s for s in self.cfg.streams if s not in streams]
        if missing:
            raise SentilocError(f"the model needs streams {missing} but the batch has {sorted(streams)}; "
                                "check data.streams")
        x = self.project(torch.cat([streams[s] for s in self.cfg.streams], dim=-1).float())
        frames = self.temporal(x, mask)
        g = self.classes()
        aligned = self.prompts(frames, mask, g) if self.prompts is not None else g.expand(frames.shape[0], -1, -1)
        return frames, aligned, cosine(frames, aligned)

    def forward(self, streams: dict[str, Tensor], mask: Tensor) -> TGDFEROutput:
        """``streams``: name -> ``(B, T, D_s)``; ``mask (B, T)`` bool -> float32 logits, relevance, best-frame cosines."""
        mask = mask.bool()
        frames, aligned, similarity = self.frame_similarity(streams, mask)    # similarity (B, T, C)
        scores = similarity.amax(dim=-1) / self.cfg.tau                        # (B, T)
        bag = mil_pool(frames, masked_softmax(scores, mask))                   # (B, d)
        logits = cosine(bag[:, None], aligned)[:, 0] / self.cfg.tau            # (B, C)
        best = similarity.masked_fill(~mask[..., None], -1.0).amax(dim=1)      # (B, C); cos >= -1
        return TGDFEROutput(logits=logits.float(), attention=minmax_over_real(scores, mask).float(),
                            best_frame=best.float())


@register_model("tgdfer", TGDFERConfig)
class TGDFER(TGDFERNetwork):
    """TG-DFER with text guidance: class embeddings from the cached description embeddings and context prompts."""

    def __init__(self, cfg: TGDFERConfig) -> None:
        super().__init__(cfg, TextClasses.from_config(cfg))


@register_model("tgdfer_notext", TGDFERNoTextConfig)
class TGDFERNoText(TGDFERNetwork):
    """TG-DFER without a language model: learnable class embeddings replace the text (a different model)."""

    def __init__(self, cfg: TGDFERNoTextConfig) -> None:
        super().__init__(cfg, LearnedClasses(cfg.num_classes, cfg.hidden))
