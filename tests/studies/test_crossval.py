"""``sentiloc crossval``'s pure parts: fold folders, pooling, the headline number."""

from pathlib import Path

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.studies.crossval import plan_folds, pool_predictions
from sentiloc.tasks import Fold

CONFIG = {"task": "spotting", "train": {"epochs": 2, "seed": 7}}


def test_each_fold_trains_in_its_own_folder_with_its_overrides(tmp_path: Path):
    specs = plan_folds("pfes", CONFIG, [Fold("s01", ('data.test_subject="s01"',)), Fold("s02", ())], tmp_path)
    assert [s.run_dir for s in specs] == [tmp_path / "folds" / "s01", tmp_path / "folds" / "s02"]
    assert specs[0].config["data"]["test_subject"] == "s01" and specs[0].seed == 7
    assert "data" not in specs[1].config and CONFIG == {"task": "spotting", "train": {"epochs": 2, "seed": 7}}


@pytest.mark.parametrize("name", ["../up", "a/b", "", "x\u202ey"])
def test_a_fold_name_that_is_no_safe_folder_is_refused(tmp_path: Path, name: str):
    with pytest.raises(SentilocError, match="rename it in videos.csv"):
        plan_folds("pfes", CONFIG, [Fold(name)], tmp_path)


def test_pooling_merges_the_held_out_videos_and_refuses_an_overlap():
    a = {"version": "v", "results": {"v1": [1]}}
    b = {"version": "v", "results": {"v2": [2], "v3": []}}
    assert pool_predictions({"s1": a, "s2": b}) == {"version": "v", "results": {"v1": [1], "v2": [2], "v3": []}}
    with pytest.raises(SentilocError, match="held out by two folds"):
        pool_predictions({"s1": a, "s2": {"results": {"v1": []}}})

