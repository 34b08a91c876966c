"""The executor seam: how a batch of independent, picklable jobs gets run.

An executor is built as ``EXECUTORS.get(name)(workers, worker_init)`` and has one method::

    executor.map(job_fn, jobs) -> iterator of (job, result | exception)

``job_fn`` is a module-level function and every job a picklable value, so an executor may run
them in other processes or on other machines; each job is yielded once, with what ``job_fn``
returned or the exception it raised (a failed job never stops the others), in any order.
``worker_init`` (picklable, no arguments) must run once in every worker process before its first
job; an executor that runs jobs in the calling process does not call it. ``in_process`` says
whether jobs run in the calling process, where they may draw their own progress bars.

A worker that dies (killed, out of memory) fails the jobs it took with :class:`WorkerLost`.
A new executor (as :mod:`.ray` did) is a module that registers a class with this constructor and ``map``
(docs/features.md); nothing that uses executors changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from sentiloc.core.registry import Registry

Job = TypeVar("Job")


class WorkerLost(Exception):
    """The worker running a job died before the job finished (its result is lost, not wrong)."""


class Executor(Protocol):
    """Runs picklable jobs; see the module docstring for the contract."""

    in_process: bool

    def __init__(self, workers: int, worker_init: Callable[[], None] | None = None) -> None: ...

    def map(self, job_fn: Callable[[Job], Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        """Yield ``(job, job_fn(job))``, or ``(job, exception)`` when it raised, once per job."""
        ...


EXECUTORS: Registry[type[Executor]] = Registry("executor")
