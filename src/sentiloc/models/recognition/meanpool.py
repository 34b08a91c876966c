"""``meanpool_linear``: the floor a recognition model must beat (docs/methods.md §8).

The clip feature is the mean of the concatenated streams over the clip's real segments, and one
linear layer maps it to class logits. It has no temporal attention, so every real segment is
reported as equally relevant (attention 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, RecognitionOutput, require_dims
from sentiloc.models.registry import register_model


@dataclass
class MeanPoolConfig:
    """``model.name: meanpool_linear``.

    Attributes:
        dims: stream name -> per-segment feature width, read from the data.
        streams: the streams to concatenate, in order (``data.streams``, derived).
        num_classes: classes C.
        dropout: dropout on the pooled clip feature.
    """

    dims: dict[str, int]
    streams: tuple[str, ...] = ("visual", "audio")
    num_classes: int = 2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self.streams = tuple(self.streams)
        if not self.streams:
            raise SentilocError("data.streams is empty; list at least one feature stream")
        require_dims(self.streams, self.dims)
        if self.num_classes < 1:
            raise SentilocError(f"model.num_classes must be >= 1, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise SentilocError(f"model.dropout must lie in [0, 1), got {self.dropout}")


@register_model("meanpool_linear", MeanPoolConfig)
class MeanPoolLinear(BaseModel):
    """Masked mean over real segments of the concatenated streams, then ``Linear``."""

    task = "recognition"
    output_type = RecognitionOutput

    def __init__(self, cfg: MeanPoolConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(sum(cfg.dims[s] for s in cfg.streams), cfg.num_classes)

    def forward(self, streams: dict[str, Tensor], mask: Tensor) -> RecognitionOutput:
        """``streams``: name -> ``(B, T, D_s)``; ``mask (B, T)`` bool -> float32 logits and uniform attention."""
        mask = mask.bool()
        missing = [s for s in self.cfg.streams if s not in streams]
        if missing:
            raise SentilocError(f"the model needs streams {missing} but the batch has {sorted(streams)}; check data.streams")
        x = torch.cat([streams[s] for s in self.cfg.streams], dim=-1).masked_fill(~mask[..., None], 0.0)
        pooled = x.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
        return RecognitionOutput(logits=self.classifier(self.dropout(pooled)).float(), attention=mask.float())
