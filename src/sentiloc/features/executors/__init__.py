"""Executors: run one picklable job per video, by name (:data:`EXECUTORS`).

* ``local`` (:mod:`.local`): in this process, in order; what ``--workers 1`` uses.
* ``process`` (:mod:`.process`): a pool of spawned processes; what ``--workers N`` (N > 1) uses.
* ``ray`` (:mod:`.ray`): Ray tasks on this machine or a cluster (the ``ray`` extra; Ray is
  imported only when the executor is built).

The contract every executor keeps is in :mod:`.base`; importing this package registers these three.
"""

from sentiloc.features.executors import local, process, ray  # importing them registers them
from sentiloc.features.executors.base import EXECUTORS, Executor, WorkerLost

__all__ = ["EXECUTORS", "Executor", "WorkerLost", "local", "process", "ray"]
