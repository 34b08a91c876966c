"""The *structure* of a simulated dataset: videos, splits, durations, fps, segments and clicks.

The structure is everything except the features. It comes either from a real TSL-300 folder
(:func:`load_structure`, so experiments run on the real annotation geometry) or from built-in
statistics measured once on TSL-300 (:func:`draw_structure`). Clicks follow one of the
:data:`CLICK_MODELS`: ``inside`` (the default) puts one click inside each training segment, as
point supervision is defined; ``noisy`` aims 51% of them outside their segment, which reproduces
the 41% of real TSL-300 clicks that miss every dense segment; ``real`` keeps the real annotators'
files of a copied structure. In the simulator only the dense segments carry sentiment evidence,
so a click outside them marks nothing: ``noisy`` and ``real`` are label-noise robustness settings. Both are plain frozen records, so subsetting, capping and
jittering (:func:`subset_structure`, :func:`cap_durations`, :func:`jitter_clicks`) are pure
functions that the tests can check without writing a single feature file.

Everything random is keyed by ``(seed, video)`` rather than drawn from one running stream, so a
video's structure does not depend on how many other videos are simulated.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import id_problem
from sentiloc.data import layout
from sentiloc.data.annotations import Segment, read_segments, read_video_infos

# --- Built-in TSL-300 statistics ------------------------------------------------------------
# Measured once on nku-zhichengzhang/TSL300 dataset/VideoSenti: len_duration_dict.json, fps_dict.json, videosenti_gt.json (1,642 dense
# segments of all 300 videos) and point_gaussian/train/point_anno_{0,1,2}.txt. Quantile tables
# are (probability, value) pairs of the empirical distribution; sampling interpolates them.

N_VIDEOS = 300
N_TEST = 100  # 200 train / 100 test

_Q = (0.0, 0.01, 0.025, 0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 0.975, 0.99, 1.0)
#: Video duration in seconds (min 120.2, median 200.2, mean 258.2, max 1160.2).
DURATION_QUANTILES = (_Q, (120.2, 120.4, 121.9, 125.0, 130.8, 146.8, 167.0, 180.0, 200.2, 218.2, 244.3,
                           313.5, 477.7, 613.0, 802.5, 972.2, 1160.2))
#: Dense segment length in seconds (min 1.07, median 6.61, mean 8.87, max 215.4).
SEGMENT_LENGTH_QUANTILES = (_Q, (1.07, 1.47, 1.79, 2.17, 2.78, 3.77, 4.69, 5.61, 6.61, 7.65, 9.37, 11.76,
                                 16.29, 21.45, 29.44, 44.02, 215.38))
#: Native frame rates and how many of the 300 videos have them (each odd rate such as 29.917 or
#: 23.979 counted with the nearest standard rate).
FPS_COUNTS = ((30.0, 114), (30000 / 1001, 107), (25.0, 37), (24000 / 1001, 34), (24.0, 7), (19.916666666666668, 1))
#: Mean segment count grows sub-linearly with duration: E[n] = A * duration_s ** B (least squares
#: over the 300 videos: 4.5 segments at 135 s, 5.6 at 250 s, 8.1 at 700 s; 5.47 per video and 1.5
#: per minute on average). Counts are 1 + negative-binomial (over-dispersed: variance ~2x the mean).
SEGMENTS_A, SEGMENTS_B, SEGMENTS_NB_SHAPE = 0.794, 0.354, 3.0
#: Free time between segments is split with a symmetric Dirichlet; alpha < 1 clusters segments
#: (11% of real gaps are shorter than 1 s, typically a label change).
GAP_DIRICHLET_ALPHA = 0.6
#: Segments may cover at most this fraction of a video (real mean coverage 22%).
MAX_COVERAGE = 0.6
#: Labels: 201 of 298 labelled videos are single-polarity. Counted in segments, 57.5% of the
#: segments of single-polarity videos and 58.8% of those of mixed videos are positive (58% overall).
PURE_VIDEO_P, PURE_POSITIVE_P, MIXED_POSITIVE_P = 0.61, 0.575, 0.588
#: Where a click inside its segment lands, as a fraction of the segment (annotators click early).
INSIDE_POSITION_QUANTILES = ((0.0, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 1.0),
                             (0.005, 0.084, 0.131, 0.258, 0.461, 0.676, 0.823, 0.885, 0.993))
#: Distance in seconds from a click outside every segment to the nearest segment boundary.
OUTSIDE_DISTANCE_QUANTILES = ((0.0, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 1.0),
                              (0.0, 0.76, 1.57, 5.47, 15.67, 38.34, 78.19, 115.75, 458.54))
#: Probability that a simulated click is aimed inside its own segment. 59% of real clicks fall
#: inside *some* segment; clicks aimed outside sometimes land in a neighbour, so the aim rate is
#: calibrated (on the built-in structure, seeds 0-4) to give that 59% / 41% split.
CLICK_INSIDE_P = 0.49
#: ``sentiloc simulate --clicks``: the probability that a simulated click is aimed inside its own
#: segment, per click model (``real`` copies the real annotators' files instead; see the module docstring).
CLICK_MODELS = {"inside": 1.0, "noisy": CLICK_INSIDE_P}
#: Annotator window width ``stop_frame - start_frame`` in native frames, per annotator file 0/1/2
#: (medians 2 / 8 / 45 frames); the click is the window's centre.
WINDOW_QUANTILES = (
    ((0.0, 0.05, 0.25, 0.50, 0.75, 0.90, 0.95, 1.0), (0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0, 60.0)),
    ((0.0, 0.05, 0.25, 0.50, 0.75, 0.90, 0.95, 1.0), (3.0, 5.0, 7.0, 8.0, 10.0, 13.0, 14.0, 22.0)),
    ((0.0, 0.05, 0.25, 0.50, 0.75, 0.90, 0.95, 1.0), (0.0, 4.0, 27.0, 45.0, 70.0, 106.1, 135.0, 404.0)),
)
#: point_labels.csv takes all rows of one annotator per video: 65 / 75 / 60 of the 200 videos.
ANNOTATOR_CHOICE_COUNTS = (65, 75, 60)
#: Segments shorter than this after capping a video are dropped (the shortest real one is 1.07 s).
MIN_SEGMENT_S = 1.0

# Keys that separate the random streams of the different draws (SeedSequence spawn keys).
_TAG_VIDEO, _TAG_SPLIT, _TAG_CLICKS, _TAG_CHOICE = 1, 2, 3, 4


@dataclass(frozen=True)
class ClickRow:
    """One row of a TSL-300 point file (native frame indices; ``start <= point <= stop``)."""

    video_id: str
    label: str
    start_frame: int
    stop_frame: int
    point: int

    def as_csv(self) -> list[str]:
        """The row in :data:`layout.POINT_COLUMNS` order."""
        index = layout.CLASS_NAMES.index(self.label)
        return [self.label, str(index), str(self.start_frame), str(self.stop_frame), self.video_id, str(self.point)]


@dataclass(frozen=True)
class VideoStructure:
    """One video: split, native fps, duration and its dense segments (sorted by start)."""

    video_id: str
    split: str
    fps: float
    duration_s: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class DatasetStructure:
    """All annotation content of a dataset; ``annotators`` maps an annotator file index to its rows."""

    videos: tuple[VideoStructure, ...]
    points: tuple[ClickRow, ...]
    annotators: dict[int, tuple[ClickRow, ...]]

    def split_ids(self, split: str) -> list[str]:
        return [v.video_id for v in self.videos if v.split == split]


def hash64(*parts: object) -> int:
    """A stable 64-bit hash (Python's ``hash`` is salted per process, so it cannot seed anything)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def keyed_rng(seed: int, *key: int) -> np.random.Generator:
    """An independent generator for one ``(seed, key...)``: the basis of per-video determinism."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def sample_quantiles(rng: np.random.Generator, table: tuple[tuple[float, ...], tuple[float, ...]],
                     size: int, log: bool = False) -> np.ndarray:
    """Inverse-CDF sampling from a quantile table (interpolated in log space when ``log``)."""
    probs, values = np.asarray(table[0]), np.asarray(table[1], dtype=float)
    u = rng.random(size)
    if log:
        return np.exp(np.interp(u, probs, np.log(values)))
    return np.interp(u, probs, values)


def seconds_text(value: float) -> str:
    """Seconds as TSL-300 writes them in gt.json: a string with at most 3 decimals ("71.0", "18.44")."""
    return str(round(float(value), 3))


# --- Built-in structure ---------------------------------------------------------------------


def draw_structure(seed: int, inside_p: float = CLICK_MODELS["inside"]) -> DatasetStructure:
    """A 300-video structure drawn from the built-in TSL-300 statistics, clicks aimed inside with ``inside_p``."""
    ids = [f"{k}_SIM_{k:03d}" for k in range(1, N_VIDEOS + 1)]
    test = set(keyed_rng(seed, _TAG_SPLIT).permutation(N_VIDEOS)[:N_TEST].tolist())
    videos = tuple(_draw_video(seed, k, vid, "test" if k - 1 in test else "train") for k, vid in enumerate(ids, 1))
    return simulate_annotations(videos, seed, inside_p)


def simulate_annotations(videos: tuple[VideoStructure, ...], seed: int, inside_p: float) -> DatasetStructure:
    """``videos`` with simulated clicks of the three annotators on their training segments.

    ``point_labels.csv`` takes one annotator's rows per video, as in TSL-300. Each video's clicks
    are keyed by its position in ``videos``, so they do not depend on later subsetting.
    """
    annotators: dict[int, list[ClickRow]] = {a: [] for a in range(len(WINDOW_QUANTILES))}
    points: list[ClickRow] = []
    for k, video in enumerate(videos, start=1):
        if video.split != "train":
            continue
        per_annotator = [simulate_clicks(video, keyed_rng(seed, _TAG_CLICKS, k, a), a, inside_p) for a in annotators]
        for a, rows in enumerate(per_annotator):
            annotators[a].extend(rows)
        choice = keyed_rng(seed, _TAG_CHOICE, k).choice(len(annotators), p=_normalised(ANNOTATOR_CHOICE_COUNTS))
        points.extend(per_annotator[choice])
    return DatasetStructure(tuple(videos), tuple(points), {a: tuple(rows) for a, rows in annotators.items()})


def _normalised(counts: tuple[float, ...]) -> np.ndarray:
    weights = np.asarray(counts, dtype=float)
    return weights / weights.sum()


def _draw_video(seed: int, k: int, video_id: str, split: str) -> VideoStructure:
    """Duration, fps and non-overlapping labelled segments of built-in video number ``k``."""
    rng = keyed_rng(seed, _TAG_VIDEO, k)
    duration = float(sample_quantiles(rng, DURATION_QUANTILES, 1, log=True)[0])
    rates, counts = zip(*FPS_COUNTS)
    fps = float(rates[rng.choice(len(rates), p=_normalised(counts))])
    mean_extra = max(SEGMENTS_A * duration**SEGMENTS_B - 1.0, 0.05)
    n = 1 + int(rng.negative_binomial(SEGMENTS_NB_SHAPE, SEGMENTS_NB_SHAPE / (SEGMENTS_NB_SHAPE + mean_extra)))
    lengths = sample_quantiles(rng, SEGMENT_LENGTH_QUANTILES, n, log=True)
    shortest = SEGMENT_LENGTH_QUANTILES[1][0]
    lengths = np.maximum(lengths * min(1.0, MAX_COVERAGE * duration / lengths.sum()), shortest)
    gaps = rng.dirichlet(np.full(n + 1, GAP_DIRICHLET_ALPHA)) * (duration - lengths.sum())
    starts = np.cumsum(gaps[:-1]) + np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
    labels = _draw_labels(rng, n)
    segments = tuple(
        Segment(float(seconds_text(s)), float(seconds_text(s + length)), label)
        for s, length, label in zip(starts, lengths, labels)
    )
    return VideoStructure(video_id, split, fps, duration, segments)


def _draw_labels(rng: np.random.Generator, n: int) -> list[str]:
    """Single-polarity videos are common, so labels are drawn per video first, then per segment."""
    if rng.random() < PURE_VIDEO_P:
        positive = np.full(n, rng.random() < PURE_POSITIVE_P)
    else:
        positive = rng.random(n) < MIXED_POSITIVE_P
    return ["p" if p else "n" for p in positive]


def simulate_clicks(video: VideoStructure, rng: np.random.Generator, annotator: int,
                    inside_p: float = CLICK_MODELS["inside"]) -> list[ClickRow]:
    """One click per segment, aimed inside with probability ``inside_p``, otherwise near it.

    An inside click lands where real annotators click within their segments
    (:data:`INSIDE_POSITION_QUANTILES`). An outside click sits a real-annotator-like distance before or after the segment (reflected
    into the video when it would leave it), so it may land in a neighbouring segment as real
    stray clicks do. The row's window has annotator ``annotator``'s width, centred on the click.
    """
    n = len(video.segments)
    if n == 0:
        return []
    start = np.array([s.start_s for s in video.segments])
    end = np.array([s.end_s for s in video.segments])
    inside = rng.random(n) < inside_p
    position = sample_quantiles(rng, INSIDE_POSITION_QUANTILES, n)
    distance = sample_quantiles(rng, OUTSIDE_DISTANCE_QUANTILES, n)
    before = rng.random(n) < 0.5
    outside = np.where(before, start - distance, end + distance)
    outside = np.where((outside < 0) | (outside >= video.duration_s), np.where(before, end + distance, start - distance), outside)
    seconds = np.clip(np.where(inside, start + position * (end - start), outside), 0.0, video.duration_s)
    last_frame = _last_frame(video)
    points = np.clip(np.floor(seconds * video.fps).astype(int), 0, last_frame)
    # an inside click stays inside after rounding to a frame (its segment may start mid-frame)
    first_in, last_in = np.ceil(start * video.fps).astype(int), np.floor(end * video.fps).astype(int)
    points = np.where(inside, np.clip(points, first_in, np.maximum(first_in, last_in)), points)
    widths = np.round(sample_quantiles(rng, WINDOW_QUANTILES[annotator], n)).astype(int)
    rows = []
    for point, width, segment in zip(points.tolist(), widths.tolist(), video.segments):
        first = max(0, point - width // 2)
        rows.append(ClickRow(video.video_id, segment.label, first, min(last_frame, first + width), point))
    return sorted(rows, key=lambda r: r.point)


def _last_frame(video: VideoStructure) -> int:
    """Index of the last native frame of ``video``."""
    return max(0, math.ceil(video.duration_s * video.fps) - 1)


# --- Structure copied from a real dataset -------------------------------------------------------


def load_structure(root: Path) -> DatasetStructure:
    """Ids, splits, fps, durations, dense segments and real clicks of a TSL-300-layout folder.

    ``videosenti_gt.json`` and ``point_gaussian/point_labels.csv`` are required (they are the
    whole point of copying a structure); per-annotator files are copied when present. Click rows
    of videos outside the training split are dropped: points are training labels only.
    """
    root = Path(root)
    infos = read_video_infos(root)
    dense = read_segments(root / layout.DENSE_GT_FILE)
    videos = []
    for info in infos.values():
        segments = sorted(dense.get(info.video_id, []), key=lambda s: (s.start_s, s.end_s))
        unknown = {s.label for s in segments} - set(layout.CLASS_NAMES)
        if unknown:
            raise SentilocError(f"{root / layout.DENSE_GT_FILE}: video {info.video_id!r} has label(s) "
                                f"{sorted(unknown)}; the simulator knows {list(layout.CLASS_NAMES)}")
        videos.append(VideoStructure(info.video_id, info.split, info.fps, info.duration_s, tuple(segments)))
    train = {v.video_id for v in videos if v.split == "train"}
    points = read_click_rows(root / layout.POINT_FILE, train)
    annotators = {
        a: read_click_rows(root / path, train) for a, path in enumerate(layout.ANNOTATOR_FILES) if (root / path).is_file()
    }
    return DatasetStructure(tuple(videos), points, annotators)


def read_click_rows(path: Path, keep: set[str]) -> tuple[ClickRow, ...]:
    """All columns of a point CSV (unlike ``read_clicks``, which hides the windows from models)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = set(layout.POINT_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise SentilocError(f"{path}: missing column(s) {sorted(missing)}; expected the header "
                                    f"{','.join(layout.POINT_COLUMNS)}")
            return tuple(row for row in (_click_row(path, line, raw) for line, raw in enumerate(reader, 2))
                         if row.video_id in keep)
    except FileNotFoundError:
        raise SentilocError(f"{path}: point annotations not found; --structure needs the real clicks") from None


def _click_row(path: Path, line: int, raw: dict[str, str]) -> ClickRow:
    video_id = (raw.get("video_id") or "").strip()
    problem = id_problem(video_id)
    label = (raw.get("class") or "").strip()
    if problem:
        raise SentilocError(f"{path}:{line}: {problem}; video ids must be plain file names")
    if label not in layout.CLASS_NAMES:
        raise SentilocError(f"{path}:{line}: class {label!r}; the simulator knows {list(layout.CLASS_NAMES)}")
    try:
        start, stop, point = (int(raw[c]) for c in ("start_frame", "stop_frame", "point"))
    except (TypeError, ValueError):
        raise SentilocError(f"{path}:{line}: start_frame/stop_frame/point must be integer frame indices; fix the row") from None
    return ClickRow(video_id, label, start, stop, point)


# --- Pure transformations ---------------------------------------------------------------------


def subset_structure(structure: DatasetStructure, n_videos: int, seed: int) -> DatasetStructure:
    """A deterministic ``n_videos`` subset that keeps the train/test ratio.

    Videos are ranked by a seeded hash of their id within each split, so the subset for ``n`` is
    contained in the one for ``n + 1`` and does not depend on the order of the input files.
    """
    total = len(structure.videos)
    if not 2 <= n_videos <= total:
        raise SentilocError(f"n_videos {n_videos}: choose between 2 (one per split) and {total}, the videos of the structure")
    n_test_all = len(structure.split_ids("test"))
    n_test = min(max(1, round(n_videos * n_test_all / total)), n_videos - 1, n_test_all)
    wanted = {"test": n_test, "train": n_videos - n_test}
    keep: set[str] = set()
    for split, count in wanted.items():
        ranked = sorted(structure.split_ids(split), key=lambda vid: hash64(seed, "subset", vid))
        keep.update(ranked[:count])
    return _restrict(structure, keep)


def _restrict(structure: DatasetStructure, keep: set[str]) -> DatasetStructure:
    return DatasetStructure(
        tuple(v for v in structure.videos if v.video_id in keep),
        tuple(r for r in structure.points if r.video_id in keep),
        {a: tuple(r for r in rows if r.video_id in keep) for a, rows in structure.annotators.items()},
    )


def cap_durations(structure: DatasetStructure, max_duration_s: float) -> DatasetStructure:
    """Shorten videos to ``max_duration_s``: later segments are dropped or clipped, later clicks dropped.

    A segment left shorter than :data:`MIN_SEGMENT_S` by the cut is dropped rather than kept as
    a sliver no annotator would have marked.
    """
    videos = {}
    for video in structure.videos:
        duration = min(video.duration_s, max_duration_s)
        segments = tuple(
            replace(s, end_s=min(s.end_s, duration)) for s in video.segments if min(s.end_s, duration) - s.start_s >= MIN_SEGMENT_S
        )
        videos[video.video_id] = replace(video, duration_s=duration, segments=segments)

    def cap_rows(rows: tuple[ClickRow, ...]) -> tuple[ClickRow, ...]:
        capped = []
        for row in rows:
            last = _last_frame(videos[row.video_id])
            if row.point <= last:
                capped.append(replace(row, stop_frame=min(row.stop_frame, last)))
        return tuple(capped)

    return DatasetStructure(
        tuple(videos[v.video_id] for v in structure.videos),
        cap_rows(structure.points),
        {a: cap_rows(rows) for a, rows in structure.annotators.items()},
    )


def jitter_clicks(structure: DatasetStructure, jitter_s: float, seed: int) -> DatasetStructure:
    """Move every click (and its window) by a uniform offset in ``[-jitter_s, jitter_s]`` seconds.

    The offset is a hash of the seed and the row's content, so a click that appears both in
    ``point_labels.csv`` and in its annotator's file moves identically in both.
    """
    videos = {v.video_id: v for v in structure.videos}

    def move(row: ClickRow) -> ClickRow:
        video = videos[row.video_id]
        u = hash64(seed, "jitter", *row.as_csv()) / 2.0**64
        shift = round((2.0 * u - 1.0) * jitter_s * video.fps)
        last = _last_frame(video)
        point = min(max(row.point + shift, 0), last)
        delta = point - row.point
        return replace(row, point=point, start_frame=min(max(row.start_frame + delta, 0), point),
                       stop_frame=max(min(row.stop_frame + delta, last), point))

    return DatasetStructure(
        structure.videos,
        tuple(move(r) for r in structure.points),
        {a: tuple(move(r) for r in rows) for a, rows in structure.annotators.items()},
    )


def outside_fraction(structure: DatasetStructure, rows: tuple[ClickRow, ...] | None = None) -> float:
    """Fraction of clicks (default: ``point_labels.csv``) whose time lies outside every dense segment."""
    rows = structure.points if rows is None else rows
    if not rows:
        return 0.0
    videos = {v.video_id: v for v in structure.videos}
    outside = 0
    for row in rows:
        video = videos[row.video_id]
        t = row.point / video.fps
        outside += not any(s.start_s <= t <= s.end_s for s in video.segments)
    return outside / len(rows)
