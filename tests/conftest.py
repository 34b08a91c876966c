"""Shared test fixtures: a tiny hand-built TSL-300-layout dataset.

It is written directly with numpy (not by the simulator) so data-layer tests do not depend on
the simulator, and so each test can break one thing on purpose.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

#: Files the tests read as they are: the released TSL-300 annotations and the reference evaluator's
#: conformance cases (each folder has its own README).
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make_dataset(
    root: Path,
    n_train: int = 4,
    n_test: int = 2,
    dims: dict[str, int] | None = None,
    fps_choices: tuple[float, ...] = (25.0, 29.97, 30.0),
    face_missing_runs: float = 0.3,
    seed: int = 0,
    duration_s: float = 40.0,
) -> Path:
    """Write a small, valid TSL-300-layout dataset and return its root."""
    dims = dims or {"rgb": 6, "logmfcc": 4, "img": 5}
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ids = {"train": [f"{i}_sim_train_{i}" for i in range(n_train)], "test": [f"{100 + i}_sim_test_{i}" for i in range(n_test)]}
    fps, durations, dense, gt, clicks = {}, {}, {}, {}, []
    for split, vids in ids.items():
        (root / f"split_{split}.txt").write_text("\n".join(vids) + "\n")
        for k, vid in enumerate(vids):
            fps[vid] = float(fps_choices[k % len(fps_choices)])
            durations[vid] = duration_s + k
            segments = [{"segment": ["5.0", "11.5"], "label": "p"}, {"segment": [20.0, 26.25], "label": "n"}]
            dense[vid] = {"subset": split, "annotations": segments}
            gt[vid] = {"subset": split, "annotations": segments if split == "test" else []}
            if split == "train":
                for seg in segments:
                    mid = (float(seg["segment"][0]) + float(seg["segment"][1])) / 2
                    frame = int(mid * fps[vid])
                    clicks.append([seg["label"], int(seg["label"] == "p"), frame - 3, frame + 3, vid, frame])
            length = int(np.ceil(durations[vid] * fps[vid] / 16))
            face = np.ones(length, dtype=bool)
            n_missing = int(face_missing_runs * length)
            start = rng.integers(0, max(1, length - n_missing))
            face[start : start + n_missing] = False
            for name, dim in dims.items():
                rows = rng.standard_normal((length, dim)).astype(np.float32)
                if name == "img":
                    rows[~face] = 0.0
                out = root / "features" / split / name / f"{vid}.npy"
                out.parent.mkdir(parents=True, exist_ok=True)
                np.save(out, rows)
    for name, obj in [
        ("fps_dict.json", fps),
        ("len_duration_dict.json", durations),
        ("gt.json", {"database": gt}),
        ("videosenti_gt.json", {"database": dense}),
    ]:
        (root / name).write_text(json.dumps(obj))
    (root / "point_gaussian").mkdir(exist_ok=True)
    with (root / "point_gaussian" / "point_labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "class_index", "start_frame", "stop_frame", "video_id", "point"])
        writer.writerows(clicks)
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture
def sentiloc_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """``caplog`` that sees the ``sentiloc`` logger's records at WARNING and above.

    Once a CLI test ran in this process, the logger stops propagating to the root logger (where
    ``caplog`` listens), so the capture handler is attached to it directly.
    """
    logger = logging.getLogger("sentiloc")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.WARNING)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
