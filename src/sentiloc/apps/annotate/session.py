"""What ``sentiloc annotate`` serves, without the web: the videos, the classes, the label store, the model.

:class:`AnnotationSession` checks every request against the videos given on the command line
(an index into that list, never a path), their durations and the classes, and turns it into a
change of the :class:`~sentiloc.apps.annotate.store.LabelStore`. It also answers what the page
shows: the video list in the order to annotate (by the model's uncertainty when there is one),
where an annotator stopped, their marks and the model's suggestions, and writes the TSL-300
point file of the clicks (:meth:`AnnotationSession.export`).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sentiloc.apps.annotate.store import KINDS, LabelStore, Mark, annotator_problem
from sentiloc.apps.annotate.suggest import (
    TRACK_NAMES,
    ModelOutputs,
    ModelTrack,
    suggestions,
    uncertainty,
)
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_text
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.data import layout
from sentiloc.viz.segments import label_colours

log = logging.getLogger(__name__)

#: Names shown for the TSL-300 class names; other classes are shown as they are.
CLASS_TITLES = {"p": "positive", "n": "negative"}
#: Keys the page uses for other things, never a class key.
RESERVED_KEYS = frozenset("jk")


class RequestError(SentilocError):
    """A request the session refuses (an unknown video, a time past the end, a label not in the classes)."""


@dataclass(frozen=True)
class VideoEntry:
    """One video served: its position in the command line's list, id (file stem), file, fps and duration."""

    index: int
    video_id: str
    path: Path
    fps: float
    duration_s: float

    @property
    def last_time_s(self) -> float:
        """The start of the video's last frame: clicks later than this are placed on it."""
        return max(0.0, (math.ceil(self.duration_s * self.fps - 1e-6) - 1) / self.fps)


def probe_videos(files: dict[str, Path]) -> list[VideoEntry]:
    """``{video id: file}`` -> entries with fps and duration read by PyAV (one-line error for an unreadable file)."""
    from sentiloc.features.decode import probe_video

    entries = []
    for index, (video_id, path) in enumerate(files.items()):
        probe = probe_video(path)
        if not probe.duration_s > 0:
            raise SentilocError(f"{path}: the container gives no duration; re-encode it (ffmpeg -i IN -c copy OUT.mp4)")
        entries.append(VideoEntry(index, video_id, Path(path), probe.fps, probe.duration_s))
    if not entries:
        raise SentilocError("no videos to annotate; pass video files or folders")
    return entries


def class_keys(classes: Sequence[str]) -> dict[str, str]:
    """``{class: key}``: each class's first letter when free (``p``, ``n``), else the digits 1-9 in order."""
    keys: dict[str, str] = {}
    digits = iter("123456789")
    for name in classes:
        first = name[:1].lower()
        keys[name] = first if first.isalpha() and first not in RESERVED_KEYS and first not in keys.values() \
            else next(digits)
    return keys


def parse_classes(text: str) -> list[str]:
    """``--classes p,n`` -> ``["p", "n"]`` (unique, non-empty, safe in CSV cells)."""
    names = [name.strip() for name in text.split(",")]
    if not all(names) or len(set(names)) != len(names) or len(names) > 9:
        raise SentilocError(f"--classes {text!r}: give 1 to 9 distinct comma-separated names, e.g. p,n")
    for name in names:
        if not all(ch.isalnum() or ch in "_-" for ch in name):
            raise SentilocError(f"--classes: class {name!r} may hold letters, digits, '_' and '-' only")
    return names


def point_file_text(marks: Sequence[Mark], entries: dict[str, VideoEntry], classes: Sequence[str]) -> str:
    """The TSL-300 ``point_labels.csv`` of the ``click`` marks: native frame ``floor(time_s * fps)``.

    ``class_index`` is the class's position in the sorted class names (TSL-300: ``n`` 0, ``p`` 1);
    clicks of other classes (from an earlier session with other ``--classes``) are left out.
    """
    order = sorted(classes)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(layout.POINT_COLUMNS)
    clicks = sorted((m for m in marks if m.kind == "click" and m.label in order), key=lambda m: (m.video, m.time_s))
    for mark in clicks:
        entry = entries[mark.video]
        frame = min(math.floor(mark.time_s * entry.fps + 1e-6), math.ceil(entry.duration_s * entry.fps - 1e-6) - 1)
        writer.writerow([mark.label, order.index(mark.label), frame, frame, mark.video, frame])
    return buffer.getvalue()


