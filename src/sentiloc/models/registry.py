"""Model registry: build any localization model from its name and a plain config dict.

Each entry pairs a config dataclass with the model class, so unknown or misspelt options are
reported against the config's field names at load time instead of deep inside ``__init__``.
TSL-Net, the MIL and frame baselines register here the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from sentiloc.core.errors import SentilocError
from sentiloc.models.localization.fsenet import FSENet, FSENetConfig
from sentiloc.models.localization.fusion import FusionNet, FusionNetConfig
from sentiloc.models.localization.tslnet import TSLNet, TSLNetConfig

MODELS: dict[str, tuple[type, type[nn.Module]]] = {
    "fsenet": (FSENetConfig, FSENet),
    "fusion": (FusionNetConfig, FusionNet),
    "tslnet": (TSLNetConfig, TSLNet),
}


def build_model(name: str, params: dict[str, Any]) -> nn.Module:
    """Instantiate model ``name`` with ``Config(**params)``.

    Raises:
        SentilocError: unknown model name, unknown or missing option (listing the valid ones),
            or an invalid value rejected by the config.
    """
    if name not in MODELS:
        raise SentilocError(f"unknown model '{name}'; known models: {', '.join(sorted(MODELS))}")
    config_cls, model_cls = MODELS[name]
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise SentilocError(f"model '{name}' has no option(s) {unknown}; valid options: {', '.join(fields)}")
    required = [
        n for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and n not in params
    ]
    if required:
        raise SentilocError(f"model '{name}' needs option(s) {required}")
    return model_cls(config_cls(**params))
