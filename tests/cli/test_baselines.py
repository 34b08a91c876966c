"""The MIL and frame-classifier baselines run end to end through the CLI: train -> predict -> evaluate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sentiloc.cli import main
from sentiloc.engine.checkpoint import load_checkpoint

TINY_FUSION = [
    "--set", "model.hidden=8", "--set", "model.trunk_hidden=16", "--set", "train.batch_size=2",
    "--set", "train.micro_batch=2", "--set", "data.val_fraction=0.25",
]
LOSS_TERMS = {"mil_video": {"mil", "suppression", "total"}, "frame_full": {"frame", "video", "total"}}


@pytest.mark.parametrize("config", sorted(LOSS_TERMS))
def test_baseline_train_predict_evaluate(config: str, tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "--config", config, "--data", str(tiny_dataset), "--out", str(run), "--epochs", "2", *TINY_FUSION]
    assert main(args) == 0
    state = load_checkpoint(run / "last.pt")
    assert state["model_name"] == "fusion" and state["epoch"] == 2
    assert {k.removeprefix("loss/") for k in state["history"][-1] if k.startswith("loss/")} == LOSS_TERMS[config]
    assert all(math.isfinite(record["loss/total"]) for record in state["history"])
    pred = tmp_path / "pred.json"
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(tiny_dataset), "--out", str(pred)]) == 0
    results = json.loads(pred.read_text())["results"]
    assert sorted(results) == sorted((tiny_dataset / "split_test.txt").read_text().split())
    metrics_path = tmp_path / "metrics.json"
    assert main(["evaluate", "--gt", str(tiny_dataset / "gt.json"), "--pred", str(pred), "--json", str(metrics_path)]) == 0
    assert 0.0 <= json.loads(metrics_path.read_text())["average_mAP"] <= 1.0
