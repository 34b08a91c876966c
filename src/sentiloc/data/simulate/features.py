"""The feature generative model of the simulator (equations and rationale: docs/simulator.md).

Per video, a latent sequence ``z_m[t]`` in ``R^K`` is built for each modality ``m`` from a
sentiment term (class direction times a ramped, fluctuating intensity), three confounders
(scene, speaker, arousal) and temporally correlated noise, then projected into the modality's
dimension by a fixed random matrix shared by all videos of a seed, and faces are blanked in runs.
All work is vectorised over time; the only Python loops run over classes and modalities.
The parameters are fixed once here and must not be tuned to favour any method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import seconds_to_snippet, snippets_in
from sentiloc.data import layout
from sentiloc.data.simulate.structure import (
    SEGMENT_LENGTH_QUANTILES,
    VideoStructure,
    hash64,
    keyed_rng,
    sample_quantiles,
)

#: Dimension of the shared latent space every modality is projected from.
LATENT_DIM = 32


@dataclass(frozen=True)
class ModalityGains:
    """Amplitude of each latent component in one modality (noise has unit amplitude)."""

    sentiment: float
    scene: float
    speaker: float
    arousal: float


#: The SNR table: faces carry sentiment most strongly, audio less, the visual stream least; the
#: visual stream is dominated by scenes, audio and faces by the speaker's identity.
GAINS = {
    "img": ModalityGains(sentiment=1.0, scene=0.2, speaker=1.0, arousal=0.8),
    "logmfcc": ModalityGains(sentiment=0.6, scene=0.3, speaker=1.0, arousal=1.0),
    "rgb": ModalityGains(sentiment=0.3, scene=1.5, speaker=0.2, arousal=0.6),
}
#: Latent noise: AR(1) over snippets (features of neighbouring snippets are correlated).
NOISE_AR = 0.5
#: Isotropic noise added after projection, so that features are full rank.
OUTPUT_NOISE = 0.5
#: Per-video deviation of the class directions from the seed-wide ones (cosine ~0.9).
DIRECTION_JITTER = 0.5
#: Boundary ramp width in snippets, drawn per segment; the labelled boundary is the half point.
RAMP_SNIPPETS = (2.0, 6.0)
#: Per-segment strength of the sentiment and of arousal-only distractor stretches.
SEGMENT_GAIN = (0.6, 1.4)
DISTRACTOR_GAIN = (0.8, 1.6)
#: Within-segment fluctuation: log-normal factor driven by an AR(1) process.
FLUCTUATION_SD, FLUCTUATION_AR = 0.3, 0.8
#: Mean scene length and mean speaker turn, in seconds; speakers are drawn from a pool of 1 + Poisson(1).
SCENE_MEAN_S, SPEAKER_TURN_MEAN_S, EXTRA_SPEAKERS_MEAN = 10.0, 40.0, 1.0
#: Default fraction of face-less snippets and the mean length of a face-less run, in snippets.
FACE_MISSING_DEFAULT, FACE_MISSING_RUN = 0.15, 8.0

# Spawn keys of the random streams (separate from those of the structure draw).
_TAG_BANK, _TAG_LATENT, _TAG_FACE, _TAG_NOISE = 11, 12, 13, 14


@dataclass(frozen=True)
class FeatureBank:
    """What a seed shares across videos: class and arousal directions and the projections."""

    class_directions: np.ndarray  # [C, K]
    arousal_direction: np.ndarray  # [K]
    projections: dict[str, np.ndarray]  # modality -> [K, D] float32, scaled by 1/sqrt(K)


def check_modalities(dims: dict[str, int]) -> None:
    """Refuse modalities the model has no gains for, and non-positive dims."""
    unknown = sorted(set(dims) - set(GAINS))
    if unknown:
        raise SentilocError(f"dims {dims}: unknown modality {unknown}; the simulator models {sorted(GAINS)}")
    bad = {m: d for m, d in dims.items() if not isinstance(d, int) or d < 1}
    if bad or not dims:
        raise SentilocError(f"dims {dims}: give each modality a positive integer dimension")


def make_bank(seed: int, dims: dict[str, int]) -> FeatureBank:
    """Seed-wide directions and one projection per modality (each keyed by its name and dim)."""
    rng = keyed_rng(seed, _TAG_BANK)
    classes = rng.standard_normal((len(layout.CLASS_NAMES), LATENT_DIM))
    arousal = rng.standard_normal(LATENT_DIM)
    projections = {
        m: (keyed_rng(seed, _TAG_BANK, hash64(m), d).standard_normal((LATENT_DIM, d)) / np.sqrt(LATENT_DIM)).astype(np.float32)
        for m, d in dims.items()
    }
    return FeatureBank(classes, arousal, projections)


def video_features(video: VideoStructure, bank: FeatureBank, seed: int,
                   face_missing: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Float32 ``[T, D]`` features of every modality of ``video`` and its ``(T,)`` face-missing mask."""
    key = hash64(video.video_id)
    n = snippets_in(video.duration_s, video.fps)
    rng = keyed_rng(seed, _TAG_LATENT, key)
    intensity = sentiment_intensity(video, n, rng)  # [T, C]
    arousal = intensity.sum(axis=1) + distractor_arousal(video, n, intensity, rng)
    jitter = rng.standard_normal(bank.class_directions.shape)
    directions = (bank.class_directions + DIRECTION_JITTER * jitter) / np.sqrt(1.0 + DIRECTION_JITTER**2)
    sentiment = intensity @ directions
    scenes = piecewise_embedding(rng, video, n, SCENE_MEAN_S, pool=None)
    pool = 1 + int(rng.poisson(EXTRA_SPEAKERS_MEAN))
    speakers = piecewise_embedding(rng, video, n, SPEAKER_TURN_MEAN_S, pool=pool)
    missing = face_missing_mask(keyed_rng(seed, _TAG_FACE, key), n, face_missing)
    features = {}
    for modality, projection in bank.projections.items():
        g = GAINS[modality]
        noise_rng = keyed_rng(seed, _TAG_NOISE, key, hash64(modality))
        latent = (g.sentiment * sentiment + g.scene * scenes + g.speaker * speakers
                  + g.arousal * arousal[:, None] * bank.arousal_direction + ar1(noise_rng, (n, LATENT_DIM), NOISE_AR))
        scale = 1.0 / np.sqrt(background_variance(g))
        x = latent.astype(np.float32) @ (projection * np.float32(scale))
        noise = noise_rng.standard_normal(x.shape, dtype=np.float32)
        noise *= np.float32(OUTPUT_NOISE * scale)
        x += noise  # in place: these arrays are the bulk of the simulator's time and memory
        if modality == layout.FACE_MODALITY:
            x[missing] = 0.0
        features[modality] = x
    return features, missing


