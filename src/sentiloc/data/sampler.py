"""Which videos go into which batch: seeded epochs for training, length buckets for inference.

Both are ``torch.utils.data`` batch samplers, so any ``Dataset`` with a collate function runs
through a ``DataLoader`` (worker processes, prefetch) and, under ``torch.distributed``, each
rank reads its own share of every optimiser step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from sentiloc.core.seeding import epoch_generator


def epoch_order(n_items: int, seed: int, epoch: int) -> list[int]:
    """The item order of one epoch, a pure function of (seed, epoch) so that resuming replays it."""
    import torch

    return torch.randperm(n_items, generator=epoch_generator(seed, epoch, "order")).tolist()


def length_buckets(lengths: Sequence[float], size: int) -> list[list[int]]:
    """Indices grouped ``size`` at a time in order of length, so padded batches waste little compute."""
    order = np.argsort(np.asarray(lengths, dtype=float), kind="stable")
    return [order[i : i + size].tolist() for i in range(0, len(order), size)]


class EpochBatchSampler(Sampler[list[int]]):
    """Micro-batches of one training epoch, step by step.

    An epoch is the seeded permutation :func:`epoch_order` cut into optimiser steps of
    ``batch_size`` items; each step is cut into micro-batches of ``micro_batch`` items (gradients
    are accumulated over a step). With ``micro_batch > 1`` the items of a step are grouped by
    ``lengths`` first, so a micro-batch pads little. With ``world_size > 1`` (distributed
    training) rank ``r`` takes items ``r, r + world_size, ...`` of every step: the ranks share
    each step, and together see exactly the items a single process would.

    Call :meth:`set_epoch` before iterating.
    """

    def __init__(self, n_items: int, batch_size: int, micro_batch: int, seed: int,
                 lengths: Sequence[float] | None = None, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.n_items, self.batch_size, self.micro_batch, self.seed = n_items, batch_size, micro_batch, seed
        self.lengths = None if lengths is None else list(lengths)
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def steps(self) -> list[list[list[int]]]:
        """This rank's micro-batches of every optimiser step of the epoch (a step may be empty on a rank)."""
        order = epoch_order(self.n_items, self.seed, self.epoch)
        plan = []
        for start in range(0, len(order), self.batch_size):
            mine = order[start : start + self.batch_size][self.rank :: self.world_size]
            if self.micro_batch > 1 and self.lengths is not None:
                mine = [mine[i] for i in length_buckets([self.lengths[j] for j in mine], len(mine))[0]] if mine else []
            plan.append([mine[i : i + self.micro_batch] for i in range(0, len(mine), self.micro_batch)])
        return plan

    def step_sizes(self) -> list[int]:
        """Items per optimiser step over all ranks (the denominator of each step's mean loss)."""
        return [min(self.batch_size, self.n_items - start) for start in range(0, self.n_items, self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        for step in self.steps():
            yield from step

    def __len__(self) -> int:
        return sum(len(step) for step in self.steps())


class LengthBucketSampler(Sampler[list[int]]):
    """Inference batches of ``size`` items of similar length (one item per batch is fastest on a CPU)."""

    def __init__(self, lengths: Sequence[float], size: int = 1) -> None:
        self.batches = length_buckets(lengths, size)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)
