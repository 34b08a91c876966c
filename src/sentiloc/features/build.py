"""``sentiloc build-dataset``: a folder of videos + one annotation CSV -> the TSL-300 layout.

The annotation CSV is what people actually write by hand or export from an annotation tool, in
seconds, one row per segment or per click::

    video,label,start,end,time,split
    interview01,p,12.5,19.0,,
    interview01,p,,,15.2,
    interview02,n,3.0,8.4,,test

``label`` is ``p``/``n`` (or ``positive``/``negative``); a row with ``start`` and ``end`` is a
segment, a row with ``time`` is a click (point label); ``split`` (``train``/``test``, optional) may
be given per video, otherwise a seeded ``test_fraction`` of all videos becomes the test split,
drawn from those that have segments (only they can be evaluated). Segments feed ``videosenti_gt.json`` (full supervision)
and, for test videos, ``gt.json``; clicks of training videos feed ``point_gaussian/point_labels.csv``
in native frames, exactly like TSL-300's files. Other columns are ignored, and a row whose ``kind``
column is neither empty nor ``click`` (the ``rejected`` and ``done`` rows of ``sentiloc annotate``'s
label files) is skipped.

Features are extracted into ``OUT/extracted`` (resumable, see :mod:`sentiloc.features.batch`)
and hard-linked into ``OUT/features/<split>/``; ``OUT/extractor.json`` records the extractor
settings, so models trained on the dataset carry them into ``sentiloc localize``.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_json, atomic_write_text, id_problem, load_json
from sentiloc.data import layout
from sentiloc.data.annotations import Segment, finite_number
from sentiloc.data.validate import check_dataset
from sentiloc.features.batch import expand_inputs, extract_videos, unique_ids
from sentiloc.features.extract import META_DIR, finished_meta, stream_path
from sentiloc.features.settings import ExtractSettings

EXTRACTED_DIR = "extracted"
LABEL_ALIASES = {"p": "p", "positive": "p", "pos": "p", "n": "n", "negative": "n", "neg": "n"}


@dataclass
class VideoAnnotations:
    """One video's rows of the annotation CSV."""

    segments: list[Segment] = field(default_factory=list)
    clicks: list[tuple[float, str]] = field(default_factory=list)
    split: str | None = None


def _cell(row: dict, name: str) -> str:
    return (row.get(name) or "").strip()


def _seconds(path: Path, line: int, name: str, text: str) -> float:
    try:
        value = finite_number(text)
    except ValueError:
        raise SentilocError(f"{path}:{line}: {name} {text!r} is not a number of seconds; fix that row") from None
    if value < 0:
        raise SentilocError(f"{path}:{line}: {name} {value} is negative; times are seconds from the start")
    return value