class AnnotationSession:
    """The videos, classes and label store of one ``sentiloc annotate`` server (see the module docstring).

    Args:
        videos: what :func:`probe_videos` returned.
        store: the open label file.
        classes: class names in the order the page shows them.
        annotator: the default annotator of pages opened without ``?annotator=``.
        model: the checkpoint's outputs, for suggestions and ordering (None without ``--checkpoint``).
        threshold: CAS level a suggestion's peak must reach.
        window_s: how close (s) a click or rejection must be to a peak to cover it.
    """

    def __init__(self, videos: Sequence[VideoEntry], store: LabelStore, classes: Sequence[str], annotator: str,
                 model: ModelOutputs | None = None, threshold: float = 0.5, window_s: float = 2.0) -> None:
        self.videos = list(videos)
        self.by_id = {entry.video_id: entry for entry in self.videos}
        self.store = store
        self.classes = list(classes)
        self.annotator = self.check_annotator(annotator)
        self.threshold, self.window_s = threshold, window_s
        self.tracks: dict[int, ModelTrack] = {}
        self.track_name = TRACK_NAMES[model.source] if model is not None else TRACK_NAMES["cas"]
        if model is not None:
            for entry in self.videos:
                self.tracks[entry.index] = model.track(entry.path)
        self.uncertainty = {index: uncertainty(track) for index, track in self.tracks.items()}

    # checks of request values
    @staticmethod
    def check_annotator(name: object) -> str:
        problem = annotator_problem(name) if isinstance(name, str) else "annotator must be a name"
        if problem:
            raise RequestError(problem)
        return name

    def video(self, index: object) -> VideoEntry:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.videos):
            raise RequestError(f"unknown video {index!r}; this server has videos 0 to {len(self.videos) - 1}")
        return self.videos[index]

    def check_label(self, label: object) -> str:
        if label not in self.classes:
            raise RequestError(f"label {label!r} is not a class of this session ({', '.join(self.classes)})")
        return label

    @staticmethod
    def check_time(entry: VideoEntry, time_s: object) -> float:
        """``time_s`` inside the video, placed on its last frame when it falls past that frame's start."""
        if isinstance(time_s, bool) or not isinstance(time_s, (int, float)) or not math.isfinite(time_s):
            raise RequestError(f"time {time_s!r} is not a number of seconds")
        if not 0 <= time_s <= entry.duration_s:
            raise RequestError(f"time {time_s} s is outside video {entry.video_id!r} (0 to {entry.duration_s:.3f} s)")
        return round(min(float(time_s), entry.last_time_s), 3)

    # answers
    def order(self) -> list[int]:
        """Video indices in the order to annotate: most uncertain first with a model, else as given."""
        return sorted(range(len(self.videos)), key=lambda i: -self.uncertainty.get(i, 0.0))

    def overview(self, annotator: str) -> dict:
        """The page's start: classes, videos with progress, the order and where ``annotator`` stopped."""
        marks = self.store.marks(annotator=annotator)
        colours = label_colours(self.classes)
        keys = class_keys(self.classes)
        by_video: dict[str, list[Mark]] = {}
        for mark in marks:
            by_video.setdefault(mark.video, []).append(mark)
        videos = []
        for entry in self.videos:
            own = by_video.get(entry.video_id, [])
            videos.append({
                "index": entry.index, "id": entry.video_id, "fps": entry.fps, "duration_s": entry.duration_s,
                "snippet_s": SNIPPET_FRAMES / entry.fps, "clicks": sum(m.kind == "click" for m in own),
                "done": any(m.kind == "done" for m in own),
                "uncertainty": self.uncertainty.get(entry.index)})
        timed = [m for m in marks if m.video in self.by_id and m.kind != "done"]
        last = max(timed, key=lambda m: m.timestamp, default=None)
        resume = ({"video": self.by_id[last.video].index, "time_s": last.time_s} if last is not None
                  else {"video": self.order()[0], "time_s": 0.0})
        return {"annotator": annotator, "videos": videos, "order": self.order(), "resume": resume,
                "has_model": bool(self.tracks), "track_name": self.track_name, "threshold": self.threshold,
                "classes": [{"name": c, "key": keys[c], "colour": colours[c], "title": CLASS_TITLES.get(c, c)}
                            for c in self.classes]}

    def marks_of(self, index: object, annotator: str) -> dict:
        entry = self.video(index)
        mine = self.store.marks(video=entry.video_id, annotator=annotator)
        others = sum(m.kind == "click" for m in self.store.marks(video=entry.video_id) if m.annotator != annotator)
        return {"marks": [m.to_json() for m in mine], "clicks_by_others": others}

    def model_of(self, index: object, annotator: str) -> dict:
        """The CAS curves, ``W_sent`` and the suggestions still open for ``annotator`` in this video."""
        entry = self.video(index)
        track = self.tracks.get(entry.index)
        if track is None:
            raise RequestError("no model: start the server with --checkpoint CKPT for curves and suggestions")
        mine = self.store.marks(video=entry.video_id, annotator=annotator)
        clicks = [(m.label, m.time_s) for m in mine if m.kind == "click"]
        rejected = [(m.label, m.time_s) for m in mine if m.kind == "rejected"]
        found = [replace(s, time_s=min(s.time_s, entry.last_time_s))  # a last snippet's centre can pass the end
                 for s in suggestions(track, self.classes, clicks, rejected, self.threshold, self.window_s)]
        return {"snippet_s": track.snippet_s, "cas": {c: track.cas[:, i].astype(float).round(4).tolist()
                                                      for i, c in enumerate(self.classes)},
                "w_sent": track.w_sent.astype(float).round(4).tolist(), "suggestions": [s.to_json() for s in found],
                "uncertainty": self.uncertainty[entry.index]}

    # changes: each returns the mark and the store version to wait for
    def add(self, body: dict) -> tuple[Mark, int]:
        """A click or a rejected suggestion: ``{annotator, video, kind, label, time_s}``."""
        annotator = self.check_annotator(body.get("annotator"))
        entry = self.video(body.get("video"))
        kind = body.get("kind", "click")
        if kind not in KINDS[:2]:
            raise RequestError(f"kind {kind!r}; use click or rejected")
        label = self.check_label(body.get("label"))
        return self.store.add(entry.video_id, kind, annotator, label, self.check_time(entry, body.get("time_s")))

    def relabel(self, mark_id: str, body: dict) -> tuple[Mark, int]:
        return self.store.relabel(mark_id, self.check_annotator(body.get("annotator")), self.check_label(body.get("label")))

    def remove(self, mark_id: str, body: dict) -> tuple[Mark, int]:
        return self.store.remove(mark_id, self.check_annotator(body.get("annotator")))

    def set_done(self, index: object, body: dict) -> tuple[bool, int]:
        """Mark the video done (``{"done": true}``) or open again; the version (0: nothing changed)."""
        annotator = self.check_annotator(body.get("annotator"))
        entry = self.video(index)
        done = body.get("done")
        if not isinstance(done, bool):
            raise RequestError("done must be true or false")
        marks = [m for m in self.store.marks(video=entry.video_id, annotator=annotator) if m.kind == "done"]
        if done and not marks:
            return True, self.store.add(entry.video_id, "done", annotator)[1]
        version = 0
        for mark in marks if not done else []:
            version = self.store.remove(mark.id, annotator)[1]
        return done, version

    def export(self, folder: Path, annotator: str | None = None) -> tuple[Path, int]:
        """Write ``folder/point_gaussian/point_labels.csv`` of the clicks (of ``annotator`` when given); the count.

        Videos the label file puts in the test split (segment rows with ``split`` ``test``) are left
        out: a dataset's point file holds training videos only.
        """
        test = self.store.test_videos()
        clicks = [m for m in self.store.marks(annotator=annotator)
                  if m.kind == "click" and m.video in self.by_id and m.video not in test and m.label in self.classes]
        path = Path(folder) / layout.POINT_FILE
        atomic_write_text(path, point_file_text(clicks, self.by_id, self.classes))
        return path, len(clicks)


