"""Data-parallel training: two gloo processes on the CPU train one model, rank 0 writes the run folder."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from sentiloc.apps.api import load_config
from sentiloc.apps.train import train
from sentiloc.core.errors import SentilocError
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.engine.distributed import (
    SINGLE,
    World,
    backend_for,
    on_main,
    sum_over_ranks,
    world_from_env,
)
from sentiloc.engine.trainer import Trainer
from tests.conftest import make_dataset

#: A small FSENet without dropout or bf16, so two ranks must reproduce one process up to summation order.
TINY = {"model.hidden": 16, "model.heads": 2, "model.gsp_hidden": 32, "model.trunk_hidden": 32,
        "model.attn_dropout": 0.0, "model.gsp_dropout": 0.0, "model.trunk_dropout": 0.0, "train.amp": "none",
        "train.batch_size": 4, "train.micro_batch": 1, "train.epochs": 2, "data.val_fraction": 0.25}


def test_world_comes_from_torchrun_variables() -> None:
    assert world_from_env({}) is SINGLE and SINGLE.is_main and not SINGLE.distributed
    assert world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == World(1, 2, 1)
    with pytest.raises(SentilocError, match="RANK=3 is outside WORLD_SIZE=2"):
        world_from_env({"RANK": "3", "WORLD_SIZE": "2"})
    with pytest.raises(SentilocError, match="whole numbers"):
        world_from_env({"RANK": "x", "WORLD_SIZE": "2"})
    assert backend_for("cuda") == "nccl" and backend_for("cpu") == "gloo"


def test_single_process_helpers_talk_to_no_one() -> None:
    assert on_main(SINGLE, lambda: 7) == 7
    assert sum_over_ranks(SINGLE, {"a": 1.0}, torch.device("cpu")) == {"a": 1.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _join(rank: int, port: int) -> None:
    """torchrun's variables for ``rank`` of 2 processes on this machine."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)})
    torch.set_num_threads(1)


def _train_rank(rank: int, port: int, config: dict | None, data: Path, out: Path, kwargs: dict) -> None:
    """One torchrun-like process running ``train``."""
    _join(rank, port)
    train(config, data, out, progress=False, **kwargs)


def _rank(rank: int, port: int, config: dict, data: Path, out: Path, probe: Path) -> None:
    """One torchrun-like process: a training run, and what it saw and ended with."""
    _join(rank, port)
    fit = Trainer.fit

    def probed_fit(self: Trainer, *args, **kwargs):
        self.sampler.set_epoch(0)
        seen = [video for batch in self.loader for video in batch.video_ids]
        summary = fit(self, *args, **kwargs)
        torch.save({"seen": seen, "params": {k: v.detach().clone() for k, v in self.model.state_dict().items()}},
                   probe / f"rank{rank}.pt")
        return summary

    Trainer.fit = probed_fit
    train(config, data, out, progress=False)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("ddp")
    data = make_dataset(root / "data", n_train=8, n_test=2)
    config = load_config("fsenet_point", TINY)
    probe = root / "probe"
    probe.mkdir()
    mp.spawn(_rank, args=(_free_port(), config, data, root / "run", probe), nprocs=2, join=True)
    single = train(config, data, root / "single", progress=False)
    return {"root": root, "config": config, "single": single,
            "ranks": [torch.load(probe / f"rank{r}.pt") for r in range(2)]}


def test_two_ranks_write_one_run_folder(ddp_run: dict) -> None:
    run = ddp_run["root"] / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["effective_batch_size"] == 4 and summary["epochs_done"] == 2
    assert sorted(p.name for p in run.iterdir()) == [".sentiloc.lock", "best.pt", "config.yaml", "last.pt",
                                                      "summary.json", "tensorboard"]
    assert len(list((run / "tensorboard").iterdir())) == 1, "only rank 0 writes TensorBoard"
    assert ddp_run["single"]["world_size"] == 1


def test_ranks_share_the_epoch_and_stay_in_sync(ddp_run: dict) -> None:
    first, second = ddp_run["ranks"]
    assert not set(first["seen"]) & set(second["seen"]), "each rank reads its own shard"
    assert len(first["seen"]) + len(second["seen"]) == 6  # the 8 videos less the validation quarter
    for key, value in first["params"].items():
        torch.testing.assert_close(second["params"][key], value, rtol=0, atol=0)


def test_two_ranks_train_like_one_process(ddp_run: dict) -> None:
    """Same data, seed and global batch: the weights and losses of one process (fails if a rank trains alone)."""
    summary = json.loads((ddp_run["root"] / "run" / "summary.json").read_text())
    for ddp, single in zip(summary["history"], ddp_run["single"]["history"], strict=True):
        assert ddp["loss/total"] == pytest.approx(single["loss/total"], rel=1e-4)
    single_weights = load_checkpoint(ddp_run["root"] / "single" / "last.pt")["model"]
    for key, value in ddp_run["ranks"][0]["params"].items():
        torch.testing.assert_close(value, single_weights[key], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_resumed_two_rank_run_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    """Every rank resumes from last.pt with its own RNG state, so dropout continues where it stopped."""
    data = make_dataset(tmp_path / "data", n_train=8, n_test=2)
    config = load_config("fsenet_point", {**TINY, "model.gsp_dropout": 0.5, "train.micro_batch": 2})
    for out, kwargs in [("straight", {}), ("killed", {"stop_after": 1})]:
        mp.spawn(_train_rank, args=(_free_port(), config, data, tmp_path / out, kwargs), nprocs=2, join=True)
    mp.spawn(_train_rank, args=(_free_port(), None, data, tmp_path / "killed", {"resume": True}), nprocs=2, join=True)
    straight, resumed = (load_checkpoint(tmp_path / out / "last.pt") for out in ("straight", "killed"))
    assert resumed["epoch"] == straight["epoch"] == 2 and len(resumed["rng_ranks"]) == 2
    for key, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][key], value, rtol=0, atol=0)


def _failing_write_rank(rank: int, port: int, config: dict, data: Path, out: Path, errors: Path) -> None:
    """One rank of a run whose checkpoint writes fail on rank 0 (a full disk); what each rank raised."""
    from sentiloc.core.io import WriteFailed
    from sentiloc.engine import trainer

    _join(rank, port)

    def full_disk(path: Path, state: dict) -> None:
        raise WriteFailed(path, "the disk is full", f"no {path.name} was written")

    trainer.save_checkpoint = full_disk
    try:
        train(config, data, out, progress=False)
    except SentilocError as exc:
        (errors / f"rank{rank}.txt").write_text(str(exc))


def test_a_failed_checkpoint_write_on_rank_0_stops_every_rank(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", n_train=4, n_test=2)
    config = load_config("fsenet_point", {**TINY, "train.epochs": 1, "data.val_fraction": 0.0})
    errors = tmp_path / "errors"
    errors.mkdir()
    mp.spawn(_failing_write_rank, args=(_free_port(), config, data, tmp_path / "run", errors), nprocs=2, join=True)
    assert "the disk is full" in (errors / "rank0.txt").read_text()
    assert (errors / "rank1.txt").read_text().startswith("rank 0 could not write best.pt: ")
