"""The task seam: what a task (localization, spotting, recognition) supplies to the shared engine.

A :class:`Task` knows its data layout (the ``data:`` and ``postprocess:`` sections), builds its
training and validation datasets, chooses the selection metric that picks ``best.pt``, turns a
trained model's outputs into its prediction file and names its evaluator. The training loop,
checkpoints, inference, the CLI verbs and the studies work through this interface, so adding a
task adds a module here and registers it in :data:`TASKS`; nothing in ``sentiloc.engine`` changes.

:func:`load_trained` restores any task's model from a checkpoint without importing the training
loop or the losses.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from sentiloc.core.config import apply_overrides, typed_section
from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import DEFAULT_TASK, ExperimentConfig
from sentiloc.core.registry import Registry
from sentiloc.data.normalize import stats_to_state
from sentiloc.data.recognition.class_texts import class_descriptions
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.engine.interfaces import Selection, TrainingData
from sentiloc.models.registry import MODELS, build_model
from sentiloc.models.text import TextGuidanceConfig, class_embeddings


@dataclass(frozen=True)
class Fold:
    """One train/evaluate partition of a dataset, for studies that average over folds.

    Attributes:
        name: the fold's name in run folders and tables (``test`` for a fixed split, a subject
            for leave-one-subject-out, ``1``..``K`` for k-fold).
        overrides: ``--set`` overrides that make a config train on this fold's training part.
        split: the split :meth:`Task.predict` predicts.
        subset: the evaluator subset its predictions are scored on (a TSL-300 ``gt.json`` subset,
            a spotting subject).
    """

    name: str
    overrides: tuple[str, ...] = ()
    split: str = "test"
    subset: str = "test"


@dataclass
class TrainedModel:
    """A model restored from a checkpoint, in eval mode, with the experiment and task it was trained under.

    Attributes:
        extras: the task's checkpoint extras (:attr:`TrainingData.checkpoint_extras`).
    """

    model: nn.Module
    exp: ExperimentConfig
    task: "Task"
    extras: dict[str, Any]

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.exp.derived["dims"])

    @property
    def classes(self) -> list[str]:
        return list(self.exp.derived["classes"])


class Task(ABC):
    """One kind of problem on the shared engine; subclasses register with ``@TASKS.register(name)``."""

    #: ``data:`` and ``postprocess:`` dataclasses (each with the fields of its YAML section).
    data_config: ClassVar[type]
    postprocess_config: ClassVar[type]
    #: ``model.name`` / ``loss.name`` when a config does not say.
    default_model: ClassVar[str]
    default_loss: ClassVar[str]
    #: Key in ``sentiloc.evaluation.registry.EVALUATORS``.
    evaluator: ClassVar[str]
    #: Whether the dataset (not the config) defines the class names (:attr:`TrainingData.classes`).
    classes_from_data: ClassVar[bool] = False

    def experiment(self, raw: Mapping[str, Any]) -> ExperimentConfig:
        """``raw`` (a merged YAML dict) typed for this task."""
        return ExperimentConfig.parse(raw, self.data_config, self.postprocess_config, self.default_model,
                                      self.default_loss)

    @abstractmethod
    def training_data(self, exp: ExperimentConfig, root: Path) -> TrainingData:
        """The training and validation datasets of ``root`` (validation carved from training, never test)."""

    @abstractmethod
    def fit_normalisation(self, data: TrainingData, exp: ExperimentConfig, root: Path, model: nn.Module) -> None:
        """Fit input normalisation on the training split (skipping what ``model`` scales itself), in place."""

    @abstractmethod
    def selection(self, exp: ExperimentConfig, data: TrainingData, device: torch.device) -> Selection:
        """The validation metric that selects ``best.pt`` at the run's supervision level."""

    @abstractmethod
    def predict(self, trained: TrainedModel, root: Path, split: str, device: torch.device,
                **options: Any) -> dict:
        """The prediction file's content for every video of ``split`` of ``root``."""

    @abstractmethod
    def folds(self, exp: ExperimentConfig, root: Path) -> list[Fold]:
        """The evaluation folds of the dataset at ``root`` (one for a fixed train/test split)."""

    def pooled_subset(self, folds: Sequence[Fold]) -> str:
        """The evaluator subset the pooled held-out predictions of ``folds`` are scored on
        (``sentiloc crossval``): the test split of a fixed split (the default)."""
        return "test"

    @abstractmethod
    def ground_truth_file(self, exp: ExperimentConfig, root: Path) -> Path:
        """The file (or folder) the task's evaluator scores predictions of ``root`` under ``exp`` against."""

    @abstractmethod
    def restore_extras(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The checkpoint extras of ``state`` in their in-memory form (inverse of :meth:`training_data`'s)."""


TASKS: Registry[Task] = Registry("task", "task")


def standardize_with_training_stats(data: TrainingData, model: nn.Module) -> None:
    """Per-dim z-score statistics of the training set, applied to the training and validation sets
    and kept in the checkpoint extras (``feature_stats``) for inference; streams the model scales
    itself (``model.normalises_inputs``) are left out."""
    stats = {k: v for k, v in data.train_set.raw_stats().items() if k not in model.normalises_inputs}
    for dataset in (data.train_set, data.val_set):
        if dataset is not None:
            dataset.stats = stats
    data.checkpoint_extras["feature_stats"] = stats_to_state(stats)


def _checkpoint_dims(checkpoint: Path, raw: object) -> dict[str, int]:
    """The ``dims`` entry of a checkpoint as ``{stream: positive int}``, or a one-line error."""
    try:
        dims = {str(k): int(v) for k, v in raw.items()}  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        dims = {}
    if not dims or min(dims.values()) < 1:
        raise SentilocError(f"{checkpoint}: checkpoint has no valid feature dims ('dims'); "
                            "it was not written by `sentiloc train`, use RUN/best.pt of a training run")
    return dims


def load_trained(checkpoint: Path, device: torch.device, postprocess: Sequence[str] = ()) -> TrainedModel:
    """Rebuild the model of ``checkpoint`` (a ``weights_only`` load) in eval mode on ``device``.

    ``postprocess`` holds ``postprocess.KEY=VALUE`` overrides: how outputs become predictions may
    change at inference; the model, its data pipeline and everything it was trained with may not.
    """
    state = load_checkpoint(checkpoint)
    dims = _checkpoint_dims(checkpoint, state.get("dims"))
    task = TASKS.get(str(state.get("task", DEFAULT_TASK)))
    wrong = [text for text in postprocess if not text.startswith("postprocess.")]
    if wrong:
        raise SentilocError(f"--set {wrong[0]!r}: at inference only postprocess.* can change "
                            "(the rest is fixed by the checkpoint); retrain to change it")
    classes = state.get("classes") if task.classes_from_data else None
    exp = task.experiment(apply_overrides(state["config"], list(postprocess)))
    exp = exp.resolve(dims, classes, state.get("derived"))
    model = build_model(exp.model, exp.derived)
    model.load_state_dict(state["model"])
    return TrainedModel(model.to(device).eval(), exp, task, task.restore_extras(state))


def text_derived(exp: ExperimentConfig, root: Path, classes: Sequence[str]) -> dict[str, Any]:
    """``{"class_text": (C, E)}`` for a model whose config declares ``class_text`` (``tgdfer``), else ``{}``.

    The class descriptions (the dataset's ``descriptions.json``, else sentiloc's shipped set) are
    encoded by ``model.text``'s frozen encoder through its disk cache, once, before the model is
    built: the model never runs the encoder (docs/methods.md §7).
    """
    if "class_text" not in {f.name for f in dataclasses.fields(MODELS.get(exp.model.name).config)}:
        return {}
    text = typed_section(TextGuidanceConfig, exp.model.params.get("text"), "model.text")
    return {"class_text": class_embeddings(text, class_descriptions(root, classes))}
