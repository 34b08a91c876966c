"""``sentiloc evaluate --task recognition`` on a hand-built dataset: table, JSON, confusion PNG, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.cli import main
from sentiloc.postprocess.recognition import PREDICTIONS_VERSION
from tests.data.recognition.conftest import make_recognition_dataset

CLASSES = ["anger", "joy", "sadness"]


def entry(label: str, length: int, evidence: list[list[int]]) -> dict:
    scores = [0.8 if name == label else 0.1 for name in CLASSES]
    return {"label": label, "scores": scores, "attention": [0.5] * length,
            "evidence": [{"segment": segment, "score": 0.9} for segment in evidence]}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The tiny dataset and predictions of its test split: anger_2 and sad_2 right, joy_2 wrong."""
    data = make_recognition_dataset(tmp_path / "data")
    results = {"v_anger_2": entry("anger", 4, [[0, 0]]), "v_joy_2": entry("sadness", 7, [[3, 3]]),
               "v_sad_2": entry("sadness", 6, [])}
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"version": PREDICTIONS_VERSION, "classes": CLASSES, "results": results}))
    return data, pred


def evaluate(data: Path, pred: Path, *extra: str) -> int:
    return main(["evaluate", "--task", "recognition", "--gt", str(data), "--pred", str(pred), *extra])


def test_evaluate_prints_writes_and_plots(files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    data, pred = files
    out, png = tmp_path / "metrics.json", tmp_path / "confusion.png"
    assert evaluate(data, pred, "--json", str(out), "--plot", str(png)) == 0
    printed = capsys.readouterr().out
    # 2 of the 3 test videos right; recall anger 1, joy 0, sadness 1 -> UAR 2/3
    assert "accuracy (WAR) 66.67 %, UAR 66.67 %" in printed and f"wrote the confusion matrix to {png}" in printed
    metrics = json.loads(out.read_text())
    assert metrics["videos"] == 3 and metrics["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # both outputs are protected: a second run needs --overwrite
    assert evaluate(data, pred, "--plot", str(png)) == 1
    assert "already exists" in capsys.readouterr().err
    assert evaluate(data, pred, "--subset", "fold:1", "--plot", str(png), "--overwrite") == 0


def test_evaluate_errors_are_one_line(files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    data, pred = files
    assert evaluate(data, pred, "--subset", "validation") == 1
    err = capsys.readouterr().err
    assert "use all, train, test or fold:K" in err and "Traceback" not in err
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": PREDICTIONS_VERSION, "classes": CLASSES,
                                  "results": {"v_joy_2": {"label": "joy", "scores": [0.5, 0.5, 0.5]}}}))
    assert evaluate(data, broken) == 1
    err = capsys.readouterr().err
    assert str(broken) in err and "summing to 1.5" in err and "Traceback" not in err
    assert evaluate(data, pred, "--iou", "inclusive") == 1
    assert "--iou does not apply to --task recognition" in capsys.readouterr().err


def test_plot_is_refused_for_other_tasks(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "p.json"),
                 "--plot", str(tmp_path / "c.png")]) == 1
    assert "--plot does not apply to --task localization" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
