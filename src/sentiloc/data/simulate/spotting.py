"""``sentiloc simulate --task spotting``: a deterministic facial-expression spotting dataset (docs/spotting.md).

The annotation *structure* follows the published sizes of CAS(ME)² (30 fps, 22 subjects, 95
videos, ~300 macro / 57 micro expressions) or SAMM-LV (200 fps, 32 subjects, 147 videos, ~314 /
155), scaled down by the options. The *features* are a documented generative model, one row per
native frame: expressions rise from onset to apex and fall to offset along a shared "expression"
direction plus a type-specific one (micro-expressions are short and weak), among confounders that
also move the face (head drift and abrupt turns, blinks, talking) and frame noise. The constants
below are fixed once and never tuned to make any method win.

Determinism is per video: each video's instances, clicks and features depend only on
``(seed, video id)`` and the seed-wide directions, so a smaller dataset is a subset of a larger one.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    atomic_save_npy,
    atomic_write_json,
    atomic_write_text,
    prepare_output_dir,
)
from sentiloc.core.progress import progress_bar
from sentiloc.core.registry import Registry
from sentiloc.data.simulate.structure import hash64, keyed_rng
from sentiloc.data.spotting import layout
from sentiloc.data.spotting.annotations import (
    Instance,
    Point,
    SpottingVideo,
    annotations_csv,
    csv_text,
    points_csv,
)
from sentiloc.data.spotting.batch import EXPRESSION_TYPES

SIMULATION_VERSION = "sentiloc-spotting-sim-1"


@dataclass(frozen=True)
class DatasetShape:
    """The published size of a spotting dataset, and how its ids look."""

    fps: float
    subjects: int
    videos: int
    macro: int
    micro: int
    duration_s: tuple[float, float]  # video durations, drawn uniformly
    subject_format: str  # formatted with the subject number
    first_subject: int


STRUCTURES: Registry[DatasetShape] = Registry("dataset structure", "--structure")
STRUCTURES.register("casme2")(DatasetShape(30.0, 22, 95, 300, 57, (60.0, 150.0), "s{}", 15))
# SAMM-LV video durations are an assumption (tens of seconds at 200 fps), not a measured table.
STRUCTURES.register("samm")(DatasetShape(200.0, 32, 147, 314, 155, (20.0, 60.0), "{:03d}", 6))

#: Inclusive instance durations in seconds: macro log-uniform in [0.5, 4], micro uniform in [0.2, 0.49].
MACRO_S, MICRO_S = (0.5, 4.0), (0.2, 0.49)
#: Apex position as a fraction of the instance, and the click's offset from the apex (mean, sd) x duration.
APEX_FRACTION, CLICK_OFFSET = (0.25, 0.6), (-0.02, 0.18)
#: Peak gain on the shared expression direction, and the type-specific direction's share of it.
EXPRESSION_GAIN = {"macro": (0.8, 1.6), "micro": (0.3, 0.6)}
TYPE_SHARE = 0.6
#: Confounders: head drift (AR(1) time constant s, amplitude), abrupt turns (per s, magnitude sd, ramp s, hold s),
#: blinks (per s, duration s, amplitude), talking runs (per s, length s, mouth Hz, amplitude).
HEAD_DRIFT = (3.0, 0.6)
HEAD_TURNS = (1 / 20, 1.5, (0.1, 0.3), (1.0, 4.0))
BLINKS = (0.25, (0.1, 0.3), (1.0, 2.0))
TALKING = (1 / 30, (2.0, 8.0), (3.0, 6.0), 0.8)
#: Cosine of a confounder's direction with the expression direction it resembles.
BLINK_OVERLAP, HEAD_OVERLAP, TALK_OVERLAP = 0.5, 0.3, 0.4
#: Per-dim frame noise sd and per-subject offset sd (identity: constant over a subject's videos).
FRAME_NOISE, SUBJECT_OFFSET = 0.3, 0.5
#: Latent directions, in the rows of the direction matrix.
LATENTS = ("expression", "macro", "micro", "blink", "head_yaw", "head_pitch", "talk")
MIN_SECONDS = 5.0


@dataclass
class SpottingSimulationSpec:
    """What to simulate; every field has a ``sentiloc simulate --task spotting`` flag of the same meaning."""

    structure: str = "casme2"
    subjects: int | None = None  # default: the structure's
    videos_per_subject: int | None = None  # default: the structure's videos spread over its subjects
    dim: int = 32
    seed: int = 0
    max_seconds: float | None = None

    def validate(self) -> DatasetShape:
        """The structure's shape, after refusing impossible values before anything is written."""
        shape = STRUCTURES.get(self.structure)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SentilocError(f"--seed {self.seed!r}: use a non-negative integer")
        if self.subjects is not None and not 1 <= self.subjects <= 1000:
            raise SentilocError(f"--subjects {self.subjects}: between 1 and 1000")
        if self.videos_per_subject is not None and not 1 <= self.videos_per_subject <= 100:
            raise SentilocError(f"--videos-per-subject {self.videos_per_subject}: between 1 and 100")
        if not len(LATENTS) <= self.dim <= 4096:
            raise SentilocError(f"--dim {self.dim}: between {len(LATENTS)} and 4096 feature dimensions")
        if self.max_seconds is not None and not self.max_seconds >= MIN_SECONDS:
            raise SentilocError(f"--max-seconds {self.max_seconds}: cap videos at {MIN_SECONDS:g} s or more")
        return shape


