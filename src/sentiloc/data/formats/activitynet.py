"""The ActivityNet-style ground-truth schema of ``gt.json`` and ``videosenti_gt.json``::

    {"database": {video_id: {"subset": "train"|"test", "annotations": [
        {"segment": [start_s, end_s], "label": "p"}, ...]}}}

Seconds may be JSON numbers or numeric strings (TSL-300 stores ``"18.44"``). This module checks
the *form* only; whether a segment lies inside its video or a label is known is the business of
the reader that knows the video (``check-data``) or the classes (the evaluator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from sentiloc.core.errors import SentilocError

ANNOTATION_FORM = '{"segment": [start_s, end_s], "label": "p"|"n"} with numbers or numeric strings'
DATABASE_FORM = '{"database": {video: {"subset": "test"|"train", "annotations": [...]}}}'


@dataclass(frozen=True)
class Segment:
    """A labelled time span in seconds."""

    start_s: float
    end_s: float
    label: str


@dataclass(frozen=True)
class FormatProblem:
    """Where the file breaks the schema (``video_id`` None: the whole file), and what to do."""

    video_id: str | None
    message: str
    fix: str


@dataclass
class VideoGroundTruth:
    """One video's entry: its subset as written (checked by the caller) and its well-formed segments."""

    subset: object
    segments: list[Segment] = field(default_factory=list)


def finite_number(value: object) -> float:
    """A finite float from a JSON number or numeric string; ``ValueError`` otherwise (booleans too)."""
    if isinstance(value, bool):
        raise ValueError("boolean")
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an integer past the float range
        raise ValueError("not finite") from None
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def parse_segment(annotation: object) -> Segment | None:
    """``{"segment": [s, e], "label": str}`` as a :class:`Segment`, or None when malformed."""
    try:
        start, end = annotation["segment"]  # type: ignore[index]
        label = annotation["label"]  # type: ignore[index]
        if not isinstance(label, str):
            return None
        return Segment(finite_number(start), finite_number(end), label)
    except (KeyError, TypeError, ValueError):
        return None


def raise_first(path: Path, problems: list[FormatProblem]) -> None:
    """For readers that stop at the first problem: raise it as a one-line error naming ``path``."""
    if problems:
        raise SentilocError(f"{path}: {problems[0].message}; {problems[0].fix}")


def parse_ground_truth(raw: object) -> tuple[dict[str, VideoGroundTruth], list[FormatProblem]]:
    """Every video entry of a parsed ``gt.json``-style document, and every breach of the schema.

    A malformed annotation is left out of its video's segments and reported; an entry without an
    ``annotations`` list is left out entirely and reported.
    """
    database = raw.get("database") if isinstance(raw, dict) else None
    if not isinstance(database, dict):
        return {}, [FormatProblem(None, 'no top-level "database" object', f"expected the TSL-300 gt.json schema {DATABASE_FORM}")]
    videos: dict[str, VideoGroundTruth] = {}
    problems: list[FormatProblem] = []
    for video_id, entry in database.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations"), list):
            problems.append(FormatProblem(video_id, f'video {video_id!r} has no "annotations" list',
                                          'write {"subset": ..., "annotations": [...]} (an empty list at least)'))
            continue
        video = videos[video_id] = VideoGroundTruth(entry.get("subset"))
        for annotation in entry["annotations"]:
            segment = parse_segment(annotation)
            if segment is None:
                problems.append(FormatProblem(video_id, f"video {video_id!r} has a malformed annotation {annotation!r}",
                                              f"expected {ANNOTATION_FORM}"))
            else:
                video.segments.append(segment)
    return videos, problems
