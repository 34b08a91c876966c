"""Tasks on the shared engine (:mod:`.base`); importing this package registers every shipped task."""

from sentiloc.tasks import localization, recognition, spotting  # noqa: F401 (registers the tasks)
from sentiloc.tasks.base import TASKS, Fold, Task, TrainedModel, load_trained

__all__ = ["TASKS", "Fold", "Task", "TrainedModel", "load_trained"]
