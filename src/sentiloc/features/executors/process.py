"""The ``process`` executor: jobs spread over a pool of worker processes on this machine.

Workers are spawned, not forked (forking a process that already runs torch or OpenCV threads is
unsafe). Each worker runs ``worker_init`` once before its first job. Results come back as jobs
finish, not in submission order.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sentiloc.features.executors.base import EXECUTORS, Job, WorkerLost


@EXECUTORS.register("process")
class ProcessExecutor:
    """Runs jobs in ``workers`` spawned processes (a ``concurrent.futures.ProcessPoolExecutor``)."""

    in_process = False

    def __init__(self, workers: int, worker_init: Callable[[], None] | None = None) -> None:
        self.workers = workers
        self.worker_init = worker_init

    def map(self, job_fn: Callable[[Job], Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        context = multiprocessing.get_context("spawn")
        with futures.ProcessPoolExecutor(self.workers, mp_context=context, initializer=self.worker_init) as pool:
            submitted = {pool.submit(job_fn, job): job for job in jobs}
            for future in futures.as_completed(submitted):
                yield submitted[future], _outcome(future)


def _outcome(future: futures.Future) -> Any:
    """The job's result, or the exception it raised; a dead worker fails every job still queued."""
    try:
        return future.result()
    except futures.process.BrokenProcessPool:
        return WorkerLost()
    except Exception as exc:
        return exc
