"""``sentiloc extract``: video files -> ``features/{rgb,logmfcc,img}/<video>.npy`` + ``meta/<video>.json``.

A run is three steps, each usable on its own, after :func:`check_output_folder` has refused an
``out`` that cannot be a folder:

1. :func:`plan_extraction` decides, writing nothing, which videos to extract: the inputs' video
   files (two files that would share an id are refused), less the videos finished earlier from
   the same file content (:func:`~sentiloc.features.extract.source_fingerprint`) with the same
   settings (skipped) or with other ones (refused without ``overwrite``).
2. :func:`run_jobs` runs one picklable :class:`ExtractJob` per video through an executor chosen
   by name (:mod:`sentiloc.features.executors`: ``local`` for one worker, ``process`` for more,
   ``ray`` on request); a video that fails is recorded and the others go on.
3. :meth:`ExtractReport.of` tells what was extracted, skipped and failed.

Each video's outputs are written atomically and its meta file last
(:func:`~sentiloc.features.extract.write_extracted`), so the meta file is the "done" marker: a
rerun after a crash skips exactly the videos that finished.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiloc.core.errors import SentilocError
from sentiloc.core.progress import progress_bar
from sentiloc.features.executors import EXECUTORS, WorkerLost
from sentiloc.features.extract import (
    Extractors,
    build_extractors,
    extract_video,
    finished_meta,
    meta_path,
    video_id_for,
    write_extracted,
)
from sentiloc.features.settings import ExtractSettings

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts")


def expand_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Video files from files and folders (a folder contributes its video files, sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            # dot-files (macOS ``._clip.mp4`` resource forks, editor temp files) are not videos
            found = sorted(p for p in item.iterdir()
                           if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith("."))
            if not found:
                raise SentilocError(f"{item}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
            paths.extend(found)
        elif item.exists():
            paths.append(item)
        else:
            raise SentilocError(f"{item}: no such file or folder")
    return paths


def unique_ids(paths: Sequence[Path]) -> dict[str, Path]:
    """``{video id: file}``, refusing two files that would share an id (``a.mp4`` and ``a.mov``)."""
    ids: dict[str, Path] = {}
    for path in paths:
        video_id = video_id_for(path)
        if video_id in ids:
            raise SentilocError(f"{path} and {ids[video_id]}: both would be video {video_id!r}; rename one")
        ids[video_id] = Path(path)
    return ids


def check_output_folder(out: Path) -> Path:
    """``out`` when it is a folder or can become one; a one-line error when it, or a folder above it, is a file."""
    out = Path(out)
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "is" if folder == out else f"lies inside {folder}, which is"
                raise SentilocError(f"{out}: the output folder {where} a file, not a folder; choose another --out")
            return out
    return out


@dataclass
class ExtractPlan:
    """What a run will do, decided before anything is written."""

    todo: dict[str, Path] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def plan_extraction(inputs: Sequence[Path], out: Path, settings: ExtractSettings,
                    overwrite: bool = False) -> ExtractPlan:
    """Which videos of ``inputs`` to extract into ``out``; finished ones are skipped, or refused with other settings."""
    plan = ExtractPlan()
    for video_id, path in unique_ids(expand_inputs(inputs)).items():
        meta = None if overwrite else finished_meta(out, video_id, path)
        if meta is None:
            plan.todo[video_id] = path
        elif meta.get("settings") != settings.to_dict():
            plan.refused[video_id] = (f"{meta_path(out, video_id)} was extracted with other settings "
                                      f"({meta.get('settings')}); pass --overwrite to re-extract")
        else:
            plan.skipped.append(video_id)
    return plan


@dataclass(frozen=True)
class ExtractJob:
    """One video to extract and write: everything a worker needs, picklable."""

    video_id: str
    path: Path
    out: Path
    settings: ExtractSettings
    device: str
    progress: bool


@functools.lru_cache(maxsize=1)
def process_extractors(settings: ExtractSettings, device: str) -> Extractors:
    """The extractors of ``settings``, built once per process and reused for all its videos.

    One set is kept: in a worker for its whole life, in this process until other settings come.
    """
    return build_extractors(settings, device)


def init_worker(settings: ExtractSettings, device: str) -> None:
    """Prepare a worker process: one torch thread (the workers share the cores), the extractors built."""
    import torch

    torch.set_num_threads(1)
    process_extractors(settings, device)


def run_job(job: ExtractJob) -> None:
    """Extract and write one video (the job function every executor runs)."""
    extractors = process_extractors(job.settings, job.device)
    write_extracted(job.out, extract_video(job.path, extractors, job.settings, job.progress))


def default_executor(workers: int) -> str:
    """``local`` for one worker, ``process`` for more."""
    return "local" if workers <= 1 else "process"


def run_jobs(todo: dict[str, Path], out: Path, settings: ExtractSettings, executor: str, workers: int = 1,
             progress: bool = True, device: str = "cpu",
             executor_options: Mapping[str, Any] | None = None) -> Iterator[tuple[ExtractJob, object]]:
    """Extract ``todo`` through the executor named ``executor``: ``(job, None | exception)`` as videos finish.

    ``executor_options`` are that executor's own keyword arguments (``ray``: ``address``, ``gpus_per_job``).
    """
    runner = EXECUTORS.get(executor)(workers, functools.partial(init_worker, settings, device),
                                     **(executor_options or {}))
    process_extractors(settings, device)  # fail on bad weights here, once, not in every job
    jobs = [ExtractJob(video_id, path, Path(out), settings, device, progress and runner.in_process)
            for video_id, path in todo.items()]
    single = runner.in_process and len(jobs) == 1  # its own snippet bar says it all
    return progress_bar(runner.map(run_job, jobs), total=len(jobs), desc="videos", unit="video",
                        enabled=progress and not single)


def failure_message(path: Path, exc: Exception) -> str:
    """A user error's own message; anything else named by type, since it is a bug to report."""
    if isinstance(exc, SentilocError):
        return str(exc)
    if isinstance(exc, WorkerLost):
        return (f"{path}: a worker process died (out of memory?) before this video finished; rerun with fewer "
                "--workers (finished videos are kept)")
    return f"{path}: unexpected {type(exc).__name__}: {exc} (please report this with the file's codec details)"


