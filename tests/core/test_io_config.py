"""Safe I/O (atomic writes, id validation, no clobbering) and YAML config merging."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.config import apply_overrides, deep_merge, load_config, section
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    atomic_save_npy,
    atomic_write_json,
    id_problem,
    load_json,
    prepare_output_dir,
    refuse_clobber,
    safe_video_id,
)


def test_atomic_writes_leave_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a" / "x.json", {"k": 1})
    atomic_save_npy(tmp_path / "a" / "x.npy", np.arange(3, dtype=np.float32))
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"k": 1}
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "x.npy"), [0, 1, 2])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.json", "x.npy"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_json(target, {"old": True})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"bad": float("nan")})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_get_the_users_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "x.json"
    target.write_text("old")
    target.chmod(0o600)
    previous = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "new.json", {"k": 1})
        atomic_write_json(target, {"k": 2})  # a replaced file too
    finally:
        os.umask(previous)
    for path in (tmp_path / "new.json", target):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


@pytest.mark.parametrize("vid", ["../x", "a/b", "a\\b", "..", ".hidden", "", " pad", "a\x00b"])
def test_unsafe_ids_are_refused(vid: str) -> None:
    assert id_problem(vid)
    with pytest.raises(SentilocError, match="ann.json"):
        safe_video_id(vid, "ann.json")


def test_real_style_ids_are_safe() -> None:
    for vid in ["9_CMU_MOSEI_lzVA--tIse0", "33_Ekman6_surprise_501", "1_a.b-c"]:
        assert id_problem(vid) is None


def test_no_clobbering(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(SentilocError, match="--overwrite"):
        prepare_output_dir(tmp_path / "run", overwrite=False)
    prepare_output_dir(tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"
    with pytest.raises(SentilocError, match="already exists"):
        refuse_clobber(tmp_path / "run" / "keep.txt", overwrite=False)


def test_load_json_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SentilocError, match="bad.json: thing is not valid JSON"):
        load_json(bad, "thing")
    with pytest.raises(SentilocError, match="missing.json: thing not found"):
        load_json(tmp_path / "missing.json", "thing")


def test_config_base_chain_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("train: {lr: 0.1, epochs: 3}\nmodel: {name: fsenet}\n")
    (tmp_path / "child.yaml").write_text("_base_: base.yaml\ntrain: {epochs: 5}\n")
    config = load_config(tmp_path / "child.yaml")
    assert config == {"train": {"lr": 0.1, "epochs": 5}, "model": {"name": "fsenet"}}
    assert apply_overrides(config, ["train.lr=1e-4", "data.supervision=full"])["train"]["lr"] == 1e-4
    assert deep_merge({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
    with pytest.raises(SentilocError, match="unknown key"):
        section({"train": {"lrr": 1}}, "train", {"lr"})
    with pytest.raises(SentilocError, match="config not found"):
        load_config("no_such_config")
    (tmp_path / "loop.yaml").write_text("_base_: loop.yaml\n")
    with pytest.raises(SentilocError, match="loops"):
        load_config(tmp_path / "loop.yaml")
