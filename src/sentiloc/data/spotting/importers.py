"""``sentiloc import-annotations``: released spotting annotations -> the spotting layout (docs/spotting.md).

Three sources, one registry entry each:

* ``casme2``: the CAS(ME)² coding sheet (``.xlsx``, or a CSV export of it). Columns subject,
  video name with expression number (``anger1_1``), onset, apex, offset, ..., expression type
  (``macro-expression``/``micro-expression``); the released sheet has no header row, so without
  one the columns are taken by position (0, 1, 2, 3, 4 and 7). An offset of 0 means "no offset
  annotated": the offset is set to the apex.
* ``samm``: the SAMM-LV sheet (``.xlsx`` or CSV) with a header row holding ``Filename``,
  ``Onset``, ``Apex``, ``Offset``, ``Type`` (``Macro``/``Micro - 1/2``). ``006_1_3`` is expression 3
  of video ``006_1`` of subject ``006``. An apex of -1 means "no apex annotated": the middle frame
  is used.
* ``gim``: the ``<DS>-Annotations`` folder released with GIM (``videoname.npy``, ``segments.npy``
  ([start, end, apex] or [start, end]), ``labels.npy``, ``labels_gau_frame.npy``: the clicks).
  These are *pickled* NumPy object arrays, and unpickling can run arbitrary code, so they are
  read only with ``allow_pickle``.

Header names are matched without regard to case, spaces and punctuation; types are matched by
their first word (``Macro``, ``macro-expression``). Frames are copied as numbered in the source,
less ``first_frame`` (1 for sheets that count images from 1).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    atomic_write_text,
    id_problem,
    load_npy,
    read_text,
    refuse_clobber,
    regular_file,
)
from sentiloc.core.registry import Registry
from sentiloc.data.spotting import layout
from sentiloc.data.spotting.annotations import (
    Instance,
    Point,
    annotations_csv,
    csv_text,
    points_csv,
)
from sentiloc.data.spotting.batch import EXPRESSION_TYPES

#: Rows searched for a header row (the SAMM-LV sheet has a few lines of notes above it).
HEADER_ROWS = 20
#: The GIM annotation files the importer reads, by the field they hold.
GIM_FILES = {"videos": "videoname.npy", "segments": "segments.npy", "labels": "labels.npy", "clicks": "labels_gau_frame.npy"}
POINT_CHOICES = ("none", "apex", "released")


@dataclass
class ImportOptions:
    """How to import: the flags of ``sentiloc import-annotations``."""

    fps: float | None = None  # native frame rate for videos.csv (default: the format's)
    first_frame: int = 0  # subtracted from every frame (1 when the source counts images from 1)
    points: str | None = None  # none | apex | released (default: released for gim, none for sheets)
    allow_pickle: bool = False


@dataclass
class Imported:
    """What a source holds: instances and clicks per video, subjects, and what had to be filled in."""

    subjects: dict[str, str] = field(default_factory=dict)
    instances: dict[str, list[Instance]] = field(default_factory=dict)
    clicks: dict[str, list[Point]] | None = None
    filled: int = 0
    fps: float | None = None


@dataclass(frozen=True)
class SheetFormat:
    """Column names (normalised: lower case letters and digits) of one annotation sheet, and its conventions."""

    columns: dict[str, tuple[str, ...]]
    positions: dict[str, int] | None  # columns by position when the sheet has no header row
    fps: float
    ids: Callable[[str, str], tuple[str, str]]  # (subject cell, video cell) -> (video id, subject)
    missing: dict[str, int]  # a frame column whose value means "not annotated" -> that value


IMPORTERS: Registry[Callable[[Path, ImportOptions], Imported]] = Registry("annotation format", "--format")


def _normal(text: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _casme2_ids(subject: str, video: str) -> tuple[str, str]:
    """``(subject "1", video "anger1_1")`` -> (``"1_anger1"``, ``"1"``): the expression number is dropped."""
    name = re.sub(r"_\d+$", "", video)
    return f"{subject}_{name}", subject


def _samm_ids(_subject: str, video: str) -> tuple[str, str]:
    """``"006_1_3"`` -> (``"006_1"``, ``"006"``): subject, video, expression number."""
    parts = video.split("_")
    return "_".join(parts[:2]), parts[0]


CASME2 = SheetFormat(
    columns={"subject": ("subject", "participant", "sub"),
             "video": ("videonameexpressionnumber", "videoname", "video", "filename", "name"),
             "onset": ("onset", "onsetframe"), "apex": ("apex", "apexframe"), "offset": ("offset", "offsetframe"),
             "type": ("expressiontype", "type")},
    positions={"subject": 0, "video": 1, "onset": 2, "apex": 3, "offset": 4, "type": 7},
    fps=30.0, ids=_casme2_ids, missing={"offset": 0})
SAMM = SheetFormat(
    columns={"video": ("filename",), "onset": ("onset", "onsetframe"), "apex": ("apex", "apexframe"),
             "offset": ("offset", "offsetframe"), "type": ("type",)},
    positions=None, fps=200.0, ids=_samm_ids, missing={"apex": -1})


def read_sheet(path: Path) -> list[list[object]]:
    """The cells of a sheet's first worksheet (``.xlsx``) or of a CSV file, row by row."""
    path = regular_file(path, "annotation sheet")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            return list(csv.reader(io.StringIO(read_text(path, "annotation sheet"), newline="")))
        except csv.Error as exc:
            raise SentilocError(f"{path}: not a readable CSV file ({exc}); re-export the sheet as CSV") from None
    if suffix != ".xlsx":
        raise SentilocError(f"{path}: expected an .xlsx sheet or a .csv export of it; save the sheet as one of these")
    try:
        import openpyxl
    except ImportError:
        raise SentilocError(f"{path}: reading .xlsx needs openpyxl: pip install 'sentiloc[spotting]', "
                            "or export the sheet as CSV") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError, SyntaxError,
            openpyxl.utils.exceptions.InvalidFileException) as exc:  # SyntaxError: malformed XML inside
        raise SentilocError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}); "
                            "open and re-save it in a spreadsheet program, or export it as CSV") from None


