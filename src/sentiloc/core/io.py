"""Safe file I/O shared by every package.

Two promises the toolkit makes to its users live here: nothing is ever half-written (all
writes go to a temporary file in the same folder and are renamed into place), and video ids
read from annotation files can never address a file outside the dataset folder.

A write that fails (a full disk, a read-only folder) removes its temporary file and raises a
:class:`WriteFailed` naming the file and saying that the previous version is intact, since the
rename never happened. A writer killed outright leaves its temporary file behind; whoever owns the
folder (a training run holding its lock) clears such files with :func:`remove_partial_writes`.
"""

from __future__ import annotations

import errno
import glob
import io
import json
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from sentiloc.core.errors import SentilocError

#: The temporary files of :func:`_open_temp`: ``.<name>.<12 hex digits>.tmp``.
PARTIAL_WRITE = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")

#: errno values that mean the disk (or the user's quota) is full.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class WriteFailed(SentilocError):
    """A write that failed before its rename: ``path`` is unchanged and no temporary file is left.

    Built from its parts (``args``), so it crosses a process pool intact.
    """

    def __init__(self, path: Path, reason: str, kept: str) -> None:
        super().__init__(Path(path), reason, kept)
        self.path, self.reason, self.kept = Path(path), reason, kept

    @classmethod
    def of(cls, path: Path, exc: OSError) -> WriteFailed:
        """The failure of writing ``path`` with ``exc``: a full disk named as such, what is left of ``path``."""
        path = Path(path)
        reason = "the disk is full" if exc.errno in DISK_FULL else (exc.strerror or type(exc).__name__)
        return cls(path, reason, f"the previous {path.name} is intact" if path.exists() else f"no {path.name} was written")

    def __str__(self) -> str:
        return (f"{self.path}: write failed ({self.reason}); {self.kept}; free disk space (or fix the folder's "
                "permissions) and run again")


def _open_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty temp file in ``folder`` for ``name``: its descriptor and path.

    Created with mode ``0o666`` so the kernel applies the user's umask, as for any file a program
    writes (``tempfile.mkstemp`` would make it ``0o600``, private to the owner once renamed).
    """
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through ``write`` into a temp file next to ``path``, then rename it into place.

    The file gets the permissions of any new file (``0o666`` less the umask), also when it
    replaces an existing one. An ``OSError`` on the way (``ENOSPC`` while writing or syncing)
    becomes a :class:`WriteFailed`; the temp file is removed whatever stops the write.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temp(path.parent, path.name)
    except OSError as exc:
        raise WriteFailed.of(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteFailed.of(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temp files a killed writer left in ``folder`` (not below it); the paths removed.

    The folder-wide form of :func:`remove_stale_temps`, for a folder whose file names vary
    (``epoch_0004.pt``). Only for a folder the caller owns exclusively (a locked run folder): a
    live writer's temp file looks the same.
    """
    stale = sorted(p for p in Path(folder).iterdir() if PARTIAL_WRITE.fullmatch(p.name) and p.is_file())
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def remove_stale_temps(path: Path) -> None:
    """Delete the temp files that atomic writes of ``path`` left behind when their process was killed.

    A killed process (SIGKILL, a power cut) skips the cleanup of :func:`_atomic_write`; call this
    before writing ``path`` again, never while another process may be writing it.
    """
    path = Path(path)
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    _atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, indent: int | None = 2) -> None:
    """Atomically write ``obj`` as JSON (NaN is refused: the output must be valid JSON)."""
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """Atomically write ``array`` in ``.npy`` format."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def regular_file(path: Path, what: str) -> Path:
    """``path`` if it is a regular file; a one-line error otherwise (a FIFO would block the reader forever)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SentilocError(f"{path}: {what} not found; check the path") from None
    except OSError as exc:
        raise SentilocError(f"{path}: cannot read {what} ({exc.strerror}); check permissions") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise SentilocError(f"{path}: {what} is {kind}; replace it with a regular file")
    return path


def read_text(path: Path, what: str) -> str:
    """A UTF-8 text file (a leading BOM is dropped; any line ending), with errors naming the file."""
    regular_file(path, what)
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SentilocError(f"{path}: {what} is not UTF-8 text (byte {exc.start}); re-save it as UTF-8") from None
    except OSError as exc:
        raise SentilocError(f"{path}: cannot read {what} ({exc.strerror}); check permissions") from None


