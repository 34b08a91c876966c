"""From a TSL-300-layout folder to padded, masked :class:`~sentiloc.data.batch.Batch` es.

The flow is: :class:`DataConfig` says which streams exist and at what rate;
:func:`load_streams` reads one video's streams, brings them to the snippet grid, trims them to a
common length and derives the face-missing mask; :func:`load_supervision` reads *only* the
labels the chosen supervision level allows; :class:`VideoDataset` pairs the two per video; and
:func:`collate` pads a list of videos into a batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import load_npy
from sentiloc.core.seeding import video_rng
from sentiloc.core.timebase import frame_to_snippet, segment_to_snippets
from sentiloc.data import layout
from sentiloc.data.annotations import VideoInfo, read_clicks, read_segments
from sentiloc.data.batch import Batch
from sentiloc.data.normalize import FeatureStats, StatsAccumulator, standardize
from sentiloc.data.perturb import hide_face_to_fraction, jitter_click_frames

SUPERVISION_LEVELS = ("point", "video", "full")
#: Feature values beyond this magnitude are corrupt (real extractors stay within a few hundred).
FEATURE_LIMIT = 1e6
_MODALITY_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ModalitySpec:
    """A feature stream: its folder name and how many rows one 16-frame snippet spans.

    TSL-300's released features are already one row per snippet (``frames_per_snippet=1``);
    FSENet's loader expects frame-rate I3D features (``16``), of which every 16th row is kept.
    """

    name: str
    frames_per_snippet: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _MODALITY_NAME.fullmatch(self.name):
            raise SentilocError(f"modality {self.name!r}: a feature folder name of letters, digits, '_' and '-' only")

    @classmethod
    def parse(cls, text: str) -> "ModalitySpec":
        """``"rgb"`` or ``"rgb:16"``."""
        name, _, rate = text.strip().partition(":")
        try:
            rate_value = int(rate) if rate else 1
        except ValueError:
            raise SentilocError(f"modality {text!r}: expected NAME or NAME:FRAMES_PER_SNIPPET, e.g. rgb:16") from None
        spec = cls(name.strip(), rate_value)
        if spec.frames_per_snippet < 1:
            raise SentilocError(f"modality {text!r}: expected NAME or NAME:FRAMES_PER_SNIPPET with a positive rate")
        return spec


@dataclass
class DataConfig:
    """How to read a dataset; every field has a YAML key of the same name under ``data:``."""

    modalities: tuple[ModalitySpec, ...] = tuple(ModalitySpec(m) for m in layout.DEFAULT_MODALITIES)
    face: str | None = layout.FACE_MODALITY
    classes: tuple[str, ...] = layout.CLASS_NAMES
    supervision: str = "point"
    point_file: str = str(layout.POINT_FILE)
    video_label_source: str = "points"
    val_fraction: float = 0.1
    val_seed: int = 0
    length_tolerance: int = 3
    click_jitter_s: float = 0.0  # move each training click by U(-j, +j) seconds (robustness study)
    click_jitter_seed: int = 0  # the jitter depends only on (this seed, video id)
    standardize: str | bool = "auto"  # per-dim z-score from training stats; auto: sentiloc-extracted data

    def __post_init__(self) -> None:
        self.modalities = tuple(
            m if isinstance(m, ModalitySpec) else ModalitySpec.parse(m) if isinstance(m, str) else ModalitySpec(**m)
            for m in self.modalities
        )
        self.classes = tuple(self.classes)
        names = [m.name for m in self.modalities]
        if len(set(names)) != len(names) or not names:
            raise SentilocError(f"data.modalities {names}: list each feature stream once")
        if self.face is not None and self.face not in names:
            raise SentilocError(f"data.face {self.face!r} is not one of data.modalities {names}")
        if self.supervision not in SUPERVISION_LEVELS:
            raise SentilocError(f"data.supervision {self.supervision!r}: choose one of {SUPERVISION_LEVELS}")
        if self.video_label_source not in ("points", "dense"):
            raise SentilocError(f"data.video_label_source {self.video_label_source!r}: choose 'points' or 'dense'")
        if not 0.0 <= self.val_fraction < 1.0:
            raise SentilocError(f"data.val_fraction {self.val_fraction}: must be in [0, 1)")
        if self.standardize not in ("auto", True, False):
            raise SentilocError(f"data.standardize {self.standardize!r}: choose auto, true or false")
        if self.click_jitter_s < 0:
            raise SentilocError(f"data.click_jitter_s {self.click_jitter_s}: a jitter amplitude in seconds, >= 0")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def modality_names(self) -> list[str]:
        return [m.name for m in self.modalities]

    def roles(self) -> dict[str, object]:
        """The stream roles a model is built with: every stream (in order) and the face stream."""
        return {"modalities": tuple(self.modality_names), "face": self.face}


def subsample_to_snippets(rows: np.ndarray, frames_per_snippet: int) -> np.ndarray:
    """Keep rows 0, k, 2k, ... (``ceil(n / k)`` rows): one per 16-frame snippet."""
    return rows if frames_per_snippet == 1 else rows[::frames_per_snippet]


def feature_problem(rows: np.ndarray) -> str | None:
    """Why a feature array cannot be used (shape, dtype, NaN/inf, absurd magnitude), or None."""
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] == 0:
        return f"expected a non-empty 2-D numeric array [rows, dim], got shape {rows.shape}"
    bad = int(np.count_nonzero(~np.isfinite(rows)))
    if bad:
        return f"{bad} NaN/inf value(s)"
    with np.errstate(over="ignore"):  # float16 rows: the limit casts to inf, past anything they can hold
        huge = int(np.count_nonzero(np.abs(rows) > FEATURE_LIMIT))
    if huge:
        return f"{huge} value(s) beyond +-{FEATURE_LIMIT:g}, so the file is corrupt"
    return None


def read_stream(path: Path, root: Path | None = None) -> np.ndarray:
    """Load one ``.npy`` stream (inside ``root``) as a finite 2-D float32 array, or raise an error naming the file."""
    array = load_npy(path, root)
    problem = feature_problem(array)
    if problem:
        raise SentilocError(f"{path}: {problem}; re-extract the features (run `sentiloc check-data`)")
    return array.astype(np.float32, copy=False)


def load_streams(
    root: Path, info: VideoInfo, cfg: DataConfig, dims: Mapping[str, int] | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One video's streams on a common snippet grid, and its ``(T,)`` face-present mask.

    Streams may differ by up to ``cfg.length_tolerance`` snippets (extractors round
    differently); they are trimmed to the shortest. A larger disagreement means the files do not
    belong together, so it is an error rather than a silent truncation.
    """
    streams: dict[str, np.ndarray] = {}
    for spec in cfg.modalities:
        path = layout.feature_path(root, info.split, spec.name, info.video_id)
        rows = subsample_to_snippets(read_stream(path, root), spec.frames_per_snippet)
        if dims is not None and rows.shape[1] != dims[spec.name]:
            raise SentilocError(
                f"{path}: feature dim {rows.shape[1]} but the model expects {dims[spec.name]} for "
                f"'{spec.name}'; use features from the same extractor as the training data"
            )
        streams[spec.name] = rows
    lengths = {name: len(rows) for name, rows in streams.items()}
    if max(lengths.values()) - min(lengths.values()) > cfg.length_tolerance:
        raise SentilocError(
            f"{root / layout.FEATURES_DIR / info.split}/*/{info.video_id}.npy: stream lengths {lengths} "
            f"(snippets) disagree by more than {cfg.length_tolerance}; check data.modalities "
            "frames_per_snippet or re-extract the video"
        )
    length = min(lengths.values())
    if length == 0:
        raise SentilocError(f"{root / layout.FEATURES_DIR / info.split}/*/{info.video_id}.npy: empty streams")
    streams = {name: rows[:length] for name, rows in streams.items()}
    return streams, face_present_mask(streams, cfg.face)


