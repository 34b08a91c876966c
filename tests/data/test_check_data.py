"""``sentiloc check-data``: every bad-input case is reported with its file and a fix, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import main
from sentiloc.data.dataset import DataConfig, ModalitySpec
from sentiloc.data.validate import check_dataset
from tests.conftest import FIXTURES, make_dataset


def problems(root: Path, cfg: DataConfig | None = None) -> list[str]:
    return [str(p) for p in check_dataset(root, cfg).problems]


def test_valid_dataset_passes(tiny_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-data", str(tiny_dataset)]) == 0
    out = capsys.readouterr().out
    assert "check-data: OK" in out
    assert "face-missing snippets" in out


def test_unseen_layout_validates_without_code_changes(tmp_path: Path) -> None:
    """Other dims, mixed fps and 30% face-missing runs: still valid, dims read from the files."""
    root = make_dataset(tmp_path / "d", dims={"rgb": 1024, "logmfcc": 128, "img": 512}, fps_choices=(25.0, 29.97, 30.0))
    report = check_dataset(root)
    assert report.ok, report.format()
    assert report.summary["feature dims"] == {"rgb": 1024, "logmfcc": 128, "img": 512}


def test_nan_is_refused_naming_the_video(tiny_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny_dataset / "features" / "train" / "rgb" / "1_sim_train_1.npy"
    rows = np.load(path)
    rows[3, 2] = np.nan
    np.save(path, rows)
    assert main(["check-data", str(tiny_dataset)]) == 1
    out = capsys.readouterr().out
    assert "1_sim_train_1.npy: 1 NaN/inf value(s)" in out


def test_all_problems_reported_at_once(tiny_dataset: Path) -> None:
    root = tiny_dataset
    (root / "features" / "test" / "logmfcc" / "101_sim_test_1.npy").unlink()  # missing file
    (root / "features" / "train" / "img" / "0_sim_train_0.npy").write_bytes(b"not numpy")  # unreadable
    np.save(root / "features" / "train" / "rgb" / "2_sim_train_2.npy", np.ones((10, 6), np.float32))  # too short
    np.save(root / "features" / "train" / "logmfcc" / "3_sim_train_3.npy", np.full((80, 9), np.inf, np.float32))  # inf + dim
    dense = json.loads((root / "videosenti_gt.json").read_text())
    dense["database"]["0_sim_train_0"]["annotations"] += [
        {"segment": [9.0, 4.0], "label": "p"},  # end <= start
        {"segment": [30.0, 500.0], "label": "n"},  # beyond the duration
        {"segment": [1.0, 2.0], "label": "happy"},  # unknown label
    ]
    dense["database"]["../../etc/passwd"] = {"subset": "train", "annotations": []}  # escaping id
    (root / "videosenti_gt.json").write_text(json.dumps(dense))
    csv_path = root / "point_gaussian" / "point_labels.csv"
    csv_path.write_text(
        csv_path.read_text()
        + "p,1,0,1,1_sim_train_1,999999\n"  # point outside the video
        + "x,1,0,1,1_sim_train_1,10\n"  # unknown class
        + "p,1,0,1,a/b,10\n"  # id with a separator
    )
    found = "\n".join(problems(root))
    expected = [
        "101_sim_test_1.npy: feature file missing",
        "0_sim_train_0.npy: not a .npy array file",
        "2_sim_train_2.npy: stream lengths",
        "3_sim_train_3.npy: 720 NaN/inf value(s)",
        "3_sim_train_3.npy: feature dim 9, but most 'logmfcc' files have 4",
        "has end <= start",
        "ends after the video",
        "unknown label 'happy'",
        "'../../etc/passwd' contains a path separator",
        "point 999999 lies outside the video",
        "unknown class 'x'",
        "'a/b' contains a path separator",
    ]
    for fragment in expected:
        assert fragment in found, f"{fragment!r} not reported in:\n{found}"
    # every problem names a file of the dataset and says what to do
    for line in problems(root):
        assert str(root) in line and ";" in line


def test_split_and_table_problems(tiny_dataset: Path) -> None:
    root = tiny_dataset
    (root / "split_test.txt").write_text("100_sim_test_0\n0_sim_train_0\n..\n")
    fps = json.loads((root / "fps_dict.json").read_text())
    fps["1_sim_train_1"] = "fast"
    del fps["2_sim_train_2"]
    (root / "fps_dict.json").write_text(json.dumps(fps))
    (root / "gt.json").write_text("{not json")
    found = "\n".join(problems(root))
    assert "in both splits" in found
    assert "'..' contains '..'" in found or "contains '..'" in found
    assert "fps of video '1_sim_train_1' is 'fast'" in found
    assert "no fps for 1 train video(s)" in found
    assert "gt.json: this file is not valid JSON" in found


def test_frame_rate_streams_need_the_right_rate(tmp_path: Path) -> None:
    """rgb at frame rate (16 rows per snippet) passes only when declared as rgb:16."""
    root = make_dataset(tmp_path / "d", n_train=2, n_test=1)
    for path in (root / "features").glob("*/rgb/*.npy"):
        np.save(path, np.repeat(np.load(path), 16, axis=0))
    assert not check_dataset(root).ok
    cfg = DataConfig(modalities=(ModalitySpec("rgb", 16), ModalitySpec("logmfcc"), ModalitySpec("img")))
    assert check_dataset(root, cfg).ok


def test_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-data", str(tmp_path / "nope")]) == 1
    assert "dataset folder not found" in capsys.readouterr().err


def test_real_tsl300_annotations_have_no_annotation_problems() -> None:
    """The real files pass every annotation check; only the (absent) features are reported."""
    report = check_dataset(FIXTURES / "tsl300")
    assert report.problems and all("feature file missing" in p.message for p in report.problems)