def load_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning I/O, encoding, syntax and nesting problems into errors naming the file."""
    path = Path(path)
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SentilocError(
            f"{path}: {what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "fix or regenerate the file"
        ) from None
    except RecursionError:
        raise SentilocError(f"{path}: {what} is nested too deeply to be a sentiloc file; regenerate it") from None
    except ValueError as exc:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise SentilocError(f"{path}: {what} holds a number Python refuses to read ({_short(exc)}); "
                            "fix or regenerate the file") from None


def load_npy(path: Path, root: Path | None = None, mmap: bool = False) -> np.ndarray:
    """A numeric ``.npy`` array, checked before anything is allocated or unpickled.

    The file must be a regular file (inside ``root`` once symlinks are resolved, when given) whose
    header names a numeric dtype and a shape that the file's size actually holds, so a forged
    header can neither claim gigabytes nor smuggle in pickled objects.
    """
    path = Path(path)
    if root is not None and not path.resolve().is_relative_to(Path(root).resolve()):
        raise SentilocError(f"{path}: points outside the dataset folder {root}; copy the file into the dataset")
    regular_file(path, "feature file")
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read_header(handle)
            offset = handle.tell()
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise SentilocError(f"{path}: not a .npy array file ({_short(exc)}); re-save it with numpy.save") from None
    if dtype.hasobject or not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise SentilocError(f"{path}: holds {dtype} values, not numbers; re-extract the features as float32")
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = path.stat().st_size - offset
    if needed > available:
        raise SentilocError(f"{path}: header claims shape {shape} ({needed} bytes) but the file holds {available}; "
                            "the file is truncated or corrupt, re-extract it")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise SentilocError(f"{path}: unreadable .npy ({_short(exc)}); re-extract it") from None


def _short(exc: BaseException) -> str:
    """The first sentence of an exception message, without numpy's advice about pickles."""
    return str(exc).split(";")[0].split(". ")[0].splitlines()[0] if str(exc) else type(exc).__name__


def csv_cell(value: object) -> object:
    """``value`` safe for a spreadsheet: text starting with ``= + - @``, tab or CR (a formula) gets a leading quote.

    For cells holding names read from user files (class labels, video ids, config names): numbers
    pass unchanged, but a number already formatted as text such as ``"-1.5"`` would be quoted too.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def id_problem(video_id: str) -> str | None:
    """Return why ``video_id`` is unsafe as a file name, or None when it is safe.

    Ids come from annotation files that may be written by strangers; they are joined to the
    dataset folder, so separators, ``..`` and control characters are refused outright.
    """
    if not isinstance(video_id, str) or not video_id.strip():
        return "empty video id"
    if video_id != video_id.strip():
        return f"video id {video_id!r} has leading or trailing white space"
    if "/" in video_id or "\\" in video_id or "\x00" in video_id:
        return f"video id {video_id!r} contains a path separator"
    if ".." in video_id or video_id.startswith("."):
        return f"video id {video_id!r} contains '..' or starts with '.'"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in video_id):
        return f"video id {video_id!r} contains control or bidirectional formatting characters"
    return None


def safe_video_id(video_id: str, source: Path | str) -> str:
    """Validate ``video_id`` read from ``source``; raise an error naming the file otherwise."""
    problem = id_problem(video_id)
    if problem:
        raise SentilocError(f"{source}: {problem}; video ids must be plain file names (rename the video)")
    return video_id


def prepare_output_dir(path: Path, overwrite: bool, what: str = "output folder") -> Path:
    """Create ``path`` for writing, refusing to clobber a non-empty folder without ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SentilocError(f"{path}: {what} exists and is not a folder; choose another path")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise SentilocError(f"{path}: {what} is not empty; choose a new path or pass --overwrite")
    path.mkdir(parents=True, exist_ok=True)
    return path


def refuse_clobber(path: Path, overwrite: bool) -> None:
    """Refuse to replace an existing file unless ``overwrite`` is set."""
    if Path(path).exists() and not overwrite:
        raise SentilocError(f"{path}: already exists; choose another path or pass --overwrite")
