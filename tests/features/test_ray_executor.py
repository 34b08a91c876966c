"""The ``ray`` executor: the executor contract on a real Ray instance, the same bytes as ``local``, and no Ray at all."""

from __future__ import annotations

import functools
import logging
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.simulate.video import SyntheticVideo, write_video
from sentiloc.features.batch import extract_videos
from sentiloc.features.executors import EXECUTORS, WorkerLost
from sentiloc.features.executors.ray import check_reachable, jobs_in_flight
from sentiloc.features.settings import ExtractSettings

ROOT = Path(__file__).resolve().parents[2]

_INITIALISED_HERE = False


def _initialise(folder: Path) -> None:
    """A worker_init that leaves one file per call, named by its process."""
    global _INITIALISED_HERE
    _INITIALISED_HERE = True
    (Path(folder) / f"init-{os.getpid()}-{uuid.uuid4().hex}").touch()


def _pid(x: int) -> tuple[int, bool]:
    return os.getpid(), _INITIALISED_HERE


def _negative_raises(job: tuple[Path, int]) -> int:
    """``x`` squared; a negative ``x`` raises. Each attempt leaves a file, so retries can be counted."""
    folder, x = job
    (Path(folder) / f"attempt-{x}-{uuid.uuid4().hex}").touch()
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * x


def _die_once(marker: Path) -> str:
    """Kill the worker process the first time (no marker yet), succeed the second."""
    if not Path(marker).exists():
        Path(marker).touch()
        os._exit(3)
    return "second attempt"


def _die(x: int) -> None:
    os._exit(3)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two tiny real clips (a face and a burst in one) and a damaged copy of the first."""
    folder = tmp_path_factory.mktemp("clips")
    write_video(folder / "face.mp4", SyntheticVideo(duration_s=2.0, width=160, height=120, face_windows=[(0.5, 1.5)],
                                                    burst_windows=[(0.5, 1.5)], seed=1))
    write_video(folder / "plain.mp4", SyntheticVideo(duration_s=1.5, width=160, height=120, seed=2))
    good = (folder / "face.mp4").read_bytes()
    (folder / "damaged.mp4").write_bytes(good[: len(good) // 3])
    return folder


@pytest.fixture(scope="module")
def ray_session():
    """One Ray instance for the executor tests (the executor joins it and leaves it running)."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})  # the workers import this module's job functions
    yield ray
    ray.shutdown()


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # ~50 s on 2 shared cores: Ray's start and two workers importing torch, OpenCV and librosa
def test_ray_writes_the_same_bytes_as_local_and_a_bad_video_fails_alone(clips, tmp_path, capsys):
    pytest.importorskip("ray")
    import ray
    from threadpoolctl import threadpool_limits

    assert not ray.is_initialized()
    code = main(["extract", str(clips), "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2", "-q"])
    assert not ray.is_initialized()  # the instance it started is shut down
    assert code == 1
    report = capsys.readouterr().out
    assert "extracted 2, skipped 0 (already done), failed 1" in report and "FAILED damaged:" in report
    with threadpool_limits(limits=1):  # as in a one-CPU Ray task: BLAS sums in the same order, so the same bits
        extract_videos([clips / "face.mp4", clips / "plain.mp4"], tmp_path / "local", ExtractSettings(), progress=False)
    on_ray, local = contents(tmp_path / "ray"), contents(tmp_path / "local")
    assert sorted(on_ray) == sorted(local) and len(local) == 8  # 2 videos x (3 streams + meta)
    assert on_ray == local


def test_each_worker_process_is_initialised_once_before_its_jobs(ray_session, tmp_path):
    executor = EXECUTORS.get("ray")(2, functools.partial(_initialise, tmp_path))
    results = dict(executor.map(_pid, list(range(8))))
    assert sorted(results) == list(range(8)) and all(initialised for _, initialised in results.values())
    inits = [p.name.split("-")[1] for p in tmp_path.glob("init-*")]
    assert sorted(inits) == sorted({str(pid) for pid, _ in results.values()})
    assert ray_session.is_initialized()  # joined, not started: left running