def face_present_mask(streams: Mapping[str, np.ndarray], face: str | None) -> np.ndarray:
    """``(T,)`` True where the face stream has a face: extractors write all-zero rows where none was found."""
    length = len(next(iter(streams.values())))
    if face is None:
        return np.ones(length, dtype=bool)
    return np.abs(streams[face]).sum(axis=1) > 0


def feature_dims(root: Path, infos: Sequence[VideoInfo], cfg: DataConfig) -> dict[str, int]:
    """Feature dim of each modality, read from the first video's files (headers only)."""
    if not infos:
        raise SentilocError(f"{root}: no videos in the split; check split_train.txt / split_test.txt")
    dims = {}
    for spec in cfg.modalities:
        path = layout.feature_path(root, infos[0].split, spec.name, infos[0].video_id)
        shape = load_npy(path, root, mmap=True).shape
        if len(shape) != 2:
            raise SentilocError(f"{path}: expected a 2-D array [rows, dim], got shape {shape}; run `sentiloc check-data`")
        dims[spec.name] = int(shape[1])
    return dims


@dataclass
class Supervision:
    """The labels one video exposes at a given supervision level (nothing more)."""

    video_labels: np.ndarray
    clicks_t: np.ndarray | None = None
    clicks_cls: np.ndarray | None = None
    segments: list[tuple[float, float, int]] | None = None


