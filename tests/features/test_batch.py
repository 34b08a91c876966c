"""Many videos: the plan (no writes), the executor seam (local, process, a registered one), the report."""

from __future__ import annotations

import functools
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.simulate.video import SyntheticVideo, write_video
from sentiloc.features.base import FACE
from sentiloc.features.batch import ExtractJob, extract_videos, plan_extraction
from sentiloc.features.executors import EXECUTORS, WorkerLost
from sentiloc.features.executors.local import LocalExecutor
from sentiloc.features.executors.process import ProcessExecutor
from sentiloc.features.extract import meta_path, source_fingerprint, stream_path
from sentiloc.features.settings import ExtractSettings

_INITIALISED = False


def _initialise(value: bool) -> None:
    global _INITIALISED
    _INITIALISED = value


def _root(x: int) -> tuple[float, bool]:
    """The square root of ``x`` (negative ``x`` raises) and whether the worker was initialised."""
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x**0.5, _INITIALISED


def _die(x: int) -> None:
    os._exit(3)


def finish(out: Path, video: Path, settings: dict, fingerprint: str | None = None) -> None:
    """Leave the outputs of a finished extraction of ``video`` in ``out`` (as ``write_extracted`` would)."""
    for stream in ("rgb", "logmfcc", "img"):
        stream_path(out, stream, video.stem).parent.mkdir(parents=True, exist_ok=True)
        np.save(stream_path(out, stream, video.stem), np.zeros((1, 2), np.float32))
    meta_path(out, video.stem).parent.mkdir(parents=True, exist_ok=True)
    meta = {"settings": settings, "source_fingerprint": fingerprint or source_fingerprint(video)}
    meta_path(out, video.stem).write_text(json.dumps(meta))


def files_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_the_plan_skips_refuses_and_redoes_and_writes_nothing(tmp_path):
    videos, out = tmp_path / "videos", tmp_path / "out"
    videos.mkdir()
    for name in ("new", "done", "other", "replaced"):
        (videos / f"{name}.mp4").write_bytes(b"x" * 10)
    settings = ExtractSettings()
    finish(out, videos / "done.mp4", settings.to_dict())
    finish(out, videos / "other.mp4", ExtractSettings(face_frames=3).to_dict())
    finish(out, videos / "replaced.mp4", settings.to_dict(), fingerprint="of another file")
    before = files_under(tmp_path)
    plan = plan_extraction([videos], out, settings)
    assert files_under(tmp_path) == before
    assert sorted(plan.todo) == ["new", "replaced"] and plan.skipped == ["done"]
    assert list(plan.refused) == ["other"] and "--overwrite" in plan.refused["other"]
    assert sorted(plan_extraction([videos], out, settings, overwrite=True).todo) == ["done", "new", "other", "replaced"]


def test_the_local_executor_runs_in_order_and_goes_on_after_a_failure():
    results = list(LocalExecutor(1, functools.partial(_initialise, True)).map(_root, [4, -1, 9]))
    assert [job for job, _ in results] == [4, -1, 9]
    assert results[0][1] == (2.0, False) and results[2][1] == (3.0, False)  # worker_init is for pools only
    assert isinstance(results[1][1], ValueError)


def test_the_process_executor_initialises_its_workers_and_reports_each_job():
    results = dict(ProcessExecutor(2, functools.partial(_initialise, True)).map(_root, [4, -1, 9]))
    assert results[4] == (2.0, True) and results[9] == (3.0, True)
    assert isinstance(results[-1], ValueError)


def test_a_dead_worker_loses_its_job_not_the_run():
    results = list(ProcessExecutor(1).map(_die, [1]))
    assert len(results) == 1 and isinstance(results[0][1], WorkerLost)


class Recording(LocalExecutor):
    """A registered executor that keeps its (pickled) jobs and loses the one of ``lost``, like a dead remote worker."""

    jobs: list[ExtractJob] = []
    lost = "b"

    def map(self, job_fn, jobs):
        for job in jobs:
            Recording.jobs.append(pickle.loads(pickle.dumps(job)))
        for job, outcome in super().map(job_fn, [job for job in jobs if job.video_id != self.lost]):
            yield job, outcome
        yield from ((job, WorkerLost()) for job in jobs if job.video_id == self.lost)


def test_a_registered_executor_runs_the_jobs_and_the_report_follows(monkeypatch, tmp_path):
    monkeypatch.setitem(EXECUTORS._entries, "recording", Recording)
    monkeypatch.setattr(Recording, "jobs", [])
    for name in ("a", "b"):
        write_video(tmp_path / f"{name}.mp4", SyntheticVideo(duration_s=1.0, width=96, height=64))
    report = extract_videos([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "out", ExtractSettings(),
                            progress=False, executor="recording")
    assert [job.video_id for job in Recording.jobs] == ["a", "b"]
    assert report.extracted == ["a"] and "a worker process died" in report.failed["b"]
    assert np.load(stream_path(tmp_path / "out", FACE, "a")).shape[0] == 2
    assert not meta_path(tmp_path / "out", "b").exists()


def test_an_unknown_executor_is_named_before_anything_runs(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(SentilocError, match="executor 'slurm': unknown executor; known: local, process, ray"):
        extract_videos([tmp_path / "a.mp4"], tmp_path / "out", ExtractSettings(), executor="slurm")
    assert not (tmp_path / "out").exists()
