"""A tiny hand-built spotting dataset (written with numpy, not by the simulator), for the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: video -> (subject, fps, n_frames, instances [(onset, apex, offset, type)], clicks [(frame, type)])
VIDEOS = {
    "s1_a": ("s1", 30.0, 40, [(5, 8, 12, "macro"), (20, 21, 23, "micro")], [(7, "macro"), (21, "micro")]),
    "s1_b": ("s1", 30.0, 25, [(3, 6, 10, "macro")], [(6, "macro")]),
    "s2_a": ("s2", 200.0, 150, [(10, 40, 90, "macro"), (100, 104, 110, "micro")], [(45, "macro"), (103, "micro")]),
}
DIM = 3


def make_spotting_dataset(root: Path, videos: dict = VIDEOS, dim: int = DIM, seed: int = 0) -> Path:
    """Write the spotting layout for ``videos`` into ``root`` and return it."""
    rng = np.random.default_rng(seed)
    (root / "features").mkdir(parents=True, exist_ok=True)
    (root / "videos.csv").write_text("video,subject,fps,n_frames\n" + "".join(
        f"{v},{s},{fps:g},{n}\n" for v, (s, fps, n, _, _) in videos.items()))
    (root / "annotations.csv").write_text("video,onset,apex,offset,type\n" + "".join(
        f"{v},{o},{a},{e},{t}\n" for v, (*_, inst, _) in videos.items() for o, a, e, t in inst))
    (root / "points.csv").write_text("video,frame,type\n" + "".join(
        f"{v},{f},{t}\n" for v, (*_, clicks) in videos.items() for f, t in clicks))
    for video, (_, _, n, _, _) in videos.items():
        np.save(root / "features" / f"{video}.npy", rng.normal(size=(n, dim)).astype(np.float32))
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The hand-built dataset of :data:`VIDEOS`, fresh for each test."""
    return make_spotting_dataset(tmp_path / "data")
