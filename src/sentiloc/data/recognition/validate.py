"""``sentiloc check-data`` for the recognition layout: every problem of a folder at once, each naming file and fix.

Like :func:`sentiloc.data.validate.check_dataset` (whose :class:`~sentiloc.data.validate.CheckReport`
it returns), the checker keeps going after a problem and never raises for bad content; only a
missing dataset folder is fatal. :func:`require_valid_recognition` is the same check for the verbs
that read a recognition dataset: what check-data calls a problem, no verb accepts. Feature files
are opened through ``core.io.load_npy`` (regular files inside the dataset only, headers checked
before reading, never unpickled); no file is opened before it is known to be a regular file, so a
FIFO never blocks the check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem, load_npy
from sentiloc.data.dataset import feature_problem
from sentiloc.data.recognition import layout
from sentiloc.data.recognition.annotations import (
    LabelRow,
    folds_of,
    labels_path,
    parse_classes,
    parse_descriptions,
    parse_keyframes,
    parse_labels,
)
from sentiloc.data.recognition.dataset import RecognitionDataConfig
from sentiloc.data.validate import CheckReport

T = TypeVar("T")

def check_recognition_dataset(root: Path, streams: Sequence[str] | None = None,
                              labels_file: str = layout.LABELS_FILE) -> CheckReport:
    """Check a recognition-layout folder: classes, labels, every stream's feature files, keyframes, descriptions.

    ``streams`` are the stream folders a config reads (``data.streams``); None checks every folder
    under ``features/``. ``labels_file`` is ``data.labels_file``.
    """
    root = Path(root)
    if not root.is_dir():
        raise SentilocError(f"{root}: dataset folder not found; pass the folder that holds {layout.CLASSES_FILE}")
    report = CheckReport(root)
    classes = _parse(report, root / layout.CLASSES_FILE, parse_classes, "write one class name per line")
    labels_at = labels_path(root, labels_file)
    rows = _parse(report, labels_at, lambda p: parse_labels(p, classes),
                  "write it with the header video,label,split (or fold), one row per video") or {}
    names = _streams(report, root, streams)
    lengths, dims = _check_features(report, root, names, rows)
    keyframes = _parse(report, root / layout.KEYFRAMES_FILE, lambda p: parse_keyframes(p, rows, lengths),
                       "fix the entry", optional="only keyframe detection scores need it")
    descriptions = root / layout.DESCRIPTIONS_FILE
    if descriptions.exists() or descriptions.is_symlink():
        _parse(report, descriptions, lambda p: parse_descriptions(p, classes or ()), "fix the entry")
    report.summary = {**_summary(classes or (), rows, dims, lengths), **report.summary}
    if keyframes is not None:
        report.summary["keyframes"] = f"{sum(map(len, keyframes.values()))} span(s) in {len(keyframes)} video(s)"
    return report


def require_valid_recognition(root: Path, cfg: RecognitionDataConfig) -> CheckReport:
    """:func:`check_recognition_dataset` for ``cfg``'s streams and labels file, raising its first problem in one line."""
    return check_recognition_dataset(root, cfg.streams, cfg.labels_file).raise_first()


def _parse(report: CheckReport, path: Path, parse: Callable[[Path], tuple[T, list]], fix: str,
           optional: str | None = None) -> T | None:
    """Run a lenient parser, recording its problems; a missing file is a problem, or a warning when ``optional`` says why."""
    if not path.exists() and not path.is_symlink():
        if optional:
            report.warnings.append(f"{path}: not present ({optional})")
        else:
            report.add(path, "file missing", fix)
        return None
    try:
        parsed, problems = parse(path)
    except SentilocError as exc:
        report.add_error(path, exc, fix)
        return None
    report.problems.extend(problems)
    return parsed


