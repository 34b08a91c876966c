"""The padded, masked mini-batch of the recognition task: clips of ``T`` segments with one label each."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch

#: The label of a video whose label is not known (a test video of a user's own data).
UNLABELLED = -1


@dataclass
class RecognitionBatch:
    """A padded batch of ``B`` clips, ``T`` = the longest clip's segment count.

    Attributes:
        streams: stream name -> ``(B, T, D_s)`` float32 per-segment features, zero at padding.
        mask: ``(B, T)`` bool, True on real segments.
        labels: ``(B,)`` long class index (line of ``classes.txt``), :data:`UNLABELLED` when unknown.
        video_ids: the ``B`` video ids.
    """

    streams: dict[str, torch.Tensor]
    mask: torch.Tensor
    labels: torch.Tensor
    video_ids: list[str]
    lengths: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = self.mask.sum(dim=1)

    def inputs(self) -> dict[str, object]:
        """The keyword arguments of a recognition model's ``forward``: streams and mask, never the labels."""
        return {"streams": self.streams, "mask": self.mask}

    def to(self, device: torch.device | str) -> RecognitionBatch:
        """Move every tensor to ``device`` (ids stay on the host)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        values["streams"] = {k: v.to(device, non_blocking=True) for k, v in self.streams.items()}
        return RecognitionBatch(**{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                                   for k, v in values.items()})