def open_session(videos: Sequence[Path], out: Path, annotator: str, classes: Sequence[str] | None = None,
                 checkpoint: Path | None = None, threshold: float = 0.5, window_s: float = 2.0,
                 device: str = "cpu") -> AnnotationSession:
    """Probe ``videos``, lock and read ``out``, and with a ``checkpoint`` compute (or read back) every CAS.

    ``classes`` default to the checkpoint's (``p``, ``n`` without one); given with a checkpoint,
    they must be its classes, in any order. The caller closes ``session.store``.
    """
    from sentiloc.apps.localize import Localizer, video_files

    if not 0 < threshold < 1:
        raise SentilocError(f"--threshold {threshold}: a CAS level between 0 and 1")
    entries = probe_videos(video_files(videos))
    localizer = Localizer(checkpoint, device) if checkpoint is not None else None
    if localizer is not None:
        model_classes = list(localizer.trained.classes)
        if classes is not None and sorted(classes) != sorted(model_classes):
            raise SentilocError(f"--classes {','.join(classes)}: the checkpoint's classes are "
                                f"{','.join(model_classes)}; pass those (in any order) or leave --classes out")
        classes = classes or sorted(model_classes, key=lambda c: (c != "p", c))
    classes = list(classes or ("p", "n"))
    store = LabelStore(out)
    try:
        model = None
        if localizer is not None:
            model = ModelOutputs(localizer, Path(out).parent / f".{Path(out).name}.cache", classes)
        return AnnotationSession(entries, store, classes, annotator, model, threshold, window_s)
    except BaseException:
        store.close()
        raise
