"""Objective registry: the ``loss:`` section names its training objective (``loss.name``).

Each objective registers its config dataclass and class (:func:`register_objective`), so every
method keeps its own typed loss options while the training loop stays method-agnostic. An
objective is called as ``objective(out, batch) -> {"total": ..., ...}``, after
``objective.start_epoch(epoch)`` at the start of each epoch; it declares the model
output type it needs (:attr:`Objective.needs`), and :func:`build_objective` refuses a model
whose outputs do not carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec, build_options
from sentiloc.core.registry import Component, Registry, register_component
from sentiloc.data.batch import Batch
from sentiloc.models.base import LocalizationOutput
from sentiloc.models.registry import MODELS


class Objective:
    """Base of every objective: built from its options, the supervision level and the class count."""

    #: The model output type the objective reads (a model's ``output_type`` must be this or a subclass).
    needs: ClassVar[type] = LocalizationOutput

    def start_epoch(self, epoch: int) -> None:
        """Called by the training loop before each epoch (0-based); objectives with a schedule read it."""

    def __call__(self, out: Any, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError


OBJECTIVES: Registry[Component] = Registry("objective", "loss.name")


def register_objective(name: str, config_cls: type) -> Callable[[type[Objective]], type[Objective]]:
    """Class decorator: ``@register_objective("fsenet", ObjectiveConfig)``."""
    return register_component(OBJECTIVES, name, config_cls)


def objective_options(spec: ComponentSpec, derived: Mapping[str, Any] | None = None) -> Any:
    """The typed options of the objective ``spec`` names (unknown keys reported under ``loss``)."""
    return build_options(OBJECTIVES.get(spec.name).config, spec, derived or {})


def check_fit(loss_name: str, model_name: str) -> None:
    """Refuse a model whose outputs lack what the objective reads, naming the models that fit."""
    needs = OBJECTIVES.get(loss_name).cls.needs
    if not issubclass(MODELS.get(model_name).cls.output_type, needs):
        fitting = [name for name, entry in MODELS.items() if issubclass(entry.cls.output_type, needs)]
        raise SentilocError(
            f"loss.name {loss_name!r} reads {needs.__name__}, which model.name {model_name!r} does not return; "
            f"use it with model.name {' or '.join(repr(n) for n in fitting)}"
        )


def build_objective(spec: ComponentSpec, derived: Mapping[str, Any], supervision: str, model_name: str) -> Objective:
    """Instantiate the objective ``spec`` names for ``supervision`` and a model called ``model_name``."""
    check_fit(spec.name, model_name)
    entry = OBJECTIVES.get(spec.name)
    return entry.cls(objective_options(spec, derived), supervision, int(derived["num_classes"]))
