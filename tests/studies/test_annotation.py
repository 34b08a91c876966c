"""``sentiloc study annotation``: the simulated annotator by hand, and a tiny study end to end."""

from __future__ import annotations

import csv

import numpy as np
import yaml

from sentiloc.cli import main
from sentiloc.data.annotations import Segment
from sentiloc.studies import annotation
from sentiloc.studies.annotation import (
    STRATEGIES,
    Labels,
    annotate_video,
    cost_to_reach,
    finished_round,
    map_at_cost,
    paired_text,
    point_file_text,
    reach_text,
    review,
)
from tests.conftest import make_dataset

SEGMENTS = [Segment(2.0, 6.0, "p"), Segment(10.0, 12.0, "n")]


def test_the_annotator_accepts_suggestions_inside_a_segment_of_their_class() -> None:
    # (p, 3) is in segment 0, of its class; (p, 11) is in the n segment: rejected; (n, 11.5) labels segment 1;
    # (p, 5) would label segment 0 again: the first accepted suggestion labels it
    assert review(SEGMENTS, [("p", 3.0), ("p", 11.0), ("n", 11.5), ("p", 5.0)]) == ({0: 3.0, 1: 11.5}, 1)
    assert review(SEGMENTS, [("p", 6.0)]) == ({}, 1), "segments are half-open: [start, end)"


def test_clicks_cost_one_each_and_accepted_suggestions_cost_nothing() -> None:
    labels = Labels()
    annotate_video(labels, "v", 25.0, SEGMENTS, [("p", 3.0), ("n", 1.0)], np.random.default_rng(0))
    # segment 0 from the suggestion at 3.0 s (frame 75); segment 1 clicked somewhere in [10, 12) s
    assert labels.points["v"][0] == (75, "p")
    assert 250 <= labels.points["v"][1][0] < 300 and labels.points["v"][1][1] == "n"
    assert (labels.clicks, labels.accepted, labels.rejected) == (1, 1, 1)
    annotate_video(labels, "w", 25.0, SEGMENTS, [], np.random.default_rng(0))
    assert labels.clicks == 3 and len(labels.points) == 2


SMALL = ["--set", "model.hidden=16", "--set", "model.gsp_hidden=16", "--set", "model.trunk_hidden=16",
         "--set", "train.checkpoint_every=0"]


def run_study(data, out, *extra: str, threshold: str = "0.05") -> list[dict]:
    assert main(["-q", "study", "annotation", "--data", str(data), "--out", str(out), "--quick", "--rounds", "2",
                 "--per-round", "2", "--threshold", threshold, *SMALL, *extra]) == 0
    with (out / "results.csv").open() as handle:
        return list(csv.DictReader(handle))


def row(seed: int, strategy: str, round_number: int, clicks: int, avg_map: float) -> dict:
    return {"seed": seed, "strategy": strategy, "round": round_number, "clicks": clicks, "decisions": clicks,
            "avg_mAP": avg_map}


def test_strategies_are_compared_with_in_order_at_the_same_cost_seed_by_seed() -> None:
    rows = [row(1, "in_order", 1, 10, 30.0), row(1, "in_order", 2, 20, 40.0),
            row(2, "in_order", 1, 10, 20.0), row(2, "in_order", 2, 20, 30.0),
            row(1, "suggest", 1, 10, 30.0), row(1, "suggest", 2, 20, 45.0),
            row(2, "suggest", 1, 10, 20.0), row(2, "suggest", 2, 30, 40.0)]
    # seed 2's suggest after 20 clicks: halfway from (10, 20.0) to (30, 40.0) = 30.0, in_order's too
    assert map_at_cost(rows, 2, "suggest", "clicks", 20) == 30.0
    assert map_at_cost(rows, 2, "suggest", "clicks", 35) is None and map_at_cost(rows, 1, "suggest", "clicks", 5) is None
    # the budget is in_order's mean clicks after round 2 (20); differences +5 and 0: mean 2.5, std sqrt(12.5)
    assert "| suggest | +2.50 ± 3.54 (1/2) |" in paired_text(rows, "clicks").splitlines()


def test_the_cost_to_reach_in_order_s_map_is_interpolated_and_compared_seed_by_seed() -> None:
    rows = [row(1, "in_order", 1, 10, 30.0), row(1, "in_order", 2, 20, 40.0),
            row(2, "in_order", 1, 10, 20.0), row(2, "in_order", 2, 20, 30.0),
            row(3, "in_order", 1, 10, 20.0), row(3, "in_order", 2, 20, 50.0),
            row(1, "suggest", 1, 10, 30.0), row(1, "suggest", 2, 14, 50.0),
            row(2, "suggest", 1, 10, 20.0), row(2, "suggest", 2, 30, 40.0),
            row(3, "suggest", 1, 10, 20.0), row(3, "suggest", 2, 12, 45.0)]
    # seed 1 reaches 40 halfway from (10, 30) to (14, 50): 12 clicks; seed 2 reaches 30 halfway to 30 clicks: 20
    assert cost_to_reach(rows, 1, "suggest", "clicks", 40.0) == 12.0
    assert cost_to_reach(rows, 2, "suggest", "clicks", 30.0) == 20.0
    assert cost_to_reach(rows, 1, "suggest", "clicks", 25.0) == 10.0, "reached by the first round"
    assert cost_to_reach(rows, 3, "suggest", "clicks", 50.0) is None
    # ratios 12/20 = 0.6, 20/20 = 1.0 and seed 3 never: median of (0.6, 1.0, never) = 1.0
    assert "| suggest | 1.00, 0.60–1.00 (2/3) |" in reach_text(rows, "clicks").splitlines()
    # without seed 2 the unreached seed is the median: no fraction
    assert "| suggest | – (1/2) |" in reach_text([r for r in rows if r["seed"] != 2], "clicks").splitlines()
    # in_order falls back after round 2: its round-3 mAP (30) was first reached halfway to round 2, at 15 clicks
    wavy = [row(1, "in_order", 1, 10, 20.0), row(1, "in_order", 2, 20, 40.0), row(1, "in_order", 3, 30, 30.0),
            row(1, "suggest", 1, 10, 20.0), row(1, "suggest", 2, 15, 30.0), row(1, "suggest", 3, 25, 40.0)]
    # round 2's 40: suggest 25 / in_order 20 = 1.25; round 3's 30: suggest 15 / in_order 15 = 1.00
    assert "| suggest | 1.25 (1/1) | 1.00 (1/1) |" in reach_text(wavy, "clicks").splitlines()


