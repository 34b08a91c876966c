"""sentiloc: temporal sentiment localization in long, untrimmed videos, learned from cheap labels.

The Python API (docs/api.md)::

    import sentiloc

    config = sentiloc.load_config("fsenet_point", overrides={"train.epochs": 2})
    run = sentiloc.train(config, data="data/sim", out="runs/point")      # -> Run (folder, checkpoint, summary)
    model = sentiloc.load_model(run.checkpoint)                          # -> Model
    segments = model.localize("clip.mp4")                                # -> [Segment(label, start_s, end_s, score)]
    metrics = sentiloc.evaluate("data/sim/gt.json", model.predict("data/sim"))   # -> {"average_mAP": ...}

The names resolve on first use (:mod:`sentiloc.apps.api`), so ``import sentiloc`` loads neither
torch nor any extractor.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Model", "Run", "Segment", "SentilocError", "__version__", "evaluate", "load_config", "load_model", "train"]

#: The public API: name -> the module that defines it.
_API = {name: "sentiloc.apps.api" for name in ("load_config", "train", "load_model", "evaluate", "Model", "Run")}
_API.update({"Segment": "sentiloc.apps.localize", "SentilocError": "sentiloc.core.errors"})

if TYPE_CHECKING:
    from sentiloc.apps.api import Model, Run, evaluate, load_config, load_model, train
    from sentiloc.apps.localize import Segment
    from sentiloc.core.errors import SentilocError


def __getattr__(name: str) -> Any:
    """Import the API's module when one of its names is first used (PEP 562).

    The package root is not one of the layers (docs/architecture.md): it only re-exports, by
    module name, on demand, so importing any layer never imports the ones above it.
    """
    if name not in _API:
        raise AttributeError(f"module 'sentiloc' has no attribute {name!r}")
    value = getattr(import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