def _column_map(path: Path, rows: list[list[object]], sheet: SheetFormat) -> tuple[dict[str, int], int]:
    """Column index of each field, and the index of the first data row."""
    for number, row in enumerate(rows[:HEADER_ROWS]):
        cells = [_normal(c) if c is not None else "" for c in row]
        if set(cells) & set(sheet.columns["onset"]) and set(cells) & set(sheet.columns["offset"]):
            found = {name: next((cells.index(a) for a in aliases if a in cells), None)
                     for name, aliases in sheet.columns.items()}
            missing = [name for name, index in found.items() if index is None]
            if missing:
                raise SentilocError(f"{path}: header row {number + 1} lacks column(s) {missing}; expected columns "
                                    f"named like {[aliases[0] for aliases in sheet.columns.values()]}")
            return found, number + 1
    if sheet.positions is None:
        raise SentilocError(f"{path}: no header row with Onset and Offset in the first {HEADER_ROWS} rows; "
                            "is this the right sheet for --format?")
    return dict(sheet.positions), 0


def _frame_cell(where: str, column: str, value: object) -> int:
    """A whole frame number from an xlsx number or CSV text (``12``, ``12.0``, ``"12"``)."""
    text = str(value).strip() if value is not None else ""
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not (abs(number) < 2**53 and number.is_integer()):
        raise SentilocError(f"{where}: {column} {text!r} is not a whole frame number; fix the sheet")
    return int(number)


def expression_type(where: str, value: object) -> str:
    """``"Macro"``, ``"macro-expression"``, ``"Micro - 1/2"`` -> ``"macro"``/``"micro"``."""
    text = _normal(value if value is not None else "")
    kind = next((k for k in EXPRESSION_TYPES if text.startswith(k)), None)
    if kind is None:
        raise SentilocError(f"{where}: expression type {value!r} is neither macro nor micro; fix the sheet")
    return kind


