"""Kill -9 ``sentiloc study accuracy`` in the middle of a run; the same command again finishes the matrix
with the results of an uninterrupted one.

The study (fsenet_point, seeds 1 and 2, 2 epochs of 3 optimiser steps, a tiny model) runs in a
subprocess through ``tests/engine/stall.py``, which stalls it after its 10th optimiser step: seed 1
is trained and evaluated, seed 2 is one step into its second epoch with ``last.pt`` of epoch 1 on
disk. The rerun reads seed 1 back and resumes seed 2.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from sentiloc.cli import main
from sentiloc.core.io import load_json
from sentiloc.engine.checkpoint import load_checkpoint
from tests.engine.stall import kill_when_stalled

TINY = ["--set", "model.hidden=8", "--set", "model.heads=2", "--set", "model.gsp_hidden=16",
        "--set", "model.trunk_hidden=16", "--set", "train.batch_size=2", "--set", "train.micro_batch=2",
        "--set", "data.val_fraction=0.25", "--set", "train.num_threads=1"]


def study_args(data: Path, out: Path) -> list[str]:
    return ["-q", "study", "accuracy", "--data", str(data), "--out", str(out), "--configs", "fsenet_point",
            "--seeds", "1,2", "--epochs", "2", *TINY]


def results(out: Path) -> list[dict[str, str | float]]:
    """``results.csv`` without what depends on the wall clock or the folder (training minutes, run folder)."""
    rows = csv.DictReader(io.StringIO((out / "results.csv").read_text()))
    return [{k: v if k in ("config", "fold", "seed") else float(v) for k, v in row.items()
             if k not in ("train_min", "run_dir")} for row in rows]


@pytest.mark.slow
def test_a_killed_matrix_finishes_with_the_uninterrupted_results(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["-q", "simulate", str(data), "--videos", "12", "--max-duration", "40",
                 "--dims", "rgb=8,logmfcc=6,img=8"]) == 0
    assert main(study_args(data, tmp_path / "uninterrupted")) == 0

    out, marker = tmp_path / "killed", tmp_path / "stalled"
    kill_when_stalled("step=10", marker, study_args(data, out), timeout_s=180)
    runs = out / "runs"
    assert load_json(runs / "fsenet_point_s1" / "metrics.json", "metrics")["seed"] == 1
    assert load_checkpoint(runs / "fsenet_point_s2" / "last.pt")["epoch"] == 1
    assert not (runs / "fsenet_point_s2" / "metrics.json").exists()

    assert main(study_args(data, out)) == 0
    reference = results(tmp_path / "uninterrupted")
    assert [row["seed"] for row in reference] == ["1", "2"]
    assert results(out) == [{k: v if isinstance(v, str) else pytest.approx(v, rel=0, abs=1e-6) for k, v in row.items()}
                            for row in reference]  # metrics in %, to 1e-6
