"""From a recognition-layout folder to padded :class:`~sentiloc.data.recognition.batch.RecognitionBatch` es.

The flow: :class:`RecognitionDataConfig` is the ``data:`` section of a recognition config;
:func:`videos_of_split` picks the videos of the train/test split or of a fold; :func:`load_labels`
turns the labels file into class indices; :func:`feature_dims` reads each stream's dim from a
``.npy`` header; :class:`RecognitionDataset` loads a video's streams (``(T, D_s)`` per-segment
features), optionally mean-pools them into ``data.segments`` equal chunks
(:func:`pool_segments`) and standardises them with the training videos' statistics; and
:func:`collate_recognition` pads a list of videos into a batch (docs/methods.md §8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem, load_npy
from sentiloc.data.dataset import feature_problem
from sentiloc.data.normalize import FeatureStats, StatsAccumulator, standardize
from sentiloc.data.recognition import layout
from sentiloc.data.recognition.annotations import (
    LabelRow,
    folds_of,
    read_classes,
    read_labels,
)
from sentiloc.data.recognition.batch import UNLABELLED, RecognitionBatch

SUPERVISION_LEVELS = ("video",)
#: ``data.standardize``: z-score every dim with the training videos' statistics, or leave the features as they are.
STANDARDIZE = ("dataset", "none")
#: What :func:`videos_of_split` selects.
SELECTIONS = ("train", "test", "all")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class RecognitionDataConfig:
    """The ``data:`` section of a recognition config; every field is a YAML key of the same name."""

    supervision: str = "video"  # clip labels only
    streams: tuple[str, ...] = ("visual", "audio")  # folders under features/, in model order
    labels_file: str = layout.LABELS_FILE  # a bare file name inside the dataset folder
    test_fold: int | None = None  # with a fold column: train on the other folds, test on this one
    val_fraction: float = 0.0  # > 0: a seeded hold-out of the training videos selects the checkpoint
    val_seed: int = 0
    segments: int | None = None  # mean-pool each video into this many equal chunks (fewer segments: kept)
    standardize: str = "dataset"  # dataset | none

    def __post_init__(self) -> None:
        if self.supervision not in SUPERVISION_LEVELS:
            raise SentilocError(f"data.supervision {self.supervision!r}: recognition learns from clip labels; "
                                f"choose one of {list(SUPERVISION_LEVELS)}")
        self.streams = tuple(self.streams) if isinstance(self.streams, (list, tuple)) else self.streams
        if not isinstance(self.streams, tuple) or not self.streams or len(set(self.streams)) != len(self.streams):
            raise SentilocError(f"data.streams {self.streams!r}: a non-empty list of distinct stream folders, "
                                "e.g. [visual, audio]")
        for stream in self.streams:
            problem = id_problem(stream) if isinstance(stream, str) else "not a string"
            if problem:
                raise SentilocError(f"data.streams {stream!r}: {problem.replace('video id', 'stream name', 1)}; "
                                    "name a folder under features/")
        problem = id_problem(self.labels_file) if isinstance(self.labels_file, str) else "not a string"
        if problem or not self.labels_file.endswith(".csv"):
            raise SentilocError(f"data.labels_file {self.labels_file!r}: a bare .csv file name inside the dataset "
                                "folder, e.g. labels.csv or labels_split03.csv")
        if self.test_fold is not None and not (_whole(self.test_fold) and self.test_fold >= 1):
            raise SentilocError(f"data.test_fold {self.test_fold!r}: a fold number 1..K of the labels file, or null")
        if isinstance(self.val_fraction, bool) or not (isinstance(self.val_fraction, (int, float))
                                                       and 0.0 <= self.val_fraction < 1.0):
            raise SentilocError(f"data.val_fraction {self.val_fraction!r}: a fraction in [0, 1), e.g. 0.1 (0 = none)")
        if not (_whole(self.val_seed) and self.val_seed >= 0):
            raise SentilocError(f"data.val_seed {self.val_seed!r}: a non-negative integer")
        if self.segments is not None and not (_whole(self.segments) and self.segments >= 1):
            raise SentilocError(f"data.segments {self.segments!r}: a number of chunks >= 1, or null to keep every segment")
        if self.standardize not in STANDARDIZE:
            raise SentilocError(f"data.standardize {self.standardize!r}: choose one of {list(STANDARDIZE)}")

    def roles(self) -> dict[str, object]:
        """Stream roles a model is built with: the stream names in model order."""
        return {"streams": tuple(self.streams)}


def load_labels(root: Path, cfg: RecognitionDataConfig) -> dict[str, int]:
    """Class index (line of ``classes.txt``) of every video of the labels file; :data:`UNLABELLED` when empty."""
    classes = read_classes(root)
    rows = read_labels(root, classes, cfg.labels_file)
    return {video: UNLABELLED if row.label is None else classes.index(row.label) for video, row in rows.items()}


def _split_rows(rows: Mapping[str, LabelRow], cfg: RecognitionDataConfig, split: str, source: Path) -> list[str]:
    """The videos of ``split`` among ``rows``: by ``cfg.test_fold`` when set, else by the split column."""
    if split == "all":
        return list(rows)
    if split == "train":
        rows = {video: row for video, row in rows.items() if row.label is not None}
    if cfg.test_fold is not None:
        folds = folds_of(rows)
        if not folds:
            raise SentilocError(f"{source}: data.test_fold is {cfg.test_fold} but the file has no fold column; "
                                "add one or set data.test_fold to null")
        if cfg.test_fold not in folds:
            raise SentilocError(f"data.test_fold {cfg.test_fold}: {source.name} has folds 1..{folds[-1]}; choose one")
        return [video for video, row in rows.items() if (row.fold == cfg.test_fold) == (split == "test")]
    if all(row.split is None for row in rows.values()):
        raise SentilocError(f"{source}: no split column, only folds; set data.test_fold to a fold number "
                            "(crossval runs every fold)")
    return [video for video, row in rows.items() if row.split == split]


def videos_of_split(root: Path, cfg: RecognitionDataConfig, split: str) -> list[str]:
    """Video ids of ``split`` (train, test or all) in labels-file order.

    With ``cfg.test_fold`` set, ``test`` is that fold and ``train`` every other fold; otherwise the
    ``split`` column decides. ``train`` never holds an unlabelled video (a ``test`` row with an empty
    label, which a fold selection could otherwise put there). ``all`` is every video of the file.
    """
    if split not in SELECTIONS:
        raise SentilocError(f"split {split!r}: choose one of {list(SELECTIONS)}")
    rows = read_labels(root, read_classes(root), cfg.labels_file)
    videos = _split_rows(rows, cfg, split, Path(root) / cfg.labels_file)
    if not videos:
        raise SentilocError(f"{Path(root) / cfg.labels_file}: no {split} videos; check the split/fold column "
                            "and data.test_fold")
    return videos


def read_stream(root: Path, stream: str, video_id: str, dim: int | None = None) -> np.ndarray:
    """One video's ``(T, D)`` float32 features of ``stream``, checked; a one-line error naming the file otherwise."""
    path = layout.feature_path(root, stream, video_id)
    rows = load_npy(path, root)
    problem = feature_problem(rows)
    if problem is None and not np.issubdtype(rows.dtype, np.floating):
        problem = f"holds {rows.dtype} values, not floats"
    if problem is None and dim is not None and rows.shape[1] != dim:
        problem = f"feature dim {rows.shape[1]}, but stream {stream!r} has {dim}"
    if problem:
        raise SentilocError(f"{path}: {problem}; re-extract the features (`sentiloc check-data {root}` lists every problem)")
    return rows.astype(np.float32, copy=False)


