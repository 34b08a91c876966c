"""Kill -9 a real ``sentiloc train`` at several points; ``--resume`` ends where an uninterrupted run ends.

Each case starts ``python -m sentiloc train`` through ``stall.py`` (this folder), which stalls the
process at a chosen point: mid-epoch after an optimiser step, between a checkpoint's complete temp
file and its rename, or before the first checkpoint. The test SIGKILLs it there, resumes the run
in-process and compares with an uninterrupted run of the same seed on CPU: every logged loss and
validation score, the weights of ``last.pt`` and ``best.pt``, and the test metrics of ``predict``
+ ``evaluate`` on ``best.pt`` (to 1e-6).

The data: 12 simulated videos of at most 40 s (8 train, 2 of them validation, so 3 optimiser
steps of 2 videos per epoch), a model with 8 hidden units, 3 epochs. A case takes ~15 s on 2
busy cores (a subprocess start is most of it), so the kill during the rename of ``last.pt``
runs by default and the other cases are marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from sentiloc.apps.predict import predict_split
from sentiloc.apps.train import LOCK_NAME
from sentiloc.cli import main
from sentiloc.core.io import PARTIAL_WRITE
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.evaluation import evaluate_detection, load_ground_truth
from tests.engine.stall import kill_when_stalled

STEPS_PER_EPOCH = 3
TINY = ["--epochs", "3", "--set", "model.hidden=8", "--set", "model.heads=2", "--set", "model.gsp_hidden=16",
        "--set", "model.trunk_hidden=16", "--set", "train.batch_size=2", "--set", "train.micro_batch=2",
        "--set", "data.val_fraction=0.25", "--set", "train.num_threads=1"]


def train_args(data: Path, run: Path) -> list[str]:
    return ["-q", "train", "--config", "fsenet_point", "--data", str(data), "--out", str(run), *TINY]


def outcome(data: Path, run: Path) -> dict[str, Any]:
    """What a finished run leaves: history without wall times, both checkpoints' weights, test metrics."""
    summary = json.loads((run / "summary.json").read_text())
    history = [{k: v for k, v in record.items() if not k.startswith("time/")} for record in summary["history"]]
    predictions = predict_split(run / "best.pt", data, "test", run.parent / f"{run.name}_test.json", overwrite=True)
    metrics = evaluate_detection(load_ground_truth(data / "gt.json"), predictions, "test").to_json()
    return {"history": history, "best": summary["best"], "metrics": metrics,
            **{name: load_checkpoint(run / name)["model"] for name in ("last.pt", "best.pt")}}


def assert_same(resumed: Any, reference: Any, where: str = "") -> None:
    """Equal structure; numbers and tensors equal to 1e-6."""
    if isinstance(reference, dict):
        assert sorted(resumed) == sorted(reference), where
        for key in reference:
            assert_same(resumed[key], reference[key], f"{where}/{key}")
    elif isinstance(reference, list):
        assert len(resumed) == len(reference), where
        for k, (a, b) in enumerate(zip(resumed, reference)):
            assert_same(a, b, f"{where}[{k}]")
    elif isinstance(reference, torch.Tensor):
        torch.testing.assert_close(resumed, reference, rtol=0, atol=1e-6, msg=where)
    elif isinstance(reference, float):
        assert resumed == pytest.approx(reference, rel=0, abs=1e-6), where
    else:
        assert resumed == reference, where


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill") / "data"
    assert main(["-q", "simulate", str(root), "--videos", "12", "--max-duration", "40",
                 "--dims", "rgb=8,logmfcc=6,img=8"]) == 0
    return root


@pytest.fixture(scope="module")
def reference(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = tmp_path_factory.mktemp("uninterrupted") / "run"
    assert main(train_args(data, run)) == 0
    return outcome(data, run)


def kill_at(point: str, data: Path, run: Path) -> None:
    """Start the training subprocess stalling at ``point`` (see stall.py) and SIGKILL it there."""
    kill_when_stalled(point, run.parent / "stalled", train_args(data, run), log=run.parent / "stderr.txt")
    assert not (run / "summary.json").exists()


def resume(data: Path, run: Path) -> None:
    assert main(["-q", "train", "--resume", "--data", str(data), "--out", str(run)]) == 0
    assert not [p.name for p in run.iterdir() if PARTIAL_WRITE.fullmatch(p.name)]


@pytest.mark.slow
def test_killed_mid_epoch_resumes_to_the_uninterrupted_run(data: Path, reference: dict[str, Any],
                                                           tmp_path: Path) -> None:
    run = tmp_path / "run"
    kill_at(f"step={STEPS_PER_EPOCH + 1}", data, run)  # one optimiser step into the second epoch
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    resume(data, run)
    assert_same(outcome(data, run), reference)


@pytest.mark.parametrize(("point", "epochs_in_last"), [
    pytest.param("write=last.pt:2", 1, id="last.pt-of-epoch-2"),
    pytest.param("write=best.pt:1", None, id="first-best.pt", marks=pytest.mark.slow),
])
def test_killed_while_writing_a_checkpoint_resumes_to_the_uninterrupted_run(
        point: str, epochs_in_last: int | None, data: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    run = tmp_path / "run"
    kill_at(point, data, run)
    name = point.partition("=")[2].partition(":")[0]
    assert [p.name for p in run.glob(f".{name}.*.tmp")], "killed before the temp file was complete"
    if epochs_in_last is None:
        assert not (run / "last.pt").exists()
    else:
        assert load_checkpoint(run / "last.pt")["epoch"] == epochs_in_last  # the old file, never half-written
    resume(data, run)
    assert_same(outcome(data, run), reference)


@pytest.mark.slow
def test_killed_before_the_first_checkpoint_resume_starts_afresh(data: Path, reference: dict[str, Any],
                                                                 tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    kill_at("step=1", data, run)
    assert (run / "config.yaml").is_file() and not (run / "last.pt").exists()
    capsys.readouterr()
    resume(data, run)
    err = capsys.readouterr().err
    assert "no last.pt yet (stopped during the first epoch); starting the run afresh with its config.yaml" in err
    assert_same(outcome(data, run), reference)


def test_killed_before_its_config_was_written_the_run_starts_again_without_overwrite(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).write_text("4242\n")  # the lock file of a killed run: no live process holds it
    (run / ".config.yaml.0123456789ab.tmp").write_text("task: local")  # its half-written config
    assert main(["-q", "train", "--resume", "--data", str(data), "--out", str(run)]) == 1
    assert "nothing to resume (no last.pt or config.yaml); start the run with --config" in capsys.readouterr().err
    assert main([*train_args(data, run), "--epochs", "1"]) == 0
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == [LOCK_NAME]
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
