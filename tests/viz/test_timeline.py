"""The timeline plot: lanes only where there is data, the best segment on top, nothing past the video's end."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

from sentiloc.viz.segments import LABEL_COLOURS, OKABE_ITO, clip_segments, score_shade, shown_segments, tint
from sentiloc.viz.timeline import plot_timeline, timeline_figure

FPS = 25.0  # 16 frames per snippet: 0.64 s
CAS = np.column_stack([np.linspace(0, 1, 47), np.linspace(1, 0, 47), np.full(47, 0.2)])  # 47 snippets = 30.08 s
PRED = [{"label": "p", "score": s, "segment": [a, b]}
        for s, a, b in [(0.5, 4.0, 12.0), (0.9, 5.0, 10.0), (0.3, 3.0, 14.0), (0.7, 6.5, 9.0)]]
GT = [{"label": "p", "segment": [5.5, 10.0]}, {"label": "n", "segment": [19.0, 25.0]}]


@pytest.fixture
def figure():
    figures = []

    def make(**options):
        figures.append(timeline_figure("vid", FPS, CAS, ["n", "p"], **options))
        return figures[-1]

    yield make
    for fig in figures:
        plt.close(fig)


def lane_names(fig) -> list[str]:
    return [tick.get_text() for tick in fig.axes[1].get_yticklabels()]


def bars(fig, gid: str) -> list:
    return [p for p in fig.axes[1].patches if p.get_gid() == gid]


def test_predictions_are_drawn_in_ascending_score_order_so_the_best_is_on_top(figure):
    fig = figure(predictions=PRED, duration_s=30.0)
    drawn = bars(fig, "predicted:p")
    assert [(b.get_x(), b.get_x() + b.get_width()) for b in drawn] == [(3.0, 14.0), (4.0, 12.0), (6.5, 9.0), (5.0, 10.0)]
    zorders = [b.get_zorder() for b in drawn]
    assert zorders == sorted(zorders) and len(set(zorders)) == 4
    assert max(drawn, key=lambda b: b.get_zorder()).get_x() == 5.0  # the 0.9 one
    shades = [np.mean(b.get_facecolor()[:3]) for b in drawn]  # paler = lighter = higher mean
    assert shades == sorted(shades, reverse=True)
    assert to_hex(drawn[-1].get_facecolor()) == LABEL_COLOURS["p"].lower()  # the best in full colour


def test_lanes_exist_only_for_what_was_given(figure):
    assert lane_names(figure(predictions=PRED)) == ["positive · predicted", "negative · predicted"]
    both = figure(ground_truth=GT, predictions=PRED, clicks_s=[(7.0, "p")])
    assert lane_names(both) == ["positive · ground truth", "positive · predicted", "negative · ground truth",
                                "negative · predicted", "clicks"]
    assert lane_names(figure(ground_truth=GT)) == ["positive · ground truth", "negative · ground truth"]
    assert len(figure().axes) == 1  # nothing to put in lanes: no segment panel at all


def test_a_class_without_segments_says_so(figure):
    fig = figure(predictions=PRED)
    notes = [t for t in fig.axes[1].texts if t.get_text() == "no segments"]
    assert len(notes) == 1 and notes[0].get_position()[1] == 0  # the bottom lane: negative · predicted
    assert not bars(fig, "predicted:n")


def test_everything_is_clipped_to_the_video(figure):
    preds = [{"label": "n", "score": 0.6, "segment": [18.0, 30.08]}, {"label": "n", "score": 0.2, "segment": [30.02, 30.08]}]
    fig = figure(predictions=preds, ground_truth=[{"label": "n", "segment": [25.0, 31.0]}],
                 clicks_s=[(30.05, "n")], duration_s=30.0)
    assert [(b.get_x(), b.get_x() + b.get_width()) for b in bars(fig, "predicted:n")] == [(18.0, 30.0)]
    assert [b.get_x() + b.get_width() for b in bars(fig, "ground truth:n")] == [30.0]
    assert "clicks" not in lane_names(fig)  # the only click lies past the end
    assert fig.axes[1].get_xlim() == (0.0, 30.0)
    assert figure(predictions=preds).axes[0].get_xlim() == pytest.approx((0.0, 30.08))  # default: the snippets' span


def test_top_k_and_min_score_choose_the_predictions_per_class(figure):
    preds = PRED + [{"label": "n", "score": 0.1, "segment": [20.0, 22.0]}]
    fig = figure(predictions=preds, top_k=2)
    assert [b.get_x() for b in bars(fig, "predicted:p")] == [6.5, 5.0] and len(bars(fig, "predicted:n")) == 1
    fig = figure(predictions=preds, top_k=None, min_score=0.5)
    assert [b.get_x() for b in bars(fig, "predicted:p")] == [4.0, 6.5, 5.0] and not bars(fig, "predicted:n")
    assert "scoring ≥ 0.5" in fig.axes[1].get_title(loc="left")


def test_legends_name_the_classes_in_a_colour_blind_safe_palette(figure):
    fig = figure(ground_truth=GT, predictions=PRED, clicks_s=[(7.0, "p")], global_cas=CAS[:, :2], w_sent=CAS[:, 0])
    cas_legend, lane_legend = (ax.get_legend() for ax in fig.axes)
    assert [t.get_text() for t in lane_legend.get_texts()] == ["positive", "negative"]
    assert {"CAS positive", "Global CAS negative", "non-sentiment", "W_sent", "click"} <= {
        t.get_text() for t in cas_legend.get_texts()}
    colours = {to_hex(h.get_facecolor()) for h in lane_legend.legend_handles}
    assert colours == {OKABE_ITO["blue"].lower(), OKABE_ITO["orange"].lower()}


def test_plot_timeline_writes_a_png(tmp_path):
    path = plot_timeline(tmp_path / "plots" / "vid.png", "vid", FPS, CAS, ["n", "p"], predictions=PRED)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(path.parent.glob(".*.tmp"))


def test_segment_helpers_by_hand():
    segs = [{"label": "p", "score": 1.0, "segment": [-1.0, 2.0]}, {"label": "p", "score": 2.0, "segment": [9.5, 12.0]},
            {"label": "n", "score": 3.0, "segment": [10.0, 11.0]}]
    assert [s["segment"] for s in clip_segments(segs, 10.0)] == [[0.0, 2.0], [9.5, 10.0]]
    assert [s["score"] for s in shown_segments(segs, "p")] == [1.0, 2.0]
    assert [s["score"] for s in shown_segments(segs, "p", top_k=1)] == [2.0]
    np.testing.assert_allclose(score_shade(np.array([1.0, 2.0, 3.0])), [0.3, 0.65, 1.0])
    np.testing.assert_allclose(score_shade(np.array([2.0, 2.0])), [1.0, 1.0])
    np.testing.assert_allclose(tint("#0072B2", np.array([1.0, 0.0, 0.5])),
                               [[0.0, 114 / 255, 178 / 255], [1.0, 1.0, 1.0], [0.5, (1 + 114 / 255) / 2, (1 + 178 / 255) / 2]])