@dataclass
class ExtractReport:
    """What a run of :func:`extract_videos` did, per video id."""

    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: ExtractPlan, outcomes: Iterable[tuple[ExtractJob, object]]) -> ExtractReport:
        """The report of ``plan`` once its jobs gave ``outcomes`` (``None`` or the exception, per job)."""
        report = cls(skipped=list(plan.skipped), failed=dict(plan.refused))
        for job, outcome in outcomes:
            if isinstance(outcome, Exception):
                report.failed[job.video_id] = failure_message(job.path, outcome)
            else:
                report.extracted.append(job.video_id)
        return report

    def format(self) -> str:
        lines = [f"extracted {len(self.extracted)}, skipped {len(self.skipped)} (already done), failed {len(self.failed)}"]
        lines += [f"  FAILED {video}: {message}" for video, message in self.failed.items()]
        return "\n".join(lines)


def extract_videos(
    inputs: Sequence[Path], out: Path, settings: ExtractSettings, workers: int = 1,
    overwrite: bool = False, progress: bool = True, device: str = "cpu", executor: str | None = None,
    executor_options: Mapping[str, Any] | None = None,
) -> ExtractReport:
    """Extract every video of ``inputs`` into ``out``: check ``out``, plan, run, report (see the module docstring).

    ``executor`` names a registered executor (by default ``local`` for one worker, ``process`` for
    more) and ``executor_options`` are its own keyword arguments.
    """
    check_output_folder(out)
    plan = plan_extraction(inputs, out, settings, overwrite)
    outcomes = run_jobs(plan.todo, out, settings, executor or default_executor(workers), workers, progress,
                        device, executor_options) if plan.todo else ()
    return ExtractReport.of(plan, outcomes)
