"""From a spotting-layout folder to padded :class:`~sentiloc.data.spotting.batch.SpottingBatch` es.

The flow: :class:`SpottingDataConfig` is the ``data:`` section of a spotting config;
:func:`videos_of_split` picks a leave-one-subject-out fold's videos; :func:`load_points` reads the
clicks (only ``points.csv``: no onset or offset reaches a point-supervised model);
:class:`SpottingDataset` loads one video's native per-frame features, mean-pools them onto the
working timeline (:func:`pool_to_working`, docs/methods.md §6) and standardises them; and
:func:`collate_spotting` pads a list of videos into a batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import load_npy
from sentiloc.data.dataset import feature_problem
from sentiloc.data.normalize import FeatureStats, StatsAccumulator, standardize
from sentiloc.data.spotting import layout
from sentiloc.data.spotting.annotations import SpottingVideo, read_points, read_videos
from sentiloc.data.spotting.batch import EXPRESSION_TYPES, SpottingBatch

SUPERVISION_LEVELS = ("point",)
SPLITS = ("train", "test")
#: The name the feature statistics are kept under (``normalize.FeatureStats`` is keyed by stream).
STREAM = "features"


@dataclass
class SpottingDataConfig:
    """The ``data:`` section of a spotting config; every field is a YAML key of the same name."""

    supervision: str = "point"
    working_fps: float = 30.0  # the rate features are pooled to; GIM's frame constants are in these frames
    test_subject: str | None = None  # the held-out subject of a leave-one-subject-out fold
    standardize: str = "video"  # video | dataset | none: per-dim z-score with the video's own statistics, the
    # training videos' statistics, or none

    def __post_init__(self) -> None:
        if self.supervision not in SUPERVISION_LEVELS:
            raise SentilocError(f"data.supervision {self.supervision!r}: spotting is trained from clicks only; "
                                f"choose one of {list(SUPERVISION_LEVELS)}")
        if isinstance(self.working_fps, bool) or not (isinstance(self.working_fps, (int, float))
                                                      and 0 < self.working_fps < math.inf):
            raise SentilocError(f"data.working_fps {self.working_fps!r}: a positive frame rate, e.g. 30")
        if self.test_subject is not None and (not isinstance(self.test_subject, str) or not self.test_subject.strip()):
            raise SentilocError(f"data.test_subject {self.test_subject!r}: a subject of videos.csv, or null")
        if self.standardize not in STANDARDIZE:
            raise SentilocError(f"data.standardize {self.standardize!r}: choose one of {list(STANDARDIZE)}")

    @property
    def classes(self) -> tuple[str, ...]:
        """The expression types, in the order of every ``(..., 2)`` output."""
        return EXPRESSION_TYPES

    def roles(self) -> dict[str, object]:
        """Stream roles a model is built with: spotting has one feature stream, so none."""
        return {}


#: ``data.standardize``: how frame features are scaled before the model (docs/spotting.md).
STANDARDIZE = ("video", "dataset", "none")


def zscore_over_time(features: np.ndarray) -> np.ndarray:
    """``(T, D)`` -> each dimension minus its mean over the video, over its std (floored at 1e-6).

    A subject's constant appearance (the face, the lighting, the camera) drops out: what remains is
    how each frame departs from the video's own typical frame, which is what an expression is.
    """
    centred = features - features.mean(axis=0, keepdims=True)
    return (centred / np.maximum(centred.std(axis=0, keepdims=True), 1e-6)).astype(np.float32)


def stride_of(fps: float, working_fps: float) -> int:
    """Native frames pooled into one working frame: ``max(1, round(fps / working_fps))`` (200 / 30 -> 7)."""
    return max(1, round(fps / working_fps))


def pool_to_working(features: np.ndarray, stride: int) -> np.ndarray:
    """Mean of every ``stride`` consecutive rows: ``(n, D)`` native -> ``(ceil(n / stride), D)`` working.

    The last group may be shorter and is averaged over the rows it has, so working frame ``w``
    covers native frames ``[w * stride, min((w + 1) * stride, n) - 1]``.
    """
    n = len(features)
    starts = np.arange(0, n, stride)
    sums = np.add.reduceat(features.astype(np.float64), starts, axis=0)
    counts = np.minimum(stride, n - starts)[:, None]
    return (sums / counts).astype(np.float32)


def working_length(n_frames: int, stride: int) -> int:
    """Working frames of a video of ``n_frames`` native frames: ``ceil(n_frames / stride)``."""
    return -(-n_frames // stride)


def feature_file_problem(rows: np.ndarray, video: SpottingVideo) -> str | None:
    """Why ``rows`` cannot be ``video``'s features (shape, dtype, row count, NaN/inf, magnitude), or None."""
    if rows.ndim != 2 or 0 in rows.shape:
        return f"expected a non-empty 2-D array (n_frames, dim), got shape {rows.shape}"
    if not np.issubdtype(rows.dtype, np.floating):
        return f"holds {rows.dtype} values, not floats"
    if rows.shape[0] != video.n_frames:
        return f"{rows.shape[0]} rows but videos.csv says n_frames {video.n_frames}: one row per native frame"
    return feature_problem(rows)


