"""The padded, masked mini-batch every model and loss consumes.

Videos have different lengths, so a batch is zero-padded to the longest one and carries a
``mask``; padded positions must never enter attention, top-k pooling, contrastive sets or
losses. Supervision fields are filled only for the supervision level in use, so a point-level
model cannot see dense segments even by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Batch:
    """A padded batch of ``B`` videos, ``T`` = the longest video's snippet count.

    Attributes:
        features: modality name -> ``(B, T, D_m)`` float32, zero at padding.
        mask: ``(B, T)`` bool, True on real snippets.
        face_present: ``(B, T)`` bool, False where the face stream is all-zero or padded.
        video_ids: the ``B`` video ids.
        fps: ``(B,)`` float64 native frame rates (snippet -> seconds conversion).
        video_labels: ``(B, C)`` float, 1 for each sentiment class present in the video.
        point_t: ``(B, P)`` long snippet indices of the clicks (point supervision), padded with 0.
        point_cls: ``(B, P)`` long class index of each click.
        point_mask: ``(B, P)`` bool, True on real clicks.
        dense: ``(B, T, C + 1)`` float dense targets (full supervision only): one-hot class
            inside segments, the non-sentiment column C = 1 outside.
    """

    features: dict[str, torch.Tensor]
    mask: torch.Tensor
    face_present: torch.Tensor
    video_ids: list[str]
    fps: torch.Tensor
    video_labels: torch.Tensor
    point_t: torch.Tensor | None = None
    point_cls: torch.Tensor | None = None
    point_mask: torch.Tensor | None = None
    dense: torch.Tensor | None = None
    lengths: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = self.mask.sum(dim=1)

    def inputs(self) -> dict[str, object]:
        """The keyword arguments of a localization model's ``forward``: what it may see, no labels."""
        return {"features": self.features, "mask": self.mask, "face_present": self.face_present}

    def to(self, device: torch.device | str) -> "Batch":
        """Move every tensor to ``device`` (ids stay on the host)."""
        def move(x: torch.Tensor | None) -> torch.Tensor | None:
            return None if x is None else x.to(device, non_blocking=True)

        return Batch(
            features={k: v.to(device, non_blocking=True) for k, v in self.features.items()},
            mask=move(self.mask),
            face_present=move(self.face_present),
            video_ids=self.video_ids,
            fps=move(self.fps),
            video_labels=move(self.video_labels),
            point_t=move(self.point_t),
            point_cls=move(self.point_cls),
            point_mask=move(self.point_mask),
            dense=move(self.dense),
        )
