"""A full disk: a failed write keeps the previous file, leaves no temp file and stops with one line.

ENOSPC is simulated in-process: either ``fsync`` of the temp file fails (where ext4's delayed
allocation reports a full disk) or the write itself fails half-way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Self

import pytest

from sentiloc.apps.api import load_config
from sentiloc.apps.train import train
from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    PARTIAL_WRITE,
    WriteFailed,
    atomic_write_bytes,
    atomic_write_json,
    remove_partial_writes,
)
from sentiloc.engine.checkpoint import load_checkpoint, save_checkpoint

TINY = {"model.hidden": 8, "model.heads": 2, "model.gsp_hidden": 16, "model.trunk_hidden": 16,
        "train.batch_size": 2, "train.micro_batch": 2, "train.epochs": 1, "train.num_threads": 1,
        "data.val_fraction": 0.25}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if PARTIAL_WRITE.fullmatch(p.name)]


def full_disk_for(monkeypatch: pytest.MonkeyPatch, names: set[str]) -> None:
    """``fsync`` raises ENOSPC for the temp files of ``names`` (``.<name>.<hex>.tmp``); other files sync."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if any(Path(target).name.startswith(f".{name}.") for name in names):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


class HalfWriter:
    """A file handle whose ``write`` stores half the bytes, then reports a full disk."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, data: bytes) -> int:
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def half_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen: Callable = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))


def test_a_half_written_file_is_removed_and_the_old_one_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"epochs_done": 1})
    before = digest(target)
    half_writes(monkeypatch)
    with pytest.raises(WriteFailed) as caught:
        atomic_write_json(target, {"epochs_done": 2, "history": list(range(1000))})
    assert str(caught.value) == (f"{target}: write failed (the disk is full); the previous summary.json is intact; "
                                 "free disk space (or fix the folder's permissions) and run again")
    assert digest(target) == before and temp_files(tmp_path) == []
    with pytest.raises(WriteFailed, match="no new.bin was written"):
        atomic_write_bytes(tmp_path / "new.bin", b"0123")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_write_failure_crosses_a_process_pool_intact(tmp_path: Path) -> None:
    failure = WriteFailed.of(tmp_path / "rgb.npy", OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)))
    copy = pickle.loads(pickle.dumps(failure))
    assert type(copy) is WriteFailed and str(copy) == str(failure)
    assert str(copy).startswith(f"{tmp_path / 'rgb.npy'}: write failed (the disk is full); no rgb.npy was written")


def test_a_checkpoint_write_that_fails_names_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_checkpoint(tmp_path / "last.pt", {"model": {}, "config": {}, "epoch": 1})
    before = digest(tmp_path / "last.pt")
    full_disk_for(monkeypatch, {"last.pt"})
    with pytest.raises(SentilocError) as caught:
        save_checkpoint(tmp_path / "last.pt", {"model": {}, "config": {}, "epoch": 2})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'last.pt'}: checkpoint write failed")
    assert "the disk is full" in message and "the previous last.pt is intact" in message and "--resume" in message
    assert digest(tmp_path / "last.pt") == before and load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    assert temp_files(tmp_path) == []


def test_a_full_disk_stops_training_and_keeps_both_checkpoints(tiny_dataset: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    train(load_config("fsenet_point", TINY), tiny_dataset, run, progress=False)
    before = {name: digest(run / name) for name in ("last.pt", "best.pt", "summary.json")}
    full_disk_for(monkeypatch, {"last.pt", "best.pt"})
    args = ["-q", "train", "--resume", "--epochs", "2", "--data", str(tiny_dataset), "--out", str(run)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert "checkpoint write failed (the disk is full)" in err and "is intact" in err
    assert {name: digest(run / name) for name in before} == before
    assert temp_files(run) == []
    monkeypatch.undo()
    assert main(args) == 0  # space freed: the run continues from the intact last.pt
    assert load_checkpoint(run / "last.pt")["epoch"] == 2


def test_a_full_disk_at_the_summary_keeps_the_old_summary(tiny_dataset: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    train(load_config("fsenet_point", TINY), tiny_dataset, run, progress=False)
    before = digest(run / "summary.json")
    full_disk_for(monkeypatch, {"summary.json"})
    with pytest.raises(SentilocError, match=r"summary.json: write failed \(the disk is full\); the previous "
                                            r"summary.json is intact"):
        train(None, tiny_dataset, run, resume=True, epochs=2, progress=False)
    assert digest(run / "summary.json") == before and temp_files(run) == []
    assert load_checkpoint(run / "last.pt")["epoch"] == 2  # the checkpoints went through before the summary


def test_partial_writes_of_a_killed_writer_are_cleared(tmp_path: Path) -> None:
    for name in (".last.pt.0123456789ab.tmp", ".config.yaml.a1b2c3d4e5f6.tmp", ".keep.tmp", "x.0123456789ab.tmp"):
        (tmp_path / name).write_bytes(b"")
    removed = remove_partial_writes(tmp_path)
    assert [p.name for p in removed] == [".config.yaml.a1b2c3d4e5f6.tmp", ".last.pt.0123456789ab.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep.tmp", "x.0123456789ab.tmp"]
