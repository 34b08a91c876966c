"""``loss:`` sections given as dicts, typed as a config file's would be."""

from __future__ import annotations

from typing import Any

from sentiloc.core.experiment import ComponentSpec
from sentiloc.losses.registry import objective_options


def loss_spec(section: dict[str, Any] | None = None) -> ComponentSpec:
    return ComponentSpec.from_config({"loss": section or {}}, "loss", "fsenet")


def typed_loss(section: dict[str, Any] | None = None) -> tuple[str, Any]:
    """``(loss.name, typed options)`` of a ``loss:`` section."""
    spec = loss_spec(section)
    return spec.name, objective_options(spec)
