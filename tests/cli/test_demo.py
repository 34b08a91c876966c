"""The README's main command, end to end (slow: a few minutes on 2 CPU cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.cli import main


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "avg" in printed and "demo finished" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["average_mAP"] <= 1.0 and len(metrics["mAP"]) == 5
    plots = sorted((out / "plots").glob("*.png"))
    assert len([p for p in plots if p.name.startswith("test_")]) == 3
    assert (out / "run" / "best.pt").is_file() and (out / "predictions.json").is_file()
    assert main(["demo", "--out", str(out)]) == 1  # never clobbers a previous demo silently
