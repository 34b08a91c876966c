"""Running a trained model over batches: eval mode, no gradients, the fastest precision.

:func:`run_model` takes any iterable of batches — a ``DataLoader`` over a split, or one video
in memory — so every task, ``predict``, ``localize`` and validation during training share it.
What the outputs mean (proposals, spotted intervals, clip labels) is the task's business.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from sentiloc.engine.device import autocast, uses_bf16


def inference_model(model: nn.Module, device: torch.device, amp: str) -> nn.Module:
    """The module to run inference with: under bf16 amp, an eval-mode bf16 copy.

    Autocast re-casts every weight to bf16 on every forward call; with one call per video that
    is ~8% of CPU inference time, so inference casts a copy once instead. The outputs match
    autocast's: its matrix products already yield bf16 activations, and the heads' sigmoid runs
    in float32 either way. Without bf16 the model itself is returned.
    """
    if not uses_bf16(device, amp):
        return model
    return copy.deepcopy(model).to(torch.bfloat16).eval()


def _cast_floats(value: Any, dtype: torch.dtype) -> Any:
    """Floating tensors (also inside a dict of streams) in ``dtype``; masks and ids as they are."""
    if isinstance(value, dict):
        return {k: _cast_floats(v, dtype) for k, v in value.items()}
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(dtype)
    return value


@torch.no_grad()
def run_model(model: nn.Module, batches: Iterable[Any], device: torch.device, amp: str = "none",
              **forward_options: Any) -> Iterator[tuple[Any, Any]]:
    """``(batch, output)`` for every batch, with ``model`` in eval mode (its mode is restored after).

    A batch is anything with ``.to(device)`` and ``.inputs()`` (the model's keyword arguments);
    its floating inputs follow the model's dtype (a bf16 inference copy reads bf16).
    ``forward_options`` go to every forward call (e.g. ``cas_only=True``).
    """
    was_training = model.training
    dtype = next(model.parameters()).dtype
    model.eval()
    try:
        for batch in batches:
            batch = batch.to(device)
            inputs = _cast_floats(batch.inputs(), dtype)
            with autocast(device, amp):
                output = model(**inputs, **forward_options)
            yield batch, output
    finally:
        model.train(was_training)
