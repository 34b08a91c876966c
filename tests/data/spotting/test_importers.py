"""import-annotations: CAS(ME)2 and SAMM-LV sheets (xlsx made here with openpyxl, and CSV exports), GIM's pickles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.spotting.annotations import (
    read_ground_truth,
    read_points,
    read_videos,
)
from sentiloc.data.spotting.importers import (
    ImportOptions,
    expression_type,
    import_annotations,
)
from sentiloc.data.spotting.validate import check_spotting_dataset

openpyxl = pytest.importorskip("openpyxl")

#: The released CAS(ME)2 sheet has no header: participant, video_expression, onset, apex, offset, AUs, emotion, type
CASME2_ROWS = [
    [1, "anger1_1", 557, 572, 608, "4+10+14+15", "negative", "macro-expression"],
    [1, "anger1_2", 2854, 2862, 0, "38", "others", "macro-expression"],
    [1, "anger2_1", 100, 104, 110, "4", "negative", "micro-expression"],
    [2, "happy1_1", 10, 20, 30, "12", "positive", "macro-expression"],
]
SAMM_NOTES = [["SAMM Long Videos"], ["frames counted from the image names"], []]
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units"]
SAMM_ROWS = [
    [6, "006_1_1", 1, 566, 648, 743, 178, "Macro", "R12"],
    [6, "006_1_2", 1, 3562, -1, 3795, 234, "Micro - 1/2", "4"],
    [7, "007_3_1", 3, 100, 110, 190, 91, "Micro - 1/2", "14"],
]


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def csv_file(path: Path, rows: list[list[object]]) -> Path:
    path.write_text("\n".join(",".join(str(c) for c in row) for row in rows) + "\n")
    return path


def test_casme2_sheet_without_header(tmp_path: Path) -> None:
    sheet = xlsx(tmp_path / "casme2.xlsx", CASME2_ROWS)
    summary = import_annotations("casme2", sheet, tmp_path / "data", ImportOptions())
    assert summary["videos"] == 3 and summary["instances"] == {"macro": 3, "micro": 1} and summary["filled"] == 1
    assert summary["written"] == ["videos.csv", "annotations.csv"] and not (tmp_path / "data" / "points.csv").exists()
    lines = (tmp_path / "data" / "annotations.csv").read_text().splitlines()
    # offset 0 = "no offset annotated": the offset becomes the apex (2862)
    assert lines == ["video,onset,apex,offset,type", "1_anger1,557,572,608,macro", "1_anger1,2854,2862,2862,macro",
                     "1_anger2,100,104,110,micro", "2_happy1,10,20,30,macro"]
    assert (tmp_path / "data" / "videos.csv").read_text().splitlines() == [
        "video,subject,fps,n_frames", "1_anger1,1,30,", "1_anger2,1,30,", "2_happy1,2,30,"]
    assert any("n_frames of 3 video(s)" in m for m in summary["missing"])


def test_casme2_csv_export_with_a_loose_header(tmp_path: Path) -> None:
    header = ["Participant", " Video Name ", "Onset Frame", "Apex Frame", "offset", "AUs", "Emotion", "Expression type"]
    sheet = csv_file(tmp_path / "casme2.csv", [header] + CASME2_ROWS)
    import_annotations("casme2", sheet, tmp_path / "data", ImportOptions(first_frame=1, points="apex"))
    assert (tmp_path / "data" / "annotations.csv").read_text().splitlines()[1] == "1_anger1,556,571,607,macro"
    assert (tmp_path / "data" / "points.csv").read_text().splitlines()[1:3] == ["1_anger1,571,macro", "1_anger1,2861,macro"]


def test_samm_sheet_with_notes_above_the_header(tmp_path: Path) -> None:
    sheet = xlsx(tmp_path / "samm.xlsx", SAMM_NOTES + [SAMM_HEADER] + SAMM_ROWS)
    out = tmp_path / "data"
    (out / "features").mkdir(parents=True)
    np.save(out / "features" / "006_1.npy", np.zeros((4000, 4), np.float32))
    np.save(out / "features" / "007_3.npy", np.zeros((500, 4), np.float32))
    summary = import_annotations("samm", sheet, out, ImportOptions(points="apex"))
    assert summary["missing"] == [] and summary["instances"] == {"macro": 1, "micro": 2} and summary["clicks"] == 3
    videos = read_videos(out)
    assert videos["006_1"].subject == "006" and videos["006_1"].fps == 200.0 and videos["007_3"].n_frames == 500
    gt = read_ground_truth(out)
    # apex -1 = "no apex annotated": the middle frame (3562 + 3795) // 2 = 3678
    assert gt["006_1"]["instances"][1] == {"onset": 3562, "apex": 3678, "offset": 3795, "type": "micro"}
    assert check_spotting_dataset(out).ok


@pytest.mark.parametrize(("text", "kind"), [("Macro", "macro"), ("macro-expression", "macro"), (" MICRO - 1/2", "micro"),
                                            ("Micro-expression", "micro")])
def test_expression_type_spellings(text: str, kind: str) -> None:
    assert expression_type("here", text) == kind


def _gim_folder(folder: Path, segments: list) -> Path:
    folder.mkdir()
    objects = {"videoname.npy": ["s15_0101", "s16_0102"], "segments.npy": segments,
               "labels.npy": [["Macro", "Micro"], ["Macro"]], "labels_gau_frame.npy": [[14, 40], [8]]}
    for name, value in objects.items():
        array = np.empty(len(value), dtype=object)
        array[:] = value
        np.save(folder / name, array, allow_pickle=True)
    return folder


def test_gim_pickles_are_refused_without_allow_pickle(tmp_path: Path) -> None:
    folder = _gim_folder(tmp_path / "CASME2-Annotations", [[[10, 20, 15], [38, 44, 41]], [[5, 12, 9]]])
    with pytest.raises(SentilocError, match=r"pickled NumPy object array, and unpickling a file can run arbitrary code; "
                                            r"pass --allow-pickle only"):
        import_annotations("gim", folder, tmp_path / "data", ImportOptions())
    assert not (tmp_path / "data").exists()


def test_gim_import_with_allow_pickle(tmp_path: Path) -> None:
    folder = _gim_folder(tmp_path / "SAMM-Annotations", [[[10, 20], [38, 44]], [[5, 12]]])
    summary = import_annotations("gim", folder, tmp_path / "data", ImportOptions(allow_pickle=True, fps=30.0))
    assert summary["filled"] == 3 and summary["clicks"] == 3 and summary["subjects"] == 2
    assert (tmp_path / "data" / "annotations.csv").read_text().splitlines()[1:] == [
        "s15_0101,10,15,20,macro", "s15_0101,38,41,44,micro", "s16_0102,5,8,12,macro"]
    (tmp_path / "data" / "videos.csv").write_text("video,subject,fps,n_frames\ns15_0101,s15,30,60\ns16_0102,s16,30,60\n")
    points = read_points(tmp_path / "data", read_videos(tmp_path / "data"))
    assert [p.frame for p in points["s15_0101"]] == [14, 40]


def test_gim_text_arrays_need_no_pickle(tmp_path: Path) -> None:
    folder = _gim_folder(tmp_path / "CASME2-Annotations", [[[10, 20, 15], [38, 44, 41]], [[5, 12, 9]]])
    np.save(folder / "videoname.npy", np.array(["s15_0101", "s16_0102"]))
    with pytest.raises(SentilocError, match="segments.npy: a pickled NumPy object array"):
        import_annotations("gim", folder, tmp_path / "data", ImportOptions())
    summary = import_annotations("gim", folder, tmp_path / "data", ImportOptions(allow_pickle=True, points="apex"))
    assert summary["videos"] == 2 and summary["clicks"] == 3


def test_existing_files_are_kept_without_overwrite(tmp_path: Path) -> None:
    sheet = xlsx(tmp_path / "casme2.xlsx", CASME2_ROWS)
    import_annotations("casme2", sheet, tmp_path / "data", ImportOptions())
    with pytest.raises(SentilocError, match="videos.csv: already exists; choose another path or pass --overwrite"):
        import_annotations("casme2", sheet, tmp_path / "data", ImportOptions())
    import_annotations("casme2", sheet, tmp_path / "data", ImportOptions(), overwrite=True)


def test_the_cli_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = xlsx(tmp_path / "samm.xlsx", [SAMM_HEADER] + SAMM_ROWS)
    assert main(["import-annotations", str(sheet), "--format", "samm", "--out", str(tmp_path / "data"), "--fps", "100"]) == 0
    out = capsys.readouterr().out
    assert "videos: 2" in out and "instances: {'macro': 1, 'micro': 2}" in out
    assert (tmp_path / "data" / "videos.csv").read_text().splitlines()[1] == "006_1,006,100,"
    assert main(["import-annotations", str(sheet), "--format", "samm", "--out", str(tmp_path / "d2"),
                 "--points", "released"]) == 1
    assert "a samm sheet has no clicks" in capsys.readouterr().err


@pytest.mark.parametrize(("rows", "names"), [
    ([SAMM_HEADER, [6, "006_1_1", 1, 566, "x", 743, 1, "Macro"]], "row 2: apex 'x' is not a whole frame number"),
    ([SAMM_HEADER, [6, "006_1_1", 1, 566, 648.5, 743, 1, "Macro"]], "apex '648.5' is not a whole frame number"),
    ([SAMM_HEADER, [6, "006_1_1", 1, 800, 648, 743, 1, "Macro"]], "are not 0 <= onset <= apex <= offset"),
    ([SAMM_HEADER, [6, "006_1_1", 1, 566, 648, 743, 1, "Other"]], "expression type 'Other' is neither macro nor micro"),
    ([SAMM_HEADER, [6, "../x_1", 1, 566, 648, 743, 1, "Macro"]], "contains a path separator"),
    ([["Subject", "Onset", "Offset"], [6, 1, 2]], "header row 1 lacks column(s) ['video', 'apex', 'type']"),
    ([["a", "b"], [1, 2]], "no header row with Onset and Offset"),
    ([SAMM_HEADER], "no annotation rows"),
])
def test_bad_sheets_are_one_line(tmp_path: Path, rows: list, names: str) -> None:
    sheet = xlsx(tmp_path / "samm.xlsx", rows)
    with pytest.raises(SentilocError) as caught:
        import_annotations("samm", sheet, tmp_path / "data", ImportOptions())
    assert names in str(caught.value) and "\n" not in str(caught.value)


def test_unreadable_sources(tmp_path: Path) -> None:
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "sheet.ods").write_text("x")
    for path, names in [(tmp_path / "broken.xlsx", "not a readable .xlsx workbook"),
                        (tmp_path / "sheet.ods", "expected an .xlsx sheet or a .csv export"),
                        (tmp_path / "missing.csv", "annotation sheet not found")]:
        with pytest.raises(SentilocError, match=names):
            import_annotations("casme2", path, tmp_path / "data", ImportOptions())
