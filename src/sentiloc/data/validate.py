"""``sentiloc check-data``: every problem of a dataset folder at once, each naming file and fix.

Unlike the loaders, which stop at the first problem, the checker keeps going so that a user
fixing a dataset sees the whole list in one run. It reads the files leniently itself and
never raises for bad content; only a missing dataset folder is fatal. :func:`require_valid` is the
same check for the verbs that read a dataset (``train``, ``predict``): what check-data calls a
problem, no verb accepts.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem, load_json, load_npy, read_text
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.data import layout
from sentiloc.data.annotations import frame_index
from sentiloc.data.dataset import DataConfig, feature_problem, subsample_to_snippets
from sentiloc.data.formats.activitynet import Segment, finite_number, parse_ground_truth


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the dataset, where it is, and what to do about it."""

    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}; {self.fix}"


@dataclass
class CheckReport:
    """The result of a dataset check: problems fail it, warnings and the summary inform."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: Path | str, message: str, fix: str) -> None:
        self.problems.append(Problem(str(path), message, fix))

    def add_error(self, path: Path, exc: SentilocError, fix: str) -> None:
        """Record a loader's one-line error about ``path`` as a problem, with the loader's fix when it gives one."""
        message, _, own_fix = str(exc).removeprefix(f"{path}: ").partition("; ")
        self.add(path, message, own_fix or fix)

    def raise_first(self) -> CheckReport:
        """This report if it is clean; else its first problem as a one-line error pointing to check-data."""
        if not self.ok:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise SentilocError(f"{self.problems[0]}{more}; `sentiloc check-data {self.root}` lists every problem")
        return self

    def format(self) -> str:
        """Human-readable report, problems first."""
        lines = [f"checked {self.root}"]
        lines += [f"  {key}: {value}" for key, value in self.summary.items()]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"problem: {p}" for p in self.problems]
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s) found"
        lines.append(f"check-data: {verdict}")
        return "\n".join(lines)


def check_dataset(root: Path, cfg: DataConfig | None = None) -> CheckReport:
    """Check a TSL-300-layout folder against ``cfg``'s modalities and classes."""
    root = Path(root)
    if not root.is_dir():
        raise SentilocError(f"{root}: dataset folder not found; pass the folder that holds gt.json")
    cfg = cfg or DataConfig()
    report = CheckReport(root)
    splits = {split: _check_split_file(report, root, split) for split in layout.SPLIT_FILES}
    _check_split_overlap(report, root, splits)
    fps = _check_number_dict(report, root / layout.FPS_FILE, "fps", splits)
    durations = _check_number_dict(report, root / layout.DURATION_FILE, "duration", splits)
    split_of = {vid: split for split, ids in splits.items() for vid in ids}
    _check_segment_file(report, root / layout.GT_FILE, cfg, durations, fps, split_of, required=True)
    _check_segment_file(report, root / layout.DENSE_GT_FILE, cfg, durations, fps, split_of, required=False)
    _check_points(report, root / cfg.point_file, cfg, durations, fps, splits.get("train", []))
    _check_features(report, root, cfg, splits, fps, durations)
    report.summary = {"videos": {s: len(ids) for s, ids in splits.items()}, **report.summary}
    return report


def require_valid(root: Path, cfg: DataConfig) -> CheckReport:
    """:func:`check_dataset`, raising its first problem as a one-line error: what check-data refuses, no verb reads."""
    return check_dataset(root, cfg).raise_first()


def _check_split_file(report: CheckReport, root: Path, split: str) -> list[str]:
    path = root / layout.SPLIT_FILES[split]
    if not path.exists():
        report.add(path, "split file missing", "write one video id per line")
        return []
    try:
        lines = read_text(path, "split file").splitlines()
    except SentilocError as exc:
        report.add_error(path, exc, "rewrite it as UTF-8 text, one video id per line")
        return []
    ids: list[str] = []
    for number, line in enumerate(lines, start=1):
        video_id = line.strip()
        if not video_id:
            continue
        problem = id_problem(video_id)
        if problem:
            report.add(f"{path}:{number}", problem, "video ids must be plain file names without '/', '\\' or '..'")
        else:
            ids.append(video_id)
    for video_id, count in Counter(ids).items():
        if count > 1:
            report.add(path, f"video {video_id!r} listed {count} times", "list each video once")
    if not ids:
        report.add(path, "no video ids", "list the videos of this split, one per line")
    return list(dict.fromkeys(ids))


