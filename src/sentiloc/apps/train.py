"""``sentiloc train``: a config and a dataset -> a run folder (checkpoints, summary, TensorBoard).

This module assembles a run from the registries — the config's task builds the data, the model
and objective registries build what ``model:`` and ``loss:`` name — and hands it to the
task-agnostic :class:`~sentiloc.engine.trainer.Trainer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from sentiloc.core.config import section
from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import DEFAULT_TASK, ExperimentConfig
from sentiloc.core.io import atomic_write_text, prepare_output_dir
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.engine.device import resolve_device
from sentiloc.engine.memory import limit_kernel_cache
from sentiloc.engine.trainer import Trainer
from sentiloc.losses import build_objective, check_fit, objective_options
from sentiloc.models import MODELS, build_model
from sentiloc.tasks import TASKS


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


def build_trainer(config: dict[str, Any], data_root: Path, out: Path | None = None, device: str = "cpu") -> Trainer:
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
    exp = exp.resolve(data.dims)
    model = build_model(exp.model, exp.derived).to(torch_device)
    task.fit_normalisation(data, exp, Path(data_root), model)
    objective = build_objective(exp.loss, exp.derived, exp.data.supervision, exp.model.name)
    return Trainer(exp, data, task.selection(exp, data, torch_device), model, objective, torch_device, out)


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

    With ``resume`` the config stored in ``out/last.pt`` is used (``epochs`` may extend it).
    """
    out = Path(out)
    if resume:
        state = load_checkpoint(out / "last.pt")
        config = state["config"]
    elif config is None:
        raise SentilocError("train: a config is needed unless --resume continues an existing run")
    if epochs is not None:
        config = {**config, "train": {**(config.get("train") or {}), "epochs": epochs}}
    if not resume:
        prepare_output_dir(out, overwrite, "run folder")
    trainer = build_trainer(config, data_root, out, device)
    if resume:
        trainer.load_state(state)
    else:
        atomic_write_text(out / "config.yaml",
                          yaml.safe_dump({**config, "resolved_dims": dict(trainer.data.dims)}, sort_keys=False))
    return trainer.fit(stop_after=stop_after, progress=progress)
