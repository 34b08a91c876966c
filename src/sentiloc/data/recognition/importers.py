"""``sentiloc import-annotations --format ve8|ekman6``: released split files -> the recognition layout (docs/recognition.md).

VideoEmotion-8 and Ekman-6 are distributed with their splits in the form of the two-stream
action recognition code bases that VAANet and CTEN build on; both forms are read:

* **split lists** (a folder): ``classInd.txt`` with lines ``<index> <Class>`` (1-based; optional,
  the class order is then the sorted folder names), and ``trainlistNN.txt`` /
  ``testlistNN.txt`` with one video per line, ``<Class>/<name>``, optionally followed by
  ``<index>`` (the Ekman-6 lists carry it). ``NN`` is the split number, ``01`` to ``10`` for
  VideoEmotion-8 (2:1 train/test each) and ``01`` for Ekman-6 (1:1).
* **an annotation JSON** (one file per split, ``ve8_NN.json`` / ``ek6_NN.json``):
  ``{"labels": [...], "database": {"<name>": {"subset": "training" | "validation",
  "annotations": {"label": "<Class>"}}}}``; ``validation`` is the test split.

The video id is ``<name>`` (the file name without its class folder); it must be a plain file
name (``core.io.id_problem``), unique across classes. Class names are written in lower case, in
the order of ``classInd.txt`` (or of ``labels``), and must be the format's classes. The output is
``classes.txt`` and ``labels.csv`` with a ``split`` column for the chosen split; with
``all_splits``, every split found is also written as ``labels_splitNN.csv`` (pick one with
``data.labels_file``). Nothing is replaced without ``overwrite``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    atomic_write_text,
    id_problem,
    load_json,
    read_text,
    refuse_clobber,
    regular_file,
)
from sentiloc.core.registry import Registry
from sentiloc.data.recognition import layout
from sentiloc.data.recognition.annotations import LabelRow, classes_text, labels_csv

#: ``subset`` of the annotation JSON -> split.
SUBSETS = {"training": "train", "validation": "test", "testing": "test"}
_LIST = re.compile(r"(train|test)list(\d{2})\.txt")


@dataclass(frozen=True)
class SplitFormat:
    """A benchmark whose split files the importer reads: its classes and how many splits it releases."""

    classes: tuple[str, ...]
    splits: int


RECOGNITION_FORMATS: Registry[SplitFormat] = Registry("annotation format", "--format")
RECOGNITION_FORMATS.register("ve8")(SplitFormat(
    ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust"), 10))
RECOGNITION_FORMATS.register("ekman6")(SplitFormat(("anger", "disgust", "fear", "joy", "sadness", "surprise"), 1))


@dataclass
class SplitImport:
    """What a source holds: the classes in label order, and per split number the labelled rows."""

    classes: tuple[str, ...]
    splits: dict[int, list[LabelRow]]


def read_class_index(path: Path) -> tuple[str, ...]:
    """``classInd.txt``: ``<index> <Class>`` lines with indices 1..C in order -> the class names in lower case."""
    names = []
    for number, line in enumerate(read_text(path, "class index (classInd.txt)").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] != str(len(names) + 1):
            raise SentilocError(f"{path}:{number}: expected '{len(names) + 1} <Class>', got {line.strip()[:60]!r}; "
                                "restore the file from the release")
        names.append(parts[1].lower())
    return tuple(names)


def _video_id(where: str, name: str) -> str:
    problem = id_problem(name)
    if problem:
        raise SentilocError(f"{where}: {problem}; video ids become file names, rename the video")
    return name


def read_split_list(path: Path, split: str, classes: tuple[str, ...] | None) -> list[LabelRow]:
    """One ``trainlistNN.txt`` / ``testlistNN.txt``: ``<Class>/<name>[ <index>]`` per line -> labelled rows."""
    rows = []
    for number, line in enumerate(read_text(path, "split list").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{number}"
        folder, slash, name = parts[0].partition("/")
        if not slash or "/" in name or len(parts) > 2:
            raise SentilocError(f"{where}: expected '<Class>/<name>' and an optional class index, got "
                                f"{line.strip()[:60]!r}; restore the file from the release")
        label = folder.lower()
        if classes is not None and label not in classes:
            raise SentilocError(f"{where}: class {folder!r} is not in classInd.txt {list(classes)}; restore the files")
        if len(parts) == 2 and classes is not None and parts[1] != str(classes.index(label) + 1):
            raise SentilocError(f"{where}: class index {parts[1]!r}, but classInd.txt numbers {folder!r} "
                                f"{classes.index(label) + 1}; restore the files")
        rows.append(LabelRow(_video_id(where, name), label, split=split))
    return rows


def import_lists(folder: Path) -> SplitImport:
    """Every split of a folder of ``trainlistNN.txt`` / ``testlistNN.txt`` (and ``classInd.txt``)."""
    index = folder / "classInd.txt"
    classes = read_class_index(index) if index.exists() else None
    found: dict[int, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        match = _LIST.fullmatch(path.name)
        if match:
            found.setdefault(int(match.group(2)), {})[match.group(1)] = regular_file(path, "split list")
    if not found:
        raise SentilocError(f"{folder}: no trainlistNN.txt / testlistNN.txt; pass the folder of the released split lists")
    splits = {}
    for number, files in sorted(found.items()):
        missing = sorted({"train", "test"} - set(files))
        if missing:
            raise SentilocError(f"{folder}: {missing[0]}list{number:02d}.txt is missing; restore it from the release")
        splits[number] = [row for split in ("train", "test") for row in read_split_list(files[split], split, classes)]
    return SplitImport(classes or tuple(sorted({row.label for rows in splits.values() for row in rows})), splits)


def import_json(path: Path) -> SplitImport:
    """One split from an annotation JSON (``{"labels": [...], "database": {name: {subset, annotations: {label}}}}``)."""
    raw = load_json(path, "annotation file")
    fix = 'expected {"labels": [...], "database": {"<name>": {"subset": ..., "annotations": {"label": ...}}}}'
    if not (isinstance(raw, dict) and isinstance(raw.get("labels"), list) and isinstance(raw.get("database"), dict)
            and all(isinstance(name, str) for name in raw["labels"])):
        raise SentilocError(f"{path}: not an annotation file of the release; {fix}")
    classes = tuple(name.lower() for name in raw["labels"])
    rows = []
    for name, entry in raw["database"].items():
        where = f"{path} [{name[:60]}]"
        subset = entry.get("subset") if isinstance(entry, dict) else None
        label = entry.get("annotations", {}).get("label") if isinstance(entry, dict) and isinstance(
            entry.get("annotations"), dict) else None
        if subset not in SUBSETS or not isinstance(label, str) or label.lower() not in classes:
            raise SentilocError(f"{where}: needs a subset in {list(SUBSETS)} and a label of \"labels\"; {fix}")
        rows.append(LabelRow(_video_id(where, name), label.lower(), split=SUBSETS[subset]))
    return SplitImport(classes, {_json_split_number(path): rows})


def _json_split_number(path: Path) -> int:
    """The split number a JSON's name ends with (``ve8_03.json`` -> 3), else 1."""
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else 1


