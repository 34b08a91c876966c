"""The annotation CSV of ``build-dataset`` and the split assignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.features.build import assign_splits, build_dataset, read_annotation_csv
from sentiloc.features.settings import ExtractSettings


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ann.csv"
    path.write_text(text)
    return path


def test_segments_clicks_labels_and_splits_are_read(tmp_path):
    path = write_csv(tmp_path, "video,label,start,end,time,split\n"
                               "a,p,1.5,4,,\n" "a,positive,,,2.5,\n" "b,NEG,0,3.25,,test\n" "c,n,,,7,train\n")
    videos = read_annotation_csv(path)
    assert [(s.start_s, s.end_s, s.label) for s in videos["a"].segments] == [(1.5, 4.0, "p")]
    assert videos["a"].clicks == [(2.5, "p")] and videos["a"].split is None
    assert videos["b"].segments[0].label == "n" and videos["b"].split == "test"
    assert videos["c"].clicks == [(7.0, "n")] and not videos["c"].segments


@pytest.mark.parametrize("rows, message", [
    ("a,happy,1,2,,", r"ann.csv:2: label 'happy'"),
    ("a,p,3,2,,", r"ann.csv:2: segment \[3.0, 2.0\] ends before it starts"),
    ("a,p,x,2,,", r"ann.csv:2: start 'x' is not a number"),
    ("a,p,,,-1,", r"ann.csv:2: time -1.0 is negative"),
    ("a,p,,,,", r"ann.csv:2: neither start,end nor time"),
    ("../etc,p,1,2,,", r"ann.csv:2: video id '../etc' contains a path separator"),
    ("a,p,1,2,,valid", r"ann.csv:2: split 'valid'"),
    ("a,p,1,2,,train\na,p,3,4,,test", r"ann.csv:3: video 'a' is in both splits"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, rows, message):
    with pytest.raises(SentilocError, match=message):
        read_annotation_csv(write_csv(tmp_path, "video,label,start,end,time,split\n" + rows + "\n"))


def test_missing_columns_and_files(tmp_path):
    with pytest.raises(SentilocError, match="needs the columns"):
        read_annotation_csv(write_csv(tmp_path, "name,label,when\nx,p,3\n"))
    with pytest.raises(SentilocError, match="not found"):
        read_annotation_csv(tmp_path / "none.csv")


def test_split_assignment_is_seeded_and_respects_given_splits(tmp_path):
    lines = ["video,label,start,end,time,split"] + [f"v{i},p,1,2,," for i in range(8)] + ["w,p,,,3,", "z,p,1,2,,test"]
    videos = read_annotation_csv(write_csv(tmp_path, "\n".join(lines) + "\n"))
    splits = assign_splits(videos, test_fraction=0.3, seed=0)
    assert splits == assign_splits(videos, test_fraction=0.3, seed=0)
    assert splits["z"] == "test" and splits["w"] == "train"  # clicks only: cannot be evaluated
    assert sum(s == "test" for s in splits.values()) == 3  # 30% of 10, z included
    with pytest.raises(SentilocError, match="test-fraction"):
        assign_splits(videos, test_fraction=1.0, seed=0)


def test_build_refuses_missing_videos_and_foreign_folders(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"")
    annotations = write_csv(tmp_path, "video,label,start,end\na,p,1,2\nb,p,1,2\n")
    with pytest.raises(SentilocError, match=r"no video file for \['b'\]"):
        build_dataset([tmp_path / "videos"], annotations, tmp_path / "out", ExtractSettings(), progress=False)
    annotations = write_csv(tmp_path, "video,label,start,end\na,p,1,2\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(SentilocError, match="not a sentiloc-built dataset"):
        build_dataset([tmp_path / "videos"], annotations, tmp_path / "mine", ExtractSettings(), progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_excel_bom_and_dot_files_are_handled(tmp_path):
    from sentiloc.features.batch import expand_inputs

    path = tmp_path / "ann.csv"
    path.write_bytes("video,label,start,end\nclip,p,1,2\n".encode("utf-8-sig"))
    assert list(read_annotation_csv(path)) == ["clip"]
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "._clip.mp4").write_bytes(b"")  # macOS resource fork
    assert expand_inputs([tmp_path]) == [tmp_path / "clip.mp4"]


def test_a_failed_build_resumes_and_replaced_videos_are_re_extracted(tmp_path):
    from sentiloc.data.simulate.video import SyntheticVideo, write_video

    videos = tmp_path / "videos"
    spec = SyntheticVideo(duration_s=2.0, width=96, height=64)
    write_video(videos / "a.mp4", spec)
    (videos / "b.mp4").write_bytes(b"broken")
    annotations = write_csv(tmp_path, "video,label,start,end,time,split\na,p,0.5,1.5,,train\na,p,,,1.0,train\n"
                                      "b,p,0.2,1.0,,test\n")
    out = tmp_path / "data"
    with pytest.raises(SentilocError, match="rerun to retry only those"):
        build_dataset([videos], annotations, out, ExtractSettings(), progress=False)
    write_video(videos / "b.mp4", spec)  # the user repairs the file and reruns
    summary = build_dataset([videos], annotations, out, ExtractSettings(), progress=False)
    assert (summary["extracted"], summary["reused"]) == (1, 1)
    write_video(videos / "a.mp4", SyntheticVideo(duration_s=3.0, width=96, height=64))  # replaced, same name
    summary = build_dataset([videos], annotations, out, ExtractSettings(), progress=False)
    assert (summary["extracted"], summary["reused"]) == (1, 1)
    late = write_csv(tmp_path, "video,label,start,end,time,split\na,p,5,6,,train\nb,p,0.2,1.0,,test\n")
    with pytest.raises(SentilocError, match=r"segment \[5.0, 6.0\] of video 'a' runs past its end"):
        build_dataset([videos], late, out, ExtractSettings(), progress=False)
