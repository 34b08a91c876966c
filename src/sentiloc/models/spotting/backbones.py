"""P-FES backbones: per-frame features ``(B, T, D)`` -> frame embeddings h_t ``(B, T, H)`` (docs/methods.md §6).

A backbone is chosen by ``model.backbone`` from :data:`BACKBONES`:

- ``temporal``: any per-frame features. A pointwise projection to H, then residual dilated
  temporal convolutions (dilation 1, 2, 4, ...), so h_t sees a window of frames around t.
- ``spotformer``: SpoTFormer, for facial-ROI optical-flow windows. Row t holds the flow of R
  facial ROIs over a W-frame window around frame t, flattened in ``(window, roi, xy)`` order
  (``D = W · R · 2``, 340 for the 17-frame, 10-ROI windows of the GIM code). Each frame is encoded
  from its own window alone, so no frame (and no padding) can influence another.

Both return zeros at padding and honour the masking contract of :mod:`sentiloc.models.blocks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from sentiloc.core.errors import SentilocError
from sentiloc.core.registry import Registry
from sentiloc.models.blocks import MaskedConv1d

if TYPE_CHECKING:
    from sentiloc.models.spotting.pfes import PFESConfig


class SpottingBackbone(nn.Module):
    """A backbone: ``forward(features (B, T, D), mask (B, T)) -> h (B, T, hidden)``, zero at padding."""

    @classmethod
    def check(cls, cfg: PFESConfig, in_dim: int) -> None:
        """Refuse (one-line :class:`SentilocError`) a config or input width this backbone cannot read."""


BACKBONES: Registry[type[SpottingBackbone]] = Registry("spotting backbone", "model.backbone")


class DilatedBlock(nn.Module):
    """Pre-norm residual block ``x + Dropout(GELU(Conv_{k, dilation}(LN(x))))`` on ``(B, T, H)``."""

    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.conv = MaskedConv1d(hidden, hidden, kernel_size, dilation=dilation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x (B, T, H)`` zero at padding -> ``(B, T, H)`` zero at padding (the conv zeroes masked rows)."""
        return x + self.dropout(F.gelu(self.conv(self.norm(x), mask)))


@BACKBONES.register("temporal")
class TemporalBackbone(SpottingBackbone):
    """Generic frame features: pointwise projection to H, then dilated residual temporal convolutions.

    With kernel k and L layers the receptive field is ``1 + (k − 1)(2^L − 1)`` frames (31 for the
    defaults k = 3, L = 4, about one second at the 30 fps working rate).
    """

    def __init__(self, cfg: PFESConfig, in_dim: int) -> None:
        super().__init__()
        self.proj = MaskedConv1d(in_dim, cfg.hidden, 1)
        self.blocks = nn.ModuleList(
            DilatedBlock(cfg.hidden, cfg.kernel_size, 2**i, cfg.backbone_dropout) for i in range(cfg.temporal_layers)
        )

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        """``features (B, T, D)``, ``mask (B, T)`` -> ``h (B, T, H)``, zero at padding."""
        x = self.proj(features, mask)
        for block in self.blocks:
            x = block(x, mask)
        return x


def _transformer_layer(cfg: PFESConfig) -> nn.TransformerEncoderLayer:
    """One pre-norm self-attention layer over a small, fully real token set (ROIs or window frames)."""
    return nn.TransformerEncoderLayer(
        cfg.hidden, cfg.heads, dim_feedforward=cfg.mlp, dropout=cfg.backbone_dropout,
        activation="gelu", batch_first=True, norm_first=True,
    )


def _shrink_convs(window: int, hidden: int) -> nn.ModuleList:
    """Stride-2 temporal convolutions that take a ``window``-frame axis down to 1 frame.

    Kernel 3, padding 1 while the length exceeds 3 (17 -> 9 -> 5 -> 3), then an unpadded kernel of
    the remaining length (3 -> 1): four convolutions for the 17-frame window.
    """
    convs, length = nn.ModuleList(), window
    while length > 1:
        if length > 3:
            convs.append(nn.Conv1d(hidden, hidden, 3, stride=2, padding=1))
            length = (length - 1) // 2 + 1
        else:
            convs.append(nn.Conv1d(hidden, hidden, length, stride=2))
            length = 1
    return convs


