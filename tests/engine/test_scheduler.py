"""The learning-rate schedules of ``train.scheduler``, by hand."""

import math

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import TrainConfig
from sentiloc.engine.trainer import lr_lambda


def test_step_schedule_halves_every_block_of_epochs():
    # 3 optimiser steps per epoch, x0.5 every 2 epochs: steps 0-5 -> 1, 6-11 -> 0.5, 12-17 -> 0.25.
    f = lr_lambda(TrainConfig(epochs=6, scheduler="step", step_epochs=2, step_gamma=0.5), steps_per_epoch=3)
    assert [f(s) for s in (0, 5, 6, 11, 12, 17)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_cosine_and_constant():
    cfg = TrainConfig(epochs=2, scheduler="cosine")
    f = lr_lambda(cfg, steps_per_epoch=2)  # 4 steps in all: cos(pi * 2/4) = 0 -> 0.5
    assert f(0) == 1.0 and math.isclose(f(2), 0.5) and math.isclose(f(4), 0.0, abs_tol=1e-12)
    assert lr_lambda(TrainConfig(), 5)(123) == 1.0


@pytest.mark.parametrize("kwargs", [{"scheduler": "linear"}, {"scheduler": "step", "step_epochs": 0},
                                    {"scheduler": "step", "step_gamma": 1.5}])
def test_bad_schedules_are_refused(kwargs):
    with pytest.raises(SentilocError, match="train.s"):
        TrainConfig(**kwargs)
