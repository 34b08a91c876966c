"""Decoding with PyAV: a video file -> 16-frame RGB snippets on a constant frame grid, and mono audio.

Features are indexed by *native frame* (snippet ``t`` = frames ``[16 t, 16 t + 16)``, see
:mod:`sentiloc.core.timebase`), which assumes a constant frame rate. Phone and screen recordings
often have a variable one, so frames are placed on the grid ``k / fps`` by their presentation
timestamps: the slots between two frames repeat the earlier one (it stayed on screen), and a frame
that arrives for an already filled slot is dropped. Snippet times in seconds then
mean the same thing for every file, whatever its container says.

Frames are scaled down during decoding (FFmpeg's scaler, not numpy) so the shorter side is at most
``short_side`` pixels: every extractor works at or below that size, and a 4K video does not
cost 4K memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import SNIPPET_FRAMES, snippets_in

#: Sample rate of the audio handed to audio extractors (the TSL-300 audio convention).
AUDIO_RATE = 16_000


@dataclass(frozen=True)
class VideoProbe:
    """What the container says about a video, before decoding it."""

    fps: float
    duration_s: float
    width: int
    height: int
    has_audio: bool

    @property
    def expected_snippets(self) -> int:
        return snippets_in(self.duration_s, self.fps)


def _open(path: Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise SentilocError(f"{path}: video file not found; check the path")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise SentilocError(f"{path}: not a readable video ({exc}); re-encode it, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`") from None


def _frame_rate(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise SentilocError(f"{path}: has no video stream; sentiloc needs the picture to extract features")
    return container.streams.video[0]


def stream_start_s(stream: av.video.stream.VideoStream) -> float | None:
    """When the video stream starts (s), the zero of the snippet grid for both picture and sound."""
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else None


def probe_video(path: Path) -> VideoProbe:
    """Frame rate, duration and size of ``path`` from its container headers."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        fps = _frame_rate(stream)
        if not fps or not math.isfinite(fps) or fps <= 0:
            raise SentilocError(f"{path}: the container gives no frame rate; re-encode it with a fixed rate (ffmpeg -r 25)")
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = (stream.frames or 0) / fps
        return VideoProbe(fps, duration, stream.codec_context.width, stream.codec_context.height,
                          bool(container.streams.audio))


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side at most ``short_side``, both even (what scalers like)."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def grid_slot(time_s: float, start_s: float, fps: float) -> int:
    """Index of the constant-rate frame slot a frame shown at ``time_s`` belongs to."""
    return int(round((time_s - start_s) * fps))


def iter_snippets(path: Path, fps: float, short_side: int = 256) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(clip, n_real)``: ``uint8 (16, H, W, 3)`` RGB snippets on the grid of ``fps`` frames/s.

    The final snippet, when the video does not end on a 16-frame boundary, is padded by repeating
    its last frame so every extractor sees full clips; ``n_real`` says how many of its frames are
    real (16 for all others), so the consumer can count the video's frames.
    """
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        width, height = scaled_size(stream.codec_context.width, stream.codec_context.height, short_side)
        buffer: list[np.ndarray] = []
        previous: np.ndarray | None = None
        next_slot = 0
        start_s = stream_start_s(stream)
        try:
            for frame in container.decode(stream):
                time_s = frame.time if frame.time is not None else next_slot / fps
                if start_s is None:
                    start_s = time_s
                slot = grid_slot(time_s, start_s, fps)
                if slot < next_slot:
                    continue
                rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
                # Slots skipped since the previous frame showed the previous frame; this one starts at ``slot``.
                shown = [previous if previous is not None else rgb] * (slot - next_slot) + [rgb]
                for picture in shown:
                    buffer.append(picture)
                    if len(buffer) == SNIPPET_FRAMES:
                        yield np.stack(buffer), SNIPPET_FRAMES
                        buffer = []
                previous, next_slot = rgb, slot + 1
        except av.error.FFmpegError as exc:
            raise SentilocError(f"{path}: decoding failed after {next_slot} frames ({exc}); the file is damaged, "
                                "re-encode or re-download it") from None
        if buffer:
            n_real = len(buffer)
            buffer.extend([buffer[-1]] * (SNIPPET_FRAMES - n_real))
            yield np.stack(buffer), n_real
        if next_slot == 0:
            raise SentilocError(f"{path}: no decodable video frames; re-encode the file")


def read_audio(path: Path, duration_s: float) -> np.ndarray:
    """Mono float32 audio at :data:`AUDIO_RATE`, aligned to the first video frame and ``duration_s`` long.

    Videos without an audio track give silence, so the audio stream still exists (all at the
    log-mel floor) and the model sees "nothing heard" rather than a missing file.
    """
    path = Path(path)
    n_out = int(round(duration_s * AUDIO_RATE))
    with _open(path) as container:
        video = _video_stream(container, path)
        if not container.streams.audio:
            return np.zeros(n_out, dtype=np.float32)
        video_start = stream_start_s(video) or 0.0
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        chunks: list[np.ndarray] = []
        audio_start: float | None = None
        try:
            for frame in container.decode(stream):
                if audio_start is None and frame.time is not None:
                    audio_start = frame.time
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
        except av.error.FFmpegError as exc:
            raise SentilocError(f"{path}: audio decoding failed ({exc}); re-encode the file") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    offset = int(round(((audio_start or 0.0) - video_start) * AUDIO_RATE))
    if offset > 0:
        samples = np.concatenate([np.zeros(offset, np.float32), samples])
    elif offset < 0:
        samples = samples[-offset:]
    return np.pad(samples[:n_out], (0, max(0, n_out - len(samples))))