def read_features(root: Path, video: SpottingVideo, dim: int | None = None) -> np.ndarray:
    """``video``'s native features, ``(n_frames, D)`` float32, checked; a one-line error naming the file otherwise."""
    path = layout.feature_path(root, video.video_id)
    rows = load_npy(path, root)
    problem = feature_file_problem(rows, video)
    if problem is None and dim is not None and rows.shape[1] != dim:
        problem = f"feature dim {rows.shape[1]}, but the model expects {dim}"
    if problem:
        raise SentilocError(f"{path}: {problem}; re-extract the features (`sentiloc check-data {root}` lists every problem)")
    return rows.astype(np.float32, copy=False)


def feature_dim(root: Path, videos: Sequence[SpottingVideo]) -> int:
    """The feature dim ``D``, read from the first video's ``.npy`` header (nothing else is loaded)."""
    if not videos:
        raise SentilocError(f"{root}: no videos; check videos.csv and data.test_subject")
    path = layout.feature_path(root, videos[0].video_id)
    shape = load_npy(path, root, mmap=True).shape
    if len(shape) != 2:
        raise SentilocError(f"{path}: expected a 2-D array (n_frames, dim), got shape {shape}; run `sentiloc check-data {root}`")
    return int(shape[1])


def videos_of_split(videos: Sequence[SpottingVideo], cfg: SpottingDataConfig, split: str) -> list[SpottingVideo]:
    """A leave-one-subject-out fold: ``train`` is every subject but ``cfg.test_subject``, ``test`` that subject.

    Without a test subject both splits are every video (fit and score on the same data).
    """
    if split not in SPLITS:
        raise SentilocError(f"split {split!r}: choose one of {list(SPLITS)}")
    if cfg.test_subject is None:
        return list(videos)
    subjects = sorted({v.subject for v in videos})
    if cfg.test_subject not in subjects:
        raise SentilocError(f"data.test_subject {cfg.test_subject!r} is not a subject of videos.csv; "
                            f"choose one of {subjects}")
    return [v for v in videos if (v.subject == cfg.test_subject) == (split == "test")]