@BACKBONES.register("spotformer")
class SpoTFormer(SpottingBackbone):
    """SpoTFormer over each frame's ``(W, R, 2)`` optical-flow window (docs/methods.md §6).

    Per frame: Linear(2 -> H) token embedding + LayerNorm, plus learnable temporal (W) and regional
    (one per facial region) position embeddings; self-attention over the R ROIs of every window
    frame, then over the W frames of every ROI; the ROIs are mean-pooled into their regions and,
    after the first half of the stride-2 convolutions, the regions into one face token, while the
    convolutions shrink the window to one frame. Output: one H-vector per frame.

    Only real frames are encoded (in chunks of ``checkpoint_frames``, recomputed in the backward
    pass during training, which bounds the memory of long videos).
    """

    def __init__(self, cfg: PFESConfig, in_dim: int) -> None:
        super().__init__()
        h = cfg.hidden
        self.window, self.rois, self.chunk = cfg.window, cfg.rois, cfg.checkpoint_frames
        self.embed = nn.Linear(2, h)
        self.embed_norm = nn.LayerNorm(h)
        self.time_pos = nn.Parameter(torch.zeros(cfg.window, h))
        self.region_pos = nn.Parameter(torch.zeros(len(cfg.regions), h))
        nn.init.trunc_normal_(self.time_pos, std=0.02)
        nn.init.trunc_normal_(self.region_pos, std=0.02)
        region_of_roi = torch.repeat_interleave(torch.arange(len(cfg.regions)), torch.tensor(cfg.regions))
        self.register_buffer("region_of_roi", region_of_roi, persistent=False)
        self.roi_attention = _transformer_layer(cfg)
        self.time_attention = _transformer_layer(cfg)
        self.shrink = _shrink_convs(cfg.window, h)
        #: Convolutions applied per region before the regions are pooled into one face token.
        self.region_stage = (len(self.shrink) + 1) // 2
        self.out_norm = nn.LayerNorm(h)

    @classmethod
    def check(cls, cfg: PFESConfig, in_dim: int) -> None:
        expected = cfg.window * cfg.rois * 2
        if in_dim != expected:
            raise SentilocError(
                f"model.backbone 'spotformer' reads (window={cfg.window}, rois={cfg.rois}, 2) optical-flow windows "
                f"({expected} values per frame) but the frame features have {in_dim}; use model.backbone: temporal"
            )

    def encode(self, rows: Tensor) -> Tensor:
        """``rows (N, W·R·2)`` flattened flow windows -> ``(N, H)`` frame embeddings."""
        n = rows.shape[0]
        w, r = self.window, self.rois
        x = self.embed_norm(self.embed(rows.view(n, w, r, 2)))  # (N, W, R, H)
        x = x + self.time_pos[None, :, None, :] + self.region_pos[self.region_of_roi][None, None, :, :]
        hidden = x.shape[-1]
        x = self.roi_attention(x.reshape(n * w, r, hidden)).view(n, w, r, hidden)
        x = self.time_attention(x.transpose(1, 2).reshape(n * r, w, hidden)).view(n, r, w, hidden)
        regions = torch.zeros(n, int(self.region_of_roi.max()) + 1, w, hidden, dtype=x.dtype, device=x.device)
        regions = regions.index_add(1, self.region_of_roi, x)
        counts = torch.bincount(self.region_of_roi).to(x.dtype)
        x = regions / counts[None, :, None, None]  # (N, regions, W, H): mean over each region's ROIs
        for i, conv in enumerate(self.shrink):
            if i == self.region_stage:
                x = x.mean(dim=1, keepdim=True)  # regions -> one face token
            groups = x.shape[1]
            x = F.gelu(conv(x.reshape(n * groups, -1, hidden).transpose(1, 2))).transpose(1, 2)
            x = x.reshape(n, groups, -1, hidden)
        return self.out_norm(x.mean(dim=1).squeeze(1))

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        """``features (B, T, W·R·2)``, ``mask (B, T)`` -> ``h (B, T, H)``, zero at padding."""
        b, t = mask.shape
        rows = features[mask]  # (N, D): the real frames only
        recompute = self.training and torch.is_grad_enabled() and self.chunk > 0
        step = self.chunk if self.chunk > 0 else max(1, rows.shape[0])
        parts = [
            checkpoint(self.encode, chunk, use_reentrant=False) if recompute else self.encode(chunk)
            for chunk in rows.split(step)
        ]
        encoded = torch.cat(parts) if parts else rows.new_zeros(0, self.out_norm.normalized_shape[0])
        out = encoded.new_zeros(b, t, encoded.shape[-1])
        return out.masked_scatter(mask[..., None], encoded)
