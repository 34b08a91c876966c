"""The label file of ``sentiloc annotate``: one CSV, every change on disk before it is acknowledged.

``LABELS.csv`` is the ``build-dataset`` annotation CSV (seconds, one row per click) with four more
columns::

    video,label,start,end,time,split,annotator,kind,id,timestamp
    clip1,p,,,15.200,,ana,click,3f9c2a1b7d40,2026-12-01T20:01:02.345Z
    clip1,n,,,41.000,,ana,rejected,0be1d2c3a4f5,2026-12-01T20:01:09.001Z
    clip2,,,,,,ana,done,77aa01bc3e12,2026-12-01T20:02:00.000Z

``kind`` is ``click`` (a point label), ``rejected`` (a model suggestion the annotator turned
down: evidence, never a label) or ``done`` (the annotator finished the video). ``build-dataset``
reads only the ``click`` rows. Rows written by other tools (segments with ``start``/``end``) are
kept as they are.

Durability: :class:`LabelStore` applies a change to its in-memory rows at once and returns a
version number; a writer thread renders the rows of the newest version, writes them atomically
(temp file, fsync, rename, fsync of the folder) and then releases every waiter up to that version
(:meth:`LabelStore.wait`). Changes that arrive while a write is running go into the next write
together (group commit), so the file keeps up with many annotators at once. A server acknowledges
a change only after :meth:`LabelStore.wait` returned, so a killed server loses only unacknowledged
changes. A lock file (``.LABELS.csv.lock``, ``fcntl.flock``) keeps a second store off the file.
"""

from __future__ import annotations

import csv
import fcntl
import io
import logging
import math
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    WriteFailed,
    atomic_write_text,
    id_problem,
    read_text,
    remove_stale_temps,
)

log = logging.getLogger(__name__)

COLUMNS = ("video", "label", "start", "end", "time", "split", "annotator", "kind", "id", "timestamp")
#: A point label; a model suggestion turned down; a video the annotator finished.
KINDS = ("click", "rejected", "done")
#: Kinds that sit at a time and carry a class.
TIMED_KINDS = ("click", "rejected")


@dataclass(frozen=True)
class Mark:
    """One row of the label file: a click, a rejected suggestion or a "done" mark of ``video``.

    ``time_s`` and ``label`` are None for ``done`` marks; ``timestamp`` is UTC ISO 8601 with ms.
    """

    id: str
    video: str
    kind: str
    annotator: str
    timestamp: str
    label: str | None = None
    time_s: float | None = None

    def to_row(self) -> dict[str, str]:
        time = "" if self.time_s is None else f"{self.time_s:.3f}"
        return {"video": self.video, "label": self.label or "", "time": time, "annotator": self.annotator,
                "kind": self.kind, "id": self.id, "timestamp": self.timestamp}

    def to_json(self) -> dict:
        return {"id": self.id, "video": self.video, "kind": self.kind, "label": self.label, "time_s": self.time_s,
                "annotator": self.annotator, "timestamp": self.timestamp}


def now_stamp() -> str:
    """The current UTC time as ``2026-12-01T20:01:02.345Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """An opaque row id: 12 hex digits."""
    return secrets.token_hex(6)


def annotator_problem(name: str) -> str | None:
    """Why ``name`` cannot be an annotator's name (it ends up in CSV cells and file names), or None."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return "annotator names are 1 to 64 characters"
    if not all(ch.isalnum() or ch in "._-" for ch in name):
        return f"annotator name {name!r}: use letters, digits, '.', '_' or '-'"
    return None


def _cell(row: dict, name: str) -> str:
    return (row.get(name) or "").strip()


def parse_mark(row: dict, where: str) -> Mark:
    """A row of the label file as a :class:`Mark`; one-line errors naming ``where`` (``FILE:LINE``)."""
    video, kind = _cell(row, "video"), _cell(row, "kind") or "click"
    problem = id_problem(video)
    if problem:
        raise SentilocError(f"{where}: {problem}; fix or remove that row")
    if kind not in KINDS:
        raise SentilocError(f"{where}: kind {kind!r}; use one of {', '.join(KINDS)}")
    annotator = _cell(row, "annotator") or "unknown"
    problem = annotator_problem(annotator)
    if problem:
        raise SentilocError(f"{where}: {problem}; fix that row")
    label, time_s = _cell(row, "label") or None, None
    if kind in TIMED_KINDS:
        try:
            time_s = float(_cell(row, "time"))
        except ValueError:
            time_s = math.nan
        if not math.isfinite(time_s) or time_s < 0 or not label:
            raise SentilocError(f"{where}: a {kind} needs a label and a time >= 0 in seconds; fix that row")
    return Mark(_cell(row, "id") or new_id(), video, kind, annotator, _cell(row, "timestamp"), label, time_s)