def read_annotation_csv(path: Path) -> dict[str, VideoAnnotations]:
    """Parse the annotation CSV (see the module docstring), validating every row."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's "CSV UTF-8" has a BOM
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            if not {"video", "label"} <= columns or not ({"start", "end"} <= columns or "time" in columns):
                raise SentilocError(f"{path}: needs the columns video,label and start,end (segments) and/or time "
                                    "(clicks), optionally split; see `sentiloc build-dataset --help`")
            rows = list(enumerate(reader, start=2))
    except FileNotFoundError:
        raise SentilocError(f"{path}: annotation file not found; check the path") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SentilocError(f"{path}: unreadable CSV ({exc}); save it as UTF-8 CSV") from None
    videos: dict[str, VideoAnnotations] = {}
    for line, row in rows:
        if _cell(row, "kind") not in ("", "click"):
            continue
        video_id = _cell(row, "video")
        problem = id_problem(video_id)
        if problem:
            raise SentilocError(f"{path}:{line}: {problem}; use the video's file name without extension")
        label = LABEL_ALIASES.get(_cell(row, "label").lower())
        if label is None:
            raise SentilocError(f"{path}:{line}: label {_cell(row, 'label')!r}; use p or n (positive/negative)")
        entry = videos.setdefault(video_id, VideoAnnotations())
        split = _cell(row, "split")
        if split:
            if split not in layout.SPLIT_FILES:
                raise SentilocError(f"{path}:{line}: split {split!r}; use train or test (or leave it empty)")
            if entry.split not in (None, split):
                raise SentilocError(f"{path}:{line}: video {video_id!r} is in both splits; give it one")
            entry.split = split
        start, end, time = _cell(row, "start"), _cell(row, "end"), _cell(row, "time")
        if start or end:
            first, last = _seconds(path, line, "start", start), _seconds(path, line, "end", end)
            if last <= first:
                raise SentilocError(f"{path}:{line}: segment [{first}, {last}] ends before it starts; fix that row")
            entry.segments.append(Segment(first, last, label))
        if time:
            entry.clicks.append((_seconds(path, line, "time", time), label))
        if not (start or end or time):
            raise SentilocError(f"{path}:{line}: neither start,end nor time is filled; a row is a segment or a click")
    if not videos:
        raise SentilocError(f"{path}: no annotation rows")
    return videos


def assign_splits(annotations: dict[str, VideoAnnotations], test_fraction: float, seed: int) -> dict[str, str]:
    """Each video's split: as given, else a seeded ``test_fraction`` of the videos with segments."""
    if not 0.0 <= test_fraction < 1.0:
        raise SentilocError(f"--test-fraction {test_fraction}: between 0 and 1 (exclusive)")
    splits = {vid: a.split for vid, a in annotations.items() if a.split}
    free = sorted(vid for vid, a in annotations.items() if not a.split and a.segments)
    n_test = int(round(test_fraction * len(annotations))) - sum(s == "test" for s in splits.values())
    test = set(np.random.default_rng(seed).permutation(free)[: max(0, min(n_test, len(free)))].tolist())
    return {vid: splits.get(vid) or ("test" if vid in test else "train") for vid in annotations}


