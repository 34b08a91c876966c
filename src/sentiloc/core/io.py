"""Safe file I/O shared by every package.

Two promises the toolkit makes to its users live here: nothing is ever half-written (all
writes go to a temporary file in the same folder and are renamed into place), and video ids
read from annotation files can never address a file outside the dataset folder.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from sentiloc.core.errors import SentilocError


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
    replaces an existing one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _open_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def load_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning I/O and syntax problems into errors naming the file."""
    path = Path(path)
    try:
        with path.open("r", encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise SentilocError(f"{path}: {what} not found; check the path") from None
    except json.JSONDecodeError as exc:
        raise SentilocError(
            f"{path}: {what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "fix or regenerate the file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SentilocError(f"{path}: cannot read {what} ({exc}); check permissions and encoding") from None


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
    if any(ord(ch) < 32 for ch in video_id):
        return f"video id {video_id!r} contains control characters"
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
