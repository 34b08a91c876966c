"""check-data on the recognition layout: every problem listed at once, one line each naming the file and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.dataset import RecognitionDataConfig
from sentiloc.data.recognition.validate import (
    check_recognition_dataset,
    require_valid_recognition,
)


def test_a_clean_dataset_and_its_summary(data: Path) -> None:
    report = check_recognition_dataset(data)
    assert report.ok, report.format()
    assert report.summary["videos"] == 6
    assert report.summary["classes"] == {"anger": 2, "joy": 2, "sadness": 2}
    assert report.summary["splits"] == {"train": 3, "test": 3} and report.summary["folds"] == {1: 3, 2: 3}
    assert report.summary["streams"] == {"audio": 3, "visual": 5} and report.summary["segments"] == "3..7"
    assert report.summary["keyframes"] == "7 span(s) in 6 video(s)"
    assert require_valid_recognition(data, RecognitionDataConfig()) is not None


def _save(name: str, array: np.ndarray) -> Callable[[Path], None]:
    return lambda root: np.save(root / "features" / name, array)


def _text(name: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / name).write_text(text)


MUTATIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "classes_missing": (lambda root: (root / "classes.txt").unlink(), "classes.txt: file missing"),
    "classes_one": (_text("classes.txt", "anger\n"), "classes.txt: 1 class(es)"),
    "labels_missing": (lambda root: (root / "labels.csv").unlink(), "labels.csv: file missing"),
    "labels_unknown_class": (_text("labels.csv", "video,label,split\nv_joy_1,glee,train\n"),
                             "labels.csv:2: label 'glee' is not in classes.txt"),
    "labels_no_split": (_text("labels.csv", "video,label\nv_joy_1,joy\n"), "labels.csv: neither a split nor a fold"),
    "features_missing": (lambda root: (root / "features" / "audio" / "v_joy_1.npy").unlink(),
                         "audio/v_joy_1.npy: feature file missing"),
    "features_nan": (_save("visual/v_joy_1.npy", np.full((5, 5), np.nan, np.float32)),
                     "visual/v_joy_1.npy: 25 NaN/inf value(s)"),
    "features_huge": (_save("visual/v_joy_1.npy", np.full((5, 5), 1e7, np.float32)),
                      "visual/v_joy_1.npy: 25 value(s) beyond"),
    "features_int": (_save("visual/v_joy_1.npy", np.ones((5, 5), np.int64)), "visual/v_joy_1.npy: holds int64 values"),
    "features_1d": (_save("visual/v_joy_1.npy", np.ones(5, np.float32)), "visual/v_joy_1.npy: expected a non-empty 2-D"),
    "features_empty": (_save("visual/v_joy_1.npy", np.ones((0, 5), np.float32)), "visual/v_joy_1.npy: expected"),
    "features_dim": (_save("visual/v_joy_1.npy", np.ones((5, 4), np.float32)),
                     "visual/v_joy_1.npy: feature dim 4, but most 'visual' files have 5"),
    "features_unequal_t": (_save("audio/v_joy_1.npy", np.ones((4, 3), np.float32)),
                           "features/*/v_joy_1.npy: video 'v_joy_1' has {'audio': 4, 'visual': 5} segments"),
    "features_folder_missing": (lambda root: (root / "features").rename(root / "feats"), "features: folder missing"),
    "keyframes_past_the_end": (_text("keyframes.json", json.dumps({"v_joy_1": [[2, 5]]})),
                               "keyframes.json [v_joy_1]: span [2, 5] is not [first, last] with 0 <= first <= last < 5"),
    "keyframes_bad_json": (_text("keyframes.json", "{"), "keyframes.json: keyframes (keyframes.json) is not valid JSON"),
    "descriptions_unknown_class": (_text("descriptions.json", json.dumps({"glee": ["x"]})),
                                   "descriptions.json [glee]: class 'glee' is not in classes.txt"),
}


@pytest.mark.parametrize("case", MUTATIONS)
def test_each_problem_is_one_line_naming_the_file(case: str, data: Path) -> None:
    mutate, names = MUTATIONS[case]
    mutate(data)
    report = check_recognition_dataset(data)
    lines = [str(p) for p in report.problems]
    assert any(names in line for line in lines), lines
    assert all("\n" not in line and "; " in line for line in lines)
    with pytest.raises(SentilocError) as caught:
        require_valid_recognition(data, RecognitionDataConfig())
    assert "\n" not in str(caught.value) and "`sentiloc check-data" in str(caught.value)


def test_every_problem_is_listed_at_once(data: Path) -> None:
    (data / "features" / "audio" / "v_joy_1.npy").unlink()
    np.save(data / "features" / "visual" / "v_sad_1.npy", np.full((3, 5), np.inf, np.float32))
    (data / "classes.txt").write_text("anger\n\njoy\nsadness\n")
    assert len(check_recognition_dataset(data).problems) == 3


def test_configured_streams_and_labels_file(data: Path) -> None:
    report = check_recognition_dataset(data, ["visual", "face"])
    assert [p.message for p in report.problems] == ["stream folder missing"]
    assert report.problems[0].path.endswith("features/face")
    (data / "features" / "audio" / "v_joy_1.npy").unlink()
    assert check_recognition_dataset(data, ["visual"]).ok
    (data / "keyframes.json").unlink()  # its videos must all be in the labels file checked
    (data / "labels_split02.csv").write_text("video,label,split\nv_joy_1,joy,train\nv_sad_1,,test\n")
    report = check_recognition_dataset(data, ["visual"], "labels_split02.csv")
    assert report.ok and report.summary["videos"] == 2 and report.summary["unlabelled"] == 1
    with pytest.raises(SentilocError, match="data.labels_file '../x.csv'"):
        check_recognition_dataset(data, None, "../x.csv")


def test_a_missing_folder_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(SentilocError, match="dataset folder not found"):
        check_recognition_dataset(tmp_path / "nowhere")


def test_cli_detects_the_layout_and_exits_by_verdict(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "classes: {'anger': 2, 'joy': 2, 'sadness': 2}" in out and "check-data: OK" in out
    assert main(["check-data", str(data), "--task", "recognition", "--streams", "visual,face"]) == 1
    assert "features/face: stream folder missing" in capsys.readouterr().out
    (data / "keyframes.json").write_text('{"v_joy_1": [[0, 4]]}')
    (data / "labels_b.csv").write_text("video,label,fold\nv_joy_1,joy,1\n")
    assert main(["check-data", str(data), "--labels-file", "labels_b.csv"]) == 0
    assert "folds: {1: 1}" in capsys.readouterr().out


def test_stream_folders_are_found_or_named(data: Path) -> None:
    report = check_recognition_dataset(data, ["../visual"])
    assert str(report.problems[0]).endswith(
        "features: stream name '../visual' contains a path separator; name a folder under features/")
    for stream in ("visual", "audio"):
        for path in (data / "features" / stream).iterdir():
            path.unlink()
        (data / "features" / stream).rmdir()
    report = check_recognition_dataset(data)
    assert [p.message for p in report.problems] == ["no stream folders"]
