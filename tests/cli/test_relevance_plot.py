"""``sentiloc evaluate --relevance``: the PNG next to the metrics, and every refusal in one line before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.cli import main
from tests.data.recognition.conftest import CLASSES, VIDEOS, make_recognition_dataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, Path]:
    """The hand-built dataset and a prediction file for all of its clips (every second one wrong)."""
    data = make_recognition_dataset(tmp_path / "data")
    results = {}
    for k, (video, (label, _, _, length, _)) in enumerate(VIDEOS.items()):
        predicted = CLASSES[(CLASSES.index(label) + k % 2) % len(CLASSES)]
        scores = [0.1] * len(CLASSES)
        scores[CLASSES.index(predicted)] = 0.8
        results[video] = {"label": predicted, "scores": scores, "attention": [(t % 3) / 2 for t in range(length)],
                          "evidence": [{"segment": [0, length - 1], "score": 0.5}]}
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"version": "sentiloc-recognition-1", "classes": list(CLASSES), "results": results}))
    return data, pred


def evaluate(data: Path, pred: Path, *extra: str) -> int:
    return main(["evaluate", "--task", "recognition", "--gt", str(data), "--pred", str(pred), *extra])


def test_relevance_is_drawn_next_to_the_metrics(run: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data, pred = run
    png = tmp_path / "relevance.png"
    assert evaluate(data, pred, "--relevance", str(png)) == 0
    out = capsys.readouterr().out
    assert "accuracy (WAR)" in out and f"wrote the relevance maps of 3 clips to {png}" in out  # 3 test clips
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert evaluate(data, pred, "--subset", "all", "--relevance", str(png), "--overwrite", "--per-class", "1") == 0
    assert "of 3 clips" in capsys.readouterr().out  # all six clips, one per class
    assert evaluate(data, pred, "--relevance", str(png), "--overwrite", "--clips", "v_joy_1, v_sad_2") == 0
    assert "of 2 clips" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    (["--clips", "v_joy_1,nope"], "pred.json: no prediction for clip 'nope'; name clips of that file"),
    (["--clips", " , "], "--clips names no clip"),
    (["--subset", "fold:7"], "subset 'fold:7': the labels file has folds 1..2"),
])
def test_a_wrong_choice_of_clips_is_one_line_and_writes_nothing(run: tuple[Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str], extra: list[str],
                                                                message: str) -> None:
    data, pred = run
    metrics = tmp_path / "m.json"
    assert evaluate(data, pred, "--relevance", str(tmp_path / "r.png"), "--json", str(metrics), *extra) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not metrics.exists() and not (tmp_path / "r.png").exists()


def test_refusals(run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, pred = run
    png = tmp_path / "r.png"
    png.write_bytes(b"old")
    assert evaluate(data, pred, "--relevance", str(png)) == 1
    assert "r.png: already exists; choose another path or pass --overwrite" in capsys.readouterr().err
    assert png.read_bytes() == b"old"
    assert evaluate(data, pred, "--per-class", "2") == 1
    assert "--per-class chooses the clips of --relevance PNG" in capsys.readouterr().err
    assert main(["evaluate", "--gt", str(data), "--pred", str(pred), "--relevance", str(tmp_path / "x.png")]) == 1
    assert "--relevance does not apply to --task localization" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        evaluate(data, pred, "--relevance", str(tmp_path / "x.png"), "--clips", "a", "--per-class", "1")
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate(data, pred, "--relevance", str(tmp_path / "x.png"), "--per-class", "0")
