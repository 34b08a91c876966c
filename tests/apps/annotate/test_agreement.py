"""Inter-annotator agreement: the matching by hand, label files and TSL-300's three released click files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.apps.annotate.agreement import (
    agreement,
    mutual_matches,
    nearest_s,
    pair_stats,
    read_inputs,
)
from sentiloc.apps.annotate.store import LabelStore
from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from tests.conftest import FIXTURES

TSL300 = FIXTURES / "tsl300"
ANNOTATOR_FILES = [TSL300 / "point_gaussian" / "train" / f"point_anno_{k}.txt" for k in range(3)]


def test_mutual_nearest_matching_by_hand() -> None:
    a, b = np.array([1.0, 5.0, 9.0]), np.array([1.5, 30.0])
    # 1 <-> 1.5 are each other's nearest (0.5 s); 5's nearest is 1.5, which prefers 1; 30 is 21 s from 9
    i, j = mutual_matches(a, b, 2.0)
    assert i.tolist() == [0] and j.tolist() == [0]
    # nearest distances: a -> b: 0.5, 3.5, 7.5; b -> a: 0.5, 21
    assert nearest_s(a, b).tolist() == [0.5, 3.5, 7.5, 0.5, 21.0]
    stats = pair_stats("x", "y", {"v": ((a, np.array(["p", "n", "p"])), (b, np.array(["n", "p"])))}, 2.0)
    assert (stats.matched, stats.same_class, stats.only_a, stats.only_b) == (1, 0, 2, 1)
    summary = stats.summary()
    assert summary["median_distance_s"] == 3.5 and summary["within_1s"] == pytest.approx(2 / 5)
    assert summary["class_agreement"] == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 100), max_size=12), st.lists(st.floats(0, 100), max_size=12), st.floats(0.1, 20))
def test_matching_is_one_to_one_within_the_window_and_symmetric(a: list[float], b: list[float], match_s: float) -> None:
    times_a, times_b = np.array(a), np.array(b)
    i, j = mutual_matches(times_a, times_b, match_s)
    assert len(set(i.tolist())) == len(i) and len(set(j.tolist())) == len(j)
    assert (np.abs(times_a[i] - times_b[j]) <= match_s).all()
    distances = np.abs(times_a[:, None] - times_b[None, :]) if len(a) and len(b) else np.zeros((0, 0))
    if len(np.unique(distances)) == distances.size:  # no ties: the matching does not depend on the order
        back_j, back_i = mutual_matches(times_b, times_a, match_s)
        assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(back_i.tolist(), back_j.tolist()))


def test_label_files_compare_their_annotators_and_ignore_rejections(tmp_path) -> None:
    store = LabelStore(tmp_path / "labels.csv")
    for annotator, time_s, label in (("ana", 2.0, "p"), ("bo", 2.4, "p"), ("ana", 6.0, "n"), ("bo", 7.5, "p")):
        store.add("clip0", "click", annotator, label, time_s)
    store.wait(store.add("clip0", "rejected", "bo", "n", 4.0)[1])
    store.close()
    report, _ = agreement(read_inputs([str(tmp_path / "labels.csv")]), match_s=2.0)
    row = report["overall"][0]
    # pairs 2.0 <-> 2.4 (same class) and 6.0 <-> 7.5 (1.5 s, other class); distances 0.4, 1.5 both ways
    assert row["pair"] == ["ana", "bo"] and row["matched"] == 2 and row["class_agreement"] == 0.5
    assert row["median_distance_s"] == pytest.approx(0.95) and row["only_ana"] == row["only_bo"] == 0
    assert list(report["videos"]) == ["clip0"]


def test_one_annotator_is_not_an_agreement(tmp_path) -> None:
    store = LabelStore(tmp_path / "labels.csv")
    store.wait(store.add("clip0", "click", "ana", "p", 1.0)[1])
    store.close()
    with pytest.raises(SentilocError, match="two annotators or more"):
        read_inputs([str(tmp_path / "labels.csv")])
    with pytest.raises(SentilocError, match="--fps"):
        read_inputs([str(ANNOTATOR_FILES[0]), str(ANNOTATOR_FILES[1])])


def test_the_three_tsl300_annotators(tmp_path, capsys) -> None:
    args = ["annotate", "--agreement", f"A={ANNOTATOR_FILES[0]}", f"B={ANNOTATOR_FILES[1]}", f"C={ANNOTATOR_FILES[2]}",
            "--fps", str(TSL300 / "fps_dict.json"), "--plot", str(tmp_path / "agreement.png"),
            "--json", str(tmp_path / "agreement.json")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "A / B" in printed and "B / C" in printed
    report = json.loads((tmp_path / "agreement.json").read_text())
    assert len(report["videos"]) == 200 and [row["pair"] for row in report["overall"]] == [["A", "B"], ["A", "C"],
                                                                                           ["B", "C"]]
    # the released annotators disagree by seconds: medians between 1 and 20 s, class agreement mostly high
    for row in report["overall"]:
        assert 1.0 < row["median_distance_s"] < 20.0 and row["class_agreement"] > 0.7
    assert (tmp_path / "agreement.png").read_bytes()[:4] == b"\x89PNG"
