"""Readers of classes.txt, labels.csv, keyframes.json and descriptions.json: shapes, every problem, one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.annotations import (
    LabelRow,
    classes_text,
    labels_csv,
    parse_classes,
    parse_descriptions,
    parse_keyframes,
    parse_labels,
    read_classes,
    read_descriptions,
    read_keyframes,
    read_labels,
)
from tests.data.recognition.conftest import CLASSES, VIDEOS

HEADER = "video,label,split\n"


def test_classes_in_line_order(data: Path) -> None:
    assert read_classes(data) == CLASSES


def test_classes_bom_crlf_and_trailing_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "classes.txt").write_bytes(b"\xef\xbb\xbfanger\r\njoy\r\n\r\n\r\n")
    assert read_classes(tmp_path) == ("anger", "joy")


@pytest.mark.parametrize(("text", "names"), [
    ("anger\n\njoy\n", "classes.txt:2: blank line between class names"),
    ("anger\njoy\nanger\n", "classes.txt:3: class 'anger' is listed twice"),
    ("anger\n", "classes.txt: 1 class(es)"),
    ("", "classes.txt: 0 class(es)"),
    ("anger\n joy\n", "classes.txt:2: class name ' joy' has leading or trailing white space"),
    ("anger\njo\u202ey\n", "classes.txt:2: class name"),
    ("anger\n" + "x" * 201 + "\n", "classes.txt:2: class name of 201 characters"),
])
def test_bad_classes_are_refused_in_one_line(tmp_path: Path, text: str, names: str) -> None:
    (tmp_path / "classes.txt").write_text(text)
    with pytest.raises(SentilocError) as caught:
        read_classes(tmp_path)
    assert names in str(caught.value) and "\n" not in str(caught.value)


def test_every_class_problem_is_listed(tmp_path: Path) -> None:
    (tmp_path / "classes.txt").write_text("a\n\na\n b\nc\n")
    names, problems = parse_classes(tmp_path / "classes.txt")
    assert names == ("a", "c") and len(problems) == 3


def test_labels_rows(data: Path) -> None:
    rows = read_labels(data, CLASSES)
    assert list(rows) == list(VIDEOS)
    assert rows["v_joy_2"] == LabelRow("v_joy_2", "joy", "test", 1)


def test_labels_columns_in_any_order_with_padding(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(" fold ,label, video\n2,joy,a\n1,anger,b\n")
    rows, problems = parse_labels(tmp_path / "labels.csv", CLASSES)
    assert problems == [] and rows["a"] == LabelRow("a", "joy", None, 2)


def test_an_empty_label_is_an_unlabelled_test_video(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(HEADER + "a,joy,train\nb,,test\n")
    rows, problems = parse_labels(tmp_path / "labels.csv", CLASSES)
    assert problems == [] and rows["b"].label is None


@pytest.mark.parametrize(("text", "names"), [
    ("video,split\na,train\n", "missing column(s) ['label']"),
    ("video,label\na,joy\n", "neither a split nor a fold column"),
    ("video,label,split,notes\na,joy,train,x\n", "unknown column(s) ['notes']"),
    ("video,label,split,split\na,joy,train,train\n", "column(s) ['split'] appear twice"),
    (HEADER, "no videos below the header"),
    (HEADER + "a,joy,train\na,joy,test\n", "labels.csv:3: video 'a' is listed twice"),
    (HEADER + "a,Joy,train\n", "labels.csv:2: label 'Joy' is not in classes.txt"),
    (HEADER + "a,,train\n", "labels.csv:2: video 'a' has no label but is not a test video"),
    (HEADER + "a,joy,val\n", "labels.csv:2: split 'val' is not one of ['train', 'test']"),
    (HEADER + "a,joy,Train\n", "split 'Train'"),
    (HEADER + "../a,joy,train\n", "labels.csv:2: video id '../a' contains a path separator"),
    (HEADER + "a,joy\n", "labels.csv:2: 2 cell(s) for 3 column(s)"),
    ("video,label,fold\na,joy,0\n", "labels.csv:2: fold '0' is not a whole number >= 1"),
    ("video,label,fold\na,joy,1.5\n", "fold '1.5'"),
    ("video,label,fold\na,joy,1\nb,joy,3\n", "labels.csv: fold(s) [2] hold no video"),
    ("video,label,fold\na,,1\n", "has no label but is not a test video"),
])
def test_bad_labels_are_refused_in_one_line(data: Path, text: str, names: str) -> None:
    (data / "labels.csv").write_text(text)
    with pytest.raises(SentilocError) as caught:
        read_labels(data, CLASSES)
    assert names in str(caught.value) and "\n" not in str(caught.value)


def test_labels_file_must_be_a_bare_name(data: Path) -> None:
    with pytest.raises(SentilocError, match="data.labels_file '../labels.csv'"):
        read_labels(data, CLASSES, "../labels.csv")


def test_every_labels_problem_is_listed(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(HEADER + "a,Joy,train\nb,,train\nc,joy,val\nd,joy,train\n")
    rows, problems = parse_labels(tmp_path / "labels.csv", CLASSES)
    assert list(rows) == ["d"] and [p.path.rsplit(":", 1)[1] for p in problems] == ["2", "3", "4"]


def test_written_labels_read_back(tmp_path: Path) -> None:
    rows = [LabelRow("a", "joy", "train"), LabelRow("b", None, "test")]
    (tmp_path / "labels.csv").write_text(labels_csv(rows))
    (tmp_path / "classes.txt").write_text(classes_text(CLASSES))
    assert (tmp_path / "labels.csv").read_text() == "video,label,split\na,joy,train\nb,,test\n"
    assert list(read_labels(tmp_path, read_classes(tmp_path)).values()) == rows


def test_keyframes(data: Path) -> None:
    spans = read_keyframes(data, read_labels(data, CLASSES))
    assert spans["v_joy_2"] == [(3, 3), (5, 6)]
    (data / "keyframes.json").unlink()
    assert read_keyframes(data, {}) is None


@pytest.mark.parametrize(("content", "names"), [
    ([], "not a JSON object of videos"),
    ({"ghost": [[0, 1]]}, "[ghost]: video 'ghost' is not in the labels file"),
    ({"a": [[2, 1]]}, "[a]: span [2, 1] is not [first, last]"),
    ({"a": [[-1, 1]]}, "span [-1, 1]"),
    ({"a": [[0, 1.0]]}, "span [0, 1.0]"),
    ({"a": [[True, 1]]}, "span [True, 1]"),
    ({"a": [[0, 1, 2]]}, "span [0, 1, 2]"),
    ({"a": [[0, 4]]}, "span [0, 4] is not [first, last] with 0 <= first <= last < 4 segments"),
    ({"a": {"0": 1}}, "dict instead of a list of [first, last]"),
    ({"a": [[0, 10**30]]}, "span [0, 1000000000000000000000000000000]"),  # no float overflow downstream
])
def test_bad_keyframes(tmp_path: Path, content: object, names: str) -> None:
    (tmp_path / "keyframes.json").write_text(json.dumps(content))
    _spans, problems = parse_keyframes(tmp_path / "keyframes.json", {"a": None}, {"a": 4})
    assert len(problems) == 1 and names in str(problems[0]) and "keyframes.json" in str(problems[0])


def test_keyframes_that_are_not_json_raise(data: Path) -> None:
    (data / "keyframes.json").write_text("{not json")
    with pytest.raises(SentilocError, match="keyframes.json: keyframes .* is not valid JSON"):
        read_keyframes(data, {})


def test_descriptions(tmp_path: Path) -> None:
    (tmp_path / "descriptions.json").write_text(json.dumps({"joy": ["a person smiling"]}))
    assert read_descriptions(tmp_path, CLASSES) == {"joy": ["a person smiling"]}
    assert read_descriptions(tmp_path / "nowhere", CLASSES) is None


@pytest.mark.parametrize(("content", "names"), [
    (["joy"], "not a JSON object of classes"),
    ({"glee": ["x"]}, "[glee]: class 'glee' is not in classes.txt"),
    ({"joy": []}, "[joy]: not a non-empty list of non-empty texts"),
    ({"joy": ["  "]}, "[joy]: not a non-empty list"),
    ({"joy": "smiling"}, "[joy]: not a non-empty list"),
])
def test_bad_descriptions(tmp_path: Path, content: object, names: str) -> None:
    (tmp_path / "descriptions.json").write_text(json.dumps(content))
    _texts, problems = parse_descriptions(tmp_path / "descriptions.json", CLASSES)
    assert len(problems) == 1 and names in str(problems[0])
