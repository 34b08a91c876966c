"""Checkpoints: written atomically, read with ``weights_only=True``.

A checkpoint is self-contained: besides the weights it stores the resolved config, the feature
dims and class names, so ``predict`` and ``localize`` need nothing else. Only tensors and plain
Python containers go in, which is what lets us refuse pickled code on load.

A write that fails (a full disk) leaves the previous checkpoint of that name as it was and stops
the run with one line saying so; the run continues from ``last.pt`` with ``--resume``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import WriteFailed, atomic_write_bytes

FORMAT_VERSION = 1


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Serialise ``state`` (tensors and plain containers only) and rename it into place."""
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buffer)
    try:
        atomic_write_bytes(Path(path), buffer.getvalue())
    except WriteFailed as exc:
        raise SentilocError(f"{exc.path}: checkpoint write failed ({exc.reason}); {exc.kept}; free disk space, "
                            "then continue the run with `sentiloc train --resume`") from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a sentiloc checkpoint safely (no arbitrary code), with errors a user can act on."""
    path = Path(path)
    if not path.is_file():
        raise SentilocError(f"{path}: checkpoint not found; pass RUN/best.pt or RUN/last.pt of a training run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for corrupt or unsafe files
        raise SentilocError(f"{path}: not a loadable sentiloc checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise SentilocError(f"{path}: not a sentiloc checkpoint (no model weights/config); train one with `sentiloc train`")
    if state.get("format_version") != FORMAT_VERSION:
        raise SentilocError(f"{path}: checkpoint format {state.get('format_version')} is not supported by this sentiloc")
    return state
