"""Padded model inputs and output comparison shared by the model tests (FSENet, FusionNet)."""

from __future__ import annotations

from typing import Any

import torch

from sentiloc.core.experiment import ComponentSpec
from sentiloc.models import BaseModel, LocalizationOutput, build_model

DIMS = {"rgb": 12, "logmfcc": 8, "img": 10}

Inputs = tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]


def make_inputs(lengths: tuple[int, ...] = (20, 13), seed: int = 1) -> Inputs:
    """A padded batch following the Batch contract (features zero at padding, face rows gated)."""
    gen = torch.Generator().manual_seed(seed)
    b, t = len(lengths), max(lengths)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    face = (torch.rand(b, t, generator=gen) > 0.3) & mask
    feats = {m: torch.randn(b, t, d, generator=gen) * mask[..., None] for m, d in DIMS.items()}
    feats["img"] = feats["img"] * face[..., None]
    return feats, mask, face


def build(name: str, params: dict[str, Any]) -> BaseModel:
    """A registered model from a ``model:`` section given as a dict (dims included, nothing derived)."""
    return build_model(ComponentSpec("model", name, params), {})


def assert_outputs_close(a: LocalizationOutput, b: LocalizationOutput, atol: float = 1e-5) -> None:
    """Every tensor field equal within ``atol`` (a missing Global CAS must be missing in both)."""
    for name in ("cas", "global_cas", "w_sent", "embeddings", "video_scores"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            torch.testing.assert_close(x, y, atol=atol, rtol=0, msg=name)