def plan_videos(spec: SpottingSimulationSpec, shape: DatasetShape) -> list[tuple[str, str]]:
    """``(video id, subject)`` of every video: the structure's count per subject unless overridden."""
    n_subjects = spec.subjects or shape.subjects
    base, extra = divmod(shape.videos, shape.subjects)
    plan = []
    for number in range(n_subjects):
        subject = shape.subject_format.format(shape.first_subject + number)
        count = spec.videos_per_subject or base + (number < extra)
        plan += [(f"{subject}_{k + 1:02d}", subject) for k in range(count)]
    return plan


def draw_instances(rng: np.random.Generator, shape: DatasetShape, n_frames: int) -> list[Instance]:
    """Non-overlapping instances of one video: Poisson counts at the structure's rate per second, random gaps."""
    mean_s = sum(shape.duration_s) / 2
    seconds = n_frames / shape.fps
    counts = {kind: rng.poisson(getattr(shape, kind) / (shape.videos * mean_s) * seconds) for kind in EXPRESSION_TYPES}
    kinds = rng.permutation([kind for kind in EXPRESSION_TYPES for _ in range(counts[kind])])
    macro = np.exp(rng.uniform(np.log(MACRO_S[0]), np.log(MACRO_S[1]), len(kinds)))
    micro = rng.uniform(*MICRO_S, len(kinds))
    # macro rounds (0.5 s stays 0.5 s), micro floors (0.49 s never reaches 0.5 s)
    lengths = np.maximum(3, np.where(kinds == "macro", np.round(macro * shape.fps), np.floor(micro * shape.fps))).astype(int)
    margin = int(shape.fps)
    fits = np.cumsum(lengths) <= n_frames - 2 * margin  # the instances that fit, in the drawn order
    kinds, lengths = kinds[fits], lengths[fits]
    gaps = np.floor(rng.dirichlet(np.ones(len(kinds) + 1)) * (n_frames - 2 * margin - lengths.sum())).astype(int)
    onsets = margin + np.cumsum(gaps[:-1]) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    apexes = onsets + np.round(rng.uniform(*APEX_FRACTION, len(kinds)) * (lengths - 1)).astype(int)
    return [Instance(int(o), int(a), int(o + n - 1), str(k)) for o, a, n, k in zip(onsets, apexes, lengths, kinds)]


