"""import-annotations --format ve8|ekman6 on small hand-written files in the released forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.annotations import LabelRow, read_classes, read_labels
from sentiloc.data.recognition.importers import import_splits

VE8_CLASSES = ("Anger", "Anticipation", "Disgust", "Fear", "Joy", "Sadness", "Surprise", "Trust")


def _ve8_lists(folder: Path, splits: int = 2) -> Path:
    """VAANet's form: classInd.txt '<i> <Class>', lists of '<Class>/<name>' without an index."""
    folder.mkdir(parents=True)
    (folder / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(VE8_CLASSES, start=1)))
    for number in range(1, splits + 1):
        train = [f"{c}/{c.lower()}_{number}_a" for c in VE8_CLASSES] + ["Fear/11.01.09-Apprehension,PA"]
        test = [f"{c}/{c.lower()}_{number}_b" for c in VE8_CLASSES]
        (folder / f"trainlist{number:02d}.txt").write_text("\n".join(train) + "\n")
        (folder / f"testlist{number:02d}.txt").write_text("\n".join(test) + "\n")
    return folder


def _ekman6_lists(folder: Path) -> Path:
    """CTEN's Ekman-6 form: classInd.txt '1 anger', lists of 'anger/1000 1' (numeric names and a 1-based index)."""
    classes = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
    folder.mkdir(parents=True)
    (folder / "classInd.txt").write_text("\n".join(f"{i} {c}" for i, c in enumerate(classes, start=1)))
    (folder / "trainlist01.txt").write_text("".join(f"{c}/{10 * i} {i}\n" for i, c in enumerate(classes, start=1)))
    (folder / "testlist01.txt").write_text("".join(f"{c}/{10 * i + 1} {i}\n" for i, c in enumerate(classes, start=1)))
    return folder


def test_ve8_lists(tmp_path: Path) -> None:
    source = _ve8_lists(tmp_path / "ve8")
    summary = import_splits("ve8", source, tmp_path / "data")
    assert summary["videos"] == 17 and summary["splits found"] == [1, 2] and summary["split"] == "01: 9 train, 8 test"
    assert read_classes(tmp_path / "data")[:2] == ("anger", "anticipation")
    rows = read_labels(tmp_path / "data", read_classes(tmp_path / "data"))
    assert rows["anger_1_a"] == LabelRow("anger_1_a", "anger", "train")
    assert rows["11.01.09-Apprehension,PA"].label == "fear"  # a comma in a released name survives the CSV
    assert summary["written"] == ["classes.txt", "labels.csv"]


def test_ve8_every_split(tmp_path: Path) -> None:
    summary = import_splits("ve8", _ve8_lists(tmp_path / "ve8"), tmp_path / "data", split=2, all_splits=True)
    assert summary["written"] == ["classes.txt", "labels.csv", "labels_split01.csv", "labels_split02.csv"]
    classes = read_classes(tmp_path / "data")
    assert "trust_2_b" in read_labels(tmp_path / "data", classes)
    assert "trust_1_b" in read_labels(tmp_path / "data", classes, "labels_split01.csv")
    with pytest.raises(SentilocError, match=r"--split 3: .* holds split\(s\) \[1, 2\]"):
        import_splits("ve8", tmp_path / "ve8", tmp_path / "other", split=3)


def test_ekman6_lists_with_class_indices(tmp_path: Path) -> None:
    summary = import_splits("ekman6", _ekman6_lists(tmp_path / "ek6"), tmp_path / "data")
    assert summary["split"] == "01: 6 train, 6 test"
    rows = read_labels(tmp_path / "data", read_classes(tmp_path / "data"))
    assert rows["30"] == LabelRow("30", "fear", "train") and rows["61"] == LabelRow("61", "surprise", "test")


def test_annotation_json(tmp_path: Path) -> None:
    database = {"1000": {"subset": "training", "annotations": {"label": "anger"}},
                "1001": {"subset": "validation", "annotations": {"label": "joy"}}}
    labels = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]
    (tmp_path / "ek6_01.json").write_text(json.dumps({"labels": labels, "database": database}))
    summary = import_splits("ekman6", tmp_path / "ek6_01.json", tmp_path / "data")
    assert summary["split"] == "01: 1 train, 1 test"
    assert (tmp_path / "data" / "labels.csv").read_text() == "video,label,split\n1000,anger,train\n1001,joy,test\n"