def _link(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (a copy where links are impossible), replacing ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _gt_entry(split: str, segments: Sequence[Segment]) -> dict:
    return {"subset": split, "annotations": [
        {"segment": [f"{s.start_s:.3f}", f"{s.end_s:.3f}"], "label": s.label} for s in segments]}


#: Segment ends may overrun the video by this much (annotation tools round up); they are clipped.
END_SLACK_S = 1.0


def _within(video_id: str, segments: Sequence[Segment], duration_s: float, source: Path) -> list[Segment]:
    """Segments clipped to the video's end; a segment starting after it, or ending far past it, is an error."""
    kept = []
    for seg in segments:
        if seg.start_s >= duration_s or seg.end_s > duration_s + END_SLACK_S:
            raise SentilocError(f"{source}: segment [{seg.start_s}, {seg.end_s}] of video {video_id!r} runs past its "
                                f"end ({duration_s:.2f} s); fix that row or check the video file")
        kept.append(Segment(seg.start_s, min(seg.end_s, duration_s), seg.label))
    return kept


def _point_rows(video_id: str, clicks: Sequence[tuple[float, str]], fps: float, n_frames: int, source: Path) -> list[str]:
    rows = []
    for time_s, label in clicks:
        frame = int(math.floor(time_s * fps))
        if frame >= n_frames:
            raise SentilocError(f"{source}: click at {time_s} s of video {video_id!r} is past its end "
                                f"({n_frames / fps:.2f} s); fix that row")
        index = layout.CLASS_NAMES.index(label)
        rows.append(f"{label},{index},{frame},{frame},{video_id},{frame}")
    return rows


def _built_with(out: Path) -> dict | None:
    """The extractor settings of an earlier (possibly unfinished) build into ``out``, if there was one."""
    record = out / layout.EXTRACTOR_FILE
    if record.is_file():
        return load_json(record, "extractor record").get("settings")
    metas = sorted((out / EXTRACTED_DIR / META_DIR).glob("*.json"))
    return load_json(metas[0], "extraction metadata").get("settings") if metas else None


def _check_settings(out: Path, settings: ExtractSettings, overwrite: bool) -> None:
    """Continue a build (finished or interrupted) only with the same settings; never clobber a foreign folder."""
    earlier = _built_with(out)
    if earlier is not None:
        if earlier != settings.to_dict() and not overwrite:
            raise SentilocError(f"{out}: this dataset was built with other extractor settings ({earlier}); "
                                "use a new --out or pass --overwrite to rebuild it")
    elif out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SentilocError(f"{out}: folder is not empty and not a sentiloc-built dataset; choose a new --out "
                            "or pass --overwrite")


def build_dataset(
    videos: Sequence[Path], annotation_file: Path, out: Path, settings: ExtractSettings,
    test_fraction: float = 0.2, seed: int = 0, workers: int = 1, overwrite: bool = False, progress: bool = True,
    device: str = "cpu", executor: str | None = None, executor_options: Mapping[str, Any] | None = None,
) -> dict:
    """Extract the annotated videos and write the TSL-300 layout; returns a summary.

    ``executor`` and ``executor_options`` choose what runs the extraction, as for
    :func:`~sentiloc.features.batch.extract_videos`.
    """
    out = Path(out)
    annotations = read_annotation_csv(annotation_file)
    files = unique_ids(expand_inputs(videos))
    missing = sorted(set(annotations) - set(files))
    if missing:
        raise SentilocError(f"{annotation_file}: no video file for {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
                            "add the files or remove their rows")
    _check_settings(out, settings, overwrite)
    splits = assign_splits(annotations, test_fraction, seed)
    extracted = out / EXTRACTED_DIR
    report = extract_videos([files[v] for v in sorted(annotations)], extracted, settings, workers,
                            overwrite=overwrite, progress=progress, device=device, executor=executor,
                            executor_options=executor_options)
    if report.failed:
        raise SentilocError("some videos could not be extracted (rerun to retry only those):\n" + report.format())
    metas = {vid: finished_meta(extracted, vid) for vid in annotations}
    for video_id, split in splits.items():
        for stream in layout.DEFAULT_MODALITIES:
            _link(stream_path(extracted, stream, video_id), layout.feature_path(out, split, stream, video_id))
            for other in set(layout.SPLIT_FILES) - {split}:  # a rebuild may have moved the video
                layout.feature_path(out, other, stream, video_id).unlink(missing_ok=True)
    _write_layout(out, annotations, splits, metas, annotation_file)
    streams = metas[min(metas)]["extractors"]  # every video was extracted with these settings
    atomic_write_json(out / layout.EXTRACTOR_FILE, {"settings": settings.to_dict(), "streams": streams})
    check = check_dataset(out)
    if not check.ok:
        raise SentilocError(f"{out}: the built dataset does not validate:\n{check.format()}")
    return {
        "videos": {s: sum(v == s for v in splits.values()) for s in layout.SPLIT_FILES},
        "segments": sum(len(a.segments) for a in annotations.values()),
        "clicks": sum(len(a.clicks) for vid, a in annotations.items() if splits[vid] == "train"),
        "unannotated videos ignored": sorted(set(files) - set(annotations)),
        "extracted": len(report.extracted), "reused": len(report.skipped),
    }


def _write_layout(out: Path, annotations: dict[str, VideoAnnotations], splits: dict[str, str],
                  metas: dict[str, dict], source: Path) -> None:
    ids = sorted(annotations)
    for split, name in layout.SPLIT_FILES.items():
        atomic_write_text(out / name, "".join(f"{v}\n" for v in ids if splits[v] == split))
    atomic_write_json(out / layout.FPS_FILE, {v: metas[v]["fps"] for v in ids})
    atomic_write_json(out / layout.DURATION_FILE, {v: metas[v]["duration"] for v in ids})
    atomic_write_json(out / layout.TEST_DURATION_FILE, {v: metas[v]["duration"] for v in ids if splits[v] == "test"})
    for v in ids:
        annotations[v].segments = _within(v, annotations[v].segments, metas[v]["duration"], source)
    atomic_write_json(out / layout.DENSE_GT_FILE,
                      {"database": {v: _gt_entry(splits[v], annotations[v].segments) for v in ids}})
    atomic_write_json(out / layout.GT_FILE, {"database": {
        v: _gt_entry(splits[v], annotations[v].segments if splits[v] == "test" else []) for v in ids}})
    points = [",".join(layout.POINT_COLUMNS)]
    for v in ids:
        if splits[v] == "train":
            points += _point_rows(v, annotations[v].clicks, metas[v]["fps"], metas[v]["n_frames"], source)
    atomic_write_text(out / layout.POINT_FILE, "\n".join(points) + "\n")
