"""Test helper: ragged per-video click lists -> padded ``(B, P)`` tensors."""

from __future__ import annotations

import torch


def make_clicks(times: list[list[int]], classes: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad ragged per-video click lists into ``(B, P)`` tensors (padded entries: t = 0, masked)."""
    width = max(1, max(len(t) for t in times))
    point_t = torch.zeros(len(times), width, dtype=torch.long)
    point_cls = torch.zeros(len(times), width, dtype=torch.long)
    point_mask = torch.zeros(len(times), width, dtype=torch.bool)
    for b, (ts, cs) in enumerate(zip(times, classes)):
        point_t[b, : len(ts)] = torch.tensor(ts, dtype=torch.long)
        point_cls[b, : len(cs)] = torch.tensor(cs, dtype=torch.long)
        point_mask[b, : len(ts)] = True
    return point_t, point_cls, point_mask
