"""``sentiloc study annotation``: the simulated annotator by hand, and a tiny study end to end."""

from __future__ import annotations

import csv

import numpy as np

from sentiloc.cli import main
from sentiloc.data.annotations import Segment
from sentiloc.studies.annotation import Labels, annotate_video, review
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


def test_a_tiny_study_end_to_end(tmp_path) -> None:
    data = make_dataset(tmp_path / "data", n_train=5, n_test=2, duration_s=30.0)
    out = tmp_path / "study"
    small = ["--set", "model.hidden=16", "--set", "model.gsp_hidden=16", "--set", "model.trunk_hidden=16",
             "--set", "train.checkpoint_every=0"]
    assert main(["-q", "study", "annotation", "--data", str(data), "--out", str(out), "--quick", "--rounds", "2",
                 "--per-round", "2", "--threshold", "0.05", *small]) == 0
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["strategy"], r["round"], r["videos"]) for r in rows] == [
        ("in_order", "1", "2"), ("in_order", "2", "4"), ("suggest", "1", "2"), ("suggest", "2", "4")]
    # every training video of the tiny dataset has 2 segments: 4 clicks for the first 2 videos
    assert rows[0]["clicks"] == rows[2]["clicks"] == "4" and rows[0]["avg_mAP"] == rows[2]["avg_mAP"]
    assert int(rows[1]["clicks"]) == 8
    suggest = rows[3]
    assert int(suggest["clicks"]) + int(suggest["accepted"]) == 8, "each segment is clicked or labelled by a suggestion"
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG" and "| suggest | 2 |" in (out / "table.md").read_text()
