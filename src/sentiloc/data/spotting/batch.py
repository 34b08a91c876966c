"""The padded, masked mini-batch of the spotting task.

Spotting runs on a *working timeline*: each video's per-frame features are mean-pooled over
``stride`` consecutive native frames (``stride = max(1, round(fps / data.working_fps))``), so a
200 fps SAMM-LV video and a 30 fps CAS(ME)² video both reach the model at about 30 frames per
second and GIM's window constants (docs/methods.md §6) mean the same time span on both.
Working frame ``w`` covers native frames ``[w * stride, (w + 1) * stride - 1]``.

Training is point-supervised: a batch holds the clicks (``points.csv``) and nothing of the
annotated intervals, so onsets and offsets cannot reach a model or its objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch

#: Expression types, in the order of every ``(..., 2)`` tensor and of ``type`` indices.
EXPRESSION_TYPES = ("macro", "micro")


@dataclass
class SpottingBatch:
    """A padded batch of ``B`` videos on the working timeline, ``T`` = the longest one's working frames.

    Attributes:
        features: ``(B, T, D)`` float32 pooled frame features, zero at padding.
        mask: ``(B, T)`` bool, True on real working frames.
        video_ids: the ``B`` video ids.
        stride: ``(B,)`` long, native frames per working frame.
        n_frames: ``(B,)`` long, native frame count of each video.
        point_t: ``(B, P)`` long working-frame index of each click, padded with 0.
        point_type: ``(B, P)`` long expression type of each click (index into :data:`EXPRESSION_TYPES`).
        point_mask: ``(B, P)`` bool, True on real clicks.
    """

    features: torch.Tensor
    mask: torch.Tensor
    video_ids: list[str]
    stride: torch.Tensor
    n_frames: torch.Tensor
    point_t: torch.Tensor
    point_type: torch.Tensor
    point_mask: torch.Tensor
    lengths: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = self.mask.sum(dim=1)

    def inputs(self) -> dict[str, object]:
        """The keyword arguments of a spotting model's ``forward``: features and mask, no labels."""
        return {"features": self.features, "mask": self.mask}

    def to(self, device: torch.device | str) -> SpottingBatch:
        """Move every tensor to ``device`` (ids stay on the host)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        return SpottingBatch(**{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                                for k, v in values.items()})


def working_to_native(onset_w: np.ndarray, offset_w: np.ndarray, apex_w: np.ndarray, stride: int,
                      n_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Working-frame intervals ``(N,)`` -> native frames, inclusive, within ``[0, n_frames - 1]``.

    An interval spans every native frame its working frames cover (onset ``w * stride``, offset
    ``w * stride + stride - 1``); the apex is the middle native frame of its working frame.
    """
    last = n_frames - 1
    onset = np.minimum(np.asarray(onset_w, dtype=np.int64) * stride, last)
    offset = np.minimum(np.asarray(offset_w, dtype=np.int64) * stride + stride - 1, last)
    apex = np.minimum(np.asarray(apex_w, dtype=np.int64) * stride + stride // 2, last)
    return onset, offset, apex