def read_label_file(path: Path) -> tuple[list[Mark], list[dict[str, str]]]:
    """The marks of a label file and its other rows (segments from another tool), both in file order."""
    text = read_text(path, "label file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not {"video", "label", "time"} <= set(reader.fieldnames or ()):
        raise SentilocError(f"{path}: not a label file (needs the columns video,label,time); choose another --out")
    marks: list[Mark] = []
    others: list[dict[str, str]] = []
    seen: set[str] = set()
    try:
        for line, row in enumerate(reader, start=2):
            if _cell(row, "start") or _cell(row, "end"):
                others.append({name: row.get(name) or "" for name in COLUMNS})
                continue
            mark = parse_mark(row, f"{path}:{line}")
            if mark.id in seen:
                raise SentilocError(f"{path}:{line}: row id {mark.id!r} appears twice; give one of the rows a new id")
            seen.add(mark.id)
            marks.append(mark)
    except csv.Error as exc:
        raise SentilocError(f"{path}: malformed CSV ({exc}); fix the file or choose another --out") from None
    return marks, others


def csv_rows(rows: Iterable[dict[str, str]], header: bool = False) -> str:
    """``rows`` as lines of the label file (with the header line first when asked)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", restval="")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_path(path: Path) -> Path:
    return Path(path).parent / f".{Path(path).name}.lock"


def take_lock(path: Path) -> int:
    """Lock ``path``'s lock file for this process; one line naming the holder when another has it."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise SentilocError(f"{lock}: cannot create the lock file ({exc.strerror}); choose a writable --out") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SentilocError(f"{path}: another `sentiloc annotate` (pid {holder}) is serving this file; open that "
                            "one in the browser or stop it first") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


class StoreError(SentilocError):
    """A change refused by the store (an unknown row, another annotator's row)."""


class LabelStore:
    """The rows of one label file, owned by this process, written after every change (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise SentilocError(f"{self.path}: --out is not a regular file; choose a CSV file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = take_lock(self.path)
        try:
            remove_stale_temps(self.path)
            marks, self._others = read_label_file(self.path) if self.path.exists() else ([], [])
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._marks = {mark.id: mark for mark in marks}
        #: Each mark's line of the file, kept beside it so a write only joins lines (group commits stay cheap).
        self._lines = {mark.id: csv_rows([mark.to_row()]) for mark in marks}
        self._head = csv_rows(self._others, header=True)
        if not self.path.exists():
            try:
                atomic_write_text(self.path, self._head)
            except BaseException:
                os.close(self._lock_fd)
                raise
        self._cond = threading.Condition()
        self._version = 0
        self._written = 0
        self._failed: tuple[int, WriteFailed] | None = None
        self._closing = False
        self.writes = 0
        self._writer = threading.Thread(target=self._write_loop, name="label-writer", daemon=True)
        self._writer.start()

    # reading
    def marks(self, video: str | None = None, annotator: str | None = None) -> list[Mark]:
        """The marks (of ``video`` and ``annotator`` when given), in the order they were made."""
        with self._cond:
            return [m for m in self._marks.values()
                    if (video is None or m.video == video) and (annotator is None or m.annotator == annotator)]

    def test_videos(self) -> set[str]:
        """Videos whose rows from other tools put them in the test split (evaluation videos, not training ones)."""
        return {row["video"].strip() for row in self._others if (row.get("split") or "").strip() == "test"}

    # changing: each returns the version to :meth:`wait` for
    def add(self, video: str, kind: str, annotator: str, label: str | None = None,
            time_s: float | None = None) -> tuple[Mark, int]:
        """Add a mark; returns it and its version."""
        mark = Mark(new_id(), video, kind, annotator, now_stamp(), label, time_s)
        with self._cond:
            self._set(mark)
            return mark, self._bump()

    def remove(self, mark_id: str, annotator: str) -> tuple[Mark, int]:
        """Remove ``annotator``'s mark ``mark_id``."""
        with self._cond:
            mark = self._own(mark_id, annotator)
            del self._marks[mark_id], self._lines[mark_id]
            return mark, self._bump()

    def relabel(self, mark_id: str, annotator: str, label: str) -> tuple[Mark, int]:
        """Give ``annotator``'s click ``mark_id`` another class."""
        with self._cond:
            mark = replace(self._own(mark_id, annotator), label=label, timestamp=now_stamp())
            self._set(mark)
            return mark, self._bump()

    def wait(self, version: int, timeout_s: float | None = None) -> None:
        """Return once ``version`` is on disk; raise the write's error if writing it failed."""
        with self._cond:
            while self._written < version:
                if self._failed is not None and self._failed[0] >= version:
                    raise self._failed[1]
                if not self._cond.wait(timeout_s):
                    raise SentilocError(f"{self.path}: the label file was not written within {timeout_s} s")

    def close(self) -> None:
        """Write what is pending, stop the writer and release the lock."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        os.close(self._lock_fd)

    def _own(self, mark_id: str, annotator: str) -> Mark:
        mark = self._marks.get(mark_id)
        if mark is None:
            raise StoreError(f"no row {mark_id!r} in {self.path.name}")
        if mark.annotator != annotator:
            raise StoreError(f"row {mark_id!r} belongs to annotator {mark.annotator!r}; only they can change it")
        return mark

    def _set(self, mark: Mark) -> None:
        line = csv_rows([mark.to_row()])  # outside the dicts first: a failure changes nothing
        self._marks[mark.id] = mark
        self._lines[mark.id] = line

    def _bump(self) -> int:
        self._version += 1
        self._cond.notify_all()
        return self._version

    def _write_loop(self) -> None:
        attempted = 0
        while True:
            with self._cond:
                while self._version <= attempted and not self._closing:
                    self._cond.wait()
                if self._version <= max(attempted, self._written) and self._closing:
                    return
                version, text = self._version, self._head + "".join(self._lines.values())
            attempted = version
            try:
                atomic_write_text(self.path, text)
                _fsync_folder(self.path.parent)
            except WriteFailed as exc:
                log.error("%s", exc)
                with self._cond:
                    self._failed = (version, exc)
                    self._cond.notify_all()
                if self._closing:
                    return
                continue
            with self._cond:
                self._written = version
                self.writes += 1
                self._cond.notify_all()