def _check(source: Path, fmt: str, imported: SplitImport) -> None:
    """The format's classes, and every split a partition of unique videos."""
    expected = RECOGNITION_FORMATS.get(fmt).classes
    if sorted(imported.classes) != sorted(expected):
        raise SentilocError(f"{source}: classes {list(imported.classes)}, but {fmt} has {list(expected)}; "
                            "choose the --format of these files")
    for number, rows in imported.splits.items():
        seen: dict[str, str] = {}
        for row in rows:
            if row.video_id in seen:
                raise SentilocError(f"{source}: split {number:02d} lists video {row.video_id!r} twice "
                                    f"({seen[row.video_id]} and {row.split}/{row.label}); video ids must be unique")
            seen[row.video_id] = f"{row.split}/{row.label}"


def import_splits(fmt: str, source: Path, out: Path, split: int = 1, all_splits: bool = False,
                  overwrite: bool = False) -> dict:
    """Write ``classes.txt`` and ``labels.csv`` (split ``split``) of ``source`` into ``out``; returns a summary.

    ``source`` is the folder of the split lists or one annotation JSON. With ``all_splits`` every
    split found is also written as ``labels_splitNN.csv``.
    """
    RECOGNITION_FORMATS.get(fmt)
    source = Path(source)
    if not source.exists():
        raise SentilocError(f"{source}: not found; pass the folder of the split lists or an annotation JSON")
    imported = import_lists(source) if source.is_dir() else import_json(regular_file(source, "annotation file"))
    _check(source, fmt, imported)
    if split not in imported.splits:
        raise SentilocError(f"--split {split}: {source} holds split(s) {sorted(imported.splits)}; choose one of them")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SentilocError(f"{out}: exists and is not a folder; choose another --out")
    files = {layout.CLASSES_FILE: classes_text(imported.classes), layout.LABELS_FILE: labels_csv(imported.splits[split])}
    if all_splits:
        files.update({f"labels_split{number:02d}.csv": labels_csv(rows) for number, rows in imported.splits.items()})
    for name in files:
        refuse_clobber(out / name, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        atomic_write_text(out / name, text)
    rows = imported.splits[split]
    return {
        "videos": len(rows),
        "classes": _counts(imported.classes, rows),
        "split": f"{split:02d}: {sum(r.split == 'train' for r in rows)} train, {sum(r.split == 'test' for r in rows)} test",
        "splits found": sorted(imported.splits),
        "written": list(files),
        "next": f"put features/<stream>/<video>.npy in {out} and run `sentiloc check-data {out}`",
    }


def _counts(classes: tuple[str, ...], rows: list[LabelRow]) -> Mapping[str, int]:
    return {name: sum(row.label == name for row in rows) for name in classes}