def test_a_job_that_raises_comes_back_once_with_its_own_exception(ray_session, tmp_path):
    results = dict(EXECUTORS.get("ray")(2, retries=2).map(_negative_raises, [(tmp_path, x) for x in (3, -1, 4)]))
    assert results[(tmp_path, 3)] == 9 and results[(tmp_path, 4)] == 16
    error = results[(tmp_path, -1)]
    assert type(error) is ValueError and str(error) == "negative: -1"
    assert len(list(tmp_path.glob("attempt--1-*"))) == 1  # a job's own error is not retried


def test_a_lost_worker_is_retried_then_reported(ray_session, tmp_path):
    executor = EXECUTORS.get("ray")(1, retries=1)
    assert dict(executor.map(_die_once, [tmp_path / "marker"])) == {tmp_path / "marker": "second attempt"}
    (job, outcome), = executor.map(_die, [7])
    assert job == 7 and isinstance(outcome, WorkerLost)


def test_losing_the_cluster_reports_every_unfinished_job_as_lost(ray_session, monkeypatch):
    def gone(*args, **kwargs):
        raise ray_session.exceptions.RaySystemError("the head node went away")

    monkeypatch.setattr(ray_session, "wait", gone)
    results = list(EXECUTORS.get("ray")(2).map(_pid, [1, 2, 3]))
    assert sorted(job for job, _ in results) == [1, 2, 3]
    assert all(isinstance(outcome, WorkerLost) for _, outcome in results)


def test_an_address_where_nothing_listens_fails_at_once():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(SentilocError, match=rf"^--ray-address {address}: nothing answers there"):
            check_reachable(address, timeout_s=2.0)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_reachable(f"127.0.0.1:{listening.getsockname()[1]}")
    check_reachable("auto")  # left to Ray


def test_jobs_in_flight_is_capped_by_the_cluster():
    # 8 workers, 4 CPUs, 2 GPUs at 0.25 per job (room for 8): the 4 CPUs decide
    assert jobs_in_flight(8, {"CPU": 4.0, "GPU": 2.0}, 0.25) == 4
    # 3 workers, 16 CPUs, 1 GPU at 0.5 per job: 2 fit on the GPU
    assert jobs_in_flight(3, {"CPU": 16.0, "GPU": 1.0}, 0.5) == 2
    # 0.3 GPU per job on 0.9 GPU: 3 fit although 0.9 / 0.3 is 2.9999... in floating point
    assert jobs_in_flight(5, {"CPU": 8.0, "GPU": 0.9}, 0.3) == 3
    assert jobs_in_flight(2, {"CPU": 8.0}, 0.0) == 2
    with pytest.raises(SentilocError, match="too few for one job"):
        jobs_in_flight(2, {"CPU": 8.0}, 1.0)


@given(workers=st.integers(1, 64), cpus=st.integers(1, 256), gpus=st.integers(0, 16),
       share=st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 1.0, 2.0]))
def test_jobs_in_flight_is_the_most_the_cluster_holds(workers, cpus, gpus, share):
    cluster = {"CPU": float(cpus), "GPU": float(gpus)}
    if share > gpus:
        with pytest.raises(SentilocError):
            jobs_in_flight(workers, cluster, share)
        return
    n = jobs_in_flight(workers, cluster, share)
    assert 1 <= n <= min(workers, cpus) and n * share <= gpus + 1e-9
    assert n == min(workers, cpus) or (n + 1) * share > gpus + 1e-9  # one more would not fit


def test_without_ray_the_executor_names_the_install_command(monkeypatch, clips, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(SentilocError, match=r"^--executor ray needs Ray, which is not installed: "
                                            r"pip install 'sentiloc\[ray\]'$"):
        extract_videos([clips / "plain.mp4"], tmp_path / "out", ExtractSettings(), executor="ray")
    assert main(["extract", str(clips / "plain.mp4"), "--out", str(tmp_path / "out"), "--executor", "ray"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --executor ray needs Ray, which is not installed: pip install 'sentiloc[ray]'"]
    assert not (tmp_path / "out").exists()


def test_ray_flags_need_the_ray_executor(clips, tmp_path, capsys):
    assert main(["extract", str(clips / "plain.mp4"), "--out", str(tmp_path), "--ray-address", "auto"]) == 1
    assert "need --executor ray" in capsys.readouterr().err


def test_importing_sentiloc_does_not_import_ray():
    code = "import sys, sentiloc.cli, sentiloc.features.batch; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0