def _streams(report: CheckReport, root: Path, streams: Sequence[str] | None) -> list[str]:
    """The stream folders to check: ``streams``, or every folder under ``features/``; missing ones are problems."""
    features = root / layout.FEATURES_DIR
    if not features.is_dir():
        report.add(features, "folder missing", "put each stream's features in features/<stream>/<video>.npy")
        return []
    if streams is None:
        found = sorted(p.name for p in features.iterdir() if p.is_dir() and id_problem(p.name) is None)
        if not found:
            report.add(features, "no stream folders", "put each stream's features in features/<stream>/<video>.npy")
        return found
    good = []
    for stream in streams:
        problem = id_problem(stream)
        if problem:
            report.add(features, problem.replace("video id", "stream name", 1), "name a folder under features/")
        elif not (features / stream).is_dir():
            present = sorted(p.name for p in features.iterdir() if p.is_dir())
            report.add(features / stream, "stream folder missing",
                       f"extract the stream or set data.streams to folders that exist ({present[:6]})")
        else:
            good.append(stream)
    return good


def _feature_file(report: CheckReport, root: Path, stream: str, video_id: str) -> tuple[int, int] | None:
    """``(T, D)`` of one usable feature file; a problem (and None) when it is missing or unusable."""
    path = layout.feature_path(root, stream, video_id)
    if not path.exists() and not path.is_symlink():
        report.add(path, "feature file missing", f"extract stream {stream!r} for this video or remove it from the labels file")
        return None
    try:
        rows = load_npy(path, root, mmap=True)
    except SentilocError as exc:
        report.add_error(path, exc, "re-save it with numpy.save")
        return None
    problem = feature_problem(rows)
    if problem is None and not np.issubdtype(rows.dtype, np.floating):
        problem = f"holds {rows.dtype} values, not floats"
    if problem:
        report.add(path, problem, "re-extract the features of this video")
        return None
    return int(rows.shape[0]), int(rows.shape[1])


def _check_features(report: CheckReport, root: Path, streams: Sequence[str],
                    rows: Mapping[str, LabelRow]) -> tuple[dict[str, int], dict[str, int]]:
    """One usable file per stream and video, one dim per stream, one ``T`` per video: ``({video: T}, {stream: D})``."""
    shapes = {(stream, video): _feature_file(report, root, stream, video) for video in rows for stream in streams}
    shapes = {key: shape for key, shape in shapes.items() if shape is not None}
    dims = {}
    for stream in streams:
        counts = Counter(shape[1] for (name, _), shape in shapes.items() if name == stream)
        if not counts:
            continue
        dims[stream] = counts.most_common(1)[0][0]
        for (name, video), (_, dim) in shapes.items():
            if name == stream and dim != dims[stream]:
                report.add(layout.feature_path(root, stream, video), f"feature dim {dim}, but most '{stream}' files "
                           f"have {dims[stream]}", "extract every video with the same extractor")
    lengths: dict[str, int] = {}
    for video in rows:
        per_stream = {stream: shapes[stream, video][0] for stream in streams if (stream, video) in shapes}
        if len(set(per_stream.values())) > 1:
            report.add(root / layout.FEATURES_DIR / "*" / f"{video}.npy",
                       f"video {video!r} has {per_stream} segments in its streams",
                       "extract every stream over the same segments")
        elif per_stream:
            lengths[video] = next(iter(per_stream.values()))
    return lengths, dims


def _summary(classes: Sequence[str], rows: Mapping[str, LabelRow], dims: Mapping[str, int],
             lengths: Mapping[str, int]) -> dict[str, object]:
    """Videos, labelled videos per class, splits and folds, stream dims and the range of ``T``."""
    labels = Counter(row.label for row in rows.values())
    summary: dict[str, object] = {
        "videos": len(rows),
        "classes": {name: labels[name] for name in classes},
    }
    if labels[None]:
        summary["unlabelled"] = labels[None]
    splits = Counter(row.split for row in rows.values() if row.split is not None)
    if splits:
        summary["splits"] = {split: splits[split] for split in layout.SPLITS}
    folds = Counter(row.fold for row in rows.values() if row.fold is not None)
    if folds:
        summary["folds"] = {fold: folds[fold] for fold in folds_of(rows)}
    summary["streams"] = dict(dims)
    if lengths:
        summary["segments"] = f"{min(lengths.values())}..{max(lengths.values())}"
    return summary