@dataclass
class SupervisionSet:
    """Per-video supervision plus where it came from (for error messages and provenance)."""

    level: str
    by_video: dict[str, Supervision] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def load_supervision(root: Path, infos: Mapping[str, VideoInfo], cfg: DataConfig) -> SupervisionSet:
    """Read the training labels of ``infos`` allowed at ``cfg.supervision`` and nothing else.

    * point: ``video_id``/``class``/``point`` of the point CSV (no segment file is opened), moved by
      ``cfg.click_jitter_s`` when a robustness study asks for it;
    * video: the set of classes per video, from the point CSV's ``class`` column or the dense file;
    * full: dense segments of ``videosenti_gt.json``.
    """
    root = Path(root)
    index = {name: i for i, name in enumerate(cfg.classes)}
    result = SupervisionSet(cfg.supervision)
    if cfg.supervision == "full" or (cfg.supervision == "video" and cfg.video_label_source == "dense"):
        path = root / layout.DENSE_GT_FILE
        result.sources.append(str(path))
        segments = read_segments(path)
        for video_id in infos:
            spans = [(s.start_s, s.end_s, _class_index(index, s.label, path, video_id)) for s in segments.get(video_id, [])]
            labels = _multi_hot([c for *_, c in spans], len(index))
            result.by_video[video_id] = Supervision(labels, segments=spans if cfg.supervision == "full" else None)
        return result
    path = root / cfg.point_file
    result.sources.append(str(path))
    clicks = read_clicks(path)
    for video_id, info in infos.items():
        mine = clicks.get(video_id, [])
        classes = np.array([_class_index(index, c.label, path, video_id) for c in mine], dtype=np.int64)
        labels = _multi_hot(classes.tolist(), len(index))
        if cfg.supervision == "video":
            result.by_video[video_id] = Supervision(labels)
            continue
        frames = np.array([c.frame for c in mine], dtype=np.int64)
        limit = info.duration_s * info.fps
        if len(frames) and (frames.min() < 0 or frames.max() > limit + 1):
            raise SentilocError(
                f"{path}: video {video_id!r} has a click outside the video (frames 0..{limit:.0f}); "
                "fix the point column (native frame indices) — `sentiloc check-data` lists all such rows"
            )
        frames = jitter_click_frames(frames, info.fps, limit, cfg.click_jitter_s,
                                     video_rng(cfg.click_jitter_seed, video_id))
        result.by_video[video_id] = Supervision(labels, clicks_t=frame_to_snippet(frames), clicks_cls=classes)
    return result


def _class_index(index: Mapping[str, int], label: str, path: Path, video_id: str) -> int:
    if label not in index:
        raise SentilocError(f"{path}: video {video_id!r} has unknown label {label!r}; known labels are {list(index)}")
    return index[label]


def _multi_hot(classes: Sequence[int], num_classes: int) -> np.ndarray:
    labels = np.zeros(num_classes, dtype=np.float32)
    labels[list(classes)] = 1.0
    return labels


@dataclass
class VideoItem:
    """One loaded video: streams on the snippet grid plus its supervision."""

    video_id: str
    fps: float
    features: dict[str, np.ndarray]
    face_present: np.ndarray
    supervision: Supervision | None


class VideoDataset(Dataset):
    """Videos of one split, read lazily from disk (the OS page cache keeps re-reads cheap)."""

    def __init__(
        self,
        root: Path,
        infos: Sequence[VideoInfo],
        cfg: DataConfig,
        supervision: SupervisionSet | None = None,
        dims: Mapping[str, int] | None = None,
        stats: FeatureStats | None = None,
    ) -> None:
        self.root = Path(root)
        self.infos = list(infos)
        self.cfg = cfg
        self.supervision = supervision
        self.dims = dict(dims) if dims is not None else feature_dims(self.root, self.infos, cfg)
        self.stats = stats

    def __len__(self) -> int:
        return len(self.infos)

    def raw_stats(self) -> FeatureStats:
        """Per-dimension mean/std of this split's streams, as read from disk (see :mod:`sentiloc.data.normalize`)."""
        accumulator = StatsAccumulator()
        for info in self.infos:
            accumulator.add(*load_streams(self.root, info, self.cfg, self.dims), self.cfg.face)
        return accumulator.stats()

    def __getitem__(self, i: int) -> VideoItem:
        info = self.infos[i]
        features, face_present = load_streams(self.root, info, self.cfg, self.dims)
        if self.stats is not None:
            features = standardize(features, face_present, self.stats, self.cfg.face)
        labels = None if self.supervision is None else self.supervision.by_video.get(info.video_id)
        return VideoItem(info.video_id, info.fps, features, face_present, labels)


