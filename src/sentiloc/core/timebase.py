"""Snippet <-> frame <-> second conversions: the only place these units meet.

A snippet is ``SNIPPET_FRAMES`` native frames of a video; snippet ``t`` covers frames
``[16 t, 16 t + 16)`` and therefore seconds ``[16 t / fps, 16 (t + 1) / fps)``. Everything
that turns model outputs into seconds or annotations into snippet indices goes through here,
so a change of stride is a one-line change.
"""

from __future__ import annotations

import math

import numpy as np

SNIPPET_FRAMES = 16


def snippet_to_seconds(t: float | np.ndarray, fps: float) -> float | np.ndarray:
    """Start time in seconds of (possibly fractional) snippet index ``t``."""
    return t * SNIPPET_FRAMES / fps


def seconds_to_snippet(sec: float | np.ndarray, fps: float) -> float | np.ndarray:
    """Fractional snippet index at time ``sec``."""
    return sec * fps / SNIPPET_FRAMES


def frame_to_snippet(frame: int | np.ndarray) -> int | np.ndarray:
    """Snippet holding native frame ``frame`` (``floor(frame / 16)``)."""
    return np.floor_divide(frame, SNIPPET_FRAMES)


def snippets_in(duration_s: float, fps: float) -> int:
    """Number of snippets a video of ``duration_s`` seconds at ``fps`` yields (partial last one kept)."""
    return max(1, math.ceil(duration_s * fps / SNIPPET_FRAMES - 1e-9))


def segment_to_snippets(start_s: float, end_s: float, fps: float) -> tuple[int, int]:
    """Half-open snippet range ``[floor(s fps / 16), ceil(e fps / 16))`` covering a segment."""
    first = math.floor(start_s * fps / SNIPPET_FRAMES)
    last = math.ceil(end_s * fps / SNIPPET_FRAMES)
    return first, max(last, first + 1)
