"""A tiny hand-built recognition dataset (written with numpy, not by the simulator), for tests of every layer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

CLASSES = ("anger", "joy", "sadness")
#: video -> (label, split, fold, segments T, keyframes [[first, last], ...])
VIDEOS = {
    "v_anger_1": ("anger", "train", 1, 6, [[1, 2]]),
    "v_anger_2": ("anger", "test", 2, 4, [[0, 0]]),
    "v_joy_1": ("joy", "train", 2, 5, [[2, 4]]),
    "v_joy_2": ("joy", "test", 1, 7, [[3, 3], [5, 6]]),
    "v_sad_1": ("sadness", "train", 1, 3, [[0, 1]]),
    "v_sad_2": ("sadness", "test", 2, 6, [[4, 5]]),
}
DIMS = {"visual": 5, "audio": 3}


def make_recognition_dataset(root: Path, videos: dict = VIDEOS, classes: tuple[str, ...] = CLASSES,
                             dims: dict[str, int] = DIMS, seed: int = 0, keyframes: bool = True) -> Path:
    """Write the recognition layout for ``videos`` into ``root`` and return it.

    The keyframes of each video carry its class: their first ``len(classes)`` visual and audio
    dims get +3 in the class's own dim, so a model can learn the labels in a few steps.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    (root / "labels.csv").write_text("video,label,split,fold\n" + "".join(
        f"{v},{label},{split},{fold}\n" for v, (label, split, fold, _, _) in videos.items()))
    for stream, dim in dims.items():
        (root / "features" / stream).mkdir(parents=True, exist_ok=True)
        for video, (label, _, _, length, spans) in videos.items():
            rows = rng.normal(size=(length, dim)).astype(np.float32)
            for first, last in spans:
                rows[first:last + 1, classes.index(label) % dim] += 3.0
            np.save(root / "features" / stream / f"{video}.npy", rows)
    if keyframes:
        (root / "keyframes.json").write_text(json.dumps({v: spans for v, (*_, spans) in videos.items()}))
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The hand-built dataset of :data:`VIDEOS`, fresh for each test."""
    return make_recognition_dataset(tmp_path / "data")
