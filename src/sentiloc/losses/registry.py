"""Objective registry: the ``loss:`` section of a config names its training objective.

``loss.name`` (default ``fsenet``) picks a (config dataclass, objective class) pair, mirroring
the model registry, so each method keeps its own typed loss options while the trainer stays
method-agnostic. The rest of the section becomes that dataclass via :func:`typed_section`. An objective is called as ``objective(out, batch) -> {"total": ..., ...}``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import torch

from sentiloc.core.config import section
from sentiloc.data.batch import Batch
from sentiloc.core.errors import SentilocError
from sentiloc.losses.objectives.baselines import FrameConfig, FrameObjective, MILConfig, MILObjective
from sentiloc.losses.objectives.fsenet import FSENetObjective, ObjectiveConfig
from sentiloc.losses.objectives.tslnet import TSLNetLossConfig, TSLNetObjective
from sentiloc.models.output import ModelOutput


class Objective(Protocol):
    def __call__(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]: ...


OBJECTIVES: dict[str, tuple[type, type]] = {
    "fsenet": (ObjectiveConfig, FSENetObjective),
    "mil": (MILConfig, MILObjective),
    "frame": (FrameConfig, FrameObjective),
    "tslnet": (TSLNetLossConfig, TSLNetObjective),
}


def objective_config(config: dict[str, Any]) -> tuple[str, Any]:
    """``(name, typed options)`` of a config's ``loss:`` section."""
    values = dict(config.get("loss") or {})
    name = values.pop("name", "fsenet")
    if name not in OBJECTIVES:
        raise SentilocError(f"loss.name {name!r}: unknown objective; known objectives: {', '.join(sorted(OBJECTIVES))}")
    return name, typed_section(OBJECTIVES[name][0], values, "loss")


def typed_section(cls: type, values: dict[str, Any] | None, name: str) -> Any:
    """``cls(**values)`` for a config dataclass, with unknown keys reported under ``name``.

    A field whose default is itself a config dataclass (FSENet's ``loss.pseudo``) is a nested
    section, built and checked the same way, so no objective needs its own parser.
    """
    values = section({name: values}, name, {f.name for f in dataclasses.fields(cls)})
    for f in dataclasses.fields(cls):
        if f.name in values and dataclasses.is_dataclass(f.default_factory):
            values[f.name] = typed_section(f.default_factory, values[f.name], f"{name}.{f.name}")
    return cls(**values)


def build_objective(name: str, options: Any, supervision: str, num_classes: int) -> Objective:
    """Instantiate objective ``name`` for a supervision level (``point``, ``video`` or ``full``)."""
    return OBJECTIVES[name][1](options, supervision, num_classes)
