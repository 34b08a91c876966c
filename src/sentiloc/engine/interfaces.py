"""What a task hands the engine: its training data and its model-selection metric.

These types are the seam between ``sentiloc.tasks`` (which builds them) and the training loop
(which only reads them), so neither the loop nor inference depends on any task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import Dataset


@dataclass
class TrainingData:
    """What a task hands the training loop.

    Attributes:
        train_set, val_set: map-style datasets (``val_set`` None: no model selection, keep the last).
        dims: feature dims of the data, from which the model is built.
        lengths: a length per training item (for bucketing micro-batches).
        collate: list of items -> a batch with ``.to(device)``, ``.inputs()`` (the model's keyword
            arguments) and ``.video_ids``.
        augment: ``(batch, generator) -> batch``, a seeded training-time perturbation.
        checkpoint_extras: what the task needs to rebuild its data pipeline at inference
            (classes, feature statistics, extractor record, ...), stored in every checkpoint.
        classes: the class names when the dataset defines them (recognition's ``classes.txt``);
            None when the config's ``data:`` section does. Store them in ``checkpoint_extras``
            under ``"classes"`` too, which is where :func:`sentiloc.tasks.load_trained` reads them.
        derived: further values the task derives from the data for the model's config (TG-DFER's
            ``class_text``, docs/methods.md §7); the trainer stores them in every checkpoint under
            ``"derived"``, which is where :func:`sentiloc.tasks.load_trained` reads them.
    """

    train_set: Dataset
    val_set: Dataset | None
    dims: dict[str, int]
    lengths: list[float]
    collate: Callable[[list[Any]], Any]
    augment: Callable[[Any, torch.Generator], Any]
    checkpoint_extras: dict[str, Any] = field(default_factory=dict)
    classes: tuple[str, ...] | None = None
    derived: dict[str, Any] = field(default_factory=dict)


@dataclass
class Selection:
    """The validation score that picks ``best.pt``: its logged name and how to compute it for a model."""

    name: str
    score: Callable[[nn.Module], float]


class Objective(Protocol):
    """A training objective as the loop uses it (``sentiloc.losses.registry.Objective`` implements it)."""

    def start_epoch(self, epoch: int) -> None:
        """Called before each epoch (0-based), so a scheduled objective (GIM) knows where it is."""

    def __call__(self, out: Any, batch: Any) -> dict[str, torch.Tensor]:
        """The loss terms of one batch, ``"total"`` among them."""
