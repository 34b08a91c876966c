"""Typed readers of the recognition layout's annotation files (docs/recognition.md).

Each file has a lenient parser, ``parse_*``, that returns what it could read together with
*every* problem it found (``sentiloc check-data`` lists them all), and a strict reader,
``read_*``, that raises the first problem as a one-line :class:`SentilocError`:

* ``classes.txt``: one class name per line, the line order is the label index;
* ``labels.csv`` (or ``data.labels_file``): ``video,label`` plus a ``split`` (``train``/``test``)
  and/or a ``fold`` (``1..K``) column; an empty label marks an unlabelled test video;
* ``keyframes.json``: ``{video: [[first, last], ...]}``, 0-based inclusive segment indices;
* ``descriptions.json``: ``{class: ["a person showing ...", ...]}``.

Video ids must be plain file names (``core.io.id_problem``), as must stream names. The canonical
layout is exact: the importers translate released split lists into it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem, load_json, read_text
from sentiloc.data.recognition import layout
from sentiloc.data.spotting.annotations import csv_text, integer_cell, raise_first
from sentiloc.data.validate import Problem

#: Longest class name accepted (a longer line is a corrupt file, not a class).
MAX_CLASS_NAME = 200

#: An inclusive segment interval ``(first, last)``.
Span = tuple[int, int]


@dataclass(frozen=True)
class LabelRow:
    """One row of ``labels.csv``: a video, its class (None when unlabelled), and its split and fold when given."""

    video_id: str
    label: str | None
    split: str | None = None
    fold: int | None = None


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name (empty, padded, control characters, too long), or None."""
    if not name:
        return "empty class name"
    if name != name.strip():
        return f"class name {name!r} has leading or trailing white space"
    if len(name) > MAX_CLASS_NAME:
        return f"class name of {len(name)} characters (at most {MAX_CLASS_NAME})"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return f"class name {name!r} contains control or formatting characters"
    return None


def parse_classes(path: Path) -> tuple[tuple[str, ...], list[Problem]]:
    """``classes.txt``: the class names in line order, and every problem (blank lines, duplicates, < 2 classes).

    Trailing blank lines are ignored; a blank line between names would shift every later label
    index, so it is a problem. A file that is not UTF-8 or not a regular file raises.
    """
    lines = read_text(path, "class list (classes.txt)").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    problems: list[Problem] = []
    names: list[str] = []
    for number, name in enumerate(lines, start=1):
        problem = "blank line between class names" if not name.strip() else class_name_problem(name)
        if problem:
            problems.append(Problem(f"{path}:{number}", problem,
                                    "write one class name per line, without blank lines or padding"))
        elif name in names:
            problems.append(Problem(f"{path}:{number}", f"class {name!r} is listed twice", "list each class once"))
        else:
            names.append(name)
    if len(names) < 2 and not problems:
        problems.append(Problem(str(path), f"{len(names)} class(es)", "list at least two classes, one per line"))
    return tuple(names), problems


def _header_problem(path: Path, header: list[str]) -> Problem | None:
    """What is wrong with a labels header: a missing required column, an unknown or repeated one, no split or fold."""
    allowed = layout.LABEL_COLUMNS + layout.OPTIONAL_LABEL_COLUMNS
    fix = "use the header video,label,split (and/or fold)"
    missing = [c for c in layout.LABEL_COLUMNS if c not in header]
    if missing:
        return Problem(str(path), f"missing column(s) {missing} (header {header[:8]})", fix)
    extra = [c for c in header if c not in allowed]
    if extra:
        return Problem(str(path), f"unknown column(s) {extra[:5]}", f"keep only {list(allowed)}")
    repeated = sorted(c for c, n in Counter(header).items() if n > 1)
    if repeated:
        return Problem(str(path), f"column(s) {repeated} appear twice", "keep one of each")
    if not any(c in header for c in layout.OPTIONAL_LABEL_COLUMNS):
        return Problem(str(path), "neither a split nor a fold column",
                       "add a split column (train or test per video) or a fold column (1..K per video)")
    return None


