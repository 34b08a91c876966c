"""Model registry: every model registers its config dataclass and class under a ``model.name``.

Options are typed against the config dataclass (:func:`sentiloc.core.experiment.build_options`),
so unknown or misspelt options are reported by field name at load time instead of deep inside
``__init__``; the dims, class count and stream roles come from the data, not the YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sentiloc.core.experiment import ComponentSpec, build_options
from sentiloc.core.registry import Component, Registry, register_component
from sentiloc.models.base import BaseModel

MODELS: Registry[Component] = Registry("model", "model.name")


def register_model(name: str, config_cls: type) -> Callable[[type[BaseModel]], type[BaseModel]]:
    """Class decorator: ``@register_model("fsenet", FSENetConfig)``."""
    return register_component(MODELS, name, config_cls)


def build_model(spec: ComponentSpec, derived: Mapping[str, Any]) -> BaseModel:
    """Instantiate the model ``spec`` names, with the values ``derived`` from the data.

    Raises:
        SentilocError: unknown model name, unknown or mistyped option (listing the valid ones),
            an option that contradicts the data, or an invalid value rejected by the config.
    """
    entry = MODELS.get(spec.name)
    return entry.cls(build_options(entry.config, spec, derived))
