"""``sentiloc train``: a config and a dataset -> a run folder (checkpoints, summary, TensorBoard).

This module assembles a run from the registries — the config's task builds the data, the model
and objective registries build what ``model:`` and ``loss:`` name — and hands it to the
task-agnostic :class:`~sentiloc.engine.trainer.Trainer`.

The run folder is guarded: a lock file (``.sentiloc.lock``, ``fcntl.flock``, holding the pid)
keeps a second trainer out while one runs; ``overwrite`` deletes what an earlier run wrote
(:data:`RUN_FILES`) before the new run starts; ``resume`` without a checkpoint (killed during the
first epoch) starts the run afresh from its ``config.yaml``. Under ``torchrun`` only rank 0
touches the folder (:func:`~sentiloc.engine.distributed.on_main`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from sentiloc.core.config import apply_overrides, section
from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import DEFAULT_TASK, ExperimentConfig
from sentiloc.core.io import atomic_write_text, remove_partial_writes
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.engine.device import resolve_device
from sentiloc.engine.distributed import (
    SINGLE,
    World,
    on_main,
    process_group,
    world_from_env,
)
from sentiloc.engine.memory import limit_kernel_cache
from sentiloc.engine.trainer import Trainer
from sentiloc.losses import build_objective, check_fit, objective_options
from sentiloc.models import MODELS, build_model
from sentiloc.tasks import TASKS

log = logging.getLogger(__name__)

#: The lock file of a run folder (kept after the run; a lock is held only by a live process).
LOCK_NAME = ".sentiloc.lock"
#: What a run writes into its folder, in the order ``overwrite`` deletes it: the files a resume reads first.
RUN_FILES = ("config.yaml", "last.pt", "best.pt", "summary.json")
#: Config keys a resumed run may change (``--epochs`` or ``--set``): neither alters the epochs already trained.
SAFE_ON_RESUME = frozenset({"train.epochs", "train.num_workers"})


def check_config(config: Mapping[str, Any]) -> ExperimentConfig:
    """``config`` typed section by section before any data is read, so a typo fails at once.

    Checks the task, every key and scalar type of ``data``/``train``/``postprocess``/``loss``, the
    model's option names, and that the model's outputs fit the objective.
    """
    task = TASKS.get(str(config.get("task") or DEFAULT_TASK))
    exp = task.experiment(config)
    model_options = {f.name for f in dataclasses.fields(MODELS.get(exp.model.name).config)}
    section({"model": exp.model.params}, "model", model_options)
    check_fit(exp.loss.name, exp.model.name)
    objective_options(exp.loss, {k: v for k, v in exp.model.params.items() if k == "r_act"})
    return exp


def build_trainer(config: dict[str, Any], data_root: Path, out: Path | None = None, device: str = "cpu",
                  world: World = SINGLE) -> Trainer:
    """Everything one training run needs, seeded: data, model, objective, selection metric, optimiser."""
    exp = check_config(config)
    task = TASKS.get(exp.task)
    torch_device = resolve_device(device)
    if torch_device.type == "cpu":
        limit_kernel_cache()
    if exp.train.num_threads:
        torch.set_num_threads(exp.train.num_threads)
    torch.manual_seed(exp.train.seed)
    data = task.training_data(exp, Path(data_root))
    exp = exp.resolve(data.dims, data.classes, data.derived)
    model = build_model(exp.model, exp.derived).to(torch_device)
    task.fit_normalisation(data, exp, Path(data_root), model)
    objective = build_objective(exp.loss, exp.derived, exp.data.supervision, exp.model.name)
    return Trainer(exp, data, task.selection(exp, data, torch_device), model, objective, torch_device, out,
                   world)


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two configs (a key missing on one side differs)."""
    changed = []
    for key in sorted(set(old) | set(new), key=str):
        a, b, name = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changed += config_changes(a, b, f"{name}.")
        elif key not in old or key not in new or a != b:
            changed.append(name)
    return changed


def stored_config(out: Path) -> dict[str, Any] | None:
    """The config of the run in ``out``: from ``last.pt``, else from ``config.yaml``; None when neither exists."""
    if (out / "last.pt").is_file():
        return load_checkpoint(out / "last.pt")["config"]
    if (out / "config.yaml").is_file():
        loaded = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8")) or {}
        return {k: v for k, v in loaded.items() if k != "resolved_dims"}
    return None


