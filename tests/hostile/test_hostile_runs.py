"""Hostile predictions, checkpoints, configs and output paths: refused with one line, nothing run or changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sentiloc.core.io import csv_cell
from tests.hostile.conftest import TINY_MODEL, Harness

TEST0 = "100_sim_test_0"


def prediction(segment: list, label: str = "p", score: float = 0.9) -> dict:
    return {"results": {TEST0: [{"label": label, "score": score, "segment": segment}]}}


PREDICTIONS = {
    "end_before_start": (prediction([9.0, 3.0]), "end < start"),
    "negative_start": (prediction([-50.0, 3.0]), "negative start"),
    "empty_results": ({"results": {}}, "holds no video"),
    "far_past_the_video": (prediction([5.0, 5000.0]), "past the video"),
    "no_results_key": ({"predictions": {}}, '"results"'),
    "score_string": (prediction([1.0, 3.0], score="high"), "malformed prediction"),  # type: ignore[arg-type]
    "segment_three_numbers": (prediction([1.0, 2.0, 3.0]), "malformed prediction"),
    "segment_nan": (prediction(["nan", 3.0]), "malformed prediction"),
}


@pytest.mark.parametrize("case", PREDICTIONS)
def test_corrupt_predictions_are_refused(case: str, harness: Harness) -> None:
    content, expected = PREDICTIONS[case]
    (harness.tmp / "pred.json").write_text(json.dumps(content))
    line = harness.refuses(harness.argv("evaluate"), "pred.json")
    assert expected in line
    assert not (harness.tmp / "metrics.json").exists()


@pytest.mark.parametrize(("case", "content"), [("not_json", "{oops"), ("nested", "[" * 200_000 + "]" * 200_000),
                                               ("not_utf8", b"\xff\xfe{}")])
def test_unreadable_predictions_are_refused(case: str, content: str | bytes, harness: Harness) -> None:
    path = harness.tmp / "pred.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    harness.refuses(harness.argv("evaluate"), "pred.json")


@pytest.mark.parametrize(("segment", "label"), [([9.0, 3.0], "p"), ([-5.0, 3.0], "p"), ([4.0, 4.0], "n")])
def test_evaluate_refuses_corrupt_ground_truth(segment: list, label: str, harness: Harness) -> None:
    raw = json.loads((harness.data / "gt.json").read_text())
    raw["database"][TEST0]["annotations"][0] = {"segment": segment, "label": label}
    (harness.data / "gt.json").write_text(json.dumps(raw))
    (harness.tmp / "pred.json").write_text(json.dumps(prediction([1.0, 3.0])))
    assert "end <= start or a negative start" in harness.refuses(harness.argv("evaluate"), "gt.json")


def test_predictions_for_unknown_videos_are_logged_not_fatal(harness: Harness) -> None:
    pred = prediction([5.0, 11.5])
    pred["results"]["stranger"] = [{"label": "p", "score": 0.5, "segment": [1.0, 2.0]}]
    (harness.tmp / "pred.json").write_text(json.dumps(pred))
    shown = harness.accepts(["evaluate", "--gt", str(harness.data / "gt.json"), "--pred", str(harness.tmp / "pred.json")])
    assert "'stranger'" in shown and "Warning" not in shown


class Payload:
    """Unpickling this creates ``marker``: proof that a loader ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def without_dims(state: dict, tmp: Path) -> dict:
    return {k: v for k, v in state.items() if k != "dims"}


def bad_dims(state: dict, tmp: Path) -> dict:
    return {**state, "dims": {"rgb": "six"}}


def pickled_code(state: dict, tmp: Path) -> dict:
    return {**state, "evil": Payload(tmp / "pwned")}


@pytest.mark.parametrize("forge", [without_dims, bad_dims, pickled_code])
def test_forged_checkpoints_are_refused(forge, harness: Harness) -> None:
    state = torch.load(harness.checkpoint_path(), weights_only=True)
    forged = harness.tmp / "forged.pt"
    torch.save(forge(state, harness.tmp), forged)
    argv = ["-q", "predict", "--checkpoint", str(forged), "--data", str(harness.data), "--out",
            str(harness.tmp / "pred.json")]
    harness.refuses(argv, "forged.pt")
    assert not (harness.tmp / "pwned").exists(), "the checkpoint's pickled payload ran"
    assert not (harness.tmp / "pred.json").exists()


def test_predict_refuses_a_folder_as_out_before_predicting(harness: Harness) -> None:
    out = harness.tmp / "outdir"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    argv = ["-q", "predict", "--checkpoint", str(harness.checkpoint_path()), "--data", str(harness.data),
            "--out", str(out), "--overwrite"]
    assert "is a folder" in harness.refuses(argv, "outdir")


CONFIGS = {
    "python_object_tag": "train: !!python/object/apply:builtins.open [{marker}, w]\n",
    "python_name_tag": "model: !!python/name:os.system\n",
    "unknown_key": "_base_: []\ntrain:\n  lrr: 0.1\n",
    "wrong_type": "train:\n  lr: fast\n",
    "not_a_mapping": "- just\n- a list\n",
}


@pytest.mark.parametrize("case", CONFIGS)
def test_hostile_configs_are_refused(case: str, harness: Harness) -> None:
    config = harness.tmp / "config.yaml"
    config.write_text(CONFIGS[case].format(marker=harness.tmp / "pwned"))
    argv = ["-q", "train", "--config", str(config), "--data", str(harness.data), "--out", str(harness.tmp / "run"),
            "--epochs", "1", *TINY_MODEL]
    line = harness.refuses(argv, "")
    assert "config" in line or "lrr" in line or "train.lr" in line
    assert not (harness.tmp / "pwned").exists(), "a YAML tag ran code"


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x","y")', "+1+2", "-cmd", "@SUM(A1)", "\tx"])
def test_csv_cells_cannot_be_formulas(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell
    assert csv_cell("p") == "p" and csv_cell(-1.5) == -1.5