def _check_split_overlap(report: CheckReport, root: Path, splits: dict[str, list[str]]) -> None:
    both = sorted(set(splits.get("train", [])) & set(splits.get("test", [])))
    if both:
        report.add(
            root / layout.SPLIT_FILES["test"],
            f"{len(both)} video(s) are in both splits, e.g. {both[:3]}",
            "a video must be in train or test, never both (it would leak test labels)",
        )


def _read_json(report: CheckReport, path: Path, required: bool) -> object | None:
    if not path.exists():
        if required:
            report.add(path, "file missing", "restore it from the dataset release")
        else:
            report.warnings.append(f"{path}: not present (full supervision and dense-label studies need it)")
        return None
    try:
        return load_json(path, "this file")
    except SentilocError as exc:
        report.add_error(path, exc, "fix the syntax or regenerate the file")
    return None


def _finite(value: object) -> float | None:
    """The finite number ``value`` holds (a JSON number or numeric string), else None."""
    try:
        return finite_number(value)
    except (TypeError, ValueError):
        return None


def _check_number_dict(report: CheckReport, path: Path, what: str, splits: dict[str, list[str]]) -> dict[str, float]:
    raw = _read_json(report, path, required=True)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report.add(path, "not a JSON object {video id: number}", "regenerate the file")
        return {}
    values: dict[str, float] = {}
    for video_id, value in raw.items():
        number = _finite(value)
        if number is None or number <= 0:
            report.add(path, f"{what} of video {video_id!r} is {value!r}", f"set a positive number of {what}")
        else:
            values[video_id] = number
    for split, ids in splits.items():
        missing = [v for v in ids if v not in raw]
        if missing:
            report.add(path, f"no {what} for {len(missing)} {split} video(s), e.g. {missing[:3]}", f"add their {what}")
    return values


def _check_segment_file(
    report: CheckReport,
    path: Path,
    cfg: DataConfig,
    durations: dict[str, float],
    fps: dict[str, float],
    split_of: dict[str, str],
    required: bool,
) -> None:
    raw = _read_json(report, path, required)
    if raw is None:
        return
    videos, problems = parse_ground_truth(raw)
    for problem in problems:
        report.add(path if problem.video_id is None else f"{path} [{problem.video_id}]", problem.message, problem.fix)
    for video_id, video in videos.items():
        problem = id_problem(video_id)
        if problem:
            report.add(path, problem, "video ids must be plain file names")
            continue
        if video.subset not in layout.SPLIT_FILES:
            report.add(path, f"video {video_id!r} has subset {video.subset!r}", 'set "subset" to "train" or "test"')
        elif video_id in split_of and split_of[video_id] != video.subset:
            report.add(path, f"video {video_id!r} has subset {video.subset!r} but is in split_{split_of[video_id]}.txt",
                       "make the subset agree with the split files")
        for segment in video.segments:
            _check_segment(report, f"{path} [{video_id}]", segment, cfg, durations.get(video_id), fps.get(video_id))


def _check_segment(
    report: CheckReport, where: str, segment: Segment, cfg: DataConfig, duration: float | None, fps: float | None
) -> None:
    start, end = segment.start_s, segment.end_s
    if segment.label not in cfg.classes:
        report.add(where, f"unknown label {segment.label!r}", f"use one of {list(cfg.classes)}")
    if end <= start or start < 0:
        report.add(where, f"segment [{start}, {end}] has end <= start or a negative start", "fix the segment bounds")
    slack = SNIPPET_FRAMES / fps if fps else 0.0
    if duration is not None and end > duration + slack:
        report.add(where, f"segment [{start}, {end}] ends after the video ({duration:.2f} s)", "clip it to the duration or fix len_duration_dict.json")


