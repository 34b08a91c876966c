"""Hostile datasets: each breaks one file; every verb that reads it refuses, as check-data does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.hostile.conftest import Harness

TRAIN0, TEST0 = "0_sim_train_0", "100_sim_test_0"
FEATURE = f"features/train/rgb/{TRAIN0}.npy"
POINTS = "point_gaussian/point_labels.csv"


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        raw = json.loads((root / name).read_text())
        change(raw)
        (root / name).write_text(json.dumps(raw))
        return name
    return mutate


def write(name: str, content: str | bytes) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return name
    return mutate


def features(change: Callable[[np.ndarray], np.ndarray], name: str = FEATURE) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        np.save(root / name, change(np.load(root / name)))
        return Path(name).name
    return mutate


def point_rows(**changes: str) -> Callable[[Path], str]:
    """Change columns of the first click row."""
    def mutate(root: Path) -> str:
        lines = (root / POINTS).read_text().splitlines()
        header = lines[0].split(",")
        row = lines[1].split(",")
        for column, value in changes.items():
            row[header.index(column)] = value
        lines[1] = ",".join(row)
        (root / POINTS).write_text("\n".join(lines) + "\n")
        return "point_labels.csv"
    return mutate


def dense_segment(segment: list) -> Callable[[Path], str]:
    return edit_json("videosenti_gt.json", lambda raw: raw["database"][TRAIN0]["annotations"][0].update(segment=segment))


def gt_segment(segment: list, label: str = "p") -> Callable[[Path], str]:
    return edit_json("gt.json", lambda raw: raw["database"][TEST0]["annotations"][0].update(segment=segment, label=label))


def set_fps(value: object) -> Callable[[Path], str]:
    return edit_json("fps_dict.json", lambda raw: raw.update({TRAIN0: value}))


def split_line(split: str, video_id: str) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        path = root / f"split_{split}.txt"
        path.write_text(path.read_text() + video_id + "\n")
        return path.name
    return mutate


def truncated(root: Path) -> str:
    path = root / FEATURE
    path.write_bytes(path.read_bytes()[:100])
    return path.name


def huge_header(root: Path) -> str:
    """A header claiming 256 GB of float32 rows in a file of a few hundred bytes."""
    with (root / FEATURE).open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (2**36, 1024)})
        handle.write(b"\0" * 64)
    return Path(FEATURE).name


class Payload:
    """Unpickling this creates the marker file: proof that a loader ran code."""

    marker: Path

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def object_dtype(root: Path) -> str:
    Payload.marker = root.parent / "pwned"
    np.save(root / FEATURE, np.array([[Payload()]], dtype=object), allow_pickle=True)
    return Path(FEATURE).name


def outside_link(root: Path) -> str:
    outside = root.parent / "outside.npy"
    np.save(outside, np.load(root / FEATURE))
    (root / FEATURE).unlink()
    (root / FEATURE).symlink_to(outside)
    return Path(FEATURE).name


def split_is_folder(root: Path) -> str:
    (root / "split_train.txt").unlink()
    (root / "split_train.txt").mkdir()
    return "split_train.txt"


def nested(name: str) -> Callable[[Path], str]:
    return write(name, "[" * 200_000 + "]" * 200_000)


def header_only(root: Path) -> str:
    path = root / POINTS
    path.write_text(path.read_text().splitlines()[0] + "\n")
    return "point_labels.csv"


def drop_columns(root: Path) -> str:
    path = root / POINTS
    lines = [",".join(line.split(",")[:4]) for line in path.read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")
    return "point_labels.csv"


def duplicate_id(root: Path) -> str:
    return split_line("train", TRAIN0)(root)


def missing_duration(root: Path) -> str:
    return edit_json("len_duration_dict.json", lambda raw: raw.pop(TRAIN0))(root)


def missing_fps(root: Path) -> str:
    return edit_json("fps_dict.json", lambda raw: raw.pop(TRAIN0))(root)


CHECK_TRAIN = ("check", "train")
EVERY_DATA_VERB = ("check", "train", "predict")
CASES: dict[str, tuple[Callable[[Path], str], tuple[str, ...]]] = {
    # 1. dense labels and splits that check-data refuses
    "dense_negative": (dense_segment([-30.0, -10.0]), ("check", "train_full")),
    "dense_reversed": (dense_segment([26.0, 20.0]), ("check", "train_full")),
    "video_in_both_splits": (split_line("test", TRAIN0), EVERY_DATA_VERB),
    "points_header_only": (header_only, CHECK_TRAIN),
    # features
    "features_1e30": (features(lambda a: a * 1e30), EVERY_DATA_VERB),
    "features_nan": (features(lambda a: np.where(a > 1, np.nan, a)), EVERY_DATA_VERB),
    "features_inf": (features(lambda a: np.where(a > 1, np.inf, a)), CHECK_TRAIN),
    "features_wrong_dim": (features(lambda a: a[:, :3]), EVERY_DATA_VERB),
    "features_1d": (features(lambda a: a[:, 0]), CHECK_TRAIN),
    "npy_truncated": (truncated, EVERY_DATA_VERB),
    "npy_is_text": (write(FEATURE, "hello, I am text\n"), EVERY_DATA_VERB),
    "npy_header_256GB": (huge_header, EVERY_DATA_VERB),
    "npy_object_dtype": (object_dtype, EVERY_DATA_VERB),
    "npy_symlink_outside": (outside_link, EVERY_DATA_VERB),
    # split files
    "split_empty": (write("split_train.txt", ""), CHECK_TRAIN),
    "split_duplicate_id": (duplicate_id, CHECK_TRAIN),
    "split_not_utf8": (write("split_train.txt", b"\xff\xfe\x00bad\n"), EVERY_DATA_VERB),
    "split_is_folder": (split_is_folder, CHECK_TRAIN),
    "id_dotdot": (split_line("train", "../../etc/passwd"), EVERY_DATA_VERB),
    "id_absolute": (split_line("train", "/etc/passwd"), CHECK_TRAIN),
    "id_bidi": (split_line("train", "abc\u202etxt.exe"), CHECK_TRAIN),
    "id_control": (split_line("train", "abc\x07def"), CHECK_TRAIN),
    # gt.json
    "gt_not_json": (write("gt.json", "{not json"), EVERY_DATA_VERB),
    "gt_wrong_schema": (write("gt.json", "[1, 2]"), EVERY_DATA_VERB),
    "gt_end_before_start": (gt_segment([9.0, 3.0]), EVERY_DATA_VERB),
    "gt_negative_times": (gt_segment([-5.0, 3.0]), EVERY_DATA_VERB),
    "gt_unknown_label": (gt_segment([1.0, 3.0], label="joy"), EVERY_DATA_VERB),
    "gt_nested_200k": (nested("gt.json"), EVERY_DATA_VERB),
    # point CSV
    "points_missing_columns": (drop_columns, CHECK_TRAIN),
    "points_not_integer": (point_rows(point="12.5"), CHECK_TRAIN),
    "points_word": (point_rows(point="twelve"), CHECK_TRAIN),
    "points_inf": (point_rows(point="inf"), CHECK_TRAIN),
    "points_1e20": (point_rows(point="1e20"), CHECK_TRAIN),
    "points_past_video": (point_rows(point="999999"), CHECK_TRAIN),
    "points_unknown_class": (point_rows(**{"class": "joy"}), CHECK_TRAIN),
    "points_formula_class": (point_rows(**{"class": "=HYPERLINK(\"x\")"}), CHECK_TRAIN),
    "points_not_utf8": (write(POINTS, b"class,class_index,start_frame,stop_frame,video_id,point\n\xff\xfe,1,2\n"),
                        CHECK_TRAIN),
    # fps and durations
    "fps_zero": (set_fps(0), EVERY_DATA_VERB),
    "fps_negative": (set_fps(-25), CHECK_TRAIN),
    "fps_nan": (set_fps("nan"), CHECK_TRAIN),
    "fps_missing": (missing_fps, EVERY_DATA_VERB),
    "fps_nested_200k": (nested("fps_dict.json"), CHECK_TRAIN),
    "duration_missing": (missing_duration, EVERY_DATA_VERB),
}


@pytest.mark.parametrize(("case", "verb"), [(c, v) for c, (_, verbs) in CASES.items() for v in verbs])
def test_hostile_dataset_is_refused(case: str, verb: str, harness: Harness) -> None:
    mutate, _ = CASES[case]
    names = mutate(harness.data)
    harness.refuses(harness.argv(verb), names)
    assert not (harness.tmp / "pwned").exists(), "a pickled payload ran"


@pytest.mark.parametrize("verb", ["check", "train", "predict"])
def test_missing_dataset_folder_is_named(verb: str, harness: Harness) -> None:
    harness.data = harness.tmp / "nonexistent"
    line = harness.refuses(harness.argv(verb), "nonexistent")
    assert "fps" not in line and ("does not exist" in line or "not found" in line)


@pytest.mark.parametrize("modalities", ["rgb,../../x", "rgb,/etc", "rgb,a b"])
def test_modality_names_must_be_plain(modalities: str, harness: Harness) -> None:
    with pytest.raises(SystemExit):
        harness.accepts(["check-data", str(harness.data), "--modalities", modalities, "--face", ""])
    harness.refuses(["-q", "train", "--config", "fsenet_point", "--data", str(harness.data), "--out",
                     str(harness.tmp / "run"), "--set", f"data.modalities=[{modalities}]", "--set", "data.face=null"],
                    "modalit")


@pytest.mark.parametrize("verb", ["check", "train"])
def test_fifo_in_features_does_not_hang(verb: str, harness: Harness) -> None:
    path = harness.data / FEATURE
    path.unlink()
    os.mkfifo(path)
    argv = [sys.executable, "-m", "sentiloc", *harness.argv(verb)]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=90)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"{path.name}: feature file is not a regular file" in done.stdout + done.stderr


@pytest.mark.parametrize("name", ["split_train.txt", POINTS, "split_test.txt"])
def test_bom_and_crlf_are_accepted(name: str, harness: Harness) -> None:
    path = harness.data / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert "check-data: OK" in harness.accepts(["check-data", str(harness.data)])