def draw_clicks(rng: np.random.Generator, instances: list[Instance]) -> list[Point]:
    """One click per instance near its apex: apex + N(-0.02, 0.18) x duration, clipped inside the instance."""
    if not instances:
        return []
    onset, apex, offset = (np.array([getattr(i, f) for i in instances]) for f in ("onset", "apex", "offset"))
    shift = rng.normal(*CLICK_OFFSET, len(instances)) * (offset - onset + 1)
    frames = np.clip(np.round(apex + shift).astype(int), onset, offset)
    return [Point(int(f), i.type) for f, i in zip(frames, instances)]


def intensity_profile(instance: Instance) -> np.ndarray:
    """``(offset - onset + 1,)`` in (0, 1]: a sin² rise from onset to 1 at the apex, then a sin² fall to offset."""
    rise = np.arange(1, instance.apex - instance.onset + 2) / (instance.apex - instance.onset + 1)
    fall = np.arange(instance.offset - instance.apex, 0, -1) / (instance.offset - instance.apex + 1)
    return np.sin(0.5 * np.pi * np.concatenate([rise, fall])) ** 2


def directions(seed: int, dim: int) -> np.ndarray:
    """``(len(LATENTS), dim)`` unit directions: orthonormal, then each confounder tilted towards what it resembles."""
    basis, _ = np.linalg.qr(keyed_rng(seed, hash64("spotting-directions")).normal(size=(dim, len(LATENTS))))
    rows = dict(zip(LATENTS, basis.T))
    tilt = {"blink": ("expression", BLINK_OVERLAP), "head_yaw": ("expression", HEAD_OVERLAP),
            "talk": ("macro", TALK_OVERLAP)}
    for name, (towards, cosine) in tilt.items():
        rows[name] = cosine * rows[towards] + np.sqrt(1 - cosine**2) * rows[name]
    return np.stack([rows[name] for name in LATENTS])


def _bursts(latent: np.ndarray, column: int, starts: np.ndarray, lengths: np.ndarray, amplitudes: np.ndarray) -> None:
    """Add a half-sine burst of each length and amplitude at each start to ``latent[:, column]``."""
    for start, length, amplitude in zip(starts, lengths, amplitudes):
        span = latent[start:start + length, column]
        span += amplitude * np.sin(np.pi * (np.arange(len(span)) + 0.5) / length)


def confounders(rng: np.random.Generator, n_frames: int, fps: float, latent: np.ndarray) -> None:
    """Add head drift and turns, blinks and talking to ``latent (n_frames, len(LATENTS))`` in place."""
    seconds = n_frames / fps
    column = {name: i for i, name in enumerate(LATENTS)}
    tau, amplitude = HEAD_DRIFT
    phi = np.exp(-1.0 / (tau * fps))
    drift = lfilter([np.sqrt(1 - phi**2)], [1, -phi], rng.normal(size=(n_frames, 2)), axis=0)
    latent[:, [column["head_yaw"], column["head_pitch"]]] += amplitude * drift
    rate, size, ramp_s, hold_s = HEAD_TURNS
    n_turns = rng.poisson(rate * seconds)
    t = np.arange(n_frames) / fps
    for start, ramp, hold, magnitude, axis in zip(rng.uniform(0, seconds, n_turns), rng.uniform(*ramp_s, n_turns),
                                                  rng.uniform(*hold_s, n_turns), rng.normal(0, size, n_turns),
                                                  rng.choice(["head_yaw", "head_pitch"], n_turns)):
        on = np.clip((t - start) / ramp, 0, 1) - np.clip((t - start - ramp - hold) / ramp, 0, 1)
        latent[:, column[axis]] += magnitude * on
    rate, length_s, gain = BLINKS
    n_blinks = rng.poisson(rate * seconds)
    _bursts(latent, column["blink"], rng.integers(0, n_frames, n_blinks),
            np.maximum(2, (rng.uniform(*length_s, n_blinks) * fps).astype(int)), rng.uniform(*gain, n_blinks))
    rate, length_s, hertz, gain = TALKING
    n_runs = rng.poisson(rate * seconds)
    for start, length, frequency in zip(rng.integers(0, n_frames, n_runs),
                                        (rng.uniform(*length_s, n_runs) * fps).astype(int), rng.uniform(*hertz, n_runs)):
        span = latent[start:start + length, column["talk"]]
        span += gain * np.abs(np.sin(2 * np.pi * frequency * np.arange(len(span)) / fps))


