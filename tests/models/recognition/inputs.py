"""Padded recognition inputs shared by the recognition model tests."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from sentiloc.core.experiment import ComponentSpec
from sentiloc.models import MODELS, BaseModel, build_model

DIMS = {"visual": 6, "audio": 4}
#: ``class_text``: TG-DFER's (C, E) class text embeddings, here 3 classes x E = 5 (models without text ignore it).
DERIVED = {"dims": DIMS, "num_classes": 3, "classes": ("anger", "joy", "sadness"), "streams": tuple(DIMS),
           "class_text": ((1.0, 0.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.6, 0.8, 0.0))}
#: Narrow layers, where a model's config has them.
WIDTHS = {"hidden": 8, "attention_hidden": 4, "dropout": 0.0}


def make_clips(lengths: tuple[int, ...] = (7, 4), seed: int = 1) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``streams`` name -> ``(B, T, D)`` (zero at padding, as RecognitionBatch has them) and the ``(B, T)`` mask."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    streams = {s: torch.randn(len(lengths), max(lengths), d, generator=gen) * mask[..., None] for s, d in DIMS.items()}
    return streams, mask


def tiny(name: str, seed: int = 0, **params: Any) -> BaseModel:
    """A narrow registered recognition model built with :data:`DERIVED`."""
    torch.manual_seed(seed)
    fields = {f.name for f in dataclasses.fields(MODELS.get(name).config)}
    options = {k: v for k, v in WIDTHS.items() if k in fields} | params
    return build_model(ComponentSpec("model", name, options), DERIVED)
