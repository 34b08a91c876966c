"""check_spotting_dataset: every problem, one line each; require_valid_spotting: the first, with the hint."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.spotting.validate import (
    check_spotting_dataset,
    require_valid_spotting,
)


def problems(root: Path) -> list[str]:
    report = check_spotting_dataset(root)
    lines = [str(p) for p in report.problems]
    assert all("\n" not in line for line in lines)
    return lines


def test_a_valid_dataset_is_ok(data: Path) -> None:
    report = require_valid_spotting(data)
    assert report.ok and report.summary["videos"] == 3 and report.summary["subjects"] == 2
    assert report.summary["instances"] == {"macro": 3, "micro": 2} and report.summary["feature dim"] == 3
    assert report.format().endswith("check-data: OK")


def test_every_problem_is_listed_at_once(data: Path) -> None:
    (data / "points.csv").unlink()
    (data / "annotations.csv").write_text("video,onset,apex,offset,type\ns1_a,9,8,12,macro\ns1_b,1,2,3,Micro\n")
    np.save(data / "features" / "s1_b.npy", np.zeros((24, 3), np.float32))
    (data / "features" / "s2_a.npy").unlink()
    lines = problems(data)
    assert len(lines) == 5, lines
    assert any("points.csv: file missing; point supervision needs" in line for line in lines)
    assert any("annotations.csv:2: onset 9, apex 8, offset 12 are not in order" in line for line in lines)
    assert any("annotations.csv:3: type 'Micro'" in line for line in lines)
    assert any("s1_b.npy: 24 rows but videos.csv says n_frames 25" in line for line in lines)
    assert any("s2_a.npy: feature file missing" in line for line in lines)
    with pytest.raises(SentilocError, match=r"\(and 4 more\); `sentiloc check-data .*` lists every problem"):
        require_valid_spotting(data)


@pytest.mark.parametrize(("array", "names"), [
    (np.zeros((40, 3), np.int32), "holds int32 values, not floats"),
    (np.full((40, 3), np.nan, np.float32), "120 NaN/inf value(s)"),
    (np.full((40, 3), 1e9, np.float32), "beyond +-1e+06"),
    (np.zeros((40,), np.float32), "expected a non-empty 2-D array"),
    (np.zeros((40, 5), np.float32), "feature dim 5, but most videos have 3"),
])
def test_bad_feature_arrays(data: Path, array: np.ndarray, names: str) -> None:
    np.save(data / "features" / "s1_a.npy", array)
    assert any("s1_a.npy" in line and names in line for line in problems(data))


def test_object_arrays_are_never_unpickled(data: Path) -> None:
    np.save(data / "features" / "s1_a.npy", np.array([{"x": 1}] * 40, dtype=object), allow_pickle=True)
    assert any("s1_a.npy: holds object values, not numbers" in line for line in problems(data))


def test_a_symlink_out_of_the_dataset_is_refused(data: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.npy"
    np.save(outside, np.zeros((40, 3), np.float32))
    (data / "features" / "s1_a.npy").unlink()
    (data / "features" / "s1_a.npy").symlink_to(outside)
    assert any("s1_a.npy: points outside the dataset folder" in line for line in problems(data))


@pytest.mark.timeout(20)
def test_a_fifo_does_not_hang(data: Path) -> None:
    (data / "features" / "s1_a.npy").unlink()
    os.mkfifo(data / "features" / "s1_a.npy")
    (data / "points.csv").unlink()
    os.mkfifo(data / "points.csv")
    lines = problems(data)
    assert any("s1_a.npy: feature file is not a regular file" in line for line in lines)
    assert any("points.csv: clicks (points.csv, point supervision needs them) is not a regular file" in line for line in lines)


def test_clicks_outside_their_video(data: Path) -> None:
    (data / "points.csv").write_text("video,frame,type\ns1_a,40,macro\nghost,3,micro\n")
    lines = problems(data)
    assert any("points.csv:2: frame 40 lies outside video 's1_a' (frames 0..39)" in line for line in lines)
    assert any("points.csv:3: video 'ghost' is not in videos.csv" in line for line in lines)


def test_a_click_without_instance_of_its_type_is_fine(data: Path) -> None:
    (data / "points.csv").write_text("video,frame,type\ns1_b,4,micro\n")
    report = check_spotting_dataset(data)
    assert report.ok and any("have no click" in w for w in report.warnings)


def test_missing_videos_csv_and_folder(data: Path, tmp_path: Path) -> None:
    (data / "videos.csv").unlink()
    lines = problems(data)
    assert lines[0].endswith("videos.csv: file missing; write it with the header video,subject,fps,n_frames, one row per video")
    with pytest.raises(SentilocError, match="dataset folder not found"):
        check_spotting_dataset(tmp_path / "nowhere")