def stream_shape(root: Path, stream: str, video_id: str) -> tuple[int, int]:
    """``(T, D)`` of one feature file from its ``.npy`` header (nothing else is read)."""
    path = layout.feature_path(root, stream, video_id)
    shape = load_npy(path, root, mmap=True).shape
    if len(shape) != 2:
        raise SentilocError(f"{path}: expected a 2-D array (segments, dim), got shape {shape}; "
                            f"run `sentiloc check-data {root}`")
    return int(shape[0]), int(shape[1])


def feature_dims(root: Path, cfg: RecognitionDataConfig, videos: Sequence[str]) -> dict[str, int]:
    """``{stream: D}`` from the headers of the first video's files, in ``cfg.streams`` order."""
    if not videos:
        raise SentilocError(f"{root}: no videos; check {cfg.labels_file} and data.test_fold")
    return {stream: stream_shape(root, stream, videos[0])[1] for stream in cfg.streams}


def chunk_starts(length: int, segments: int) -> np.ndarray:
    """First row of each of ``segments`` equal chunks of ``length`` rows: ``floor(k * length / segments)``.

    Chunk ``k`` covers rows ``[starts[k], starts[k + 1] - 1]`` (the last one up to ``length - 1``);
    with ``length >= segments`` none is empty. 10 rows in 4 chunks: starts 0, 2, 5, 7.
    """
    return (np.arange(segments) * length) // segments


def pool_segments(features: np.ndarray, segments: int | None) -> np.ndarray:
    """``(T, D)`` -> ``(min(T, segments), D)``: the mean of each of ``segments`` equal chunks (None or ``T <= segments``: unchanged)."""
    if pooled_length(len(features), segments) == len(features):
        return features
    starts = chunk_starts(len(features), segments)
    sums = np.add.reduceat(features.astype(np.float64), starts, axis=0)
    counts = np.diff(np.append(starts, len(features)))[:, None]
    return (sums / counts).astype(np.float32)


