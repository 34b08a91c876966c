"""What every feature extractor looks like, and how one is registered.

Extraction walks a video once on the TSL-300 snippet grid (16 native frames per snippet, see
:mod:`sentiloc.core.timebase`) and hands each snippet's frames to the extractors that read frames,
and the whole audio track to those that read audio. Keeping them behind one small contract lets
``extract`` record exactly which extractor produced a stream (``name``, ``version``, ``dim`` go
into ``meta/<video>.json`` and into checkpoints), and lets ``localize`` refuse a checkpoint whose
dims the chosen extractors cannot produce.

A :class:`StreamExtractor` is a registry entry: the stream an extractor fills, the setting that
selects it and how to build it. Entries name their code with :func:`deferred`, so the registries
(and the command line's choices) load without OpenCV, librosa, torch or optional installs such
as MediaPipe; an extractor's libraries are imported when it is built. This module is light for
the same reason. How to add one: docs/features.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from sentiloc.data import layout
from sentiloc.features import video_imports

if TYPE_CHECKING:
    from sentiloc.features.settings import ExtractSettings


#: The three output streams, under their TSL-300 folder names: visual, audio, face.
RGB, AUDIO, FACE = layout.DEFAULT_MODALITIES


def file_digest(path: Path) -> str:
    """Short content hash of a weights file, so two different files with one name never share a version."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class ExtractorInfo:
    """Identity of one stream's extractor, stored in metadata and checkpoints."""

    name: str
    version: str
    dim: int

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "dim": self.dim}


class ClipExtractor(Protocol):
    """Maps the frames of one snippet to one feature row.

    ``clip`` is ``uint8 (F, H, W, 3)`` RGB with ``F == SNIPPET_FRAMES`` (the last snippet of a
    video is padded by repeating its final frame).
    """

    info: ExtractorInfo

    def __call__(self, clip: np.ndarray) -> np.ndarray:
        """Return ``float32 (info.dim,)``."""
        ...


class AudioExtractor(Protocol):
    """Maps a whole mono waveform to one row per snippet of the video's grid.

    Audio is handled per video rather than per snippet because windows straddle snippet
    boundaries and whole-track (chunked) processing is far faster than thousands of tiny calls.
    """

    info: ExtractorInfo

    def __call__(self, samples: np.ndarray, fps: float, n_snippets: int) -> np.ndarray:
        """Return ``float32 (n_snippets, info.dim)`` for mono ``samples`` at the extractor's rate."""
        ...


class FaceClipExtractor(Protocol):
    """Like :class:`ClipExtractor`, but also says whether the snippet shows a face at all.

    Snippets without a face give a zero row and ``False``; the data layer turns all-zero face rows
    into its face-missing mask, so the two always agree.
    """

    info: ExtractorInfo

    def __call__(self, clip: np.ndarray) -> tuple[np.ndarray, bool]:
        """Return ``(float32 (info.dim,), face_present)``."""
        ...


Extractor = ClipExtractor | AudioExtractor | FaceClipExtractor


def deferred(module: str, attribute: str) -> Callable[..., Any]:
    """``module.attribute`` as a callable that imports ``module`` only when it is called.

    This is where an extractor's libraries are imported, so a missing one becomes the one-line
    install instruction of :func:`~sentiloc.features.video_imports` here.
    """

    def call(*args: Any, **kwargs: Any) -> Any:
        with video_imports("feature extraction"):
            target = getattr(import_module(module), attribute)
        return target(*args, **kwargs)

    call.__qualname__ = f"{module}.{attribute}"
    return call


def accepts_any(settings: ExtractSettings) -> None:
    """The :attr:`StreamExtractor.check` of extractors that take every valid setting."""


@dataclass(frozen=True)
class StreamExtractor:
    """A registered way to fill one output stream.

    Attributes:
        stream: the output folder it fills (``rgb``, ``logmfcc`` or ``img``).
        option: the :class:`~sentiloc.features.settings.ExtractSettings` field that selects it.
        choice: the value of that field that selects it (the name it is registered under).
        build: ``(settings, device) -> extractor``; the extractor describes itself with its
            :class:`ExtractorInfo` ``info``. ``device`` only places models; it never changes rows.
        summary: one line for ``--help``.
        reads: ``frames``: called on each snippet's clip (:class:`ClipExtractor`); ``audio``:
            called once on the whole track (:class:`AudioExtractor`).
        presence: for a frames extractor that also says whether its subject is present
            (:class:`FaceClipExtractor`), the meta key of those per-snippet flags.
        check: raises :class:`~sentiloc.core.errors.SentilocError` for settings it cannot use
            (a missing weights file, too small frames), before anything is built.
    """

    stream: str
    option: str
    choice: str
    build: Callable[[ExtractSettings, str], Extractor]
    summary: str
    reads: Literal["frames", "audio"] = "frames"
    presence: str | None = None
    check: Callable[[ExtractSettings], None] = accepts_any
