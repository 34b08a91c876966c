"""Recognition end to end through the CLI.

Two datasets: a simulated DFEW-like one with five folds (simulate -> check-data -> crossval ->
evaluate), and the hand-built one of ``tests/data/recognition`` — three classes, other dims,
variable T, a train/test split — that no simulator wrote (check-data -> train -> predict ->
evaluate, every shipped recognition config without a code change).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.cli import main
from sentiloc.core.config import shipped_configs
from tests.data.recognition.conftest import CLASSES, VIDEOS, make_recognition_dataset

TINY = ["--set", "model.hidden=8", "--set", "train.batch_size=8", "--set", "train.micro_batch=8",
        "--set", "train.num_threads=1", "--epochs", "2"]
RECOGNITION_CONFIGS = [name for name in shipped_configs() if name.startswith("recognition/")]


def _tiny(config: str) -> list[str]:
    """The tiny overrides that apply to ``config`` (the linear baseline has no width)."""
    return TINY[2:] if config.endswith("meanpool_linear") else TINY


@pytest.fixture(scope="module")
def crossval_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("recognition")
    data, out = root / "dfew", root / "cv"
    assert main(["simulate", "--task", "recognition", str(data), "--structure", "dfew", "--videos", "70",
                 "--dims", "face=12,audio=8", "--seed", "3"]) == 0
    assert main(["check-data", str(data)]) == 0
    assert main(["crossval", "--config", "recognition/cten_av", "--data", str(data), "--out", str(out),
                 "--set", "data.streams=[face,audio]", *TINY]) == 0
    return data, out


def test_crossval_averages_the_five_folds(crossval_run: tuple[Path, Path]) -> None:
    data, out = crossval_run
    assert sorted(p.name for p in (out / "folds").iterdir()) == ["1", "2", "3", "4", "5"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "uar", "war", "std", "per_fold", "pooled"} <= set(metrics)
    per_fold = metrics["per_fold"]
    assert [row["fold"] for row in per_fold] == ["1", "2", "3", "4", "5"]
    for key in ("accuracy", "uar", "war"):
        assert metrics[key] == pytest.approx(sum(row[key] for row in per_fold) / 5)
        assert metrics["std"][key] is not None
    predictions = json.loads((out / "predictions.json").read_text())
    videos = [line.split(",")[0] for line in (data / "labels.csv").read_text().splitlines()[1:]]
    assert sorted(predictions["results"]) == sorted(videos)
    assert metrics["pooled"]["videos"] == len(videos)


def test_evaluate_gives_the_pooled_numbers(crossval_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = crossval_run
    assert main(["evaluate", "--task", "recognition", "--gt", str(data), "--pred", str(out / "predictions.json"),
                 "--subset", "all", "--json", str(tmp_path / "m.json"), "--plot", str(tmp_path / "c.png")]) == 0
    assert json.loads((tmp_path / "m.json").read_text()) == json.loads((out / "metrics.json").read_text())["pooled"]
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


def test_a_rerun_reuses_every_fold(crossval_run: tuple[Path, Path]) -> None:
    data, out = crossval_run
    stamps = {p: p.stat().st_mtime_ns for p in (out / "folds").glob("*/best.pt")}
    assert main(["crossval", "--config", "recognition/cten_av", "--data", str(data), "--out", str(out),
                 "--set", "data.streams=[face,audio]", *TINY]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "folds").glob("*/best.pt")} == stamps


@pytest.mark.parametrize("config", RECOGNITION_CONFIGS)
def test_every_config_runs_on_a_dataset_no_simulator_wrote(config: str, tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    run, predictions, metrics = tmp_path / "run", tmp_path / "p.json", tmp_path / "m.json"
    assert main(["check-data", str(data)]) == 0
    assert main(["train", "--config", config, "--data", str(data), "--out", str(run), *_tiny(config)]) == 0
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--out", str(predictions)]) == 0
    results = json.loads(predictions.read_text())
    test_videos = [v for v, (_, split, *_) in VIDEOS.items() if split == "test"]
    assert sorted(results["results"]) == sorted(test_videos)
    assert results["classes"] == list(CLASSES)
    for video in test_videos:
        entry = results["results"][video]
        assert len(entry["scores"]) == len(CLASSES) and entry["label"] in CLASSES
        assert len(entry["attention"]) == VIDEOS[video][3]  # variable T, read back unpadded
    assert main(["evaluate", "--task", "recognition", "--gt", str(data), "--pred", str(predictions),
                 "--json", str(metrics)]) == 0
    scored = json.loads(metrics.read_text())
    assert scored["videos"] == len(test_videos) and scored["keyframes"] is not None


def test_pooled_clips_predict_attention_on_the_stored_segments(tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    run, predictions, metrics = tmp_path / "run", tmp_path / "p.json", tmp_path / "m.json"
    assert main(["train", "--config", "recognition/cten_av", "--data", str(data), "--out", str(run),
                 "--set", "data.segments=2", *TINY]) == 0
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--out", str(predictions)]) == 0
    results = json.loads(predictions.read_text())["results"]
    for video, entry in results.items():
        assert len(entry["attention"]) == VIDEOS[video][3]  # unpooled back onto the stored grid
        first, second = VIDEOS[video][3] // 2, VIDEOS[video][3] - VIDEOS[video][3] // 2
        assert entry["attention"] == [entry["attention"][0]] * first + [entry["attention"][-1]] * second
    assert main(["evaluate", "--task", "recognition", "--gt", str(data), "--pred", str(predictions),
                 "--json", str(metrics)]) == 0


def test_predict_refuses_a_dataset_with_other_classes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    assert main(["train", "--config", "recognition/meanpool_linear", "--data", str(data), "--out",
                 str(tmp_path / "run"), *_tiny("meanpool_linear")]) == 0
    other = make_recognition_dataset(tmp_path / "other", classes=("anger", "joy", "fear"),
                                     videos={v: ("fear" if label == "sadness" else label, *rest)
                                             for v, (label, *rest) in VIDEOS.items()})
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--data", str(other),
                 "--out", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "classes.txt" in err[0] and "trained" in err[0]


def test_study_accuracy_tabulates_recognition_runs(tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    out = tmp_path / "study"
    assert main(["study", "accuracy", "--data", str(data), "--out", str(out), "--seeds", "2", "--epochs", "1",
                 "--configs", "recognition/meanpool_linear", "--set", "train.batch_size=8"]) == 0
    table = (out / "table.md").read_text()
    assert "| config | seeds | accuracy | UAR | keyframe mAP | train min |" in table
    assert "| recognition/meanpool_linear | 4 |" in table  # 2 folds x 2 seeds
    assert "folds (1, 2) x seeds" in table