def _check_points(
    report: CheckReport,
    path: Path,
    cfg: DataConfig,
    durations: dict[str, float],
    fps: dict[str, float],
    train_ids: Iterable[str],
) -> None:
    train = set(train_ids)
    if not path.exists():
        report.warnings.append(f"{path}: not present (point and video supervision need it)")
        return
    try:
        text = read_text(path, "point file")
    except SentilocError as exc:
        report.add_error(path, exc, "rewrite it as UTF-8 CSV text")
        return
    clicked: set[str] = set()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"video_id", "class", "point"} - set(reader.fieldnames or ())
    if missing:
        report.add(path, f"missing column(s) {sorted(missing)}", f"use the header {','.join(layout.POINT_COLUMNS)}")
        return
    rows = 0
    for line, row in enumerate(reader, start=2):
        rows += 1
        where = f"{path}:{line}"
        video_id = (row.get("video_id") or "").strip()
        problem = id_problem(video_id)
        if problem:
            report.add(where, problem, "video ids must be plain file names")
            continue
        clicked.add(video_id)
        if video_id not in train:
            report.add(where, f"video {video_id!r} is not in split_train.txt", "points are training labels: remove the row or add the video to the training split")
        if (row.get("class") or "").strip() not in cfg.classes:
            report.add(where, f"unknown class {row.get('class')!r}", f"use one of {list(cfg.classes)}")
        point = frame_index(row.get("point"))
        if point is None:
            report.add(where, f"point {row.get('point')!r} is not a frame index", "write the clicked native frame as a whole number")
            continue
        if video_id in durations and video_id in fps:
            last = durations[video_id] * fps[video_id]
            if point < 0 or point > last + 1:
                report.add(where, f"point {point} lies outside the video (frames 0..{last:.0f})", "points are native frame indices at the video's own fps; fix the row")
    if not rows:
        report.add(path, "no clicks below the header", "add one row per click (point supervision needs them)")
    unlabeled = sorted(train - clicked)
    if unlabeled:
        report.warnings.append(f"{path}: {len(unlabeled)} training video(s) have no click, e.g. {unlabeled[:3]}")


def _check_features(
    report: CheckReport,
    root: Path,
    cfg: DataConfig,
    splits: dict[str, list[str]],
    fps: dict[str, float],
    durations: dict[str, float],
) -> None:
    dims: dict[str, Counter[int]] = {m.name: Counter() for m in cfg.modalities}
    shapes: dict[Path, int] = {}
    face_missing = face_total = 0
    duration_mismatch: list[str] = []
    for split, ids in splits.items():
        for video_id in ids:
            lengths: dict[str, int] = {}
            for spec in cfg.modalities:
                path = layout.feature_path(root, split, spec.name, video_id)
                rows = _check_feature_file(report, root, path)
                if rows is None:
                    continue
                dims[spec.name][rows.shape[1]] += 1
                shapes[path] = rows.shape[1]
                lengths[spec.name] = len(subsample_to_snippets(rows, spec.frames_per_snippet))
                if spec.name == cfg.face:
                    present = np.abs(subsample_to_snippets(rows, spec.frames_per_snippet)).sum(axis=1) > 0
                    face_missing += int((~present).sum())
                    face_total += len(present)
            if len(lengths) == len(cfg.modalities) and max(lengths.values()) - min(lengths.values()) > cfg.length_tolerance:
                report.add(
                    root / layout.FEATURES_DIR / split / "*" / f"{video_id}.npy",
                    f"stream lengths {lengths} (snippets) disagree by more than {cfg.length_tolerance}",
                    "check data.modalities frames_per_snippet (e.g. rgb:16 for frame-rate features) or re-extract",
                )
            elif lengths and video_id in fps and video_id in durations:
                expected = durations[video_id] * fps[video_id] / SNIPPET_FRAMES
                if abs(min(lengths.values()) - expected) > max(cfg.length_tolerance, 0.05 * expected):
                    duration_mismatch.append(video_id)
    for name, counter in dims.items():
        if not counter:
            continue
        expected_dim = counter.most_common(1)[0][0]
        for path, dim in shapes.items():
            if path.parent.name == name and dim != expected_dim:
                report.add(path, f"feature dim {dim}, but most '{name}' files have {expected_dim}", "re-extract with the same extractor as the other videos")
    report.summary["feature dims"] = {n: c.most_common(1)[0][0] for n, c in dims.items() if c}
    if face_total:
        report.summary["face-missing snippets"] = f"{100.0 * face_missing / face_total:.1f}%"
    if duration_mismatch:
        report.warnings.append(
            f"{len(duration_mismatch)} video(s) have a snippet count far from duration*fps/16, e.g. "
            f"{duration_mismatch[:3]}: check frames_per_snippet and len_duration_dict.json"
        )


def _check_feature_file(report: CheckReport, root: Path, path: Path) -> np.ndarray | None:
    if not path.exists():
        report.add(path, "feature file missing", "extract the features for this video or remove it from its split file")
        return None
    try:
        rows = load_npy(path, root, mmap=True)
    except SentilocError as exc:
        report.add_error(path, exc, "re-extract or re-save it with numpy.save")
        return None
    problem = feature_problem(rows)
    if problem:
        report.add(path, problem, "re-extract the features of this video")
        return None if rows.ndim != 2 or 0 in rows.shape else rows
    return rows
