"""Real synthetic videos for the feature tests: a face and a sound burst at known times = positive sentiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentiloc.data.simulate.video import SyntheticVideo, write_video

#: Small frames keep encoding and face search fast; the face is still ~90 px tall.
WIDTH, HEIGHT, FPS = 240, 180, 25.0


def positive_video(path: Path, seed: int, duration_s: float = 16.0) -> tuple[Path, tuple[float, float]]:
    """A clip with one positive window (face + burst) of 4-6 s at a seeded position; returns it and the window."""
    rng = np.random.default_rng(seed)
    length = float(rng.uniform(4.0, 6.0))
    start = float(rng.uniform(1.0, duration_s - length - 1.0))
    window = (round(start, 2), round(start + length, 2))
    spec = SyntheticVideo(duration_s=duration_s, fps=FPS, width=WIDTH, height=HEIGHT,
                          face_windows=[window], burst_windows=[window], seed=seed)
    return write_video(path, spec), window


def write_annotations(path: Path, windows: dict[str, tuple[float, float]], test_ids: set[str], seed: int = 0) -> Path:
    """The build-dataset CSV: every window as a segment, plus one click inside it for training videos."""
    rng = np.random.default_rng(seed)
    lines = ["video,label,start,end,time,split"]
    for video_id, (start, end) in sorted(windows.items()):
        split = "test" if video_id in test_ids else "train"
        lines.append(f"{video_id},p,{start},{end},,{split}")
        if split == "train":
            lines.append(f"{video_id},p,,,{rng.uniform(start + 0.5, end - 0.5):.2f},{split}")
    path.write_text("\n".join(lines) + "\n")
    return path