@pytest.mark.parametrize(("mutate", "names"), [
    (lambda f: (f / "trainlist01.txt").write_text("Anger/..x\n"), "trainlist01.txt:1: video id '..x' contains '..'"),
    (lambda f: (f / "trainlist01.txt").write_text("Anger\n"), "trainlist01.txt:1: expected '<Class>/<name>'"),
    (lambda f: (f / "trainlist01.txt").write_text("Glee/x\n"), "trainlist01.txt:1: class 'Glee' is not in classInd.txt"),
    (lambda f: (f / "trainlist01.txt").write_text("Anger/x 3\n"), "trainlist01.txt:1: class index '3'"),
    (lambda f: (f / "trainlist01.txt").write_text("Anger/x a b\n"), "trainlist01.txt:1: expected"),
    (lambda f: (f / "testlist02.txt").unlink(), "testlist02.txt is missing"),
    (lambda f: (f / "classInd.txt").write_text("1 Anger\n3 Fear\n"), "classInd.txt:2: expected '2 <Class>'"),
    (lambda f: (f / "testlist01.txt").write_text("Anger/anger_1_a\n"), "split 01 lists video 'anger_1_a' twice"),
    (lambda f: (f / "trainlist01.txt").write_bytes(b"Anger/x\xff\n"), "trainlist01.txt: split list is not UTF-8"),
])
def test_broken_lists_are_refused_in_one_line(tmp_path: Path, mutate, names: str) -> None:
    source = _ve8_lists(tmp_path / "ve8")
    mutate(source)
    with pytest.raises(SentilocError) as caught:
        import_splits("ve8", source, tmp_path / "data")
    assert names in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "data").exists()


def test_the_wrong_format_and_clobbering_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SentilocError, match="but ekman6 has"):
        import_splits("ekman6", _ve8_lists(tmp_path / "ve8"), tmp_path / "data")
    import_splits("ve8", tmp_path / "ve8", tmp_path / "data")
    with pytest.raises(SentilocError, match="classes.txt: already exists"):
        import_splits("ve8", tmp_path / "ve8", tmp_path / "data")
    import_splits("ve8", tmp_path / "ve8", tmp_path / "data", split=2, overwrite=True)
    assert "anger_2_a" in read_labels(tmp_path / "data", read_classes(tmp_path / "data"))


@pytest.mark.parametrize(("content", "names"), [
    ({"database": {}}, "not an annotation file of the release"),
    ({"labels": ["anger"], "database": {"a": {"subset": "val", "annotations": {"label": "anger"}}}}, "[a]: needs a subset"),
    ({"labels": ["anger"], "database": {"a": {"subset": "training", "annotations": {"label": "joy"}}}}, "[a]: needs"),
    ({"labels": ["anger"], "database": {"a/b": {"subset": "training", "annotations": {"label": "anger"}}}},
     "[a/b]: video id 'a/b' contains a path separator"),
])
def test_broken_json_is_refused(tmp_path: Path, content: dict, names: str) -> None:
    (tmp_path / "ve8_01.json").write_text(json.dumps(content))
    with pytest.raises(SentilocError) as caught:
        import_splits("ve8", tmp_path / "ve8_01.json", tmp_path / "data")
    assert names in str(caught.value)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _ve8_lists(tmp_path / "ve8")
    assert main(["-q", "import-annotations", str(source), "--format", "ve8", "--out", str(tmp_path / "d"),
                 "--all-splits"]) == 0
    assert "splits found: [1, 2]" in capsys.readouterr().out
    assert main(["-q", "import-annotations", str(source), "--format", "ve8", "--out", str(tmp_path / "e"),
                 "--fps", "30"]) == 1
    assert "--fps do(es) not apply to this format" in capsys.readouterr().err
    (tmp_path / "sheet.csv").write_text("Filename,Onset,Apex,Offset,Type\ns1_a_1,1,2,3,Macro\n")
    assert main(["-q", "import-annotations", str(tmp_path / "sheet.csv"), "--format", "samm", "--out",
                 str(tmp_path / "f"), "--split", "2"]) == 1
    assert "--split do(es) not apply" in capsys.readouterr().err
    assert main(["-q", "import-annotations", str(tmp_path / "sheet.csv"), "--format", "samm", "--out",
                 str(tmp_path / "f")]) == 0
