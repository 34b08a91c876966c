"""The stream-shuffle probe: a pure permutation over time, and ΔCAS / ΔmAP per stream through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import main
from sentiloc.data.dataset import VideoItem
from sentiloc.studies.shuffle import shuffle_stream
from tests.conftest import make_dataset


def test_shuffle_permutes_one_stream_and_moves_the_face_mask_with_the_face() -> None:
    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    face = np.array([1, 1, 0, 1, 0, 1], dtype=bool)
    item = VideoItem("v", 25.0, {"rgb": rows, "img": rows + 100}, face, None)
    out = shuffle_stream(item, "img", "img", np.random.default_rng(0))
    order = np.random.default_rng(0).permutation(6)
    np.testing.assert_array_equal(out.features["img"], (rows + 100)[order])
    np.testing.assert_array_equal(out.face_present, face[order])
    np.testing.assert_array_equal(out.features["rgb"], rows)  # other streams untouched
    visual = shuffle_stream(item, "rgb", "img", np.random.default_rng(0))
    np.testing.assert_array_equal(visual.face_present, face)


def test_probe_reports_every_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_dataset(tmp_path / "data", n_train=3, n_test=2)
    run = tmp_path / "run"
    widths = ["--set", "model.hidden=8", "--set", "model.trunk_hidden=16", "--set", "model.gsp_hidden=16"]
    assert main(["train", "--config", "fsenet_point", "--data", str(data), "--out", str(run), "--epochs", "1",
                 "--set", "data.val_fraction=0", *widths]) == 0
    capsys.readouterr()
    assert main(["study", "shuffle", "--checkpoint", str(run / "best.pt"), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "intact avg mAP" in lines[0]
    streams = {line.split()[0]: float(line.split()[1]) for line in lines[2:]}
    assert set(streams) == {"rgb", "logmfcc", "img"} and all(v >= 0 for v in streams.values())

    # the intact model is scored exactly as `predict` + `evaluate` score it (same CAS source, clipping)
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--out", str(tmp_path / "p.json")]) == 0
    assert main(["evaluate", "--gt", str(data / "gt.json"), "--pred", str(tmp_path / "p.json"),
                 "--json", str(tmp_path / "m.json")]) == 0
    expected = json.loads((tmp_path / "m.json").read_text())["average_mAP"]
    assert float(lines[0].split()[-1]) == pytest.approx(100 * expected, abs=0.006)
