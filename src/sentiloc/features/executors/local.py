"""The ``local`` executor: every job in this process, one after the other, in the given order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sentiloc.features.executors.base import EXECUTORS, Job


@EXECUTORS.register("local")
class LocalExecutor:
    """Runs jobs in the calling process, in order (``workers`` and ``worker_init`` are for pools)."""

    in_process = True

    def __init__(self, workers: int = 1, worker_init: Callable[[], None] | None = None) -> None:
        pass

    def map(self, job_fn: Callable[[Job], Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        for job in jobs:
            try:
                yield job, job_fn(job)
            except Exception as exc:  # one bad job must not stop a long batch
                yield job, exc
