"""Model-suggested clicks and uncertainty ordering for ``sentiloc annotate --checkpoint``.

A trained checkpoint says where each class is likely with the scores its proposals are cut from
(``postprocess.cas_source``: its class activation sequence, its Global CAS, or their mean; ``(T, C)``
per snippet of 16 frames, in [0, 1]; "the CAS" below). Suggesting from the same track the
checkpoint's detections come from matters: FSENet-point detects from its Global CAS, and its raw
CAS, which crosses 0.5 in background too, made suggestions barely better than chance
(docs/RESULTS.md, "Collecting labels"). The annotator is shown:

* **suggestions**: one per run of snippets whose CAS of a class stays at or above ``threshold``,
  at the run's highest snippet (so one segment gives one suggestion, as one click per segment is
  the rule), unless the annotator already has a click of that class in the run or within
  ``window_s`` of the peak, or turned down a suggestion of that class within ``window_s`` of it;
* **uncertainty**: the mean binary entropy (bits) of the CAS over snippets and classes,
  ``H = mean_t,c [-p log2 p - (1-p) log2 (1-p)]`` with ``p = CAS[t, c]``: 1 where the model
  cannot tell (p = 0.5 everywhere), 0 where it is sure of every snippet. Videos are offered
  most uncertain first: their clicks teach the model most.

The CAS of a video is computed once per checkpoint and video file and cached in a folder next
to the label file (:class:`ModelOutputs`), keyed by the fingerprints of both files.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from sentiloc.core.io import atomic_write_bytes
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.postprocess.proposals import scoring_inputs

if TYPE_CHECKING:
    from sentiloc.apps.localize import Localizer
    from sentiloc.tasks.localization import VideoOutput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelTrack:
    """A model's view of one video: ``cas: (T, C)`` in the classes' order, ``w_sent: (T,)``, at ``fps``."""

    fps: float
    cas: np.ndarray
    w_sent: np.ndarray

    @property
    def snippet_s(self) -> float:
        return SNIPPET_FRAMES / self.fps


@dataclass(frozen=True)
class Suggestion:
    """A proposed click: class ``label`` at ``time_s`` (the centre of the peak snippet), CAS ``score``."""

    label: str
    time_s: float
    score: float

    def to_json(self) -> dict:
        return {"label": self.label, "time_s": round(self.time_s, 3), "score": round(self.score, 4)}


#: What the page calls the track of each ``postprocess.cas_source``.
TRACK_NAMES = {"cas": "CAS", "global": "Global CAS", "mean": "mean CAS"}


def model_track(localizer: Localizer, output: VideoOutput, columns: Sequence[int],
                source: str | None = None) -> ModelTrack:
    """One video's :class:`ModelTrack` from the model ``output``: the scores the checkpoint cuts its
    proposals from (``postprocess.cas_source``, or the ``source`` given) in the class ``columns``
    given, and ``W_sent``."""
    trained = localizer.trained
    scores, _ = scoring_inputs(output.cas, output.global_cas, output.video_scores,
                               source or trained.exp.postprocess.cas_source, trained.model.cfg.r_act)
    return ModelTrack(float(output.fps), np.asarray(scores[:, list(columns)], dtype=np.float32),
                      np.asarray(output.w_sent, dtype=np.float32))


def above_runs(scores: np.ndarray, threshold: float) -> np.ndarray:
    """``(T,)`` int: the 1-based number of the run of ``scores >= threshold`` each snippet is in, 0 outside runs.

    ``[0.2, 0.7, 0.8, 0.1, 0.9]`` at 0.5 -> ``[0, 1, 1, 0, 2]``.
    """
    above = scores >= threshold
    starts = above & ~np.concatenate([[False], above[:-1]])
    return np.cumsum(starts) * above


def class_suggestions(scores: np.ndarray, snippet_s: float, threshold: float, clicks_s: np.ndarray,
                      rejected_s: np.ndarray, window_s: float) -> list[tuple[float, float]]:
    """``(time_s, score)`` of the uncovered peaks of one class's CAS ``scores: (T,)``.

    ``clicks_s`` and ``rejected_s`` are the times (s) of the annotator's clicks and rejections of
    this class. A click covers its whole run and ``window_s`` around it; a rejection ``window_s``.
    """
    runs = above_runs(scores, threshold)
    if not runs.any():
        return []
    ids = np.arange(1, runs.max() + 1)
    peaks = np.asarray(ndimage.maximum_position(scores, labels=runs, index=ids), dtype=np.int64).reshape(-1)
    times_s = (peaks + 0.5) * snippet_s
    click_snippets = np.clip((clicks_s / snippet_s).astype(np.int64), 0, len(scores) - 1)
    covered = np.isin(ids, runs[click_snippets])
    for marks in (clicks_s, rejected_s):
        if len(marks):
            covered |= (np.abs(times_s[:, None] - marks[None, :]) <= window_s).any(axis=1)
    return [(float(t), float(scores[p])) for t, p in zip(times_s[~covered], peaks[~covered])]


def suggestions(track: ModelTrack, classes: Sequence[str], clicks: Sequence[tuple[str, float]],
                rejected: Sequence[tuple[str, float]], threshold: float, window_s: float) -> list[Suggestion]:
    """The uncovered peaks of every class (see the module docstring), in time order.

    ``clicks`` and ``rejected`` are ``(label, time_s)`` of the annotator's marks in this video.
    """
    found = []
    for c, label in enumerate(classes):
        mine = np.array([t for name, t in clicks if name == label], dtype=np.float64)
        turned_down = np.array([t for name, t in rejected if name == label], dtype=np.float64)
        for time_s, score in class_suggestions(track.cas[:, c], track.snippet_s, threshold, mine, turned_down,
                                               window_s):
            found.append(Suggestion(label, time_s, score))
    return sorted(found, key=lambda s: s.time_s)


def binary_entropy_bits(p: np.ndarray) -> np.ndarray:
    """``-p log2 p - (1-p) log2 (1-p)`` elementwise, 0 at p = 0 and 1 (0.5 -> 1 bit, 0.9 -> 0.469)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -p * np.log2(p) - (1 - p) * np.log2(1 - p)
    return np.nan_to_num(terms, nan=0.0)


