"""Readers of videos.csv, annotations.csv and points.csv: the contract's in-memory shapes and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.spotting.annotations import (
    Instance,
    Point,
    SpottingVideo,
    integer_cell,
    parse_videos,
    read_annotations,
    read_ground_truth,
    read_points,
    read_videos,
)


def test_ground_truth_has_the_contract_shape(data: Path) -> None:
    gt = read_ground_truth(data)
    assert set(gt) == {"s1_a", "s1_b", "s2_a"}
    assert gt["s1_a"] == {"subject": "s1", "fps": 30.0, "n_frames": 40, "instances": [
        {"onset": 5, "apex": 8, "offset": 12, "type": "macro"}, {"onset": 20, "apex": 21, "offset": 23, "type": "micro"}]}
    assert gt["s2_a"]["fps"] == 200.0 and len(gt["s2_a"]["instances"]) == 2


def test_typed_records(data: Path) -> None:
    videos = read_videos(data)
    assert videos["s2_a"] == SpottingVideo("s2_a", "s2", 200.0, 150)
    assert read_annotations(data, videos)["s1_b"] == [Instance(3, 6, 10, "macro")]
    assert read_points(data, videos)["s2_a"] == [Point(45, "macro"), Point(103, "micro")]


def test_bom_crlf_and_blank_lines_are_read(data: Path) -> None:
    text = (data / "videos.csv").read_text()
    (data / "videos.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n\r\n").encode())
    assert set(read_videos(data)) == {"s1_a", "s1_b", "s2_a"}


def test_header_spacing_is_tolerated(data: Path) -> None:
    (data / "videos.csv").write_text(" video , subject,fps ,n_frames\ns1_a,s1,30,40\n")
    assert read_videos(data)["s1_a"].n_frames == 40


@pytest.mark.parametrize(("cell", "value"), [("12", 12), (" -3 ", -3), ("+4", 4), ("12.5", None), ("12.0", None),
                                              ("1e3", None), ("", None), ("x", None), ("9" * 16, None)])
def test_integer_cell(cell: str, value: int | None) -> None:
    assert integer_cell(cell) == value


@pytest.mark.parametrize(("content", "names"), [
    ("video,subject,fps,n_frames\ns1_a,s1,0,40\n", "fps '0'"),
    ("video,subject,fps,n_frames\ns1_a,s1,nan,40\n", "fps 'nan'"),
    ("video,subject,fps,n_frames\ns1_a,s1,inf,40\n", "fps 'inf'"),
    ("video,subject,fps,n_frames\ns1_a,s1,30,40.5\n", "n_frames '40.5'"),
    ("video,subject,fps,n_frames\ns1_a,s1,30,0\n", "n_frames '0'"),
    ("video,subject,fps,n_frames\n../x,s1,30,40\n", "contains a path separator"),
    ("video,subject,fps,n_frames\ns1_a,s\u202e1,30,40\n", "subject 's\\u202e1' contains control"),
    ("video,subject,fps,n_frames\ns1_a,s1,30,40\ns1_a,s1,30,41\n", "listed twice"),
    ("video,subject,fps\ns1_a,s1,30\n", "missing column(s) ['n_frames']"),
    ("video,subject,fps,n_frames\n", "no videos below the header"),
])
def test_bad_videos_csv_is_one_line(data: Path, content: str, names: str) -> None:
    (data / "videos.csv").write_text(content)
    with pytest.raises(SentilocError) as caught:
        read_videos(data)
    message = str(caught.value)
    assert "\n" not in message and names in message and "videos.csv" in message


def test_non_utf8_is_one_line(data: Path) -> None:
    (data / "annotations.csv").write_bytes(b"video,onset,apex,offset,type\ns1_a,1,2,3,m\xe9cro\n")
    with pytest.raises(SentilocError, match=r"annotations.csv: .* not UTF-8 text \(byte \d+\)"):
        read_ground_truth(data)


@pytest.mark.parametrize(("row", "names"), [
    ("s1_a,5,8,12.5,macro", "offset '12.5' is not a whole frame number"),
    ("s1_a,9,8,12,macro", "onset 9, apex 8, offset 12 are not in order"),
    ("s1_a,5,8,40,macro", "offset 40 lies outside video 's1_a' (frames 0..39)"),
    ("s1_a,-1,8,12,macro", "onset -1 lies outside"),
    ("s1_a,5,8,12,Macro", "type 'Macro' is not one of ['macro', 'micro']"),
    ("nobody,5,8,12,macro", "video 'nobody' is not in videos.csv"),
])
def test_bad_annotation_rows_name_the_line(data: Path, row: str, names: str) -> None:
    (data / "annotations.csv").write_text("video,onset,apex,offset,type\n" + row + "\n")
    with pytest.raises(SentilocError) as caught:
        read_ground_truth(data)
    assert names in str(caught.value) and "annotations.csv:2" in str(caught.value)


def test_every_problem_is_found_by_the_lenient_parser(data: Path) -> None:
    (data / "videos.csv").write_text("video,subject,fps,n_frames\na,s,0,1\nb,s,30,x\nc,s,30,5\n")
    videos, problems = parse_videos(data / "videos.csv")
    assert list(videos) == ["c"] and len(problems) == 2
    with pytest.raises(SentilocError, match=r"\(and 1 more; `sentiloc check-data` lists them\)"):
        read_videos(data)
