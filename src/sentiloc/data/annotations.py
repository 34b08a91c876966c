"""Parsing of the TSL-300 annotation files into plain typed records.

Every reader validates as it parses and raises :class:`SentilocError` naming the file, the
video and the fix. The readers are deliberately narrow: :func:`read_clicks` reads only the
``video_id``, ``class`` and ``point`` columns of a point file, so the annotator windows in
``start_frame``/``stop_frame`` (which would amount to full supervision) cannot reach a
point-level model.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem, load_json, read_text
from sentiloc.data import layout
from sentiloc.data.formats.activitynet import (
    Segment,
    finite_number,
    parse_ground_truth,
    raise_first,
)


@dataclass(frozen=True)
class Click:
    """A single-frame (point) annotation: a native frame index and a label."""

    frame: int
    label: str


@dataclass(frozen=True)
class VideoInfo:
    """What every part of the toolkit needs to know about one video."""

    video_id: str
    split: str
    fps: float
    duration_s: float


def read_split(root: Path, split: str) -> list[str]:
    """Video ids of ``split`` ("train" or "test"), one per line, validated as safe file names."""
    path = Path(root) / layout.SPLIT_FILES[split]
    lines = read_text(path, "split file (one video id per line)").splitlines()
    ids = [line.strip() for line in lines if line.strip()]
    for number, video_id in enumerate(ids, start=1):
        problem = id_problem(video_id)
        if problem:
            raise SentilocError(f"{path}:{number}: {problem}; video ids must be plain file names")
    duplicates = sorted({v for v in ids if ids.count(v) > 1})
    if duplicates:
        raise SentilocError(f"{path}: duplicate video ids {duplicates[:5]}; list each video once")
    return ids


def read_number_dict(root: Path, name: str, what: str) -> dict[str, float]:
    """Read ``{video: positive number}`` files such as ``fps_dict.json`` and ``len_duration_dict.json``."""
    path = Path(root) / name
    raw = load_json(path, what)
    if not isinstance(raw, dict):
        raise SentilocError(f"{path}: expected a JSON object {{video id: number}}; regenerate the file")
    result: dict[str, float] = {}
    for video_id, value in raw.items():
        try:
            number = finite_number(value)
        except (TypeError, ValueError):
            raise SentilocError(f"{path}: {what} of video {video_id!r} is {value!r}, not a number; fix that entry") from None
        if number <= 0:
            raise SentilocError(f"{path}: {what} of video {video_id!r} is {number}, must be positive; fix that entry")
        result[str(video_id)] = number
    return result


def read_segments(path: Path) -> dict[str, list[Segment]]:
    """Segments per video of a ``gt.json``-style file (:mod:`sentiloc.data.formats.activitynet`).

    Raises:
        SentilocError: at the first breach of the schema, naming the file, the video and the fix.
    """
    path = Path(path)
    videos, problems = parse_ground_truth(load_json(path, "annotation file"))
    raise_first(path, problems)
    return {video_id: video.segments for video_id, video in videos.items()}


def read_clicks(path: Path) -> dict[str, list[Click]]:
    """Point annotations of a TSL-300 point CSV: only ``video_id``, ``class`` and ``point`` are read."""
    path = Path(path)
    reader = csv.DictReader(io.StringIO(read_text(path, "point annotations (point supervision needs them)"), newline=""))
    missing = {"video_id", "class", "point"} - set(reader.fieldnames or ())
    if missing:
        raise SentilocError(
            f"{path}: point file lacks column(s) {sorted(missing)}; "
            f"expected the header {','.join(layout.POINT_COLUMNS)}"
        )
    clicks = _parse_clicks(path, reader)
    if not clicks:
        raise SentilocError(f"{path}: no clicks below the header; add one row per click (point supervision needs them)")
    return clicks


def frame_index(value: object) -> int | None:
    """A click's native frame index from its CSV cell, or None unless it is a whole number of safe size."""
    try:
        number = finite_number(value)
    except (TypeError, ValueError):
        return None
    if number != math.floor(number) or abs(number) > 2**53:
        return None
    return int(number)


def _parse_clicks(path: Path, rows: Iterable[dict[str, str]]) -> dict[str, list[Click]]:
    clicks: dict[str, list[Click]] = {}
    for line, row in enumerate(rows, start=2):
        video_id = (row.get("video_id") or "").strip()
        problem = id_problem(video_id)
        if problem:
            raise SentilocError(f"{path}:{line}: {problem}; video ids must be plain file names")
        frame = frame_index(row.get("point"))
        if frame is None:
            raise SentilocError(f"{path}:{line}: point {row.get('point')!r} is not a frame index; "
                                "write the clicked native frame as a whole number")
        clicks.setdefault(video_id, []).append(Click(frame, (row.get("class") or "").strip()))
    return clicks


def read_video_infos(root: Path, splits: Iterable[str] = ("train", "test")) -> dict[str, VideoInfo]:
    """Split, fps and duration of every listed video, with errors naming the file that lacks one."""
    root = Path(root)
    if not root.is_dir():
        raise SentilocError(f"{root}: dataset folder does not exist; pass the folder that holds gt.json")
    fps = read_number_dict(root, layout.FPS_FILE, "fps")
    durations = read_number_dict(root, layout.DURATION_FILE, "duration")
    infos: dict[str, VideoInfo] = {}
    for split in splits:
        for video_id in read_split(root, split):
            if video_id not in fps:
                raise SentilocError(f"{root / layout.FPS_FILE}: no fps for video {video_id!r}; add it")
            if video_id not in durations:
                raise SentilocError(f"{root / layout.DURATION_FILE}: no duration for video {video_id!r}; add it")
            infos[video_id] = VideoInfo(video_id, split, fps[video_id], durations[video_id])
    return infos


def read_extractor_record(root: Path) -> dict | None:
    """The extractor settings of a dataset built by ``sentiloc build-dataset``, None for other datasets.

    Trained checkpoints carry this record so that ``sentiloc localize`` extracts a new video
    exactly as the training videos were.
    """
    path = Path(root) / layout.EXTRACTOR_FILE
    if not path.is_file():
        return None
    record = load_json(path, "extractor record")
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise SentilocError(f"{path}: not an extractor record (no 'settings'); rebuild with `sentiloc build-dataset`")
    return record
