"""The ``loss:`` section picks the objective by name; typos fail at load time, not mid-training."""

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.losses.objectives.fsenet import FSENetObjective, ObjectiveConfig
from sentiloc.losses.registry import OBJECTIVES, build_objective, objective_config


def test_default_objective_is_fsenet_with_the_papers_weights() -> None:
    name, options = objective_config({})
    assert name == "fsenet" and options == ObjectiveConfig()
    assert isinstance(build_objective(name, options, "point", 2), FSENetObjective)


def test_every_registered_objective_builds_from_an_empty_section() -> None:
    assert {"fsenet", "tslnet", "mil", "frame"} <= set(OBJECTIVES)
    for name in OBJECTIVES:
        assert objective_config({"loss": {"name": name}})[0] == name


def test_unknown_names_and_keys_are_reported() -> None:
    with pytest.raises(SentilocError, match="unknown objective; known objectives: .*fsenet"):
        objective_config({"loss": {"name": "fsenett"}})
    with pytest.raises(SentilocError, match=r"'loss.pseudo': unknown key\(s\) \['windw'\]"):
        objective_config({"loss": {"pseudo": {"windw": 5}}})
