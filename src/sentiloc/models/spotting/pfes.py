"""P-FES, the point-supervised facial-expression spotting model trained with GIM (docs/methods.md §6).

Data flow for a padded batch on the working timeline:

    features (B, T, D) --backbone--> h (B, T, H)                     (temporal | spotformer)
    intensity  a_t = σ(W_2 · Dropout(LeakyReLU(W_1 h_t)))            (B, T), class-agnostic
    apex       e_t = σ(W_3 · Dropout(h_t))                           (B, T, 2), (macro, micro)

The heads are pointwise (the paper's 1×1 convolutions), Kaiming-initialised with zero biases.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError
from sentiloc.data.spotting.batch import EXPRESSION_TYPES
from sentiloc.models.base import BaseModel, SpottingOutput
from sentiloc.models.registry import register_model
from sentiloc.models.spotting.backbones import BACKBONES

#: The one feature stream of a spotting dataset, the key of ``dims``.
FRAME_STREAM = "frame"


@dataclass
class PFESConfig:
    """P-FES hyper-parameters (defaults: the GIM code's widths and dropout, docs/methods.md §6).

    Attributes:
        dims: ``{"frame": D}``, the per-frame feature width, read from the data.
        backbone: ``temporal`` (any features) or ``spotformer`` (flow windows, D = window·rois·2).
        hidden: width H of h_t and of the intensity head's hidden layer.
        dropout: dropout on the heads' inputs.
        leaky_slope: negative slope of the intensity head's LeakyReLU.
        backbone_dropout: dropout inside the backbone (residual branches, attention layers).
        temporal_layers, kernel_size: ``temporal``: number of dilated residual conv blocks
            (dilations 1, 2, 4, ...) and their kernel size (odd).
        heads, mlp: ``spotformer``: attention heads and feed-forward width.
        window, rois: ``spotformer``: frames per flow window and ROIs per frame.
        regions: ``spotformer``: how many consecutive ROIs form each facial region (sums to rois).
        checkpoint_frames: ``spotformer``: frames encoded per chunk; in training each chunk is
            recomputed in the backward pass (0 = one chunk, no recompute).
    """

    dims: dict[str, int]
    backbone: str = "temporal"
    hidden: int = 256
    dropout: float = 0.7
    leaky_slope: float = 0.2
    backbone_dropout: float = 0.1
    temporal_layers: int = 4
    kernel_size: int = 3
    heads: int = 4
    mlp: int = 256
    window: int = 17
    rois: int = 10
    regions: tuple[int, ...] = (3, 3, 4)
    checkpoint_frames: int = 512

    def __post_init__(self) -> None:
        if FRAME_STREAM not in self.dims or len(self.dims) != 1:
            raise SentilocError(
                f"model.dims must be {{'{FRAME_STREAM}': D}} for a spotting model, got {self.dims}; read dims from the data"
            )
        for key in ("hidden", "temporal_layers", "window", "rois", "heads", "mlp"):
            if int(getattr(self, key)) < 1:
                raise SentilocError(f"model.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("dropout", "backbone_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise SentilocError(f"model.{key} must lie in [0, 1), got {getattr(self, key)}")
        if self.kernel_size < 1 or self.kernel_size % 2 != 1:
            raise SentilocError(f"model.kernel_size must be a positive odd number, got {self.kernel_size}")
        if self.hidden % self.heads:
            raise SentilocError(f"model.hidden ({self.hidden}) must be divisible by model.heads ({self.heads})")
        if self.checkpoint_frames < 0:
            raise SentilocError(f"model.checkpoint_frames must be >= 0, got {self.checkpoint_frames}")
        self.regions = tuple(int(r) for r in self.regions)
        if min(self.regions, default=0) < 1 or sum(self.regions) != self.rois:
            raise SentilocError(
                f"model.regions {list(self.regions)} must be positive ROI counts summing to model.rois ({self.rois})"
            )
        BACKBONES.get(self.backbone).check(self, self.in_dim)

    @property
    def in_dim(self) -> int:
        """D, the width of a frame's feature row."""
        return int(self.dims[FRAME_STREAM])


def _kaiming(layer: nn.Linear) -> nn.Linear:
    """Kaiming-uniform weight and zero bias, the GIM heads' initialisation."""
    nn.init.kaiming_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class SpottingHeads(nn.Module):
    """Class-agnostic intensity head and class-aware apex head on ``h (B, T, H)``."""

    def __init__(self, hidden: int, dropout: float, leaky_slope: float) -> None:
        super().__init__()
        self.intensity_hidden = _kaiming(nn.Linear(hidden, hidden))
        self.intensity_out = _kaiming(nn.Linear(hidden, 1))
        self.apex_out = _kaiming(nn.Linear(hidden, len(EXPRESSION_TYPES)))
        self.dropout = nn.Dropout(dropout)
        self.leaky_slope = leaky_slope

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``h (B, T, H)``, ``mask (B, T)`` -> ``intensity (B, T)``, ``apex (B, T, 2)``: float32, zero at padding."""
        hidden = F.leaky_relu(self.intensity_hidden(h), self.leaky_slope)
        intensity = torch.sigmoid(self.intensity_out(self.dropout(hidden)).float()).squeeze(-1)
        apex = torch.sigmoid(self.apex_out(self.dropout(h)).float())
        return intensity.masked_fill(~mask, 0.0), apex.masked_fill(~mask[..., None], 0.0)


@register_model("pfes", PFESConfig)
class PFES(BaseModel):
    """Point-supervised facial-expression spotting network: a backbone and the GIM heads."""

    task = "spotting"
    output_type = SpottingOutput

    def __init__(self, cfg: PFESConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = BACKBONES.get(cfg.backbone)(cfg, cfg.in_dim)
        self.heads = SpottingHeads(cfg.hidden, cfg.dropout, cfg.leaky_slope)

    def forward(self, features: Tensor, mask: Tensor) -> SpottingOutput:
        """Score every working frame of a padded batch.

        Args:
            features: ``(B, T, D)`` frame features (any values at padding).
            mask: ``(B, T)`` bool, True on real frames.

        Returns:
            :class:`SpottingOutput` in float32 (also under bf16 autocast), zero at padding.
        """
        if features.shape[-1] != self.cfg.in_dim:
            raise SentilocError(
                f"frame features have dim {features.shape[-1]} but the model was built for {self.cfg.in_dim}; "
                "set the model's dims from the data"
            )
        mask = mask.bool()
        h = self.backbone(features.masked_fill(~mask[..., None], 0.0), mask)
        intensity, apex = self.heads(h, mask)
        return SpottingOutput(intensity=intensity, apex=apex, embeddings=h.float().masked_fill(~mask[..., None], 0.0))
