"""What every per-snippet feature extractor looks like.

Extraction walks a video once on the TSL-300 snippet grid (16 native frames per snippet, see
:mod:`sentiloc.core.timebase`) and hands each snippet's frames to the visual and face
extractors, and each snippet's audio window to the audio extractor. Keeping the three behind one
small contract lets ``extract`` record exactly which extractor produced a stream (``name``,
``version``, ``dim`` go into ``meta/<video>.json`` and into checkpoints), and lets ``localize``
refuse a checkpoint whose dims the chosen extractors cannot produce.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

#: Native frames per snippet, the TSL-300 convention.
SNIPPET_FRAMES = 16
#: The extractor choices of ``--visual``, ``--audio`` and ``--face-detector`` (importable without the
#: ``video`` extra, so the CLI can list them).
VISUAL_CHOICES = ("default", "i3d")
AUDIO_CHOICES = ("logmel", "egemaps")
FACE_DETECTOR_CHOICES = ("haar", "mediapipe")


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