def test_a_tiny_study_end_to_end_and_its_rerun_reads_every_round_back(tmp_path, monkeypatch) -> None:
    data = make_dataset(tmp_path / "data", n_train=5, n_test=2, duration_s=30.0)
    out = tmp_path / "study"
    rows = run_study(data, out)
    assert [(r["strategy"], r["round"], r["videos"]) for r in rows] == [
        (name, str(k), str(2 * k)) for name in STRATEGIES for k in (1, 2)]
    first = [r for r in rows if r["round"] == "1"]
    # every training video of the tiny dataset has 2 segments: 4 clicks for the first 2 videos, trained once
    assert {(r["clicks"], r["avg_mAP"]) for r in first} == {("4", first[0]["avg_mAP"])}
    assert sorted(p.parent.parent.name for p in out.glob("s1/*/round1/run")) == ["in_order"]
    for row in rows:
        assert int(row["decisions"]) == int(row["clicks"]) + int(row["accepted"]) + int(row["rejected"])
        if row["round"] == "2":
            assert int(row["clicks"]) + int(row["accepted"]) == 8, "each segment is clicked or labelled by a suggestion"
    by_name = {r["strategy"]: r for r in rows if r["round"] == "2"}
    assert by_name["in_order"]["accepted"] == by_name["uncertain_order"]["accepted"] == "0", "no suggestions shown"
    table = (out / "table.md").read_text()
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG" and "| suggest | 2 |" in table
    assert table.startswith("Suggestions where the model's track reaches 0.05; 1 seed.")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished round was trained again")

    monkeypatch.setattr(annotation, "train", no_training)
    assert run_study(data, out) == rows, "the rerun reads every round back"
    monkeypatch.undo()
    runs = []
    real_train = annotation.train
    monkeypatch.setattr(annotation, "train", lambda config, data, run, **kw: runs.append(run) or real_train(
        config, data, run, **kw))
    retrained = run_study(data, out, "--strategies", "in_order,suggest", "--overwrite")
    assert [(r["strategy"], r["round"]) for r in retrained] == [
        ("in_order", "1"), ("in_order", "2"), ("suggest", "1"), ("suggest", "2")]
    assert [run.relative_to(out).parent.as_posix() for run in runs] == [
        "s1/in_order/round1", "s1/in_order/round2", "s1/suggest/round2"], "the shared first round is trained once"


def test_a_round_with_the_labels_of_another_strategys_is_read_back_from_it(tmp_path, monkeypatch) -> None:
    data = make_dataset(tmp_path / "data", n_train=5, n_test=2, duration_s=30.0)
    runs = []
    real_train = annotation.train
    monkeypatch.setattr(annotation, "train", lambda config, data, run, **kw: runs.append(run) or real_train(
        config, data, run, **kw))
    # no CAS reaches 0.999: suggest_in_order is shown nothing and labels the videos in_order labels
    rows = run_study(data, tmp_path / "study", "--strategies", "in_order,suggest_in_order", threshold="0.999")
    assert [(r["accepted"], r["rejected"]) for r in rows if r["strategy"] == "suggest_in_order"] == [("0", "0")] * 2
    assert [run.relative_to(tmp_path / "study").parent.as_posix() for run in runs] == [
        "s1/in_order/round1", "s1/in_order/round2"]
    assert rows[1]["avg_mAP"] == rows[3]["avg_mAP"]


def test_a_round_is_finished_only_for_the_same_labels_and_config(tmp_path) -> None:
    labels = Labels({"v": [(75, "p")]}, clicks=1)
    folder = tmp_path / "round1"
    (folder / "data" / "point_gaussian").mkdir(parents=True)
    (folder / "data" / "point_gaussian" / "point_labels.csv").write_text(point_file_text(labels))
    (folder / "run").mkdir()
    config = {"model": {"name": "mil"}, "train": {"seed": 1}}
    (folder / "run" / "config.yaml").write_text(yaml.safe_dump({**config, "resolved_dims": {"rgb": 4}}))
    assert not finished_round(folder, labels, config), "no test predictions yet: the round did not finish"
    (folder / "run" / "test.json").write_text("{}")
    assert finished_round(folder, labels, config)
    assert not finished_round(folder, labels, {**config, "train": {"seed": 2}})
    assert not finished_round(folder, Labels({"v": [(76, "p")]}, clicks=1), config)


def test_unknown_strategies_are_one_line_errors(tmp_path, capsys) -> None:
    data = make_dataset(tmp_path / "data", n_train=3, n_test=1, duration_s=20.0)
    assert main(["study", "annotation", "--data", str(data), "--out", str(tmp_path / "s"), "--quick",
                 "--strategies", "in_order,random"]) == 1
    err = capsys.readouterr().err.strip()
    assert "--strategies in_order,random: choose from in_order, uncertain_order" in err and "\n" not in err
