"""The ``loss:`` section picks the objective by name; typos and misfits fail at load time, not mid-training."""

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.losses.objectives.fsenet import FSENetObjective, ObjectiveConfig
from sentiloc.losses.objectives.tslnet import TSLNetObjective
from sentiloc.losses.registry import OBJECTIVES, build_objective, check_fit
from tests.losses.sections import loss_spec, typed_loss


def test_default_objective_is_fsenet_with_the_papers_weights() -> None:
    name, options = typed_loss({})
    assert name == "fsenet" and options == ObjectiveConfig()
    assert isinstance(build_objective(loss_spec(), {"num_classes": 2}, "point", "fsenet"), FSENetObjective)


def test_every_registered_objective_builds_from_an_empty_section() -> None:
    assert {"fsenet", "tslnet", "mil", "frame"} <= set(OBJECTIVES)
    for name in OBJECTIVES:
        assert typed_loss({"name": name})[0] == name


def test_unknown_names_and_keys_are_reported() -> None:
    with pytest.raises(SentilocError, match="loss.name 'fsenett': unknown objective; known: .*fsenet"):
        typed_loss({"name": "fsenett"})
    with pytest.raises(SentilocError, match=r"'loss.pseudo': unknown key\(s\) \['windw'\]"):
        typed_loss({"pseudo": {"windw": 5}})
    with pytest.raises(SentilocError, match="config key loss.gamma: 'two' is not a float"):
        typed_loss({"gamma": "two"})


def test_the_top_k_ratio_is_derived_from_the_model_and_must_agree() -> None:
    assert build_objective(loss_spec(), {"num_classes": 2, "r_act": 4}, "point", "fsenet").cfg.r_act == 4
    with pytest.raises(SentilocError, match="loss.r_act = 8 contradicts 4"):
        build_objective(loss_spec({"r_act": 8}), {"num_classes": 2, "r_act": 4}, "point", "fsenet")


def test_a_model_whose_outputs_lack_what_the_objective_reads_is_refused() -> None:
    check_fit("tslnet", "tslnet")
    check_fit("fsenet", "tslnet")  # TSL-Net's outputs are localization outputs and more
    with pytest.raises(SentilocError, match="loss.name 'tslnet' reads TSLNetOutput.*model.name 'fsenet'.*'tslnet'"):
        check_fit("tslnet", "fsenet")
    with pytest.raises(SentilocError, match="reads TSLNetOutput"):
        build_objective(loss_spec({"name": "tslnet"}), {"num_classes": 2}, "point", "fusion")
    assert isinstance(build_objective(loss_spec({"name": "tslnet"}), {"num_classes": 2}, "point", "tslnet"),
                      TSLNetObjective)