def load_points(root: Path, videos: Sequence[SpottingVideo],
                working_fps: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Clicks of ``videos`` on the working timeline: ``{video: (frames (P,) long, types (P,) long)}``.

    Reads ``videos.csv`` (to check every click's video) and ``points.csv``, nothing else. A click at
    native frame ``f`` is working frame ``f // stride``; its type indexes :data:`EXPRESSION_TYPES`.
    """
    points = read_points(root, read_videos(root))
    result = {}
    for video in videos:
        clicks = points.get(video.video_id, [])
        stride = stride_of(video.fps, working_fps)
        result[video.video_id] = (np.array([p.frame // stride for p in clicks], dtype=np.int64),
                                  np.array([EXPRESSION_TYPES.index(p.type) for p in clicks], dtype=np.int64))
    return result


@dataclass
class SpottingItem:
    """One video on the working timeline: ``features (T, D)``, its clicks ``point_t (P,)`` / ``point_type (P,)``."""

    video_id: str
    features: np.ndarray
    stride: int
    n_frames: int
    point_t: np.ndarray
    point_type: np.ndarray


class SpottingDataset(Dataset):
    """Videos of a spotting folder, pooled to ``cfg.working_fps`` and standardised with :attr:`stats`.

    ``points`` (from :func:`load_points`) are the clicks a training set exposes; without them
    every item has none (inference). ``dim`` is the feature dim a trained model expects.
    ``stats`` (``{"features": {"mean": (D,), "std": (D,)}}``, see :meth:`raw_stats`) is applied on
    load when set; the task computes it on the training videos when ``cfg.standardize`` is
    ``dataset``. With ``video`` every video is z-scored with its own statistics instead.
    """

    def __init__(self, root: Path, videos: Sequence[SpottingVideo], cfg: SpottingDataConfig,
                 points: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None, dim: int | None = None,
                 stats: FeatureStats | None = None) -> None:
        if not videos:
            raise SentilocError(f"{root}: no videos in this split; check videos.csv and data.test_subject")
        self.root = Path(root)
        self.videos = list(videos)
        self.cfg = cfg
        self.points = points or {}
        self.dim = dim
        self.stats = stats
        self.strides = [stride_of(v.fps, cfg.working_fps) for v in self.videos]
        #: working frames per video
        self.lengths = [working_length(v.n_frames, s) for v, s in zip(self.videos, self.strides)]

    def __len__(self) -> int:
        return len(self.videos)

    def working_features(self, index: int) -> np.ndarray:
        """Video ``index``'s pooled features ``(T, D)``, before standardisation."""
        return pool_to_working(read_features(self.root, self.videos[index], self.dim), self.strides[index])

    def raw_stats(self) -> FeatureStats:
        """Per-dim mean and std over every working frame of this dataset (for :attr:`stats`)."""
        accumulator = StatsAccumulator()
        for index in range(len(self)):
            accumulator.add({STREAM: self.working_features(index)}, None, None)
        return accumulator.stats()

    def __getitem__(self, index: int) -> SpottingItem:
        video = self.videos[index]
        features = self.working_features(index)
        if self.cfg.standardize == "video":
            features = zscore_over_time(features)
        elif self.stats is not None:
            features = standardize({STREAM: features}, None, self.stats, None)[STREAM]
        empty = np.zeros(0, dtype=np.int64)
        point_t, point_type = self.points.get(video.video_id, (empty, empty))
        return SpottingItem(video.video_id, features, self.strides[index], video.n_frames, point_t, point_type)


def collate_spotting(items: Sequence[SpottingItem]) -> SpottingBatch:
    """Pad ``B`` items to the longest video (``T``) and the most clicks (``P``); masks mark what is real.

    ``P`` is at least 1 (a masked-out click when no video has one), so reductions over clicks are
    defined for a batch of expression-free videos.
    """
    lengths = torch.tensor([len(item.features) for item in items])
    counts = torch.tensor([len(item.point_t) for item in items])
    features = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(np.ascontiguousarray(item.features))
                                                for item in items], batch_first=True)
    n_clicks = max(1, int(counts.max()))

    def padded_clicks(values: list[np.ndarray]) -> torch.Tensor:
        out = torch.zeros(len(values), n_clicks, dtype=torch.long)
        for row, value in enumerate(values):
            out[row, : len(value)] = torch.as_tensor(value, dtype=torch.long)
        return out

    point_t = padded_clicks([item.point_t for item in items])
    point_type = padded_clicks([item.point_type for item in items])
    return SpottingBatch(
        features=features,
        mask=torch.arange(features.shape[1])[None, :] < lengths[:, None],
        video_ids=[item.video_id for item in items],
        stride=torch.tensor([item.stride for item in items], dtype=torch.long),
        n_frames=torch.tensor([item.n_frames for item in items], dtype=torch.long),
        point_t=point_t,
        point_type=point_type,
        point_mask=torch.arange(point_t.shape[1])[None, :] < counts[:, None],
    )
