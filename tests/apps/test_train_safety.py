"""The run folder is safe: overwrite starts clean, one trainer at a time, resume keeps its config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentiloc.apps.train import LOCK_NAME, config_changes, run_lock, train
from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.engine.checkpoint import load_checkpoint

TINY = ["--set", "model.hidden=16", "--set", "model.heads=2", "--set", "model.gsp_hidden=32",
        "--set", "model.trunk_hidden=32", "--set", "train.batch_size=2", "--set", "train.micro_batch=2",
        "--set", "data.val_fraction=0.25"]


@pytest.fixture
def args(tiny_dataset: Path, tmp_path: Path) -> list[str]:
    return ["train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "-q"]


def test_config_changes_name_every_differing_key() -> None:
    old = {"train": {"lr": 1.0, "epochs": 2}, "model": {"name": "a"}}
    assert config_changes(old, {"train": {"lr": 2.0, "epochs": 2}, "model": {"name": "a", "x": 1}}) == ["model.x",
                                                                                                      "train.lr"]
    assert config_changes(old, old) == []


def test_overwrite_clears_the_previous_run(args: list[str], tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main([*args, "--config", "fsenet_point", "--epochs", "2", "--set", "train.checkpoint_every=1", *TINY]) == 0
    (run / "notes.txt").write_text("mine")
    assert main([*args, "--config", "fsenet_point", "--epochs", "1", "--stop-after", "1", "--overwrite", *TINY]) == 0
    assert not (run / "epoch_0002.pt").exists() and (run / "notes.txt").read_text() == "mine"
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    assert main([*args, "--resume"]) == 0  # continues the new run, which is done: nothing of the old one is left
    assert load_checkpoint(run / "last.pt")["config"]["train"]["epochs"] == 1


def test_a_second_trainer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    held = rf"{run}: run folder is in use by another trainer \(pid {os.getpid()}\)"
    with run_lock(run), pytest.raises(SentilocError, match=held), run_lock(run):
        pass
    assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
    with run_lock(run):  # released when the run ends
        pass


def test_resume_refuses_config_changes_but_extends_epochs(args: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*args, "--config", "fsenet_point", "--epochs", "1", *TINY]) == 0
    assert main([*args, "--resume", "--set", "train.lr=0.5", "--seed", "9"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot change train.lr, train.seed" in err and str(run) in err
    assert main([*args, "--resume", "--set", "train.epochs=2", "--set", "model.hidden=16"]) == 0
    assert load_checkpoint(run / "last.pt")["epoch"] == 2


def test_resume_before_the_first_checkpoint_starts_afresh(args: list[str], tmp_path: Path,
                                                          tiny_dataset: Path) -> None:
    run = tmp_path / "run"
    assert main([*args, "--config", "fsenet_point", "--epochs", "1", *TINY]) == 0
    (run / "last.pt").unlink()  # as if killed during the first epoch
    (run / "best.pt").unlink()
    assert main([*args, "--resume"]) == 0
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    with pytest.raises(SentilocError, match="nothing to resume"):
        train(None, tiny_dataset, tmp_path / "empty", resume=True)


def test_a_refused_run_leaves_no_trace(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    used = tmp_path / "run"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    assert main([*args, "--config", "fsenet_point", *TINY]) != 0  # not empty, no --overwrite
    assert sorted(p.name for p in used.iterdir()) == ["notes.txt"]
    fresh = tmp_path / "never"
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(fresh), "--config", "fsenet_point", "-q"]) != 0
    assert not fresh.exists()
    assert "Traceback" not in capsys.readouterr().err