def background_variance(g: ModalityGains) -> float:
    """Per-coordinate variance of a modality's features where there is no sentiment or arousal."""
    return g.scene**2 + g.speaker**2 + 1.0 + OUTPUT_NOISE**2


def ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """Stationary unit-variance AR(1) noise along axis 0 (scipy's C filter, no Python loop)."""
    eps = rng.standard_normal(shape)
    eps[0] /= np.sqrt(1.0 - rho**2)
    return lfilter([np.sqrt(1.0 - rho**2)], [1.0, -rho], eps, axis=0)


def ramp_envelopes(starts: np.ndarray, ends: np.ndarray, widths: np.ndarray, n: int) -> np.ndarray:
    """``[S, T]`` raised-cosine envelopes: 0 outside, 1 well inside, 0.5 at each labelled boundary.

    Intensity rises over ``width`` snippets centred on the start and falls likewise around the
    end, so the exact boundary is genuinely ambiguous (short segments never reach full height).
    """
    centres = np.arange(n) + 0.5
    rise = (centres[None, :] - starts[:, None]) / widths[:, None] + 0.5
    fall = (ends[:, None] - centres[None, :]) / widths[:, None] + 0.5
    u = np.clip(np.minimum(rise, fall), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def sentiment_intensity(video: VideoStructure, n: int, rng: np.random.Generator) -> np.ndarray:
    """``[T, C]`` latent intensity: per-class max of gained segment envelopes times a fluctuation."""
    segments = video.segments
    starts = seconds_to_snippet(np.array([s.start_s for s in segments], dtype=float), video.fps)
    ends = seconds_to_snippet(np.array([s.end_s for s in segments], dtype=float), video.fps)
    widths = rng.uniform(*RAMP_SNIPPETS, size=len(segments))
    gains = rng.uniform(*SEGMENT_GAIN, size=len(segments))
    envelopes = gains[:, None] * ramp_envelopes(starts, ends, widths, n)
    classes = np.array([layout.CLASS_NAMES.index(s.label) for s in segments], dtype=int)
    intensity = np.zeros((n, len(layout.CLASS_NAMES)))
    for c in range(len(layout.CLASS_NAMES)):
        if np.any(classes == c):
            intensity[:, c] = envelopes[classes == c].max(axis=0)
    fluctuation = np.exp(FLUCTUATION_SD * ar1(rng, (n,), FLUCTUATION_AR) - FLUCTUATION_SD**2 / 2)
    return intensity * fluctuation[:, None]


def distractor_arousal(video: VideoStructure, n: int, intensity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(T,)`` arousal of sentiment-free stretches (as many as segments on average).

    They have the length distribution of real segments and are suppressed where sentiment is
    present, so high arousal alone marks sentiment and distractors alike.
    """
    count = int(rng.poisson(max(len(video.segments), 1)))
    lengths = seconds_to_snippet(sample_quantiles(rng, SEGMENT_LENGTH_QUANTILES, count, log=True), video.fps)
    starts = rng.uniform(0.0, n, size=count)
    widths = rng.uniform(*RAMP_SNIPPETS, size=count)
    gains = rng.uniform(*DISTRACTOR_GAIN, size=count)
    raw = (gains[:, None] * ramp_envelopes(starts, starts + lengths, widths, n)).max(axis=0, initial=0.0)
    return raw * (1.0 - np.minimum(intensity.sum(axis=1), 1.0))


def piecewise_embedding(rng: np.random.Generator, video: VideoStructure, n: int, mean_s: float,
                        pool: int | None) -> np.ndarray:
    """``[T, K]`` embedding constant between change points of a Poisson process of rate ``1/mean_s``.

    With ``pool`` set, pieces take identities from that many recurring ones (speakers come back),
    always changing at a change point; without it every piece is new (scene cuts).
    """
    count = int(rng.poisson(video.duration_s / mean_s))
    cuts = np.sort(np.floor(seconds_to_snippet(rng.uniform(0.0, video.duration_s, count), video.fps)))
    piece = np.searchsorted(cuts, np.arange(n), side="right")
    if pool is None:
        return rng.standard_normal((count + 1, LATENT_DIM))[piece]
    table = rng.standard_normal((pool, LATENT_DIM))
    steps = rng.integers(1, pool, size=count) if pool > 1 else np.zeros(count, dtype=int)
    identity = (rng.integers(pool) + np.concatenate(([0], np.cumsum(steps)))) % pool
    return table[identity[piece]]


def face_missing_mask(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """``(T,)`` bool, True where no face was found: alternating geometric runs with mean ``fraction``.

    Face-less runs last :data:`FACE_MISSING_RUN` snippets on average (longer when the fraction is
    so high that face runs would be shorter than one snippet).
    """
    if fraction <= 0.0:
        return np.zeros(n, dtype=bool)
    if fraction >= 1.0:
        return np.ones(n, dtype=bool)
    mean_missing = max(FACE_MISSING_RUN, fraction / (1.0 - fraction))
    mean_present = mean_missing * (1.0 - fraction) / fraction
    pairs = n // 2 + 1  # every run lasts >= 1 snippet, so this many pairs always cover the video
    runs = np.empty(2 * pairs, dtype=np.int64)
    runs[0::2] = rng.geometric(1.0 / mean_missing, pairs)
    runs[1::2] = rng.geometric(1.0 / mean_present, pairs)
    states = np.tile([True, False], pairs)
    if rng.random() >= fraction:  # start inside a face run with probability 1 - fraction
        runs, states = runs[1:], states[1:]
    return np.repeat(states, runs)[:n]