def unpool_segments(values: np.ndarray, length: int, segments: int | None) -> np.ndarray:
    """Inverse of :func:`pool_segments` for per-segment scores: ``(min(T, segments),)`` -> ``(T,)``.

    Each stored segment gets the value of the chunk it was pooled into, so attention and evidence
    read on the pooled grid can be compared with ``keyframes.json``, which indexes the stored
    segments. 4 chunks of 10 rows (starts 0, 2, 5, 7): values a, b, c, d -> a a b b b c c d d d.
    """
    if pooled_length(length, segments) == length:
        return values
    counts = np.diff(np.append(chunk_starts(length, segments), length))
    return np.repeat(values, counts)


def pooled_length(length: int, segments: int | None) -> int:
    """Segments of a ``length``-segment video after :func:`pool_segments`: ``min(length, segments)``."""
    return length if segments is None else min(length, segments)


@dataclass
class RecognitionItem:
    """One video: ``streams`` maps stream name -> ``(T, D_s)`` float32 segment features; ``label`` a class index."""

    video_id: str
    streams: dict[str, np.ndarray]
    label: int


class RecognitionDataset(Dataset):
    """Videos of a recognition folder: every stream of ``cfg.streams``, pooled to ``cfg.segments``, standardised.

    ``labels`` (from :func:`load_labels`) maps video -> class index; a video without one is
    :data:`UNLABELLED` (prediction on unlabelled data passes ``None``). ``dims`` (from
    :func:`feature_dims`) are the stream dims a model expects. ``stats``
    (``{stream: {"mean": (D,), "std": (D,)}}``, see :meth:`raw_stats`) is applied on load when set;
    the task computes it on the training videos when ``cfg.standardize`` is ``dataset``.
    """

    def __init__(self, root: Path, video_ids: Sequence[str], cfg: RecognitionDataConfig,
                 labels: Mapping[str, int] | None, dims: Mapping[str, int], stats: FeatureStats | None = None) -> None:
        if not video_ids:
            raise SentilocError(f"{root}: no videos in this split; check {cfg.labels_file} and data.test_fold")
        missing = [s for s in cfg.streams if s not in dims]
        if missing:
            raise SentilocError(f"data.streams {list(cfg.streams)}: no feature dim for {missing}; "
                                "the checkpoint was trained on other streams")
        self.root = Path(root)
        self.video_ids = list(video_ids)
        self.cfg = cfg
        self.labels = dict(labels or {})
        self.dims = dict(dims)
        self.stats = stats
        #: segments per video as stored (the first stream's headers), and after pooling
        self.stored_lengths = [stream_shape(self.root, cfg.streams[0], v)[0] for v in self.video_ids]
        self.lengths = [pooled_length(n, cfg.segments) for n in self.stored_lengths]

    def __len__(self) -> int:
        return len(self.video_ids)

    def pooled_streams(self, index: int) -> dict[str, np.ndarray]:
        """Video ``index``'s streams after pooling, before standardisation; the streams must share ``T``."""
        video_id = self.video_ids[index]
        streams = {s: read_stream(self.root, s, video_id, self.dims[s]) for s in self.cfg.streams}
        lengths = {s: len(rows) for s, rows in streams.items()}
        if len(set(lengths.values())) > 1:
            raise SentilocError(f"{self.root / layout.FEATURES_DIR}/*/{video_id}.npy: the streams have {lengths} "
                                "segments; extract every stream over the same segments")
        return {s: pool_segments(rows, self.cfg.segments) for s, rows in streams.items()}

    def raw_stats(self) -> FeatureStats:
        """Per-dim mean and std of every stream over every (pooled) segment of this dataset (for :attr:`stats`)."""
        accumulator = StatsAccumulator()
        for index in range(len(self)):
            accumulator.add(self.pooled_streams(index), None, None)
        return accumulator.stats()

    def __getitem__(self, index: int) -> RecognitionItem:
        streams = self.pooled_streams(index)
        if self.stats is not None:
            streams = standardize(streams, None, self.stats, None)
        video_id = self.video_ids[index]
        return RecognitionItem(video_id, streams, self.labels.get(video_id, UNLABELLED))


def collate_recognition(items: Sequence[RecognitionItem]) -> RecognitionBatch:
    """Pad ``B`` items to the longest video (``T``): streams ``(B, T, D_s)`` zero at padding, mask ``(B, T)``."""
    lengths = torch.tensor([len(next(iter(item.streams.values()))) for item in items])
    streams = {name: torch.nn.utils.rnn.pad_sequence(
        [torch.from_numpy(np.ascontiguousarray(item.streams[name])) for item in items], batch_first=True)
        for name in items[0].streams}
    return RecognitionBatch(
        streams=streams,
        mask=torch.arange(int(lengths.max()))[None, :] < lengths[:, None],
        labels=torch.tensor([item.label for item in items], dtype=torch.long),
        video_ids=[item.video_id for item in items],
    )
