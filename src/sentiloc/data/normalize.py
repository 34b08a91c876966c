"""Per-dimension standardisation of feature streams, with statistics from the training videos only.

Released TSL-300 features are already well scaled (I3D activations, learned embeddings), and the
paper's models read them as they are. Features that ``sentiloc extract`` computes are not: the
audio stream is log-mel in dB (about -50 to +20, the TSL-300 raw convention), next to unit-norm
face descriptors and [0, 1] colour statistics, and a model fed that mix learns the loudness of
the audio and little else. ``data.standardize`` (``auto``: on exactly for datasets from
``sentiloc build-dataset``, which carry ``extractor.json``) rescales every dimension to zero mean
and unit variance over the *training* snippets. The statistics travel in the checkpoint, so
``predict`` and ``localize`` apply the very same transform. Face rows without a face stay all-zero:
that is how the data layer marks a missing face.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sentiloc.data import layout

#: stream -> {"mean": (D,), "std": (D,)} float32
FeatureStats = dict[str, dict[str, np.ndarray]]


def wants_standardize(setting: str | bool, root) -> bool:
    """Resolve ``data.standardize``: ``auto`` means "the dataset's features were extracted by sentiloc"."""
    if setting == "auto":
        return (root / layout.EXTRACTOR_FILE).is_file()
    return bool(setting)


class StatsAccumulator:
    """Running per-dimension sums over snippets (float64, so hours of video do not lose precision)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.total: dict[str, np.ndarray] = {}
        self.squares: dict[str, np.ndarray] = {}

    def add(self, streams: Mapping[str, np.ndarray], face_present: np.ndarray, face: str | None) -> None:
        for name, rows in streams.items():
            rows = rows[face_present] if name == face else rows
            data = rows.astype(np.float64)
            self.count[name] = self.count.get(name, 0) + len(data)
            self.total[name] = self.total.get(name, 0.0) + data.sum(axis=0)
            self.squares[name] = self.squares.get(name, 0.0) + (data**2).sum(axis=0)

    def stats(self) -> FeatureStats:
        """Mean and std per dimension; a std floor (1% of the stream's mean std) keeps constant dims finite.

        A stream with no rows at all (no training snippet showed a face) gets no statistics and is
        left as it is: scaling by a floor of 1e-6 would blow up the first face seen at inference.
        """
        result: FeatureStats = {}
        for name, count in self.count.items():
            if count == 0:
                continue
            mean = self.total[name] / count
            std = np.sqrt(np.maximum(self.squares[name] / count - mean**2, 0.0))
            std = np.maximum(std, max(1e-2 * float(std.mean()), 1e-6))
            result[name] = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
        return result


def standardize(streams: Mapping[str, np.ndarray], face_present: np.ndarray, stats: FeatureStats,
                face: str | None) -> dict[str, np.ndarray]:
    """``(x - mean) / std`` per stream that has statistics; rows without a face stay exactly zero."""
    out = {}
    for name, rows in streams.items():
        if name not in stats:
            out[name] = rows
            continue
        scaled = ((rows - stats[name]["mean"]) / stats[name]["std"]).astype(np.float32)
        out[name] = np.where(face_present[:, None], scaled, 0.0).astype(np.float32) if name == face else scaled
    return out


def stats_to_state(stats: FeatureStats | None) -> dict | None:
    """Tensors for a ``weights_only`` checkpoint."""
    if stats is None:
        return None
    return {name: {k: torch.from_numpy(v) for k, v in parts.items()} for name, parts in stats.items()}


def stats_from_state(state: dict | None) -> FeatureStats | None:
    if state is None:
        return None
    return {name: {k: v.numpy() for k, v in parts.items()} for name, parts in state.items()}