def _label_row(where: str, cells: dict[str, str], classes: Sequence[str] | None,
               problems: list[Problem]) -> LabelRow | None:
    """One data row of the labels file, or None after recording its problems."""
    start = len(problems)
    video_id, label = cells["video"], cells["label"] or None
    problem = id_problem(video_id)
    if problem:
        problems.append(Problem(where, problem, "video ids must be plain file names without '/', '\\' or '..'"))
    split = cells.get("split")
    if split is not None and split not in layout.SPLITS:
        problems.append(Problem(where, f"split {split!r} is not one of {list(layout.SPLITS)}",
                                "write train or test in lower case"))
    fold = integer_cell(cells["fold"]) if "fold" in cells else None
    if "fold" in cells and (fold is None or fold < 1):
        problems.append(Problem(where, f"fold {cells['fold']!r} is not a whole number >= 1",
                                "number the folds 1..K"))
    if label is not None and classes is not None and label not in classes:
        problems.append(Problem(where, f"label {label!r} is not in {layout.CLASSES_FILE}",
                                f"use one of {list(classes)[:10]} or add the class to {layout.CLASSES_FILE}"))
    if label is None and split != "test":
        problems.append(Problem(where, f"video {video_id!r} has no label but is not a test video",
                                "label it; only rows with split test may leave the label empty"))
    return LabelRow(video_id, label, split, fold) if len(problems) == start else None


def parse_labels(path: Path, classes: Sequence[str] | None) -> tuple[dict[str, LabelRow], list[Problem]]:
    """The labels file: every readable row by video id, in file order, and every problem.

    Checked: the header (``video,label`` plus ``split`` and/or ``fold``, nothing else), ids, labels
    in ``classes`` (empty only for ``split`` ``test``; not checked when ``classes`` is None, i.e.
    ``classes.txt`` is unreadable), splits, folds ``1..K`` with none of them empty, duplicate
    videos. A file that is not UTF-8 or not a regular file raises.
    """
    path = Path(path)
    text = read_text(path, f"label list ({path.name})")
    rows: dict[str, LabelRow] = {}
    problems: list[Problem] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [cell.strip() for cell in next(reader, [])]
        problem = _header_problem(path, header)
        if problem:
            return {}, [problem]
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            where = f"{path}:{reader.line_num}"
            if len(cells) != len(header):
                problems.append(Problem(where, f"{len(cells)} cell(s) for {len(header)} column(s)",
                                        "write one cell per column (quote cells that hold commas)"))
                continue
            row = _label_row(where, {c: cell.strip() for c, cell in zip(header, cells)}, classes, problems)
            if row is not None and row.video_id in rows:
                problems.append(Problem(where, f"video {row.video_id!r} is listed twice", "list each video once"))
            elif row is not None:
                rows[row.video_id] = row
    except csv.Error as exc:
        return {}, [Problem(str(path), f"not a readable CSV file ({exc})", "re-save it as comma-separated UTF-8 text")]
    if not rows and not problems:
        problems.append(Problem(str(path), "no videos below the header", "add one row per video"))
    if "fold" in header:
        problems += _fold_problems(path, rows)
    return rows, problems


def _fold_problems(path: Path, rows: Mapping[str, LabelRow]) -> list[Problem]:
    """Folds must be ``1..K`` with every one of them holding a video."""
    folds = sorted({row.fold for row in rows.values() if row.fold is not None})
    empty = sorted(set(range(1, folds[-1] + 1)) - set(folds)) if folds else []
    if empty:
        return [Problem(str(path), f"fold(s) {empty[:10]} hold no video (folds found: {folds[:10]})",
                        f"number the folds 1..{len(folds)} without gaps")]
    return []


def folds_of(rows: Mapping[str, LabelRow]) -> list[int]:
    """The folds ``1..K`` that ``rows`` use (empty without a fold column)."""
    return sorted({row.fold for row in rows.values() if row.fold is not None})


#: No clip has this many segments; larger indices are refused before they reach float arithmetic.
MAX_SEGMENT_INDEX = 2**31 - 1


def _span(value: object) -> Span | None:
    """``[first, last]`` as a pair of whole numbers below :data:`MAX_SEGMENT_INDEX` (no bools, no floats), else None."""
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_SEGMENT_INDEX for v in value)):
        return int(value[0]), int(value[1])
    return None


