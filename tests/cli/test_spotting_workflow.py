"""Spotting end to end through the CLI: simulate -> check-data -> crossval (3 subjects, tiny model) -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.cli import main

TINY = ["--set", "model.hidden=8", "--set", "model.temporal_layers=1", "--epochs", "2"]


@pytest.fixture(scope="module")
def crossval_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spotting")
    data, out = root / "data", root / "cv"
    assert main(["simulate", "--task", "spotting", str(data), "--structure", "samm", "--subjects", "3",
                 "--videos-per-subject", "1", "--max-seconds", "8", "--dim", "12", "--seed", "3"]) == 0
    assert main(["check-data", str(data)]) == 0
    assert main(["crossval", "--config", "spotting/pfes_gim", "--data", str(data), "--out", str(out), *TINY]) == 0
    return data, out


def test_crossval_pools_every_subject_and_writes_the_metrics(crossval_run: tuple[Path, Path]) -> None:
    data, out = crossval_run
    subjects = {line.split(",")[1] for line in (data / "videos.csv").read_text().splitlines()[1:]}
    assert {p.name for p in (out / "folds").iterdir()} == subjects
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(predictions["results"]) == {line.split(",")[0] for line in (data / "videos.csv").read_text().splitlines()[1:]}
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"overall", "MaE", "ME", "apex_error", "iou"} and metrics["iou"] == "continuous"
    for key in ("overall", "MaE", "ME"):
        assert set(metrics[key]) == {"tp", "fp", "fn", "precision", "recall", "f1"}
    gt_count = sum(1 for _ in (data / "annotations.csv").read_text().splitlines()[1:])
    assert metrics["overall"]["tp"] + metrics["overall"]["fn"] == gt_count
    for fold in (out / "folds").iterdir():  # pruned to best.pt once predicted
        assert (fold / "best.pt").is_file() and not (fold / "last.pt").exists()


def test_evaluate_gives_the_crossval_numbers(crossval_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = crossval_run
    assert main(["evaluate", "--task", "spotting", "--gt", str(data), "--pred", str(out / "predictions.json"),
                 "--json", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text()) == json.loads((out / "metrics.json").read_text())


def test_a_rerun_reuses_every_fold(crossval_run: tuple[Path, Path]) -> None:
    data, out = crossval_run
    stamps = {p: p.stat().st_mtime_ns for p in (out / "folds").glob("*/best.pt")}
    assert main(["crossval", "--config", "spotting/pfes_gim", "--data", str(data), "--out", str(out), *TINY]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "folds").glob("*/best.pt")} == stamps


def test_evaluate_refuses_a_flag_of_the_other_task(crossval_run: tuple[Path, Path], capsys) -> None:
    data, out = crossval_run
    assert main(["evaluate", "--task", "spotting", "--gt", str(data), "--pred", str(out / "predictions.json"),
                 "--tiou", "0.5"]) == 1
    assert "--tiou does not apply to --task spotting" in capsys.readouterr().err
