"""The ``ray`` executor: jobs as Ray tasks, on a Ray instance started here or on a cluster (``address``).

Why tasks and not a pool of actors: every job is independent and writes its own outputs, which is
what Ray's tasks are for. A task whose worker process or node dies is resubmitted by Ray itself
(``max_retries``) on any node with room, where an actor pool would have to replace dead actors and
re-queue their jobs by hand. The state a worker builds once (the extractors, their weights) stays
in the worker process, which Ray reuses from task to task: ``worker_init`` runs in a process
before its first job of a :meth:`RayExecutor.map` call, and never again there for that call.

At most ``workers`` jobs are in flight, fewer when the cluster has fewer CPUs (one per job) or
GPUs (``gpus_per_job`` each) when the run starts; the next job is submitted as one finishes, and
results come back as they finish (``ray.wait``), so a progress bar and outputs that appear job by
job behave as with the other executors. Only losses of the worker are retried: a job that raises
(a corrupt video) is reported at once, with its own exception.

Ray is an optional extra (``pip install 'sentiloc[ray]'``) and is imported only when this
executor is built; registering it imports nothing.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sentiloc.core.errors import SentilocError
from sentiloc.features.executors.base import EXECUTORS, Job, WorkerLost

log = logging.getLogger(__name__)

INSTALL_RAY = "pip install 'sentiloc[ray]'"

#: The ``ray.exceptions`` (and their subclasses) that mean a job's worker process or node went away.
LOST_WORKER_ERRORS = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "ObjectLostError",
                      "LocalRayletDiedError")

#: The ``map`` calls whose ``worker_init`` this worker process has run (one key per call).
_INITIALISED: set[str] = set()


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the install command."""
    try:
        import ray
    except ImportError:
        raise SentilocError(f"--executor ray needs Ray, which is not installed: {INSTALL_RAY}") from None
    return ray


def run_in_worker(job_fn: Callable[[Job], Any], job: Job, init_key: str,
                  worker_init: Callable[[], None] | None) -> Any:
    """The Ray task: ``worker_init`` on this process's first job of the ``map`` call ``init_key``, then the job."""
    if worker_init is not None and init_key not in _INITIALISED:
        worker_init()
        _INITIALISED.add(init_key)
    return job_fn(job)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse at once a ``host:port`` (or ``ray://host:port``) address where nothing listens.

    Ray itself would retry for minutes. ``auto`` and other forms are left to Ray.
    """
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise SentilocError(f"--ray-address {address}: nothing answers there ({exc.strerror or exc}); start the "
                            "cluster with `ray start --head` or check the address") from None


def jobs_in_flight(workers: int, cluster: dict[str, float], gpus_per_job: float) -> int:
    """How many jobs to keep running: ``workers``, capped by the cluster's CPUs (one per job) and GPUs.

    ``cluster`` is ``ray.cluster_resources()`` (``{"CPU": 8.0, "GPU": 2.0, ...}``).
    """
    room = [workers, int(cluster.get("CPU", 0))]
    if gpus_per_job > 0:
        room.append(math.floor(cluster.get("GPU", 0) / gpus_per_job + 1e-9))
    if min(room) < 1:
        raise SentilocError(f"the Ray cluster has {cluster.get('CPU', 0):g} CPUs and {cluster.get('GPU', 0):g} GPUs, "
                            f"too few for one job (1 CPU, {gpus_per_job:g} GPU); add nodes or lower "
                            "--ray-gpus-per-video")
    return min(room)


def outcome(ray: Any, ref: Any) -> Any:
    """A finished task's result; the job's own exception when it raised; :class:`WorkerLost` when its worker died."""
    lost = tuple(getattr(ray.exceptions, name) for name in LOST_WORKER_ERRORS)
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        return exc.cause if isinstance(exc.cause, Exception) else exc
    except lost as exc:
        return WorkerLost(f"{type(exc).__name__}: {exc}")
    except ray.exceptions.RayError as exc:
        return exc


@EXECUTORS.register("ray")
class RayExecutor:
    """Runs jobs as Ray tasks (see the module docstring).

    Args:
        workers: the most jobs in flight at once; a Ray instance started here gets this many CPUs.
        worker_init: run once per worker process before its first job (picklable, no arguments).
        address: a running cluster's address (``ray://head:10001``, ``head:6379`` or ``auto``); by
            default a Ray instance on this machine is started for the run and shut down after it.
        gpus_per_job: GPUs each job asks for (``0.25``: four jobs share one GPU).
        retries: times Ray reruns a job whose worker or node died (not one that raised).
    """

    in_process = False

    def __init__(self, workers: int, worker_init: Callable[[], None] | None = None, address: str | None = None,
                 gpus_per_job: float = 0.0, retries: int = 2) -> None:
        import_ray()
        if workers < 1 or gpus_per_job < 0 or retries < 0:
            raise SentilocError(f"ray executor: workers {workers} must be >= 1, GPUs per job {gpus_per_job} and "
                                f"retries {retries} >= 0")
        self.workers = workers
        self.worker_init = worker_init
        self.address = address
        self.gpus_per_job = gpus_per_job
        self.retries = retries

    def map(self, job_fn: Callable[[Job], Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        ray = import_ray()
        started = self._connect(ray)
        try:
            yield from self._stream(ray, job_fn, jobs)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join ``address``, or start a Ray instance on this machine; False when Ray was already running here."""
        if ray.is_initialized():
            return False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a run of ours never reports usage to anyone
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:
            ray.init(address="local", num_cpus=self.workers, include_dashboard=False, **quiet)
            return True
        check_reachable(self.address)
        try:
            ray.init(address=self.address, **quiet)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise SentilocError(f"--ray-address {self.address}: cannot join a Ray cluster there "
                                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                                "start one with `ray start --head` or check the address") from None
        return True

    def _stream(self, ray: Any, job_fn: Callable[[Job], Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        """Keep the jobs in flight topped up; yield each as it finishes (all as lost if the cluster goes away)."""
        task = ray.remote(run_in_worker).options(num_cpus=1, num_gpus=self.gpus_per_job, max_retries=self.retries,
                                                 retry_exceptions=False)
        limit = jobs_in_flight(self.workers, ray.cluster_resources(), self.gpus_per_job)
        log.info("ray: %d jobs, at most %d at a time", len(jobs), limit)
        init_key = uuid.uuid4().hex
        waiting = list(reversed(jobs))
        running: dict[Any, Job] = {}
        try:
            while waiting or running:
                while waiting and len(running) < limit:
                    job = waiting.pop()
                    running[task.remote(job_fn, job, init_key, self.worker_init)] = job
                try:
                    (ref,), _ = ray.wait(list(running), num_returns=1)
                except ray.exceptions.RayError as exc:  # the driver lost the cluster: no job can finish
                    log.warning("ray: lost the cluster (%s); reporting the %d unfinished jobs as lost",
                                type(exc).__name__, len(running) + len(waiting))
                    unfinished = [*running.values(), *reversed(waiting)]
                    running.clear()
                    waiting.clear()
                    yield from ((job, WorkerLost(type(exc).__name__)) for job in unfinished)
                    return
                yield running.pop(ref), outcome(ray, ref)
        finally:
            for ref in running:  # the caller stopped early: do not leave jobs running on a cluster
                ray.cancel(ref, force=True)