def video_features(rng: np.random.Generator, n_frames: int, fps: float, instances: list[Instance],
                   dirs: np.ndarray, subject_offset: np.ndarray) -> np.ndarray:
    """``(n_frames, dim)`` float32: expressions and confounders along ``dirs``, plus subject offset and frame noise."""
    latent = np.zeros((n_frames, len(LATENTS)))
    for instance in instances:
        profile = rng.uniform(*EXPRESSION_GAIN[instance.type]) * intensity_profile(instance)
        latent[instance.onset:instance.offset + 1, LATENTS.index("expression")] += profile
        latent[instance.onset:instance.offset + 1, LATENTS.index(instance.type)] += TYPE_SHARE * profile
    confounders(rng, n_frames, fps, latent)
    noise = rng.standard_normal((n_frames, dirs.shape[1]), dtype=np.float32) * FRAME_NOISE
    return (latent @ dirs + subject_offset + noise).astype(np.float32)


def simulate_spotting(out: Path, spec: SpottingSimulationSpec, overwrite: bool = False, progress: bool = True) -> dict:
    """Write a simulated spotting-layout dataset into ``out`` and return a summary of it."""
    tic = time.perf_counter()
    shape = spec.validate()
    out = prepare_output_dir(Path(out), overwrite, "simulation folder")
    dirs = directions(spec.seed, spec.dim)
    videos, instances, points = [], {}, {}
    written = 0
    for video_id, subject in progress_bar(plan_videos(spec, shape), enabled=progress, desc="simulate", unit="video"):
        rng = keyed_rng(spec.seed, hash64("spotting-video", video_id))
        seconds = rng.uniform(*shape.duration_s)
        n_frames = int(min(seconds, spec.max_seconds or seconds) * shape.fps)
        videos.append(SpottingVideo(video_id, subject, shape.fps, n_frames))
        instances[video_id] = draw_instances(rng, shape, n_frames)
        points[video_id] = draw_clicks(rng, instances[video_id])
        offset = keyed_rng(spec.seed, hash64("spotting-subject", subject)).normal(0, SUBJECT_OFFSET, spec.dim)
        path = layout.feature_path(out, video_id)
        atomic_save_npy(path, video_features(rng, n_frames, shape.fps, instances[video_id], dirs, offset))
        written += path.stat().st_size
    tables = {
        layout.VIDEOS_FILE: csv_text(layout.VIDEO_COLUMNS,
                                     [(v.video_id, v.subject, f"{v.fps:g}", v.n_frames) for v in videos]),
        layout.ANNOTATIONS_FILE: annotations_csv(instances),
        layout.POINTS_FILE: points_csv(points),
    }
    for name, text in tables.items():
        atomic_write_text(out / name, text)
    summary = {
        "videos": len(videos),
        "subjects": len({v.subject for v in videos}),
        "instances": {k: sum(i.type == k for rows in instances.values() for i in rows) for k in EXPRESSION_TYPES},
        "clicks": sum(len(rows) for rows in points.values()),
        "frames": sum(v.n_frames for v in videos),
        "feature_bytes": written,
    }
    atomic_write_json(out / layout.SIMULATION_FILE, {
        "version": SIMULATION_VERSION, "spec": dataclasses.asdict(spec),
        "structure": dataclasses.asdict(shape), "summary": summary,
    })
    return {**summary, "seconds": round(time.perf_counter() - tic, 2)}