def uncertainty(track: ModelTrack) -> float:
    """Mean binary entropy (bits) of the CAS over snippets and classes: 0 = sure everywhere, 1 = coin flips."""
    return float(binary_entropy_bits(track.cas).mean()) if track.cas.size else 0.0


def _fingerprint_hex(path: Path) -> str:
    from sentiloc.features.extract import source_fingerprint

    return source_fingerprint(path).split(":", 1)[1][:16]


class ModelOutputs:
    """Each video's :class:`ModelTrack` from a checkpoint, computed once and cached in ``cache``.

    The cache file of a video is ``<checkpoint fingerprint>-<cas_source>-<video fingerprint>.npz``: a
    changed checkpoint or video file is computed again, a renamed one is not.
    """

    def __init__(self, localizer: Localizer, cache: Path, classes: Sequence[str]) -> None:
        self.localizer = localizer
        self.cache = Path(cache)
        self.classes = list(classes)
        self.source = localizer.trained.exp.postprocess.cas_source
        self._checkpoint_key = f"{_fingerprint_hex(localizer.checkpoint)}-{self.source}"
        model_classes = list(localizer.trained.classes)
        self._columns = [model_classes.index(label) for label in self.classes]

    def track(self, video: Path) -> ModelTrack:
        """``video``'s track (:func:`model_track`) in this session's class order (from the cache when there)."""
        path = self.cache / f"{self._checkpoint_key}-{_fingerprint_hex(video)}.npz"
        cached = self._read(path)
        if cached is not None:
            return cached
        log.info("%s: computing the model's CAS (cached in %s)", Path(video).name, self.cache)
        track = self._compute(video)
        buffer = io.BytesIO()
        np.savez(buffer, fps=np.float64(track.fps), cas=track.cas, w_sent=track.w_sent)
        atomic_write_bytes(path, buffer.getvalue())
        return track

    def _compute(self, video: Path) -> ModelTrack:
        return model_track(self.localizer, self.localizer.video(video, progress=False).output, self._columns,
                           self.source)

    def _read(self, path: Path) -> ModelTrack | None:
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                track = ModelTrack(float(data["fps"]), data["cas"].astype(np.float32), data["w_sent"].astype(np.float32))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: unreadable cache file (%s); computing again", path, exc)
            return None
        if track.cas.ndim != 2 or track.cas.shape[1] != len(self.classes):
            return None
        return track
