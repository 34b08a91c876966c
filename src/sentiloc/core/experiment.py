"""One typed experiment: a config's sections parsed once, and the values derived from the data.

A config file names a task (``task:``, default ``localization``), and its sections become:

* ``data:`` and ``postprocess:`` -> the task's own dataclasses (a task knows its data layout);
* ``train:`` -> :class:`TrainConfig` (the training loop is the same for every task);
* ``model:`` and ``loss:`` -> :class:`ComponentSpec` (a registered name plus options); each is
  typed by its own registry when built, so loading a config for inference never imports losses.

:meth:`ExperimentConfig.resolve` adds what comes from the data rather than from the file — the
feature dims, the class count, which streams exist and which one carries faces — into
:attr:`ExperimentConfig.derived`. A component whose config dataclass declares one of those fields
gets it from there (:func:`build_options`), so no YAML repeats ``data.modalities`` under
``model:`` or ``model.r_act`` under ``loss:`` and nothing has to keep them equal by hand.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentiloc.core.config import typed_section
from sentiloc.core.errors import SentilocError

#: The top-level sections a config may have; ``simulation`` is read only by ``sentiloc demo``.
SECTIONS = ("task", "data", "model", "loss", "train", "postprocess", "simulation")
DEFAULT_TASK = "localization"
#: ``train.optimizer``: Adam adds the weight decay to the gradient (L2, the paper's and the
#: released code's), AdamW decays the weights directly (decoupled, docs/methods.md §2.8).
OPTIMIZERS = ("adam", "adamw")
#: ``train.scheduler``: the learning-rate multiplier over the run (``sentiloc.engine.trainer.lr_lambda``).
SCHEDULERS = ("constant", "cosine", "step")


@dataclass(frozen=True)
class ComponentSpec:
    """A registered component named by a config section: ``name`` plus its raw options.

    Attributes:
        section: where it came from (``model`` or ``loss``), for error messages.
        name: the registry key (``model.name`` / ``loss.name``).
        params: the rest of the section, typed by the component's registry when it is built.
    """

    section: str
    name: str
    params: dict[str, Any]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], section: str, default: str) -> "ComponentSpec":
        raw = config.get(section) or {}
        if not isinstance(raw, Mapping):
            raise SentilocError(f"config section '{section}' must be a mapping of options")
        values = dict(raw)
        return cls(section, str(values.pop("name", default)), values)


@dataclass
class TrainConfig:
    """The ``train:`` section: optimiser, schedule, precision, checkpoints (any task)."""

    epochs: int = 30
    batch_size: int = 8
    micro_batch: int = 1
    optimizer: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    scheduler: str = "constant"
    step_epochs: int = 30
    step_gamma: float = 0.5
    seed: int = 123
    amp: str = "none"
    eval_every: int = 1
    checkpoint_every: int = 10
    num_threads: int | None = None
    num_workers: int = 0
    grad_clip: float | None = None
    face_dropout: float = 0.0

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        if self.optimizer not in OPTIMIZERS:
            raise SentilocError(f"train.optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.scheduler not in SCHEDULERS:
            raise SentilocError(f"train.scheduler {self.scheduler!r}: choose one of {SCHEDULERS}")
        if self.step_epochs < 1 or not 0.0 < self.step_gamma <= 1.0:
            raise SentilocError(f"train.step_epochs {self.step_epochs} / train.step_gamma {self.step_gamma}: "
                                "a positive epoch count and a factor in (0, 1]")
        if self.amp not in ("none", "bf16", "auto"):
            raise SentilocError(f"train.amp {self.amp!r}: choose 'auto', 'bf16' or 'none'")
        if not 0.0 <= self.face_dropout <= 1.0:
            raise SentilocError(f"train.face_dropout {self.face_dropout!r}: a probability in [0, 1]")
        if self.epochs < 1 or self.batch_size < 1 or self.micro_batch < 1:
            raise SentilocError("train.epochs, train.batch_size and train.micro_batch must be positive")
        if self.num_workers < 0:
            raise SentilocError(f"train.num_workers {self.num_workers}: 0 (load in the training process) or more")
        if not self.lr > 0:
            raise SentilocError(f"train.lr {self.lr}: a positive learning rate")


@dataclass
class ExperimentConfig:
    """A config file's sections, each typed (see the module docstring).

    Attributes:
        raw: the merged YAML dict, stored in checkpoints so a run can be rebuilt.
        derived: filled by :meth:`resolve`; empty until the data have been read.
    """

    raw: dict[str, Any]
    task: str
    data: Any
    model: ComponentSpec
    loss: ComponentSpec
    train: TrainConfig
    postprocess: Any
    derived: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], data_cls: type, postprocess_cls: type,
              default_model: str, default_loss: str) -> "ExperimentConfig":
        """Type every section of ``raw`` for a task whose data/postprocess dataclasses are given."""
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise SentilocError(f"config: unknown section(s) {unknown}; known sections are {list(SECTIONS)}")
        return cls(
            raw=copy.deepcopy(dict(raw)),
            task=str(raw.get("task") or DEFAULT_TASK),
            data=typed_section(data_cls, raw.get("data"), "data"),
            model=ComponentSpec.from_config(raw, "model", default_model),
            loss=ComponentSpec.from_config(raw, "loss", default_loss),
            train=typed_section(TrainConfig, raw.get("train"), "train"),
            postprocess=typed_section(postprocess_cls, raw.get("postprocess"), "postprocess"),
        )

    def resolve(self, dims: Mapping[str, int], classes: Sequence[str] | None = None,
                extra: Mapping[str, Any] | None = None) -> "ExperimentConfig":
        """This experiment with :attr:`derived` filled from the data's feature ``dims`` and ``classes``.

        ``classes`` are the data's class names where the dataset defines them (recognition's
        ``classes.txt``); None takes them from the ``data:`` section (TSL-300's sentiment classes,
        the expression types of spotting). Derived: ``dims``, ``num_classes``, ``classes``, the data's stream roles
        (``data.roles()``, e.g. ``modalities`` and ``face``) and, where the model sets it,
        ``r_act`` (the top-k ratio that the model's video scores and the loss's pooling share), and
        ``extra``: what the task itself derives from the data (TG-DFER's ``class_text``).
        """
        names = tuple(self.data.classes if classes is None else classes)
        derived: dict[str, Any] = {"dims": {k: int(v) for k, v in dims.items()},
                                   "num_classes": len(names), "classes": names,
                                   **self.data.roles()}
        if "r_act" in self.model.params:
            derived["r_act"] = self.model.params["r_act"]
        derived.update(extra or {})
        return dataclasses.replace(self, derived=derived)


def build_options(config_cls: type, spec: ComponentSpec, derived: Mapping[str, Any]) -> Any:
    """The typed options of component ``spec``: its section plus the derived values its dataclass declares.

    A derived value that the section also sets must agree with it: ``model.modalities`` that
    differs from ``data.modalities`` is a contradiction, reported rather than silently resolved.
    """
    params = dict(spec.params)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    for key, value in derived.items():
        if key not in fields:
            continue
        if key in params and _plain(params[key]) != _plain(value):
            raise SentilocError(
                f"{spec.section}.{key} = {params[key]!r} contradicts {value!r}, which sentiloc derives from the "
                f"data and the model sections; remove {spec.section}.{key} from the config"
            )
        params[key] = value
    return typed_section(config_cls, params, spec.section)


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal (YAML gives lists, dataclasses keep tuples)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
