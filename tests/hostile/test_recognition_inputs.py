"""Hostile recognition datasets and split files: each breaks one thing; check-data lists it, loaders refuse it.

Every case runs ``sentiloc check-data`` through the CLI on a copy of a tiny recognition dataset
(a problem line naming the file, non-zero exit, no traceback, no file changed) and the check the
recognition verbs share, :func:`require_valid_recognition` (one line naming the file). The file
mutations are the spotting cases' helpers, pointed at this layout's files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.dataset import (
    RecognitionDataConfig,
    RecognitionDataset,
    feature_dims,
)
from sentiloc.data.recognition.importers import import_splits
from sentiloc.data.recognition.validate import require_valid_recognition
from tests.data.recognition.conftest import make_recognition_dataset
from tests.hostile.conftest import Harness
from tests.hostile.test_spotting_inputs import (
    features,
    folder_instead,
    huge_header,
    outside_link,
    pickled,
    remove,
    row,
    truncated,
    write,
)

FEATURE = "features/visual/v_joy_1.npy"
AUDIO = "features/audio/v_joy_1.npy"
LABELS = "video,label,split,fold"


@pytest.fixture(scope="session")
def recognition_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_recognition_dataset(tmp_path_factory.mktemp("hostile_recognition") / "data")


@pytest.fixture
def rec(recognition_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Harness:
    data = tmp_path / "data"
    shutil.copytree(recognition_template, data, symlinks=True)
    return Harness(tmp_path, data, lambda: tmp_path / "no-checkpoint", capsys)


def stream_folder_outside(root: Path) -> str:
    """The whole audio folder replaced by a link to a copy outside the dataset."""
    outside = root.parent / "outside_audio"
    shutil.copytree(root / "features" / "audio", outside)
    shutil.rmtree(root / "features" / "audio")
    (root / "features" / "audio").symlink_to(outside)
    return "v_anger_1.npy"


CASES: dict[str, Callable[[Path], str]] = {
    # classes.txt
    "classes_missing": remove("classes.txt"),
    "classes_folder": folder_instead("classes.txt"),
    "classes_not_utf8": write("classes.txt", b"anger\nj\xf6y\nsadness\n"),
    "classes_blank_line": write("classes.txt", "anger\n\njoy\nsadness\n"),
    "classes_duplicate": write("classes.txt", "anger\njoy\nsadness\njoy\n"),
    "classes_bidi": write("classes.txt", "anger\njoy\u202e\nsadness\n"),
    "classes_nul": write("classes.txt", "anger\njoy\x00\nsadness\n"),
    # labels.csv
    "labels_missing": remove("labels.csv"),
    "labels_not_utf8": write("labels.csv", LABELS.encode() + b"\nv_joy_1,j\xf6y,train,1\n"),
    "labels_extra_column": write("labels.csv", f"{LABELS},url\nv_joy_1,joy,train,1,http://x\n"),
    "labels_no_split": write("labels.csv", "video,label\nv_joy_1,joy\n"),
    "labels_id_dotdot": row("labels.csv", "../../etc/passwd,anger,train,1"),
    "labels_id_bidi": row("labels.csv", "abc\u202etxt.exe,anger,train,1"),
    "labels_id_control": row("labels.csv", "v\x07anger,anger,train,1"),
    "labels_nul_byte": write("labels.csv", f"{LABELS}\nv\x00a,anger,train,1\n"),
    "labels_huge_field": write("labels.csv", f"{LABELS}\nv_anger_1,{'x' * 200_000},train,1\n"),
    "labels_unknown_class": row("labels.csv", "v_anger_1,rage,train,1"),
    "labels_unlabelled_train": row("labels.csv", "v_anger_1,,train,1"),
    "labels_split_case": row("labels.csv", "v_anger_1,anger,TRAIN,1"),
    "labels_fold_1e20": row("labels.csv", "v_anger_1,anger,train,1e20"),
    "labels_fold_huge": row("labels.csv", f"v_anger_1,anger,train,{'9' * 5000}"),
    # features
    "features_missing": remove(FEATURE),
    "features_nan": features(lambda a: np.where(a > 1, np.nan, a).astype(np.float32), FEATURE),
    "features_huge": features(lambda a: a * 1e30, FEATURE),
    "features_int": features(lambda a: a.astype(np.int64), FEATURE),
    "features_dim": features(lambda a: a[:, :2], FEATURE),
    "features_1d": features(lambda a: a[:, 0], FEATURE),
    "features_other_t": features(lambda a: a[:-1], AUDIO),
    "npy_truncated": truncated(FEATURE),
    "npy_is_text": write(FEATURE, "hello, I am text\n"),
    "npy_header_256GB": huge_header(FEATURE),
    "npy_pickled_object": pickled(FEATURE),
    "npy_symlink_outside": outside_link(FEATURE),
    "stream_folder_outside": stream_folder_outside,
    # keyframes.json and descriptions.json
    "keyframes_past_the_end": write("keyframes.json", '{"v_joy_1": [[2, 5]]}'),
    "keyframes_not_json": write("keyframes.json", "{'v_joy_1': [[0, 1]]}"),
    "keyframes_nested": write("keyframes.json", "[" * 200_000 + "]" * 200_000),
    "keyframes_huge_int": write("keyframes.json", '{"v_joy_1": [[0, ' + "9" * 5000 + "]]}"),
    "keyframes_unknown_video": write("keyframes.json", '{"ghost": [[0, 1]]}'),
    "descriptions_not_lists": write("descriptions.json", '{"joy": "smiling"}'),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_recognition_dataset_is_refused(case: str, rec: Harness) -> None:
    names = CASES[case](rec.data)
    rec.refuses(["check-data", str(rec.data)], names)
    with pytest.raises(SentilocError) as caught:
        require_valid_recognition(rec.data, RecognitionDataConfig())
    message = str(caught.value)
    assert "\n" not in message and names in message and "`sentiloc check-data" in message
    assert not (rec.tmp / "pwned").exists(), "a pickled payload ran"


@pytest.mark.parametrize("case", ["npy_pickled_object", "npy_symlink_outside", "features_nan", "npy_header_256GB"])
def test_the_dataset_refuses_what_check_data_refuses(case: str, rec: Harness) -> None:
    cfg = RecognitionDataConfig()
    dataset = RecognitionDataset(rec.data, ["v_anger_1", "v_joy_1"], cfg, None, feature_dims(rec.data, cfg, ["v_anger_1"]))
    names = CASES[case](rec.data)
    with pytest.raises(SentilocError) as caught:
        dataset[1]
    assert names in str(caught.value) and "\n" not in str(caught.value)
    assert not (rec.tmp / "pwned").exists(), "a pickled payload ran"


@pytest.mark.parametrize("name", ["classes.txt", "labels.csv", "keyframes.json", FEATURE])
def test_a_fifo_does_not_hang(name: str, rec: Harness) -> None:
    (rec.data / name).unlink()
    os.mkfifo(rec.data / name)
    done = subprocess.run([sys.executable, "-m", "sentiloc", "check-data", str(rec.data), "--task", "recognition"],
                          check=False, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{Path(name).name}: " in done.stdout and "not a regular file" in done.stdout


def test_bom_and_crlf_are_accepted(rec: Harness) -> None:
    for name in ("classes.txt", "labels.csv"):
        path = rec.data / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert "check-data: OK" in rec.accepts(["check-data", str(rec.data)])


def test_a_labels_file_outside_the_folder_is_refused(rec: Harness) -> None:
    rec.refuses(["check-data", str(rec.data), "--labels-file", "../labels.csv"], "data.labels_file '../labels.csv'")


@pytest.mark.parametrize(("line", "names"), [
    ("Anger/..hidden", "video id '..hidden' contains '..'"),
    ("Anger/abc\u202etxt.exe", "contains control or bidirectional formatting characters"),
    ("Anger/a\\b", "contains a path separator"),
])
def test_hostile_split_lists_are_refused(rec: Harness, line: str, names: str) -> None:
    source = rec.tmp / "ve8"
    source.mkdir()
    (source / "trainlist01.txt").write_text(line + "\n")
    (source / "testlist01.txt").write_text("Joy/b\n")
    rec.refuses(["import-annotations", str(source), "--format", "ve8", "--out", str(rec.tmp / "out")], names)
    assert not (rec.tmp / "out").exists()


def test_a_hostile_annotation_json_is_refused(rec: Harness) -> None:
    (rec.tmp / "ve8_01.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(SentilocError, match="ve8_01.json: annotation file is nested too deeply"):
        import_splits("ve8", rec.tmp / "ve8_01.json", rec.tmp / "out")
    os.mkfifo(rec.tmp / "ek6_01.json")
    rec.refuses(["import-annotations", str(rec.tmp / "ek6_01.json"), "--format", "ekman6", "--out",
                 str(rec.tmp / "out")], "ek6_01.json: annotation file is not a regular file")


def test_import_never_clobbers(rec: Harness) -> None:
    source = rec.tmp / "ek6"
    source.mkdir()
    (source / "trainlist01.txt").write_text("".join(f"{c}/{i} \n" for i, c in enumerate(
        ("anger", "disgust", "fear", "joy", "sadness", "surprise"))))
    (source / "testlist01.txt").write_text("joy/x\n")
    rec.refuses(["import-annotations", str(source), "--format", "ekman6", "--out", str(rec.data)],
                "classes.txt: already exists")
