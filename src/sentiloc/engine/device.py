"""Where tensors live and in which precision matrix products run: shared by training and inference."""

from __future__ import annotations

import contextlib

import torch

from sentiloc.core.errors import SentilocError


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda``; asking for CUDA on a machine without it is a user error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SentilocError("--device cuda: no CUDA device is available here; use --device cpu")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` has native bf16 matrix units (CPU: AVX-512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def uses_bf16(device: torch.device, amp: str) -> bool:
    """Whether ``amp`` means bf16 matrix products on ``device`` (``auto``: only with native bf16)."""
    return amp == "bf16" or (amp == "auto" and bf16_supported(device))


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """bf16 autocast for ``amp="bf16"`` (or ``"auto"`` on hardware with native bf16), else a no-op.

    Weights and the optimiser stay in float32; only matrix products run in bf16, which is
    1.4-2x faster on CPUs with AVX-512-BF16/AMX. Without native support bf16 is emulated and
    slower, hence ``auto``.
    """
    if uses_bf16(device, amp):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
