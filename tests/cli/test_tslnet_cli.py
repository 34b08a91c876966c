"""TSL-Net end to end through the CLI: train (2 epochs) -> predict -> evaluate on the tiny dataset."""

from __future__ import annotations

import json
from pathlib import Path

from sentiloc.cli import main
from sentiloc.engine.checkpoint import load_checkpoint

TINY_TSLNET = [
    "--set", "model.hidden=16", "--set", "model.trunk_hidden=32", "--set", "train.batch_size=2",
    "--set", "train.micro_batch=2", "--set", "data.val_fraction=0.25",
]


def test_tslnet_point_train_predict_evaluate(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "--config", "tslnet_point", "--data", str(tiny_dataset), "--out", str(run), "--epochs", "2"]
    assert main([*args, *TINY_TSLNET]) == 0
    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 2 and state["model_name"] == "tslnet"
    assert state["dims"] == {"rgb": 6, "logmfcc": 4}  # no face stream is loaded
    assert {"loss/fuse", "loss/video", "loss/frame", "loss/total"} <= set(state["history"][-1])
    pred = tmp_path / "pred.json"
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(tiny_dataset), "--out", str(pred)]) == 0
    results = json.loads(pred.read_text())["results"]
    assert sorted(results) == sorted((tiny_dataset / "split_test.txt").read_text().split())
    assert main(["evaluate", "--gt", str(tiny_dataset / "gt.json"), "--pred", str(pred)]) == 0
