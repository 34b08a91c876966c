"""``sentiloc check-data`` for the spotting layout: every problem of a folder at once, each naming file and fix.

Like :func:`sentiloc.data.validate.check_dataset` (whose :class:`~sentiloc.data.validate.CheckReport`
it returns), the checker keeps going after a problem and never raises for bad content; only a
missing dataset folder is fatal. :func:`require_valid_spotting` is the same check for the verbs
that read a spotting dataset: what check-data calls a problem, no verb accepts. Feature files are
opened through ``core.io.load_npy`` (regular files inside the dataset only, headers checked before
reading, never unpickled).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import load_npy
from sentiloc.data.spotting import layout
from sentiloc.data.spotting.annotations import (
    SpottingVideo,
    parse_annotations,
    parse_points,
    parse_videos,
)
from sentiloc.data.spotting.batch import EXPRESSION_TYPES
from sentiloc.data.spotting.dataset import feature_file_problem
from sentiloc.data.validate import CheckReport

T = TypeVar("T")


def check_spotting_dataset(root: Path) -> CheckReport:
    """Check a spotting-layout folder: its three CSV files and one feature file per video."""
    root = Path(root)
    if not root.is_dir():
        raise SentilocError(f"{root}: dataset folder not found; pass the folder that holds {layout.VIDEOS_FILE}")
    report = CheckReport(root)
    videos = _parse(report, root / layout.VIDEOS_FILE, parse_videos,
                    f"write it with the header {','.join(layout.VIDEO_COLUMNS)}, one row per video")
    instances = _parse(report, root / layout.ANNOTATIONS_FILE, lambda p: parse_annotations(p, videos),
                       "fix the row", optional="training reads only the clicks; evaluation needs the annotated "
                       "instances, which `sentiloc import-annotations` writes")
    points = _parse(report, root / layout.POINTS_FILE, lambda p: parse_points(p, videos),
                    "point supervision needs one click per instance: write points.csv (video,frame,type)")
    _check_features(report, root, videos)
    unclicked = sorted(v for v, clicks in points.items() if not clicks and instances.get(v))
    if unclicked:
        report.warnings.append(f"{root / layout.POINTS_FILE}: {len(unclicked)} video(s) with annotated instances "
                               f"have no click, e.g. {unclicked[:3]}")
    report.summary = {
        "videos": len(videos),
        "subjects": len({v.subject for v in videos.values()}),
        "fps": sorted({v.fps for v in videos.values()}),
        "instances": _count_types(instances),
        "clicks": _count_types(points),
        **report.summary,
    }
    return report


def require_valid_spotting(root: Path) -> CheckReport:
    """:func:`check_spotting_dataset`, raising its first problem as a one-line error (check-data lists them all)."""
    return check_spotting_dataset(root).raise_first()


def _parse(report: CheckReport, path: Path, parse: Callable[[Path], tuple[dict[str, T], list]], fix: str,
           optional: str | None = None) -> dict[str, T]:
    """Run a lenient parser, recording its problems; a missing file is a problem, or a warning when ``optional`` says why."""
    if not path.exists() and not path.is_symlink():
        if optional:
            report.warnings.append(f"{path}: not present ({optional})")
        else:
            report.add(path, "file missing", fix)
        return {}
    try:
        parsed, problems = parse(path)
    except SentilocError as exc:
        report.add_error(path, exc, fix)
        return {}
    report.problems.extend(problems)
    return parsed


def _count_types(rows: Mapping[str, list]) -> dict[str, int]:
    kinds = Counter(row.type for items in rows.values() for row in items)
    return {kind: kinds[kind] for kind in EXPRESSION_TYPES}


def _check_features(report: CheckReport, root: Path, videos: Mapping[str, SpottingVideo]) -> None:
    """One readable float feature file per video, one row per native frame, the same dim for every video."""
    dims: dict[Path, int] = {}
    for video in videos.values():
        path = layout.feature_path(root, video.video_id)
        if not path.exists() and not path.is_symlink():
            report.add(path, "feature file missing", "extract the features of this video or remove it from videos.csv")
            continue
        try:
            rows = load_npy(path, root, mmap=True)
        except SentilocError as exc:
            report.add_error(path, exc, "re-save it with numpy.save")
            continue
        problem = feature_file_problem(rows, video)
        if problem:
            report.add(path, problem, "re-extract the features of this video")
        if rows.ndim == 2:
            dims[path] = rows.shape[1]
    if dims:
        common = Counter(dims.values()).most_common(1)[0][0]
        for path, dim in dims.items():
            if dim != common:
                report.add(path, f"feature dim {dim}, but most videos have {common}",
                           "extract every video with the same extractor")
        report.summary["feature dim"] = common
