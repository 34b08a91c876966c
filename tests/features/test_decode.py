"""Decoding real files: the constant snippet grid, variable frame rates, audio alignment, bad files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.simulate.video import SyntheticVideo, rate_fraction, write_video
from sentiloc.features.decode import AUDIO_RATE, iter_snippets, probe_video, read_audio, scaled_size


def write_vfr(path: Path, times_ms: list[int]) -> Path:
    """A variable-frame-rate MKV whose frame i is a flat grey of level 20 i, shown at ``times_ms[i]``."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def levels(clip: np.ndarray) -> list[int]:
    return [int(round(frame.mean() / 20)) for frame in clip]


def test_snippet_grid_counts_frames_and_pads_the_last_snippet(tmp_path):
    video = write_video(tmp_path / "clip.mp4", SyntheticVideo(duration_s=10.2, fps=25.0, width=96, height=64))
    probe = probe_video(video)
    assert probe.fps == 25.0 and probe.has_audio and (probe.width, probe.height) == (96, 64)
    snippets = list(iter_snippets(video, probe.fps))
    assert len(snippets) == probe.expected_snippets == 16  # 255 frames
    assert sum(n for _, n in snippets) == 255
    last, n_real = snippets[-1]
    assert n_real == 15 and last.shape == (16, 64, 96, 3) and last.dtype == np.uint8
    np.testing.assert_array_equal(last[15], last[14])  # padding repeats the final frame


def test_variable_frame_rate_is_placed_on_the_constant_grid_by_timestamps(tmp_path):
    # 25 fps grid = 40 ms slots; frames 3 and 10 arrive late (gaps of 3 and 4 slots)
    video = write_vfr(tmp_path / "vfr.mkv", [0, 40, 80, 200, 240, 280, 320, 360, 400, 440, 600, 640])
    (first, n_first), (second, n_second) = iter_snippets(video, 25.0)
    # the skipped slots show the frame that was still on screen
    assert levels(first) == [0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 10]
    assert (n_first, n_second) == (16, 1) and levels(second)[0] == 11


def test_frames_are_scaled_down_never_up():
    assert scaled_size(1920, 1080, 256) == (456, 256)
    assert scaled_size(320, 240, 256) == (320, 240)
    assert rate_fraction(29.97) == Fraction(30000, 1001) and rate_fraction(25.0) == Fraction(25)


def test_audio_is_aligned_to_the_video_and_bursts_land_where_written(tmp_path):
    video = write_video(tmp_path / "burst.mp4", SyntheticVideo(duration_s=6.0, width=64, height=48,
                                                              burst_windows=[(2.0, 3.0)]))
    audio = read_audio(video, 6.0)
    assert audio.shape == (6 * AUDIO_RATE,) and audio.dtype == np.float32
    loud = np.abs(audio[int(2.1 * AUDIO_RATE) : int(2.9 * AUDIO_RATE)]).mean()
    quiet = np.abs(audio[: int(1.9 * AUDIO_RATE)]).mean()
    assert loud > 20 * quiet
    # the burst starts within 30 ms of 2.0 s (AAC priming is removed via timestamps)
    envelope = np.abs(audio) > 0.1
    assert abs(np.argmax(envelope) / AUDIO_RATE - 2.0) < 0.03


def test_video_without_audio_track_gives_silence(tmp_path):
    video = write_vfr(tmp_path / "silent.mkv", [0, 40, 80])
    assert not probe_video(video).has_audio
    np.testing.assert_array_equal(read_audio(video, 0.12), np.zeros(int(0.12 * AUDIO_RATE), np.float32))


@pytest.mark.parametrize("content", [b"", b"this is not a video at all" * 100, bytes(range(256)) * 50])
def test_unreadable_files_raise_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(SentilocError, match="broken.mp4"):
        probe_video(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SentilocError, match="not found"):
        probe_video(tmp_path / "nope.mp4")
