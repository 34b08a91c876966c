"""ActivityNet results files (docs/methods.md §2.9 step 10 and §3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import load_json
from sentiloc.postprocess import activitynet_results, write_results


def test_layout_and_plain_types() -> None:
    per_video = {
        "vid_a": [{"label": np.str_("p"), "score": np.float32(0.75), "segment": np.array([1.0, 2.5])}],
        "vid_b": [],
    }
    results = activitynet_results(per_video, version="test")
    assert set(results) == {"version", "results", "external_data"}
    assert results["version"] == "test"
    assert results["results"] == {"vid_a": [{"label": "p", "score": 0.75, "segment": [1.0, 2.5]}], "vid_b": []}
    proposal = results["results"]["vid_a"][0]
    assert type(proposal["label"]) is str and type(proposal["score"]) is float
    assert all(type(x) is float for x in proposal["segment"])
    assert activitynet_results({})["version"] == "sentiloc"


def test_malformed_proposal_names_the_video() -> None:
    with pytest.raises(ValueError, match="vid_x"):
        activitynet_results({"vid_x": [{"label": "p", "score": 0.5, "segment": [1.0]}]})
    with pytest.raises(ValueError, match="vid_y"):
        activitynet_results({"vid_y": [{"label": "p", "segment": [1.0, 2.0]}]})


def test_round_trip(tmp_path: Path) -> None:
    results = activitynet_results(
        {"v1": [{"label": "p", "score": 0.1 + 0.2, "segment": [1 / 3, 2 / 3]}], "v2": [{"label": "n", "score": -0.5, "segment": [0.0, 4.0]}]}
    )
    path = tmp_path / "out" / "pred.json"
    write_results(path, results)
    assert load_json(path, "results file") == results  # floats survive exactly
    assert json.loads(path.read_text(encoding="utf-8")) == results


def test_refuses_to_clobber_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "pred.json"
    first = activitynet_results({"v": [{"label": "p", "score": 0.5, "segment": [1.0, 2.0]}]})
    second = activitynet_results({"v": []})
    write_results(path, first)
    with pytest.raises(SentilocError, match="--overwrite"):
        write_results(path, second)
    assert load_json(path, "results file") == first
    write_results(path, second, overwrite=True)
    assert load_json(path, "results file") == second


def test_nan_score_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "pred.json"
    bad = activitynet_results({"v": [{"label": "p", "score": float("nan"), "segment": [1.0, 2.0]}]})
    with pytest.raises(ValueError):
        write_results(path, bad)
    assert list(tmp_path.iterdir()) == []
