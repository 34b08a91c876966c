"""Every shipped config builds and runs: data, model, objective, post-processing, one training
step, one prediction scored by the task's evaluator. Configs are discovered, not listed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from sentiloc.apps.train import build_trainer
from sentiloc.core.config import apply_overrides, load_config, shipped_configs
from sentiloc.core.errors import SentilocError
from sentiloc.evaluation.registry import EVALUATORS
from sentiloc.models import MODELS
from sentiloc.tasks import TASKS, TrainedModel
from tests.conftest import make_dataset
from tests.data.recognition.conftest import make_recognition_dataset
from tests.data.spotting.conftest import make_spotting_dataset

WIDTHS = {"hidden": 8, "trunk_hidden": 16, "gsp_hidden": 16}
TINY_TRAIN = ["train.epochs=1", "train.batch_size=2", "train.amp=none", "train.checkpoint_every=0"]
TINY_RUN = [*TINY_TRAIN, "data.val_fraction=0"]
#: Spotting and recognition keep the last epoch of a fixed schedule (no validation split).
TINY_RUN_OF_TASK = {"localization": TINY_RUN, "spotting": TINY_TRAIN, "recognition": TINY_TRAIN}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("configs") / "data", n_train=2, n_test=2)


@pytest.fixture(scope="module")
def datasets(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny dataset of every task, by task name."""
    return {"localization": data, "spotting": make_spotting_dataset(tmp_path_factory.mktemp("configs") / "spotting"),
            "recognition": make_recognition_dataset(tmp_path_factory.mktemp("configs") / "recognition")}


def test_configs_are_discovered() -> None:
    names = shipped_configs()
    assert {"fsenet_point", "fsenet_video", "fsenet_full", "tslnet_point", "mil_video", "frame_full"} <= set(names)
    assert not any("_base_" in name for name in names)


@pytest.mark.parametrize("name", shipped_configs())
def test_config_trains_one_step_and_predicts(name: str, datasets: dict[str, Path]) -> None:
    config = load_config(name)
    task_name = config.get("task") or "localization"
    data = datasets[task_name]
    fields = {f.name for f in dataclasses.fields(MODELS.get(config["model"]["name"]).config)}
    config = apply_overrides(config, TINY_RUN_OF_TASK[task_name] + [f"model.{k}={v}" for k, v in WIDTHS.items()
                                                                     if k in fields])
    trainer = build_trainer(config, data)
    task = TASKS.get(trainer.exp.task)
    assert isinstance(trainer.exp.postprocess, task.postprocess_config)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    record = trainer.train_epoch()
    assert torch.isfinite(torch.tensor(record["loss/total"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters())), "no parameter moved"

    trained = TrainedModel(trainer.model.eval(), trainer.exp, task, task.restore_extras(trainer.state()))
    results = task.predict(trained, data, "test", torch.device("cpu"))
    evaluator = EVALUATORS.get(task.evaluator)
    ground_truth = evaluator.load_ground_truth(task.ground_truth_file(trainer.exp, data))
    metrics = evaluator.evaluate(ground_truth, results, task.pooled_subset(task.folds(trainer.exp, data))).to_json()
    assert 0.0 <= evaluator.headline_value(metrics) <= 1.0


@pytest.mark.parametrize(("name", "optimizer"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_train_optimizer_switch(name: str, optimizer: type, data: Path) -> None:
    config = apply_overrides(load_config("fsenet_point"), TINY_RUN + [f"train.optimizer={name}"] +
                             [f"model.{k}={v}" for k, v in WIDTHS.items()])
    trainer = build_trainer(config, data)
    assert type(trainer.optimizer) is optimizer
    assert trainer.optimizer.param_groups[0]["weight_decay"] == trainer.exp.train.weight_decay


def test_unknown_optimizer_is_one_line_error(data: Path) -> None:
    config = apply_overrides(load_config("fsenet_point"), ["train.optimizer=sgd"])
    with pytest.raises(SentilocError, match="train.optimizer 'sgd'"):
        build_trainer(config, data)
