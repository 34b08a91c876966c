"""Per-clip relevance maps: which clips by hand, what each row holds, what the figure draws, the PNG it writes."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_hex

from sentiloc.core.errors import SentilocError
from sentiloc.viz.relevance import (
    CELL_EDGES_UP_TO,
    EVIDENCE_SHOWN,
    KEYFRAME_LANE,
    MAX_CLIPS,
    WRONG_COLOUR,
    ClipRelevance,
    clip_relevance,
    confidence,
    default_clips,
    evidence_lines,
    load_relevance,
    named_clips,
    plot_relevance,
    relevance_figure,
    row_label,
)
from tests.data.recognition.conftest import make_recognition_dataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: video -> (true class index, predicted label, scores in the prediction file's order ["b", "a"]).
#: Confidence = the score of the predicted label: a1 0.7, a2 0.9, a3 0.6, a4 0.8, b1 0.55, b2 0.6, b3 0.65, b4 0.8.
CLIPS = {
    "a1": (0, "a", [0.3, 0.7]), "a2": (0, "a", [0.1, 0.9]), "a3": (0, "b", [0.6, 0.4]), "a4": (0, "b", [0.8, 0.2]),
    "b1": (1, "b", [0.55, 0.45]), "b2": (1, "a", [0.4, 0.6]), "b3": (1, "a", [0.35, 0.65]), "b4": (1, "a", [0.2, 0.8]),
}


def ground_truth(keyframes: dict | None = None) -> dict:
    return {"classes": ["a", "b"], "labels": {v: c for v, (c, _, _) in CLIPS.items()}, "keyframes": keyframes}


def predictions(**extra: dict) -> dict:
    results = {v: {"label": label, "scores": scores, **extra.get(v, {})} for v, (_, label, scores) in CLIPS.items()}
    return {"classes": ["b", "a"], "results": results}


def clip(video_id: str = "v", attention: list | None = (0.2, 0.8, 0.5), keyframes: list | None = ((1, 1),),
         evidence: list = ((1, 1),), scores: list = (0.6,), true: str | None = "a", predicted: str = "a",
         probability: float = 0.75) -> ClipRelevance:
    return ClipRelevance(video_id, None if attention is None else np.array(attention, dtype=float),
                         None if keyframes is None else np.array(keyframes, dtype=np.int64).reshape(-1, 2),
                         np.array(evidence, dtype=np.int64).reshape(-1, 2), np.array(scores, dtype=float),
                         true, predicted, probability)


@pytest.fixture
def figure():
    figures = []

    def make(clips, **options):
        figures.append(relevance_figure(clips, **options))
        return figures[-1]

    yield make
    for fig in figures:
        plt.close(fig)


def bars(fig: plt.Figure, gid: str) -> list:
    return [p for p in fig.axes[0].patches if p.get_gid() == gid]


def spans(patches: list) -> list[tuple[float, float]]:
    return [(p.get_x(), p.get_x() + p.get_width()) for p in patches]


# --------------------------------------------------------------------------- choosing the clips


def test_confidence_reads_the_predicted_label_in_the_files_class_order() -> None:
    # the file lists ["b", "a"]: a1 predicts a, whose score is the second one, 0.7
    assert confidence(predictions()["results"]["a1"], ["b", "a"]) == 0.7


@pytest.mark.parametrize(("per_class", "expected"), [
    # class a: right a2 (0.9), a1 (0.7); wrong a4 (0.8), a3 (0.6). class b: right b1; wrong b4 (0.8), b3, b2
    (1, ["a2", "b1"]),                                      # ceil(1/2) = 1 right each
    (2, ["a2", "a4", "b1", "b4"]),                          # one right, one wrong
    (3, ["a2", "a1", "a4", "b1", "b4", "b3"]),              # a: 2 right + 1 wrong; b has 1 right, so 2 wrong
    (5, ["a2", "a1", "a4", "a3", "b1", "b4", "b3", "b2"]),  # more than a class holds: all of it
])
def test_default_clips_by_hand(per_class: int, expected: list[str]) -> None:
    assert default_clips(ground_truth(), predictions(), list(CLIPS), per_class) == expected


def test_default_clips_take_only_the_subsets_clips_with_a_prediction() -> None:
    preds = predictions()
    del preds["results"]["a2"]
    # subset without a4 and b1; a2 has no prediction: a keeps a1 (right) and a3 (wrong); b has only wrong ones
    assert default_clips(ground_truth(), preds, ["a1", "a2", "a3", "b2", "b3", "b4"], 2) == ["a1", "a3", "b4", "b3"]


def test_equal_confidence_keeps_the_file_order() -> None:
    preds = predictions()
    preds["results"]["a1"]["scores"] = [0.1, 0.9]  # a1 and a2 both 0.9: a1 comes first in the file
    assert default_clips(ground_truth(), preds, list(CLIPS), 1) == ["a1", "b1"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.floats(0.34, 1.0)), min_size=0, max_size=25),
       st.integers(1, 6))
def test_default_clips_properties(rows: list[tuple[int, int, float]], per_class: int) -> None:
    """At most ``per_class`` per class, no repeats, balanced right/wrong whenever both pools are deep enough."""
    names = ["x", "y", "z"]
    videos = [f"v{i}" for i in range(len(rows))]
    gt = {"classes": names, "labels": {v: t for v, (t, _, _) in zip(videos, rows)}, "keyframes": None}
    results = {}
    for v, (_, p, top) in zip(videos, rows):
        scores = [(1.0 - top) / 2] * 3
        scores[p] = top
        results[v] = {"label": names[p], "scores": scores}
    chosen = default_clips(gt, {"classes": names, "results": results}, videos, per_class)
    assert len(chosen) == len(set(chosen))
    for c in range(3):
        mine = [v for v in chosen if gt["labels"][v] == c]
        right = sum(results[v]["label"] == names[c] for v in mine)
        pool = [v for v in videos if gt["labels"][v] == c]
        pool_right = sum(results[v]["label"] == names[c] for v in pool)
        assert len(mine) == min(per_class, len(pool))
        if pool_right >= per_class and len(pool) - pool_right >= per_class:
            assert right == -(-per_class // 2)


def test_named_clips_keep_the_order_and_name_a_missing_id_and_the_file() -> None:
    assert named_clips(predictions(), ["b2", "a1", "b2"], "p.json") == ["b2", "a1"]
    with pytest.raises(SentilocError, match=r"^runs/p\.json: no prediction for clip 'zz'; name clips of that file, "
                                            r"e\.g\. a1, a2, a3$"):
        named_clips(predictions(), ["a1", "zz"], "runs/p.json")
    with pytest.raises(SentilocError, match="names no clip"):
        named_clips(predictions(), [], "p.json")


# --------------------------------------------------------------------------- the rows


def test_clip_relevance_by_hand() -> None:
    preds = predictions(a3={"attention": [0.0, 1.0, 0.25], "evidence": [{"segment": [1, 2], "score": 0.4}]},
                        b1={"attention": [0.5]})
    rows = clip_relevance(ground_truth({"a3": [[0, 1]]}), preds, ["a3", "b1", "a1"])
    a3, b1, a1 = rows
    assert (a3.video_id, a3.true_label, a3.predicted, a3.probability, a3.correct) == ("a3", "a", "b", 0.6, False)
    np.testing.assert_array_equal(a3.attention, [0.0, 1.0, 0.25])
    assert a3.keyframes.tolist() == [[0, 1]] and a3.evidence.tolist() == [[1, 2]] and a3.evidence_score.tolist() == [0.4]
    assert b1.correct is True and b1.keyframes.shape == (0, 2) and b1.evidence.shape == (0, 2)  # not in keyframes.json
    assert a1.attention is None  # a prediction without attention
    assert clip_relevance(ground_truth(None), preds, ["a3"])[0].keyframes is None  # no keyframes.json at all


def test_an_unlabelled_clip_has_no_verdict() -> None:
    gt = ground_truth()
    gt["labels"]["a1"] = None
    row = clip_relevance(gt, predictions(), ["a1"])[0]
    assert row.true_label is None and row.correct is None
    assert row_label(row) == "a1\nunlabelled → a 70%"


def test_a_keyframe_past_the_attention_is_refused() -> None:
    preds = predictions(a1={"attention": [0.1, 0.9]})
    with pytest.raises(SentilocError, match=r"^keyframes\.json: clip 'a1' has a keyframe ending at segment 2 but its "
                                            r"prediction has 2 segments"):
        clip_relevance(ground_truth({"a1": [[0, 0], [1, 2]]}), preds, ["a1"])


def test_row_labels_mark_right_and_wrong() -> None:
    assert row_label(clip(true="joy", predicted="joy", probability=0.804)) == "v\njoy → joy 80% ✓"
    assert row_label(clip(true="anger", predicted="fear", probability=0.996)) == "v\nanger → fear 100% ✗"


# --------------------------------------------------------------------------- the figure


def test_rows_strips_and_lanes(figure) -> None:
    clips = [clip("long", attention=[0.0, 0.5, 1.0, 0.5, 0.0], keyframes=[[1, 2]], evidence=[[2, 2], [0, 4]],
                  scores=[0.9, 0.3]),
             clip("wrong", predicted="b", probability=0.6)]
    fig = figure(clips)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["long\na → a 75% ✓", "wrong\na → b 60% ✗"]
    assert to_hex(ax.get_yticklabels()[1].get_color()) == WRONG_COLOUR.lower()
    assert to_hex(ax.get_yticklabels()[0].get_color()) != WRONG_COLOUR.lower()
    assert ax.get_xlim() == (-0.5, 4.5)  # the longest clip: 5 segments
    meshes = {m.get_gid(): m for m in ax.collections}
    np.testing.assert_allclose(meshes["attention:long"].get_array().ravel(), [0.0, 0.5, 1.0, 0.5, 0.0])
    assert meshes["attention:wrong"].get_array().size == 3  # the shorter clip ends early
    # keyframes [1, 2] cover segments 1 and 2: x from 0.5 to 2.5, in the keyframe lane of row 0
    (keyframe,) = bars(fig, "keyframes:long")
    assert spans([keyframe]) == [(0.5, 2.5)] and keyframe.get_y() == pytest.approx(KEYFRAME_LANE[0])
    # evidence best first, one line each, the better one closer to the strip and darker
    best, second = bars(fig, "evidence:long")
    assert spans([best, second]) == [(1.5, 2.5), (-0.5, 4.5)]
    assert best.get_y() == pytest.approx(evidence_lines(0, 2)[0, 0]) and best.get_y() < second.get_y()
    assert np.mean(best.get_facecolor()[:3]) < np.mean(second.get_facecolor()[:3])
    assert fig.axes[1].get_ylabel() == "relevance (attention, 0-1)"  # the colour bar, 0 to 1 for every row
    assert fig.axes[1].get_ylim() == (0.0, 1.0)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0].startswith("ground-truth keyframes") and legend[1].startswith("predicted evidence")


def test_at_most_the_best_evidence_is_drawn(figure) -> None:
    evidence = [[k, k] for k in range(5)]
    fig = figure([clip(attention=[0.5] * 5, evidence=evidence, scores=[0.1, 0.5, 0.3, 0.9, 0.2])])
    # best first: segment 3 (0.9), 1 (0.5), 2 (0.3)
    assert [p.get_x() + 0.5 for p in bars(fig, "evidence:v")] == [3.0, 1.0, 2.0][:EVIDENCE_SHOWN]


def test_edge_cases_one_segment_no_keyframes_no_attention(figure) -> None:
    clips = [clip("one", attention=[0.7], keyframes=[[0, 0]], evidence=[[0, 0]], scores=[1.0]),
             clip("bare", keyframes=[], evidence=[], scores=[]),
             clip("blind", attention=None, evidence=[], scores=[])]
    fig = figure(clips)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-0.5, 2.5)
    assert spans(bars(fig, "keyframes:one")) == [(-0.5, 0.5)] and spans(bars(fig, "evidence:one")) == [(-0.5, 0.5)]
    notes = [t.get_text() for t in ax.texts]
    assert notes.count("no keyframes annotated") == 1 and notes.count("no attention in this prediction") == 1
    assert [m.get_gid() for m in ax.collections] == ["attention:one", "attention:bare", "separators"]


def test_without_keyframes_json_there_is_no_keyframe_lane(figure) -> None:
    fig = figure([clip(keyframes=None)], title="p.json", subtitle="clips as named")
    assert not [p for p in fig.axes[0].patches if str(p.get_gid()).startswith("keyframes:")]
    assert "no keyframes annotated" not in [t.get_text() for t in fig.axes[0].texts]
    assert [t.get_text() for t in fig.legends[0].get_texts()][0].startswith("predicted evidence")
    assert fig.axes[0].get_title() == "p.json\nclips as named"


def test_no_clips_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no clips"):
        relevance_figure([])


def test_plot_writes_a_png_atomically(tmp_path: Path) -> None:
    path = tmp_path / "relevance.png"
    path.write_bytes(b"old")
    assert plot_relevance([clip(), clip("w", predicted="b")], path) == path
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["relevance.png"]


# --------------------------------------------------------------------------- from the files


def write_predictions(path: Path, results: dict) -> Path:
    path.write_text(json.dumps({"version": "sentiloc-recognition-1", "classes": ["anger", "joy", "sadness"],
                                "results": results}))
    return path


def entry(label: str, length: int) -> dict:
    scores = {"anger": [0.8, 0.1, 0.1], "joy": [0.1, 0.8, 0.1], "sadness": [0.1, 0.1, 0.8]}[label]
    return {"label": label, "scores": scores, "attention": [0.5] * length, "evidence": []}


def test_load_relevance_from_a_dataset(tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")  # test split: v_anger_2 (T 4), v_joy_2 (T 7), v_sad_2 (T 6)
    pred = write_predictions(tmp_path / "p.json", {"v_anger_2": entry("joy", 4), "v_joy_2": entry("joy", 7),
                                                   "v_sad_2": entry("sadness", 6), "v_joy_1": entry("joy", 5)})
    rows, how = load_relevance(data, pred)
    assert [r.video_id for r in rows] == ["v_anger_2", "v_joy_2", "v_sad_2"] and "subset test" in how
    assert rows[1].keyframes.tolist() == [[3, 3], [5, 6]]
    rows, how = load_relevance(data, pred, subset="train")
    assert [r.video_id for r in rows] == ["v_joy_1"]
    rows, how = load_relevance(data, pred, clips=["v_sad_2", "v_anger_2"])
    assert [r.video_id for r in rows] == ["v_sad_2", "v_anger_2"] and how == "clips as named"
    with pytest.raises(SentilocError, match="no clip of subset 'fold:1' has a prediction"):
        load_relevance(data, write_predictions(tmp_path / "q.json", {"v_anger_2": entry("joy", 4)}), subset="fold:1")


def test_too_many_clips_are_refused(tmp_path: Path) -> None:
    videos = {f"c{i}": ("anger", "test", 1, 2, [[0, 0]]) for i in range(MAX_CLIPS + 1)}
    data = make_recognition_dataset(tmp_path / "data", videos=videos, dims={"visual": 2})
    pred = write_predictions(tmp_path / "p.json", {v: entry("anger", 2) for v in videos})
    with pytest.raises(SentilocError, match=rf"^{MAX_CLIPS + 1} clips do not fit one readable figure"):
        load_relevance(data, pred, clips=list(videos))


def test_long_clips_drop_the_cell_borders(figure) -> None:
    short, long_ = (figure([clip(attention=[0.5] * n, evidence=[], scores=[])]) for n in (CELL_EDGES_UP_TO, 50))
    assert short.axes[0].collections[0].get_linewidth()[0] == 0.4
    assert long_.axes[0].collections[0].get_linewidth()[0] == 0.0
    assert long_.axes[0].get_xlim() == (-0.5, 49.5)
