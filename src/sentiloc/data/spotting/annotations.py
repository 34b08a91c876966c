"""Typed readers of the spotting layout's CSV files (docs/spotting.md).

Each file has a lenient parser, ``parse_*``, that returns the rows it could read together with
*every* problem it found (``sentiloc check-data`` lists them all), and a strict reader,
``read_*``, that raises the first problem as a one-line :class:`SentilocError`. Frames are native
frame indices, inclusive, inside ``[0, n_frames - 1]``; video ids and subjects must be plain file
names (``core.io.id_problem``). The canonical layout is exact: ``type`` is ``macro`` or
``micro`` in lower case (the importers translate the spellings of the released sheets).

:func:`read_points` reads only ``points.csv``; it never opens ``annotations.csv``, so onsets and
offsets cannot reach a point-supervised model.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem, read_text
from sentiloc.data.formats.activitynet import finite_number
from sentiloc.data.spotting import layout
from sentiloc.data.spotting.batch import EXPRESSION_TYPES
from sentiloc.data.validate import Problem

_INTEGER = re.compile(r"[+-]?\d{1,15}")


@dataclass(frozen=True)
class SpottingVideo:
    """One row of ``videos.csv``: a video, whose face it shows, and its native frame rate and length."""

    video_id: str
    subject: str
    fps: float
    n_frames: int


@dataclass(frozen=True)
class Instance:
    """One annotated expression: native frames ``onset <= apex <= offset`` (inclusive) and its type."""

    onset: int
    apex: int
    offset: int
    type: str


@dataclass(frozen=True)
class Point:
    """One click: a native frame inside an expression, and the expression's type."""

    frame: int
    type: str


Rows = list[tuple[str, dict[str, str]]]


def integer_cell(value: object) -> int | None:
    """The whole number a CSV cell spells (``"12"``, ``" -3 "``), else None (``"12.5"``, ``"1e3"``, ``""``)."""
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if _INTEGER.fullmatch(text) else None