def parse_keyframes(path: Path, videos: Mapping[str, object],
                    lengths: Mapping[str, int] | None = None) -> tuple[dict[str, list[Span]], list[Problem]]:
    """``keyframes.json``: inclusive spans per video, and every problem.

    Videos must be keys of ``videos`` (the labels file); with ``lengths`` (video -> segments ``T``)
    every span must satisfy ``0 <= first <= last < T``, else ``0 <= first <= last``. A file that
    is not UTF-8 JSON, or not a regular file, raises.
    """
    raw = load_json(path, "keyframes (keyframes.json)")
    fix = 'write {"video": [[first_segment, last_segment], ...]} with 0-based inclusive segment indices'
    if not isinstance(raw, dict):
        return {}, [Problem(str(path), "not a JSON object of videos", fix)]
    spans: dict[str, list[Span]] = {}
    problems: list[Problem] = []
    for video_id, entries in raw.items():
        where = f"{path} [{video_id}]"
        if video_id not in videos:
            problems.append(Problem(where, f"video {video_id!r} is not in the labels file", "remove it or label the video"))
            continue
        if not isinstance(entries, list):
            problems.append(Problem(where, f"{type(entries).__name__} instead of a list of [first, last]", fix))
            continue
        length = lengths.get(video_id) if lengths is not None else None
        good = []
        for entry in entries:
            span = _span(entry)
            if span is None or not 0 <= span[0] <= span[1] or (length is not None and span[1] >= length):
                limit = f" < {length} segments" if length is not None else ""
                problems.append(Problem(where, f"span {str(entry)[:60]} is not [first, last] with 0 <= first <= last{limit}",
                                        fix))
            else:
                good.append(span)
        spans[video_id] = good
    return spans, problems


def parse_descriptions(path: Path, classes: Sequence[str]) -> tuple[dict[str, list[str]], list[Problem]]:
    """``descriptions.json``: non-empty lists of non-empty texts per class, and every problem."""
    raw = load_json(path, "class descriptions (descriptions.json)")
    fix = 'write {"class": ["a person showing ...", ...]} with classes of classes.txt'
    if not isinstance(raw, dict):
        return {}, [Problem(str(path), "not a JSON object of classes", fix)]
    texts: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for name, values in raw.items():
        where = f"{path} [{name}]"
        if name not in classes:
            problems.append(Problem(where, f"class {name!r} is not in {layout.CLASSES_FILE}", fix))
        elif not (isinstance(values, list) and values and all(isinstance(v, str) and v.strip() for v in values)):
            problems.append(Problem(where, "not a non-empty list of non-empty texts", fix))
        else:
            texts[name] = list(values)
    return texts, problems


def read_classes(root: Path) -> tuple[str, ...]:
    """The classes of ``root/classes.txt`` in label-index order, or a one-line error at the first problem."""
    classes, problems = parse_classes(Path(root) / layout.CLASSES_FILE)
    raise_first(problems)
    return classes


def labels_path(root: Path, labels_file: str = layout.LABELS_FILE) -> Path:
    """``root/labels_file``; the name must be a bare file name (``data.labels_file`` is checked the same way)."""
    problem = id_problem(labels_file)
    if problem:
        raise SentilocError(f"data.labels_file {labels_file!r}: {problem.replace('video id', 'file name', 1)}; "
                            "name a file inside the dataset folder, e.g. labels.csv")
    return Path(root) / labels_file


def read_labels(root: Path, classes: Sequence[str], labels_file: str = layout.LABELS_FILE) -> dict[str, LabelRow]:
    """The rows of ``root/labels_file`` by video, or a one-line error at the first problem."""
    rows, problems = parse_labels(labels_path(root, labels_file), classes)
    raise_first(problems)
    return rows


def read_keyframes(root: Path, videos: Mapping[str, object]) -> dict[str, list[Span]] | None:
    """The spans of ``root/keyframes.json`` (None when the file is absent), or a one-line error."""
    path = Path(root) / layout.KEYFRAMES_FILE
    if not path.exists() and not path.is_symlink():
        return None
    spans, problems = parse_keyframes(path, videos)
    raise_first(problems)
    return spans


def read_descriptions(root: Path, classes: Sequence[str]) -> dict[str, list[str]] | None:
    """The texts of ``root/descriptions.json`` (None when the file is absent), or a one-line error."""
    path = Path(root) / layout.DESCRIPTIONS_FILE
    if not path.exists() and not path.is_symlink():
        return None
    texts, problems = parse_descriptions(path, classes)
    raise_first(problems)
    return texts


def classes_text(classes: Sequence[str]) -> str:
    """The text of ``classes.txt``: one name per line."""
    return "".join(f"{name}\n" for name in classes)


def labels_csv(rows: Sequence[LabelRow]) -> str:
    """The text of a labels file for ``rows``, with the split and fold columns that any row uses."""
    optional = [c for c in layout.OPTIONAL_LABEL_COLUMNS if any(getattr(row, c) is not None for row in rows)]
    return csv_text(layout.LABEL_COLUMNS + tuple(optional),
                    [(row.video_id, row.label or "", *("" if getattr(row, c) is None else getattr(row, c)
                                                       for c in optional)) for row in rows])