class FaceMissingDataset(VideoDataset):
    """A split whose videos lose their face until ``fraction`` of each one's snippets is face-missing.

    The face rows are zeroed as well as flagged, so a hidden face looks exactly like a face the
    detector never found (an all-zero row) to every model, whether or not it reads ``face_present``.
    """

    def __init__(self, *args, fraction: float, seed: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.cfg.face is None:
            raise SentilocError("--face-missing: the model was trained without a face stream (data.face)")
        if not 0.0 <= fraction <= 1.0:
            raise SentilocError(f"--face-missing {fraction}: a fraction of snippets, between 0 and 1")
        self.fraction = fraction
        self.seed = seed

    def __getitem__(self, i: int) -> VideoItem:
        item = super().__getitem__(i)
        item.face_present = hide_face_to_fraction(item.face_present, self.fraction, video_rng(self.seed, item.video_id))
        rows = item.features[self.cfg.face]
        item.features[self.cfg.face] = np.where(item.face_present[:, None], rows, 0.0).astype(rows.dtype)
        return item


def dense_targets(segments: Sequence[tuple[float, float, int]], length: int, fps: float, num_classes: int) -> np.ndarray:
    """``(T, C + 1)`` one-hot targets from segments in seconds; column C = 1 outside every segment.

    Snippet bounds are clipped to ``[0, length]``, so a segment outside the video (or reversed) labels
    nothing rather than, through a negative index, most of the video; a reversed segment labels nothing.
    """
    targets = np.zeros((length, num_classes + 1), dtype=np.float32)
    for start_s, end_s, cls in segments:
        if end_s <= start_s:
            continue
        first, last = np.clip(segment_to_snippets(start_s, end_s, fps), 0, length)
        targets[first:last, cls] = 1.0
    targets[:, num_classes] = (targets[:, :num_classes].sum(axis=1) == 0).astype(np.float32)
    return targets


def collate(items: Sequence[VideoItem], num_classes: int) -> Batch:
    """Zero-pad a list of videos into a :class:`Batch` with masks (labels only where present)."""
    lengths = [len(item.face_present) for item in items]
    batch, length = len(items), max(lengths)
    mask = torch.zeros(batch, length, dtype=torch.bool)
    face = torch.zeros(batch, length, dtype=torch.bool)
    features = {
        name: torch.zeros(batch, length, rows.shape[1], dtype=torch.float32) for name, rows in items[0].features.items()
    }
    for b, (item, n) in enumerate(zip(items, lengths)):
        mask[b, :n] = True
        face[b, :n] = torch.from_numpy(item.face_present)
        for name, rows in item.features.items():
            features[name][b, :n] = torch.from_numpy(rows)
    sups = [item.supervision for item in items]
    labels = torch.zeros(batch, num_classes)
    point_t = point_cls = point_mask = dense = None
    if all(s is not None for s in sups):
        labels = torch.from_numpy(np.stack([s.video_labels for s in sups]))
        if all(s.clicks_t is not None for s in sups):
            point_t, point_cls, point_mask = _pad_clicks(sups, lengths)
        if all(s.segments is not None for s in sups):
            dense = torch.zeros(batch, length, num_classes + 1)
            for b, (item, s, n) in enumerate(zip(items, sups, lengths)):
                dense[b, :n] = torch.from_numpy(dense_targets(s.segments, n, item.fps, num_classes))
    return Batch(
        features=features,
        mask=mask,
        face_present=face,
        video_ids=[item.video_id for item in items],
        fps=torch.tensor([item.fps for item in items], dtype=torch.float64),
        video_labels=labels,
        point_t=point_t,
        point_cls=point_cls,
        point_mask=point_mask,
        dense=dense,
    )


def _pad_clicks(sups: Sequence[Supervision], lengths: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad per-video clicks to ``(B, P)``; clicks past a trimmed stream end move to its last snippet."""
    width = max(1, max(len(s.clicks_t) for s in sups))
    point_t = torch.zeros(len(sups), width, dtype=torch.long)
    point_cls = torch.zeros(len(sups), width, dtype=torch.long)
    point_mask = torch.zeros(len(sups), width, dtype=torch.bool)
    for b, (s, n) in enumerate(zip(sups, lengths)):
        k = len(s.clicks_t)
        point_t[b, :k] = torch.from_numpy(np.minimum(s.clicks_t, n - 1))
        point_cls[b, :k] = torch.from_numpy(s.clicks_cls)
        point_mask[b, :k] = True
    return point_t, point_cls, point_mask