def positive_number(value: object) -> float | None:
    """The positive finite number a cell holds, else None."""
    try:
        number = finite_number(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def read_table(path: Path, what: str, columns: tuple[str, ...]) -> tuple[Rows, list[Problem]]:
    """The non-blank rows of a CSV file as ``(where, {column: stripped cell})``, and the problems of its shape.

    ``where`` is ``"path:line"``. Header names are compared after stripping white space; a file
    that is not UTF-8, or not a regular file, raises (the caller decides whether to stop).
    """
    path = Path(path)
    text = read_text(path, what)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [cell.strip() for cell in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            return [], [Problem(str(path), f"missing column(s) {missing} (header {header[:8]})",
                                f"use the header {','.join(columns)}")]
        index = {c: header.index(c) for c in columns}
        rows: Rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            rows.append((f"{path}:{reader.line_num}",
                         {c: cells[i].strip() if i < len(cells) else "" for c, i in index.items()}))
    except csv.Error as exc:
        return [], [Problem(str(path), f"not a readable CSV file ({exc})", "re-save it as comma-separated UTF-8 text")]
    return rows, []


def _id(where: str, row: dict[str, str], column: str, problems: list[Problem]) -> str | None:
    value = row[column]
    problem = id_problem(value)
    if problem:
        problems.append(Problem(where, problem.replace("video id", column, 1),
                                f"a {column} must be a plain file name without '/', '\\' or '..'"))
        return None
    return value


def parse_videos(path: Path) -> tuple[dict[str, SpottingVideo], list[Problem]]:
    """``videos.csv``: every readable video and every problem (bad ids, fps, n_frames, duplicates)."""
    rows, problems = read_table(path, "video list (videos.csv)", layout.VIDEO_COLUMNS)
    videos: dict[str, SpottingVideo] = {}
    for where, row in rows:
        video_id, subject = _id(where, row, "video", problems), _id(where, row, "subject", problems)
        fps, n_frames = positive_number(row["fps"]), integer_cell(row["n_frames"])
        if fps is None:
            problems.append(Problem(where, f"fps {row['fps']!r} is not a positive number", "write the native frame rate"))
        if n_frames is None or n_frames < 1:
            problems.append(Problem(where, f"n_frames {row['n_frames']!r} is not a whole number >= 1",
                                    "write the video's number of frames (the feature file's rows)"))
        if video_id is not None and video_id in videos:
            problems.append(Problem(where, f"video {video_id!r} is listed twice", "list each video once"))
        elif None not in (video_id, subject, fps, n_frames) and n_frames >= 1:
            videos[video_id] = SpottingVideo(video_id, subject, fps, n_frames)
    if not rows and not problems:
        problems.append(Problem(str(path), "no videos below the header", "add one row per video"))
    return videos, problems


def _frame(where: str, row: dict[str, str], column: str, video: SpottingVideo | None,
           problems: list[Problem]) -> int | None:
    value = integer_cell(row[column])
    if value is None:
        problems.append(Problem(where, f"{column} {row[column]!r} is not a whole frame number",
                                "write native frame indices as integers"))
        return None
    if video is not None and not 0 <= value < video.n_frames:
        problems.append(Problem(where, f"{column} {value} lies outside video {video.video_id!r} "
                                f"(frames 0..{video.n_frames - 1})", "frames are 0-based native frame indices; fix the row"))
        return None
    return value


def _video_and_type(where: str, row: dict[str, str], videos: Mapping[str, SpottingVideo],
                    problems: list[Problem]) -> tuple[str | None, SpottingVideo | None, str | None]:
    video_id = _id(where, row, "video", problems)
    video = videos.get(video_id) if video_id is not None else None
    if video_id is not None and video is None:
        problems.append(Problem(where, f"video {video_id!r} is not in {layout.VIDEOS_FILE}",
                                f"add the video to {layout.VIDEOS_FILE} or remove the row"))
    kind = row["type"] if row["type"] in EXPRESSION_TYPES else None
    if kind is None:
        problems.append(Problem(where, f"type {row['type']!r} is not one of {list(EXPRESSION_TYPES)}",
                                "write macro or micro in lower case (`sentiloc import-annotations` converts released sheets)"))
    return video_id, video, kind


def parse_annotations(path: Path, videos: Mapping[str, SpottingVideo]) -> tuple[dict[str, list[Instance]], list[Problem]]:
    """``annotations.csv``: instances per video (videos without any get an empty list) and every problem."""
    rows, problems = read_table(path, "annotations (annotations.csv)", layout.ANNOTATION_COLUMNS)
    instances: dict[str, list[Instance]] = {video_id: [] for video_id in videos}
    for where, row in rows:
        video_id, video, kind = _video_and_type(where, row, videos, problems)
        onset, apex, offset = (_frame(where, row, c, video, problems) for c in ("onset", "apex", "offset"))
        if None in (onset, apex, offset):
            continue
        if not onset <= apex <= offset:
            problems.append(Problem(where, f"onset {onset}, apex {apex}, offset {offset} are not in order",
                                    "an instance needs onset <= apex <= offset"))
        elif video is not None and kind is not None:
            instances[video_id].append(Instance(onset, apex, offset, kind))
    return instances, problems


def parse_points(path: Path, videos: Mapping[str, SpottingVideo]) -> tuple[dict[str, list[Point]], list[Problem]]:
    """``points.csv``: clicks per video (videos without any get an empty list) and every problem."""
    rows, problems = read_table(path, "clicks (points.csv, point supervision needs them)", layout.POINT_COLUMNS)
    points: dict[str, list[Point]] = {video_id: [] for video_id in videos}
    for where, row in rows:
        video_id, video, kind = _video_and_type(where, row, videos, problems)
        frame = _frame(where, row, "frame", video, problems)
        if video is not None and kind is not None and frame is not None:
            points[video_id].append(Point(frame, kind))
    if not rows and not problems:
        problems.append(Problem(str(path), "no clicks below the header", "add one row per expression instance"))
    return points, problems


def raise_first(problems: list[Problem]) -> None:
    """Raise the first problem as a one-line error (with how many more there are)."""
    if problems:
        more = f" (and {len(problems) - 1} more; `sentiloc check-data` lists them)" if len(problems) > 1 else ""
        raise SentilocError(f"{problems[0]}{more}")


def read_videos(root: Path) -> dict[str, SpottingVideo]:
    """The videos of ``root/videos.csv``, or a one-line error at the first problem."""
    videos, problems = parse_videos(Path(root) / layout.VIDEOS_FILE)
    raise_first(problems)
    return videos


def read_annotations(root: Path, videos: Mapping[str, SpottingVideo]) -> dict[str, list[Instance]]:
    """The instances of ``root/annotations.csv`` per video of ``videos``, or a one-line error."""
    instances, problems = parse_annotations(Path(root) / layout.ANNOTATIONS_FILE, videos)
    raise_first(problems)
    return instances


def read_points(root: Path, videos: Mapping[str, SpottingVideo]) -> dict[str, list[Point]]:
    """The clicks of ``root/points.csv`` per video of ``videos`` (only this file is opened), or a one-line error."""
    points, problems = parse_points(Path(root) / layout.POINTS_FILE, videos)
    raise_first(problems)
    return points


def read_ground_truth(root: Path) -> dict[str, dict]:
    """The evaluator's ground truth: ``{video: {subject, fps, n_frames, instances: [{onset, apex, offset, type}]}}``."""
    videos = read_videos(root)
    instances = read_annotations(root, videos)
    return {
        video_id: {"subject": video.subject, "fps": video.fps, "n_frames": video.n_frames,
                   "instances": [{"onset": i.onset, "apex": i.apex, "offset": i.offset, "type": i.type}
                                 for i in instances[video_id]]}
        for video_id, video in videos.items()
    }


def csv_text(header: tuple[str, ...], rows: list[tuple]) -> str:
    """The text of a CSV file in this layout: ``header``, then ``rows``, with ``\\n`` line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def annotations_csv(instances: Mapping[str, Sequence[Instance]]) -> str:
    """The text of ``annotations.csv`` for ``{video: instances}``."""
    return csv_text(layout.ANNOTATION_COLUMNS, [(video, i.onset, i.apex, i.offset, i.type)
                                                for video, rows in instances.items() for i in rows])


def points_csv(points: Mapping[str, Sequence[Point]]) -> str:
    """The text of ``points.csv`` for ``{video: clicks}``."""
    return csv_text(layout.POINT_COLUMNS, [(video, p.frame, p.type) for video, rows in points.items() for p in rows])