def resume_overrides(out: Path, overrides: list[str]) -> int | None:
    """Check ``--set`` texts given with ``--resume``: the new ``train.epochs`` they ask for (or None).

    Only :data:`SAFE_ON_RESUME` keys may differ from the run's own config; any other change is
    refused naming the keys, since the resumed epochs would mix two configs.
    """
    out = Path(out)
    old = stored_config(out)
    if old is None:
        raise SentilocError(f"{out}: --resume continues the run with its own config, so --set cannot change it; "
                            "train a new run (--config ... --set ...) instead")
    new = apply_overrides(old, overrides)
    unsafe = [key for key in config_changes(old, new) if key not in SAFE_ON_RESUME]
    if unsafe:
        raise SentilocError(f"{out}: --resume continues the run with its own config, so --set/--seed cannot change "
                            f"{', '.join(unsafe)}; train a new run (--config ... --set ...) instead")
    epochs = (new.get("train") or {}).get("epochs")
    return int(epochs) if epochs != (old.get("train") or {}).get("epochs") else None


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock file for the duration of a run; a one-line error naming the holder if taken.

    A run refused with a :class:`SentilocError` (a used folder without ``--overwrite``, bad data)
    leaves no trace: the lock file and the folder are removed again if this call created them.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SentilocError(f"{out}: run folder exists and is not a folder; choose another path")
    made_dir = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = out / LOCK_NAME
    made_lock = not lock.exists()
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise SentilocError(f"{out}: run folder is in use by another trainer (pid {holder}); wait for it "
                                "to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        except SentilocError:
            if made_lock:
                lock.unlink(missing_ok=True)  # still held: no other trainer can have taken it
            if made_dir and not any(out.iterdir()):
                out.rmdir()
            raise
    finally:
        os.close(fd)  # closing releases the lock


def clear_run_folder(out: Path) -> None:
    """Delete what an earlier run wrote into ``out`` (resume files first); other files stay."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for checkpoint in sorted(out.glob("epoch_*.pt")):
        checkpoint.unlink()
    shutil.rmtree(out / "tensorboard", ignore_errors=True)


def start_run_folder(out: Path, overwrite: bool) -> None:
    """Make the (locked) ``out`` ready for a new run: refuse a used folder unless ``overwrite``, then clear it."""
    used = [entry.name for entry in out.iterdir() if entry.name != LOCK_NAME]
    if used and not overwrite:
        raise SentilocError(f"{out}: run folder is not empty; choose a new path or pass --overwrite")
    clear_run_folder(out)


def plan_run(out: Path, config: dict[str, Any] | None, resume: bool, overwrite: bool) -> tuple[dict[str, Any], bool]:
    """Rank 0's decision on the run folder: the config to train and whether to continue ``last.pt``.

    ``resume`` without ``last.pt`` (killed before the first checkpoint) starts afresh from the run's
    ``config.yaml``. Temp files of writes a killed run did not finish are removed first.
    """
    for stale in remove_partial_writes(out):
        log.info("%s: removed %s, a write the stopped run did not finish", out, stale.name)
    if resume:
        if (out / "last.pt").is_file():
            return load_checkpoint(out / "last.pt")["config"], True
        config = stored_config(out)
        if config is None:
            raise SentilocError(f"{out}: nothing to resume (no last.pt or config.yaml); start the run with --config")
        log.warning("%s: no last.pt yet (stopped during the first epoch); starting the run afresh with its "
                    "config.yaml", out)
        overwrite = True
    elif config is None:
        raise SentilocError("train: a config is needed unless --resume continues an existing run")
    start_run_folder(out, overwrite)
    return config, False


def train(
    config: dict[str, Any] | None,
    data_root: Path,
    out: Path,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    epochs: int | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a model from a merged config into run folder ``out``; the run's summary.

    With ``resume`` the config stored in ``out/last.pt`` is used (``epochs`` may extend it). Under
    ``torchrun`` every rank calls this; see docs/distributed.md.
    """
    out, world = Path(out), world_from_env()
    with process_group(world, device), contextlib.ExitStack() as stack:
        on_main(world, lambda: stack.enter_context(run_lock(out)))
        config, resuming = on_main(world, lambda: plan_run(out, config, resume, overwrite))
        if epochs is not None:
            config = {**config, "train": {**(config.get("train") or {}), "epochs": epochs}}
        trainer = build_trainer(config, data_root, out, device, world)
        if resuming:
            trainer.load_state(load_checkpoint(out / "last.pt"))
        else:
            on_main(world, lambda: atomic_write_text(
                out / "config.yaml", yaml.safe_dump({**config, "resolved_dims": dict(trainer.data.dims)},
                                                    sort_keys=False)))
        return trainer.fit(stop_after=stop_after, progress=progress)
