"""Real video files with known content, for ``sentiloc benchmark extract`` and the end-to-end tests.

Nothing here is mocked: the files are encoded with PyAV (H.264 + AAC in MP4), and decoded back
through the same path as a user's video. What they show is known to the second: a real face
photograph (scikit-image's bundled astronaut) appears only inside ``face_windows``, and the audio
track carries loud bursts only inside ``burst_windows``, over a drifting, textured background and
faint noise, so detectors and features can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

AUDIO_RATE_OUT = 16_000


@dataclass
class SyntheticVideo:
    """What to put in one synthetic video; times in seconds."""

    duration_s: float = 20.0
    fps: float = 25.0
    width: int = 320
    height: int = 240
    face_windows: Sequence[tuple[float, float]] = ()
    burst_windows: Sequence[tuple[float, float]] = ()
    burst_hz: float = 880.0
    seed: int = 0
    face_height: int = field(default=0)  # 0: half the frame height

    def inside(self, windows: Sequence[tuple[float, float]], times_s: np.ndarray) -> np.ndarray:
        """Boolean mask of ``times_s`` falling inside any of ``windows``."""
        mask = np.zeros(len(times_s), dtype=bool)
        for start, end in windows:
            mask |= (times_s >= start) & (times_s < end)
        return mask


def rate_fraction(fps: float) -> Fraction:
    """A frame rate as the exact fraction encoders want (29.97 -> 30000/1001)."""
    for denominator in (1, 1001):
        numerator = fps * denominator
        if abs(numerator - round(numerator)) < 1e-3 * denominator:
            return Fraction(int(round(numerator)), denominator)
    return Fraction(fps).limit_denominator(10_000)


def face_photo(height: int) -> np.ndarray:
    """The astronaut photograph cropped to her face and scaled to ``height`` pixels (RGB uint8)."""
    from skimage import data

    photo = data.astronaut()[20:240, 120:300]  # head and shoulders, face centred
    width = int(round(photo.shape[1] * height / photo.shape[0]))
    return cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)


def background(spec: SyntheticVideo, index: int, rng_image: np.ndarray) -> np.ndarray:
    """A slowly panning textured background, so motion features have something to see."""
    shift = int(index * 2) % spec.width
    return np.roll(rng_image, shift, axis=1).copy()


def render_frames(spec: SyntheticVideo) -> np.ndarray:
    """``uint8 (N, H, W, 3)`` frames of ``spec`` at its constant frame rate."""
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.duration_s * spec.fps))
    texture = rng.integers(60, 140, size=(spec.height // 8, spec.width // 8, 3), dtype=np.uint8)
    texture = cv2.resize(texture, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
    face = face_photo(spec.face_height or spec.height // 2)
    times = np.arange(n) / spec.fps
    show_face = spec.inside(spec.face_windows, times)
    frames = np.empty((n, spec.height, spec.width, 3), dtype=np.uint8)
    fh, fw = face.shape[:2]
    for i in range(n):
        frames[i] = background(spec, i, texture)
        if show_face[i]:
            x = (spec.width - fw) // 2 + int(6 * np.sin(i / 7.0))
            y = (spec.height - fh) // 2
            frames[i, y : y + fh, x : x + fw] = face
    return frames


def render_audio(spec: SyntheticVideo) -> np.ndarray:
    """Mono float32 audio at :data:`AUDIO_RATE_OUT`: faint noise, loud tone+noise bursts in ``burst_windows``."""
    rng = np.random.default_rng(spec.seed + 1)
    t = np.arange(int(round(spec.duration_s * AUDIO_RATE_OUT))) / AUDIO_RATE_OUT
    audio = 0.003 * rng.standard_normal(len(t))
    burst = spec.inside(spec.burst_windows, t)
    audio[burst] += 0.4 * np.sin(2 * np.pi * spec.burst_hz * t[burst]) + 0.1 * rng.standard_normal(burst.sum())
    return np.clip(audio, -1, 1).astype(np.float32)


def write_video(path: Path, spec: SyntheticVideo) -> Path:
    """Encode ``spec`` as H.264 + AAC into an MP4 at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = render_frames(spec)
    audio = render_audio(spec)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate_fraction(spec.fps))
        video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "20"}
        sound = container.add_stream("aac", rate=AUDIO_RATE_OUT, layout="mono")
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode(None))
        hop = 1024
        for start in range(0, len(audio), hop):
            chunk = av.AudioFrame.from_ndarray(audio[None, start : start + hop], format="fltp", layout="mono")
            chunk.sample_rate = AUDIO_RATE_OUT
            chunk.pts = start
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    return path
