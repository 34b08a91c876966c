"""The training loop: seeded, resumable, validation-only model selection, the same for every task.

The loop knows nothing of tasks, models or losses: it is handed a resolved experiment, the
task's :class:`TrainingData` and :class:`Selection`, a model and an objective
(``sentiloc.apps.train`` assembles them). One epoch = every training item once, in an order
drawn from ``(seed, epoch)`` (:class:`~sentiloc.data.sampler.EpochBatchSampler`), so an
interrupted run resumed from ``last.pt`` replays exactly the order (and, with the saved RNG
state, the dropout masks) of an uninterrupted one. Items are processed ``micro_batch`` at a time
(padded, masked) and gradients are accumulated over ``batch_size`` items per optimiser step,
which keeps memory flat even for the longest TSL-300 video.

Under ``torchrun`` (a :class:`~sentiloc.engine.distributed.World` of several ranks) each rank
takes its share of every optimiser step's items and gradients are averaged once per step, so
``train.batch_size`` stays the global batch and the run follows the single-process one. Only
rank 0 draws the bar, validates, writes TensorBoard, checkpoints and ``summary.json``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ExperimentConfig, TrainConfig
from sentiloc.core.io import atomic_write_json
from sentiloc.core.progress import progress_bar
from sentiloc.core.seeding import epoch_generator
from sentiloc.data.sampler import EpochBatchSampler
from sentiloc.engine.checkpoint import save_checkpoint
from sentiloc.engine.device import autocast
from sentiloc.engine.distributed import (
    SINGLE,
    World,
    broadcast_from_main,
    broadcast_value,
    gather_to_all,
    sum_over_ranks,
    sync_gradients,
)
from sentiloc.engine.interfaces import Objective, Selection, TrainingData
from sentiloc.engine.memory import release_free_memory

#: ``train.optimizer`` -> its torch class (the names are checked by :class:`TrainConfig`).
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def lr_lambda(cfg: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The learning-rate multiplier per optimiser step (``train.scheduler``, docs/methods.md §13.5).

    ``constant``: 1; ``cosine``: decay to 0 over the run; ``step``: ``step_gamma`` to the power of
    the number of completed ``step_epochs``-epoch blocks (P-FES: ×0.5 every 30 epochs).
    """
    total = cfg.epochs * steps_per_epoch
    if cfg.scheduler == "constant":
        return lambda step: 1.0
    if cfg.scheduler == "step":
        return lambda step: cfg.step_gamma ** (step // (steps_per_epoch * cfg.step_epochs))
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def rank_rng(state: dict[str, Any], world: World) -> torch.Tensor:
    """The RNG state this rank resumes with: its own when the checkpoint has one per rank of this world, else rank 0's."""
    per_rank = state.get("rng_ranks") or []
    return per_rank[world.rank] if len(per_rank) == world.size else state["rng"]


class Trainer:
    """Owns the model, optimiser, data and run folder of one training run."""

    def __init__(self, exp: ExperimentConfig, data: TrainingData, selection: Selection, model: nn.Module,
                 objective: Objective, device: torch.device,
                 out: Path | None = None, world: World = SINGLE) -> None:
        self.exp, self.data, self.selection, self.world = exp, data, selection, world
        self.model, self.objective, self.device = model, objective, device
        self.out = Path(out) if out is not None else None
        cfg = exp.train
        broadcast_from_main(world, model.parameters())
        optimizer = OPTIMIZERS[cfg.optimizer]
        self.optimizer = optimizer(model.param_groups(cfg.lr), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.rebuild_loader()
        steps_per_epoch = math.ceil(len(data.train_set) / cfg.batch_size)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg, steps_per_epoch))
        self.epoch = 0
        self.best: dict[str, float] = {}
        self.history: list[dict[str, float]] = []

    def rebuild_loader(self) -> None:
        """(Re)build the epoch sampler and data loader over the current training set.

        Called once by ``__init__``; call it again after shrinking ``data.train_set`` (speed
        benchmarks time a subset of the videos).
        """
        cfg, data = self.exp.train, self.data
        self.sampler = EpochBatchSampler(len(data.train_set), cfg.batch_size, cfg.micro_batch, cfg.seed,
                                         data.lengths[: len(data.train_set)], self.world.rank, self.world.size)
        # The loader's own generator: starting an epoch must not draw from the global stream that
        # dropout reads, or the model's random numbers would depend on how the data are loaded.
        self.loader = DataLoader(data.train_set, batch_sampler=self.sampler, collate_fn=data.collate,
                                 num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed))

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything a checkpoint holds; under torchrun also each rank's RNG state (a collective: call on all ranks)."""
        ranks = {"rng_ranks": gather_to_all(self.world, torch.get_rng_state())} if self.world.distributed else {}
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "rng": torch.get_rng_state(),
            "best": dict(self.best),
            "history": list(self.history),
            "config": self.exp.raw,
            "task": self.exp.task,
            "model_name": self.exp.model.name,
            "dims": dict(self.data.dims),
            "derived": dict(self.data.derived),
            **self.data.checkpoint_extras,
            **ranks,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        torch.set_rng_state(rank_rng(state, self.world))
        self.best = dict(state["best"])
        self.history = list(state["history"])

    # -- one epoch ---------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, float]:
        """One epoch of this rank's share of the items; the mean loss terms over all ranks' items."""
        cfg, world = self.exp.train, self.world
        self.model.train()
        self.sampler.set_epoch(self.epoch)
        self.objective.start_epoch(self.epoch)
        augment_rng = epoch_generator(cfg.seed, self.epoch, "face_dropout")
        batches = iter(self.loader)
        sums: dict[str, float] = {}
        n_items = 0
        for step, step_size in zip(self.sampler.steps(), self.sampler.step_sizes()):
            self.optimizer.zero_grad(set_to_none=True)
            for micro in step:
                batch = self.data.augment(next(batches).to(self.device), augment_rng)
                with autocast(self.device, cfg.amp):
                    out = self.model(**batch.inputs())
                terms = self.objective(out, batch)
                loss = terms["total"]
                if not torch.isfinite(loss):
                    raise SentilocError(
                        f"training loss became {loss.item()} at epoch {self.epoch + 1} (videos {batch.video_ids}); "
                        "lower train.lr or check the features with `sentiloc check-data`"
                    )
                # x world size: the ranks' gradients are averaged, and each holds its share of the step.
                (loss * (len(micro) * world.size) / step_size).backward()
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(micro)
                n_items += len(micro)
            sync_gradients(world, self.model)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            broadcast_from_main(world, self.model.buffers())
            if self.device.type == "cpu":
                release_free_memory()
        if world.distributed:
            keys = broadcast_value(world, sorted(sums))  # rank 0 always has an item
            totals = sum_over_ranks(world, {**{k: sums.get(k, 0.0) for k in keys}, "": float(n_items)}, self.device)
            n_items = int(totals.pop(""))
            sums = totals
        return {f"loss/{k}": v / max(n_items, 1) for k, v in sums.items()}

    # -- the run -----------------------------------------------------------------------------
    def validate(self) -> float:
        """The selection score: computed by rank 0 on the whole validation set, then sent to every rank."""
        score = self.selection.score(self.model) if self.world.is_main else None
        return broadcast_value(self.world, score)

    def save(self, name: str, state: dict[str, Any]) -> None:
        """Write a checkpoint into the run folder (rank 0 only: other ranks never write there).

        A collective under torchrun: when rank 0's write fails (a full disk), every rank stops with
        the reason instead of waiting for rank 0 at the next collective until it times out.
        """
        failure: SentilocError | None = None
        if self.world.is_main:
            try:
                save_checkpoint(self.out / name, state)
            except SentilocError as exc:
                failure = exc
        reason = broadcast_value(self.world, None if failure is None else str(failure))
        if failure is not None:
            raise failure
        if reason is not None:
            raise SentilocError(f"rank 0 could not write {name}: {reason}")

    def fit(self, stop_after: int | None = None, progress: bool = True) -> dict[str, Any]:
        """Train until ``train.epochs`` (or for ``stop_after`` more epochs), checkpointing each epoch."""
        from torch.utils.tensorboard import SummaryWriter

        if self.out is None:
            raise ValueError("Trainer.fit needs a run folder (out)")
        cfg, main = self.exp.train, self.world.is_main
        metric_name = self.selection.name
        writer = SummaryWriter(log_dir=str(self.out / "tensorboard"), purge_step=self.epoch + 1) if main else None
        last_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, self.epoch + stop_after)
        bar = progress_bar(range(self.epoch, last_epoch), initial=self.epoch, total=cfg.epochs, desc="train",
                           unit="epoch", enabled=progress and main, dynamic_ncols=True)
        try:
            for _ in bar:
                tic = time.perf_counter()
                record = self.train_epoch()
                self.epoch += 1
                record["time/epoch_s"] = time.perf_counter() - tic
                if self.data.val_set is not None and (self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs):
                    record[metric_name] = self.validate()
                    if record[metric_name] >= self.best.get(metric_name, -1.0):
                        self.best = {metric_name: record[metric_name], "epoch": float(self.epoch)}
                        self.save("best.pt", self.state())
                record["epoch"] = float(self.epoch)
                self.history.append(record)
                if writer is not None:
                    for key, value in record.items():
                        if key != "epoch":
                            writer.add_scalar(key, value, self.epoch)
                bar.set_postfix({"loss": f"{record['loss/total']:.4f}",
                                 **({"val": f"{record[metric_name]:.4f}"} if metric_name in record else {})})
                state = self.state()
                if self.data.val_set is None:
                    self.save("best.pt", state)
                if cfg.checkpoint_every and self.epoch % cfg.checkpoint_every == 0:
                    self.save(f"epoch_{self.epoch:04d}.pt", state)
                self.save("last.pt", state)
        finally:
            if writer is not None:
                writer.close()
        # train.batch_size is the global batch: the ranks share each step's items.
        summary = {"epochs_done": self.epoch, "best": self.best, "history": self.history, "metric": metric_name,
                   "world_size": self.world.size, "effective_batch_size": cfg.batch_size}
        if main:
            atomic_write_json(self.out / "summary.json", summary)
        return summary
