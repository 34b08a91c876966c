"""Predicting from a checkpoint loads the inference path only: no training loop, no losses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sentiloc.cli import main
from tests.conftest import make_dataset

PROBE = """
import json, sys
from sentiloc.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.startswith("sentiloc"))}))
"""
TRAINING_ONLY = ("sentiloc.losses", "sentiloc.engine.trainer", "sentiloc.apps.train", "sentiloc.studies")


def test_predict_imports_neither_the_training_loop_nor_the_losses(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", n_train=3, n_test=2)
    run = tmp_path / "run"
    widths = ["--set", "model.hidden=8", "--set", "model.trunk_hidden=16", "--set", "model.gsp_hidden=16"]
    assert main(["train", "--config", "fsenet_point", "--data", str(data), "--out", str(run), "--epochs", "1",
                 "--set", "data.val_fraction=0", *widths]) == 0
    args = ["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--out", str(tmp_path / "p.json")]
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0 and (tmp_path / "p.json").is_file()
    loaded = [m for m in report["modules"] if m.startswith(TRAINING_ONLY)]
    assert not loaded, f"predict imported {loaded}"
    assert "sentiloc.tasks.localization" in report["modules"]  # the probe does see what it loads

    ungated = tmp_path / "all_classes.json"
    assert main([*args[:-1], str(ungated), "--set", "postprocess.class_threshold=null"]) == 0
    labels = {e["label"] for entries in json.loads(ungated.read_text())["results"].values() for e in entries}
    assert labels == {"n", "p"}
    assert main([*args[:-1], str(tmp_path / "x.json"), "--set", "model.hidden=4"]) == 1