def _cell_text(value: object) -> str:
    """A cell as text; whole floats (xlsx numbers) without ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def import_sheet(path: Path, options: ImportOptions, sheet: SheetFormat) -> Imported:
    """Instances per video of a CAS(ME)²- or SAMM-LV-style sheet."""
    rows = read_sheet(path)
    columns, first = _column_map(path, rows, sheet)
    result = Imported(fps=sheet.fps)
    for number, row in enumerate(rows[first:], start=first + 1):
        cells = {name: row[index] if index < len(row) else None for name, index in columns.items()}
        if all(_cell_text(c) == "" for c in cells.values()):
            continue
        where = f"{path} row {number}"
        video_id, subject = sheet.ids(_cell_text(cells.get("subject")), _cell_text(cells["video"]))
        for name, value in (("video", video_id), ("subject", subject)):
            problem = id_problem(value)
            if problem:
                raise SentilocError(f"{where}: {problem.replace('video id', name, 1)}; fix the sheet")
        frames = {c: _frame_cell(where, c, cells[c]) for c in ("onset", "apex", "offset")}
        filled = [c for c, value in sheet.missing.items() if frames[c] == value]
        if "offset" in filled:
            frames["offset"] = frames["apex"]
        if "apex" in filled:
            frames["apex"] = (frames["onset"] + frames["offset"]) // 2
        result.filled += bool(filled)
        instance = _instance(where, frames, options.first_frame, expression_type(where, cells["type"]))
        result.subjects.setdefault(video_id, subject)
        result.instances.setdefault(video_id, []).append(instance)
    if not result.instances:
        raise SentilocError(f"{path}: no annotation rows; is this the right sheet for --format?")
    return result


def _instance(where: str, frames: dict[str, int], first_frame: int, kind: str) -> Instance:
    onset, apex, offset = (frames[c] - first_frame for c in ("onset", "apex", "offset"))
    if not 0 <= onset <= apex <= offset:
        raise SentilocError(f"{where}: onset {onset}, apex {apex}, offset {offset} (after --first-frame "
                            f"{first_frame}) are not 0 <= onset <= apex <= offset; fix the row or --first-frame")
    return Instance(onset, apex, offset, kind)


IMPORTERS.register("casme2")(lambda path, options: import_sheet(path, options, CASME2))
IMPORTERS.register("samm")(lambda path, options: import_sheet(path, options, SAMM))


def _load_pickled(path: Path, allow_pickle: bool) -> list:
    """A GIM annotation array as a list, unpickled only when ``allow_pickle``."""
    try:
        return load_npy(path).tolist()
    except SentilocError as exc:
        if "values, not numbers" not in str(exc):
            raise
        if "holds object values" not in str(exc):
            return np.load(path, allow_pickle=False).tolist()  # text arrays such as videoname: no pickle inside
    if not allow_pickle:
        raise SentilocError(f"{path}: a pickled NumPy object array, and unpickling a file can run arbitrary code; "
                            "pass --allow-pickle only for files from a source you trust")
    try:
        return np.load(path, allow_pickle=True).tolist()
    except Exception as exc:  # noqa: BLE001 - unpickling can fail with any exception type
        raise SentilocError(f"{path}: cannot unpickle it ({type(exc).__name__}); use the released GIM files") from None


@IMPORTERS.register("gim")
def import_gim(folder: Path, options: ImportOptions) -> Imported:
    """Instances and released clicks of a GIM ``<DS>-Annotations`` folder (frames on GIM's feature timeline)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SentilocError(f"{folder}: --format gim reads the <DS>-Annotations folder of GIM; pass that folder")
    arrays = {name: _load_pickled(regular_file(folder / file, f"GIM {file}"), options.allow_pickle)
              for name, file in GIM_FILES.items()}
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise SentilocError(f"{folder}: the files list different numbers of videos {lengths}; use one release's files")
    result = Imported(clicks={})
    for video, segments, labels, clicks in zip(*(arrays[name] for name in GIM_FILES)):
        video_id = str(video)
        where = f"{folder} [{video_id!r}]"
        problem = id_problem(video_id)
        if problem:
            raise SentilocError(f"{where}: {problem}; fix videoname.npy")
        if not (len(segments) == len(labels) == len(clicks)):
            raise SentilocError(f"{where}: {len(segments)} segments, {len(labels)} labels and {len(clicks)} clicks; "
                                "each instance needs one of each")
        instances, points = [], []
        for segment, label, click in zip(segments, labels, clicks):
            kind = expression_type(where, label)
            values = [_frame_cell(where, "segment", v) for v in segment]
            if len(values) not in (2, 3):
                raise SentilocError(f"{where}: segment {segment!r} is not [start, end] or [start, end, apex]")
            start, end = values[:2]
            result.filled += len(values) == 2
            apex = values[2] if len(values) == 3 else (start + end) // 2
            instances.append(_instance(where, {"onset": start, "apex": apex, "offset": end}, options.first_frame, kind))
            points.append(Point(_frame_cell(where, "click", click) - options.first_frame, kind))
        result.subjects[video_id] = video_id.split("_")[0]
        result.instances[video_id] = instances
        result.clicks[video_id] = points
    return result


def import_annotations(fmt: str, source: Path, out: Path, options: ImportOptions, overwrite: bool = False) -> dict:
    """Write ``annotations.csv``, ``videos.csv`` and (when chosen) ``points.csv`` of ``source`` into ``out``.

    ``n_frames`` is read from ``out/features/<video>.npy`` when it exists; otherwise the cell is
    left empty and the summary says so (``check-data`` will too). Returns a summary.
    """
    importer = IMPORTERS.get(fmt)
    points_choice = options.points or ("released" if fmt == "gim" else "none")
    if points_choice not in POINT_CHOICES:
        raise SentilocError(f"--points {points_choice!r}: choose one of {list(POINT_CHOICES)}")
    if options.fps is not None and not options.fps > 0:
        raise SentilocError(f"--fps {options.fps}: a positive frame rate")
    imported = importer(Path(source), options)
    if points_choice == "released" and imported.clicks is None:
        raise SentilocError(f"--points released: a {fmt} sheet has no clicks; use --points apex or none")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SentilocError(f"{out}: exists and is not a folder; choose another --out")
    clicks = {"none": None, "released": imported.clicks,
              "apex": {v: [Point(i.apex, i.type) for i in rows] for v, rows in imported.instances.items()}}[points_choice]
    names = [layout.VIDEOS_FILE, layout.ANNOTATIONS_FILE] + ([layout.POINTS_FILE] if clicks is not None else [])
    for name in names:
        refuse_clobber(out / name, overwrite)
    fps = options.fps or imported.fps
    n_frames = {v: _feature_rows(out, v) for v in imported.instances}
    files = {
        layout.VIDEOS_FILE: csv_text(layout.VIDEO_COLUMNS, [(v, imported.subjects[v], f"{fps:g}" if fps else "",
                                                            n_frames[v] or "") for v in imported.instances]),
        layout.ANNOTATIONS_FILE: annotations_csv(imported.instances),
    }
    if clicks is not None:
        files[layout.POINTS_FILE] = points_csv(clicks)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        atomic_write_text(out / name, text)
    missing = []
    if not fps:
        missing.append("fps (pass --fps, the native frame rate the frames count in)")
    unknown = [v for v, n in n_frames.items() if n is None]
    if unknown:
        missing.append(f"n_frames of {len(unknown)} video(s), e.g. {unknown[:3]} (put features/<video>.npy in "
                       f"{out} and import again, or fill the column of {layout.VIDEOS_FILE})")
    return {
        "videos": len(imported.instances),
        "subjects": len(set(imported.subjects.values())),
        "instances": {k: sum(i.type == k for rows in imported.instances.values() for i in rows) for k in EXPRESSION_TYPES},
        "clicks": sum(len(rows) for rows in clicks.values()) if clicks is not None else 0,
        "filled": imported.filled,
        "written": names,
        "missing": missing,
    }


def _feature_rows(out: Path, video_id: str) -> int | None:
    """Rows of ``out/features/<video>.npy`` (its header only), or None when there is no usable file."""
    path = layout.feature_path(out, video_id)
    if not path.is_file():
        return None
    shape = load_npy(path, out, mmap=True).shape
    return int(shape[0]) if len(shape) == 2 else None
