"""Data-parallel training across processes: who this process is, the process group, gradient sync.

A run under ``torchrun`` gets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR`` from its
environment; without them it is one process and nothing here talks to another process. The
training loop is handed a :class:`World` (never a global) and asks it whether it is rank 0 (the
only rank that logs, draws bars and writes to the run folder) and to sum tensors over ranks.

Gradients are averaged once per optimiser step (:func:`sync_gradients`), after every rank has
accumulated its micro-batches: this is what ``DistributedDataParallel`` with ``no_sync`` on the
accumulation steps does, but it also holds when a rank has no item in a step (the last, short
step of an epoch) or a parameter receives no gradient on some rank, where DDP would hang or need
``find_unused_parameters``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from sentiloc.core.errors import SentilocError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (``World()``: a single process)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0: the one process that logs and writes the run folder."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


#: A run in one process.
SINGLE = World()


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The :class:`World` torchrun's variables describe; a single process when ``WORLD_SIZE`` is absent."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return SINGLE
    try:
        world = World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", env["RANK"])))
    except (KeyError, ValueError):
        raise SentilocError("RANK/WORLD_SIZE/LOCAL_RANK: set by torchrun as whole numbers; launch with "
                            "`torchrun --nproc_per_node N -m sentiloc train ...`") from None
    if not 0 <= world.rank < world.size:
        raise SentilocError(f"RANK={world.rank} is outside WORLD_SIZE={world.size}; launch through torchrun")
    return world


def backend_for(device: str) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.startswith("cuda") else "gloo"


@contextlib.contextmanager
def process_group(world: World, device: str) -> Iterator[None]:
    """Join the process group for the duration of a run (a no-op for a single process).

    On CUDA each process takes the GPU ``LOCAL_RANK`` as its default device.
    """
    if not world.distributed:
        yield
        return
    if device.startswith("cuda"):
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend_for(device), rank=world.rank, world_size=world.size,
                            timeout=datetime.timedelta(minutes=30))
    try:
        yield
    finally:
        dist.destroy_process_group()


def on_main(world: World, action: Callable[[], T]) -> T:
    """Run ``action`` on rank 0 only and hand its result (or its :class:`SentilocError`) to every rank.

    For steps that touch the run folder: the other ranks wait, then fail with the same one-line
    error instead of hanging at the next collective.
    """
    if not world.distributed:
        return action()
    outcome: list[Any] = [None]
    if world.is_main:
        try:
            outcome[0] = ("ok", action())
        except SentilocError as exc:
            outcome[0] = ("error", str(exc))
    dist.broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if kind == "error":
        raise SentilocError(value)
    return value


def broadcast_value(world: World, value: T) -> T:
    """Rank 0's ``value`` on every rank (e.g. a validation score only rank 0 computed)."""
    if not world.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_all(world: World, value: T) -> list[T]:
    """Every rank's ``value``, in rank order, on every rank (e.g. the ranks' RNG states for a checkpoint)."""
    if not world.distributed:
        return [value]
    values: list[Any] = [None] * world.size
    dist.all_gather_object(values, value)
    return values


def sum_over_ranks(world: World, values: dict[str, float], device: torch.device) -> dict[str, float]:
    """``values`` summed key by key over all ranks (every rank must pass the same keys; NCCL needs a GPU ``device``)."""
    if not world.distributed:
        return values
    keys = sorted(values)
    total = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return dict(zip(keys, total.tolist()))


def sync_gradients(world: World, model: nn.Module) -> None:
    """Average every parameter's gradient over the ranks in one collective (missing grads count as 0)."""
    if not world.distributed:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def broadcast_from_main(world: World, tensors: Iterable[torch.Tensor]) -> None:
    """Overwrite ``tensors`` in place with rank 0's copies: parameters at the start, buffers (BatchNorm
    statistics) after every step, as ``DistributedDataParallel(broadcast_buffers=True)`` does."""
    if not world.distributed:
        return
    for tensor in tensors:
        dist.broadcast(tensor.data, src=0)
