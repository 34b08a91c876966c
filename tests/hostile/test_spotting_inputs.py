"""Hostile spotting datasets and annotation sources: each breaks one thing; check-data lists it, loaders refuse it.

Every case runs ``sentiloc check-data`` through the CLI on a copy of a tiny spotting dataset
(a problem line naming the file, non-zero exit, no traceback, no file changed) and the check the
spotting verbs share, :func:`require_valid_spotting` (one line naming the file).
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
from sentiloc.data.spotting.validate import require_valid_spotting
from tests.data.spotting.conftest import make_spotting_dataset
from tests.hostile.conftest import Harness
from tests.hostile.test_hostile_data import Payload

FEATURE = "features/s1_a.npy"
HEADERS = {"videos.csv": "video,subject,fps,n_frames", "annotations.csv": "video,onset,apex,offset,type",
           "points.csv": "video,frame,type"}


@pytest.fixture(scope="session")
def spotting_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_spotting_dataset(tmp_path_factory.mktemp("hostile_spotting") / "data")


@pytest.fixture
def spot(spotting_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Harness:
    data = tmp_path / "data"
    shutil.copytree(spotting_template, data, symlinks=True)
    return Harness(tmp_path, data, lambda: tmp_path / "no-checkpoint", capsys)


def row(name: str, text: str) -> Callable[[Path], str]:
    """Replace the first data row of ``name`` by ``text``."""
    def mutate(root: Path) -> str:
        lines = (root / name).read_text().splitlines()
        (root / name).write_text("\n".join([lines[0], text, *lines[2:]]) + "\n")
        return name
    return mutate


def write(name: str, content: str | bytes) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        (root / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        return Path(name).name
    return mutate


def remove(name: str) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        (root / name).unlink()
        return Path(name).name
    return mutate


def folder_instead(name: str) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        (root / name).unlink()
        (root / name).mkdir()
        return name
    return mutate


def features(array: Callable[[np.ndarray], np.ndarray], name: str = FEATURE) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        np.save(root / name, array(np.load(root / name)))
        return Path(name).name
    return mutate


def truncated(name: str = FEATURE) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        (root / name).write_bytes((root / name).read_bytes()[:90])
        return Path(name).name
    return mutate


def huge_header(name: str = FEATURE) -> Callable[[Path], str]:
    """A header claiming 256 GB of float32 in a file of a few hundred bytes."""
    def mutate(root: Path) -> str:
        with (root / name).open("wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (2**36, 1024)})
            handle.write(b"\0" * 64)
        return Path(name).name
    return mutate


def pickled(name: str = FEATURE) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        Payload.marker = root.parent / "pwned"
        np.save(root / name, np.array([[Payload()]], dtype=object), allow_pickle=True)
        return Path(name).name
    return mutate


def outside_link(name: str = FEATURE) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        outside = root.parent / "outside.npy"
        shutil.copy(root / name, outside)
        (root / name).unlink()
        (root / name).symlink_to(outside)
        return Path(name).name
    return mutate


CASES: dict[str, Callable[[Path], str]] = {
    # videos.csv
    "videos_missing": remove("videos.csv"),
    "videos_folder": folder_instead("videos.csv"),
    "videos_not_utf8": write("videos.csv", HEADERS["videos.csv"].encode() + b"\ns1_a,s\xff1,30,40\n"),
    "videos_fps_zero": row("videos.csv", "s1_a,s1,0,40"),
    "videos_fps_nan": row("videos.csv", "s1_a,s1,nan,40"),
    "videos_n_frames_float": row("videos.csv", "s1_a,s1,30,40.5"),
    "videos_duplicate": write("videos.csv", f"{HEADERS['videos.csv']}\ns1_a,s1,30,40\ns1_a,s1,30,40\n"),
    "videos_id_dotdot": row("videos.csv", "../../etc/passwd,s1,30,40"),
    "videos_id_bidi": row("videos.csv", "abc\u202etxt.exe,s1,30,40"),
    "videos_subject_separator": row("videos.csv", "s1_a,a/b,30,40"),
    "videos_nul_byte": write("videos.csv", f"{HEADERS['videos.csv']}\ns1\x00a,s1,30,40\n"),
    "videos_huge_field": write("videos.csv", f"{HEADERS['videos.csv']}\ns1_a,{'x' * 200_000},30,40\n"),
    # annotations.csv
    "annotations_order": row("annotations.csv", "s1_a,9,8,12,macro"),
    "annotations_past_video": row("annotations.csv", "s1_a,5,8,4000,macro"),
    "annotations_type_case": row("annotations.csv", "s1_a,5,8,12,Macro"),
    "annotations_float_frame": row("annotations.csv", "s1_a,5,8.5,12,macro"),
    "annotations_unknown_video": row("annotations.csv", "ghost,5,8,12,macro"),
    "annotations_formula": row("annotations.csv", "=HYPERLINK(\"x\"),5,8,12,macro"),
    # points.csv
    "points_missing": remove("points.csv"),
    "points_header_only": write("points.csv", HEADERS["points.csv"] + "\n"),
    "points_missing_column": write("points.csv", "video,frame\ns1_a,7\n"),
    "points_outside": row("points.csv", "s1_a,40,macro"),
    "points_negative": row("points.csv", "s1_a,-1,macro"),
    "points_1e20": row("points.csv", "s1_a,1e20,macro"),
    # features
    "features_missing": remove(FEATURE),
    "features_nan": features(lambda a: np.where(a > 1, np.nan, a).astype(np.float32)),
    "features_huge": features(lambda a: a * 1e30),
    "features_int": features(lambda a: a.astype(np.int64)),
    "features_rows": features(lambda a: a[:-1]),
    "features_dim": features(lambda a: a[:, :2]),
    "features_1d": features(lambda a: a[:, 0]),
    "npy_truncated": truncated(),
    "npy_is_text": write(FEATURE, "hello, I am text\n"),
    "npy_header_256GB": huge_header(),
    "npy_pickled_object": pickled(),
    "npy_symlink_outside": outside_link(),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_spotting_dataset_is_refused(case: str, spot: Harness) -> None:
    names = CASES[case](spot.data)
    spot.refuses(["check-data", str(spot.data)], names)
    with pytest.raises(SentilocError) as caught:
        require_valid_spotting(spot.data)
    message = str(caught.value)
    assert "\n" not in message and names in message and "`sentiloc check-data" in message
    assert not (spot.tmp / "pwned").exists(), "a pickled payload ran"


@pytest.mark.parametrize("name", ["videos.csv", "points.csv", FEATURE])
def test_a_fifo_does_not_hang(name: str, spot: Harness) -> None:
    (spot.data / name).unlink()
    os.mkfifo(spot.data / name)
    done = subprocess.run([sys.executable, "-m", "sentiloc", "check-data", str(spot.data), "--task", "spotting"],
                          check=False, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{Path(name).name}: " in done.stdout and "not a regular file" in done.stdout


def test_clicks_without_annotations_are_enough_to_train(spot: Harness) -> None:
    (spot.data / "annotations.csv").unlink()
    out = spot.accepts(["check-data", str(spot.data)])
    assert "check-data: OK" in out and "annotations.csv: not present (training reads only the clicks" in out


def test_bom_and_crlf_are_accepted(spot: Harness) -> None:
    for name in HEADERS:
        path = spot.data / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert "check-data: OK" in spot.accepts(["check-data", str(spot.data)])


def _gim_folder(folder: Path, videoname: object) -> Path:
    folder.mkdir()
    for name, value in {"videoname.npy": videoname, "segments.npy": [[[1, 5, 3]]], "labels.npy": [["Macro"]],
                        "labels_gau_frame.npy": [[3]]}.items():
        array = np.empty(1, dtype=object)
        array[0] = value
        np.save(folder / name, array, allow_pickle=True)
    return folder


def test_gim_pickles_never_run_without_allow_pickle(spot: Harness) -> None:
    Payload.marker = spot.tmp / "pwned"
    folder = _gim_folder(spot.tmp / "GIM-Annotations", Payload())
    spot.refuses(["import-annotations", str(folder), "--format", "gim", "--out", str(spot.tmp / "out")], "videoname.npy")
    assert not (spot.tmp / "pwned").exists() and not (spot.tmp / "out").exists()


@pytest.mark.parametrize(("sheet", "content", "names"), [
    ("sheet.xlsx", b"PK\x03\x04 broken", "sheet.xlsx: not a readable .xlsx workbook"),
    ("sheet.csv", b"Filename,Onset,Apex,Offset,Type\n006_1_1,1,2,1e400,Macro\n", "offset '1e400' is not a whole frame"),
    ("sheet.csv", b"Filename,Onset,Apex,Offset,Type\n..\\x_1_1,1,2,3,Macro\n", "contains a path separator"),
    ("sheet.csv", b"Filename,Onset,Apex,Offset,Type\n006_1_1,1,2,3,M\xe9cro\n", "sheet.csv: annotation sheet is not UTF-8"),
])
def test_hostile_sheets_are_refused(spot: Harness, sheet: str, content: bytes, names: str) -> None:
    (spot.tmp / sheet).write_bytes(content)
    spot.refuses(["import-annotations", str(spot.tmp / sheet), "--format", "samm", "--out", str(spot.tmp / "out")], names)
    assert not (spot.tmp / "out").exists()


def test_an_xlsx_with_broken_xml_is_refused(spot: Harness) -> None:
    import zipfile

    with zipfile.ZipFile(spot.tmp / "sheet.xlsx", "w") as book:
        book.writestr("[Content_Types].xml", "<Types><unclosed")
        book.writestr("xl/workbook.xml", "<<not xml")
    spot.refuses(["import-annotations", str(spot.tmp / "sheet.xlsx"), "--format", "casme2", "--out",
                  str(spot.tmp / "out")], "sheet.xlsx: not a readable .xlsx workbook")


def test_import_never_clobbers(spot: Harness) -> None:
    (spot.tmp / "sheet.csv").write_text("Filename,Onset,Apex,Offset,Type\ns1_a_1,1,2,3,Macro\n")
    spot.refuses(["import-annotations", str(spot.tmp / "sheet.csv"), "--format", "samm", "--out", str(spot.data)],
                 "videos.csv: already exists")
