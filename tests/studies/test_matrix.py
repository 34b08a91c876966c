"""The accuracy matrix's pure parts: seeds, planning, rows, mean ± std over seeds, the table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sentiloc.apps.train import check_config
from sentiloc.core.errors import SentilocError
from sentiloc.studies.matrix import (
    MAIN_CONFIGS,
    config_fingerprint,
    config_label,
    csv_text,
    default_configs,
    format_mean_std,
    markdown_table,
    mean_std,
    metric_columns,
    parse_seeds,
    plan_runs,
    record_row,
    resolve_config,
    summarize,
)
from sentiloc.tasks import TASKS, Fold


def _record(avg: float, label: str = "fsenet_point", seed: int = 1, train_s: float = 90.0) -> dict:
    return {
        "label": label, "seed": seed, "train_s": train_s,
        "metrics": {
            "tiou": [0.1, 0.15, 0.2, 0.25, 0.30000000000000004], "mAP": [avg + 0.1, avg, avg, avg, avg - 0.1],
            "average_mAP": avg, "recall_avg": 0.5, "f2_avg": 0.25, "class_ap": {"p": avg, "n": avg / 2},
        },
    }


def test_seeds_are_a_count_or_a_list() -> None:
    assert parse_seeds("3") == [1, 2, 3]
    assert parse_seeds("4,7") == [4, 7]
    for bad in ["0", "x", "1,1", "-2,3", ","]:
        with pytest.raises(SentilocError, match="--seeds"):
            parse_seeds(bad)


def test_mean_and_sample_std_over_seeds() -> None:
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0) and std == pytest.approx(1.0)  # n - 1 in the denominator
    assert mean_std([5.0]) == (5.0, None)
    assert format_mean_std(21.456, 0.444) == "21.46 ± 0.44"
    assert format_mean_std(21.456, None) == "21.46"
    assert format_mean_std(1.0, math.nan) == "1.00"


def test_record_row_is_percent_with_named_tiou_and_classes() -> None:
    row = record_row(_record(0.2))
    assert list(row) == ["mAP@0.1", "mAP@0.15", "mAP@0.2", "mAP@0.25", "mAP@0.3", "avg_mAP",
                         "recall", "f2", "AP_p", "AP_n", "train_min"]
    assert row["avg_mAP"] == pytest.approx(20.0) and row["mAP@0.1"] == pytest.approx(30.0)
    assert row["AP_n"] == pytest.approx(10.0) and row["train_min"] == pytest.approx(1.5)


def test_summary_groups_seeds_in_first_seen_order() -> None:
    rows = [{"config": c, "seed": s, **record_row(_record(v))}
            for c, s, v in [("b", 1, 0.1), ("a", 1, 0.3), ("b", 2, 0.2), ("b", 3, 0.3)]]
    summary = summarize(rows, ["config"], ["avg_mAP", "train_min"])
    assert [e["config"] for e in summary] == ["b", "a"]
    b, a = summary
    assert b["seeds"] == 3 and b["avg_mAP"] == pytest.approx(20.0) and b["avg_mAP_std"] == pytest.approx(10.0)
    assert a["seeds"] == 1 and a["avg_mAP_std"] is None


def test_markdown_table_two_decimals_and_plain_training_minutes() -> None:
    rows = [{"config": "fsenet_point", "seed": s, **record_row(_record(v, train_s=60 * s))} for s, v in [(1, 0.2), (2, 0.22)]]
    metrics = metric_columns(rows)
    assert metrics == ["mAP@0.1", "mAP@0.15", "mAP@0.2", "mAP@0.25", "mAP@0.3", "avg_mAP", "recall", "f2",
                       "AP_p", "AP_n", "train_min"]
    lines = markdown_table(summarize(rows, ["config"], metrics), ["config"], metrics).splitlines()
    assert lines[0] == ("| config | seeds | mAP@0.1 | mAP@0.15 | mAP@0.2 | mAP@0.25 | mAP@0.3 | avg mAP | Recall | F2 "
                        "| AP p | AP n | train min |")
    assert lines[1] == "|" + "---|" * 13
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:3] == ["fsenet_point", "2", "31.00 ± 1.41"]
    assert cells[7] == "21.00 ± 1.41" and cells[-1] == "1.50"


def test_csv_has_the_union_of_columns() -> None:
    text = csv_text([{"config": "a", "AP_p": 1.0}, {"config": "b", "AP_n": 2.0}])
    assert text.splitlines() == ["config,AP_p,AP_n", "a,1.0,", "b,,2.0"]


def test_csv_quotes_cells_that_read_as_formulas() -> None:
    # text cells and column names are quoted, numbers (also negative ones) are not
    text = csv_text([{"config": "=HYPERLINK(1)", "@cmd": 1.0, "delta": -0.5}])
    assert text.splitlines() == ["config,'@cmd,delta", "'=HYPERLINK(1),1.0,-0.5"]


def test_identical_configs_share_a_run_folder(tmp_path: Path) -> None:
    point = resolve_config("fsenet_point", [], 2)
    same = resolve_config("ablations/bspg", [], 2)
    other = resolve_config("ablations/no_gsp", [], 2)
    specs = plan_runs([("fsenet_point", point, {}), ("ablations/bspg", same, {}), ("ablations/no_gsp", other, {})],
                      [1, 2], tmp_path)
    folders = [(s.label, s.seed, s.run_dir.name) for s in specs]
    assert folders == [
        ("fsenet_point", 1, "fsenet_point_s1"), ("fsenet_point", 2, "fsenet_point_s2"),
        ("ablations/bspg", 1, "fsenet_point_s1"), ("ablations/bspg", 2, "fsenet_point_s2"),
        ("ablations/no_gsp", 1, "ablations-no_gsp_s1"), ("ablations/no_gsp", 2, "ablations-no_gsp_s2"),
    ]
    assert specs[0].config["train"] == {**point["train"], "seed": 1} and specs[0].epochs == 2
    assert specs[0].fingerprint != specs[1].fingerprint


def test_seed_keys_follow_the_seed(tmp_path: Path) -> None:
    config = resolve_config("fsenet_point", ["data.click_jitter_s=2"], 1)
    spec, = plan_runs([("jitter_2s", config, {"click_jitter_s": 2.0})], [5], tmp_path,
                      ("train.seed", "data.click_jitter_seed"))
    assert spec.config["train"]["seed"] == 5 and spec.config["data"]["click_jitter_seed"] == 5
    assert spec.params == {"click_jitter_s": 2.0}


def test_folds_are_an_axis_of_the_matrix(tmp_path: Path) -> None:
    """Leave-one-subject-out or k-fold tasks give several folds; each trains with its overrides."""
    config = resolve_config("fsenet_point", [], 1)
    folds = [Fold("a", ("data.val_seed=1",), "test"), Fold("b", ("data.val_seed=2",), "test")]
    specs = plan_runs([("fsenet_point", config, {})], [1, 2], tmp_path, folds=folds)
    assert [(s.fold.name, s.seed, s.run_dir.name) for s in specs] == [
        ("a", 1, "fsenet_point_a_s1"), ("a", 2, "fsenet_point_a_s2"),
        ("b", 1, "fsenet_point_b_s1"), ("b", 2, "fsenet_point_b_s2"),
    ]
    assert [s.config["data"]["val_seed"] for s in specs] == [1, 1, 2, 2]
    assert TASKS.get("localization").folds(check_config(config), tmp_path) == [Fold("test")]


def test_config_problems_fail_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(SentilocError, match="config not found"):
        resolve_config("no_such_config", [], 1)
    with pytest.raises(SentilocError, match="unknown key"):
        resolve_config("fsenet_point", ["train.lrr=1"], 1)
    with pytest.raises(SentilocError, match="same name"):
        plan_runs([("a", {}, {}), ("a", {}, {})], [1], tmp_path)


def test_default_configs_are_the_shipped_ones_that_exist(tmp_path: Path) -> None:
    (tmp_path / "ablations").mkdir()
    for name in ["fsenet_video.yaml", "fsenet_point.yaml", "other.yaml", "ablations/z.yaml", "ablations/a.yaml"]:
        (tmp_path / name).write_text("{}\n")
    assert default_configs(tmp_path) == ["fsenet_point", "fsenet_video", "ablations/a", "ablations/z"]
    shipped = default_configs()
    assert shipped[0] == MAIN_CONFIGS[0] and "ablations/no_gsp" in shipped


def test_config_labels(tmp_path: Path) -> None:
    assert config_label("fsenet_point") == "fsenet_point"
    assert config_label("ablations/no_gsp") == "ablations/no_gsp"
    mine = tmp_path / "mine.yaml"
    mine.write_text("{}\n")
    assert config_label(str(mine)) == "mine"
    assert config_fingerprint({"a": 1, "b": [1, 2]}) == config_fingerprint({"b": [1, 2], "a": 1})


def test_a_spotting_config_is_sent_to_crossval(tmp_path: Path) -> None:
    from sentiloc.studies.matrix import run_accuracy

    with pytest.raises(SentilocError, match="use `sentiloc crossval`"):
        run_accuracy(tmp_path / "data", tmp_path / "out", configs=["spotting/pfes_gim"], seeds=[1], epochs=1)
