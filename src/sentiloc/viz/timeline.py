"""Timeline plots: what a model saw and said about one video, on a seconds axis.

The upper panel holds the scores (CAS and Global CAS per class, non-sentiment, W_sent, clicks);
the lower one holds segments, one lane per class for the ground truth (only when it is given)
and one per class for the predictions (only when they are given), and a lane of clicks when
there are any. A lane whose class has no segment says so in words. Predictions are the
post-processed proposals (after NMS); per class only the ``top_k`` best, optionally only those
scoring at least ``min_score``, are drawn, in ascending score order so that the best lies on
top, in a shade that darkens with the score. Everything is clipped to the video,
``[0, duration_s]``. Colours: :mod:`sentiloc.viz.segments` (Okabe-Ito, colour-blind safe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from sentiloc.core.timebase import snippet_to_seconds  # noqa: E402
from sentiloc.viz.figures import save_png  # noqa: E402
from sentiloc.viz.segments import (  # noqa: E402
    OKABE_ITO,
    clip_segments,
    label_colours,
    label_name,
    lane_labels,
    score_shade,
    shown_segments,
    tint,
)

#: Predictions drawn per class by default: enough to see the runners-up, few enough to read.
DEFAULT_TOP_K = 5
GROUND_TRUTH = "ground truth"
PREDICTED = "predicted"
#: Height of a bar within its lane (lanes are 1 apart).
BAR_HEIGHT = 0.7


@dataclass(frozen=True)
class Lane:
    """One row of the segment panel: ``kind`` (ground truth or predicted), a label, its segments in drawing order."""

    kind: str
    label: str
    segments: list[Mapping]


def timeline_lanes(
    class_names: Sequence[str],
    ground_truth: Sequence[Mapping] | None,
    predictions: Sequence[Mapping] | None,
    duration_s: float,
    top_k: int | None = DEFAULT_TOP_K,
    min_score: float | None = None,
) -> list[Lane]:
    """The segment lanes, top to bottom: per class, its ground truth, then its predictions.

    ``None`` means "not given" and gives no lanes of that kind; a given but empty sequence gives
    lanes that say "no segments". Both kinds are clipped to ``[0, duration_s]``; predictions
    are reduced per class by :func:`~sentiloc.viz.segments.shown_segments`, ground truth is drawn whole.
    """
    given = [(kind, clip_segments(segments, duration_s))
             for kind, segments in ((GROUND_TRUTH, ground_truth), (PREDICTED, predictions)) if segments is not None]
    labels = lane_labels([*class_names, *(seg["label"] for _, segments in given for seg in segments)])
    def lane(kind: str, label: str, segments: list[dict]) -> Lane:
        if kind == PREDICTED:
            return Lane(kind, label, shown_segments(segments, label, top_k, min_score))
        return Lane(kind, label, [seg for seg in segments if seg["label"] == label])

    return [lane(kind, label, segments) for label in labels for kind, segments in given]


def lane_shades(lanes: Sequence[Lane]) -> list[np.ndarray]:
    """Per lane, ``(n,)`` colour strengths of its bars: ground truth full, predictions by score across all predicted lanes."""
    scores = [np.array([float(seg["score"]) for seg in lane.segments]) for lane in lanes if lane.kind == PREDICTED]
    shared = iter(np.split(score_shade(np.concatenate(scores)), np.cumsum([len(x) for x in scores])[:-1])
                  if scores else [])
    return [next(shared) if lane.kind == PREDICTED else np.ones(len(lane.segments)) for lane in lanes]


def _draw_lane(ax: plt.Axes, lane: Lane, y: float, colour: str, shades: np.ndarray) -> None:
    """Bars of ``lane`` at height ``y``; bar ``i`` gets z-order ``2 + i / n`` (drawing order = score order)."""
    if not lane.segments:
        ax.text(0.5, y, "no segments", transform=ax.get_yaxis_transform(), ha="center", va="center",
                fontsize=8, style="italic", color="0.35")
        return
    bounds = np.array([seg["segment"] for seg in lane.segments], dtype=np.float64)
    bars = ax.barh(np.full(len(bounds), y), bounds[:, 1] - bounds[:, 0], left=bounds[:, 0], height=BAR_HEIGHT,
                   color=tint(colour, shades), edgecolor=colour, linewidth=0.8)
    for i, bar in enumerate(bars.patches):
        bar.set_zorder(2 + i / len(bars.patches))
        bar.set_gid(f"{lane.kind}:{lane.label}")


def _segment_caption(top_k: int | None, min_score: float | None) -> str:
    rule = "all" if top_k is None else f"top {top_k}"
    threshold = "" if min_score is None else f" scoring ≥ {min_score:g}"
    return (f"predicted: {rule} per class after NMS{threshold}; darker = higher score, best drawn on top; "
            "clipped to the video")


def timeline_figure(
    video_id: str,
    fps: float,
    cas: np.ndarray,
    class_names: Sequence[str],
    w_sent: np.ndarray | None = None,
    global_cas: np.ndarray | None = None,
    ground_truth: Sequence[Mapping] | None = None,
    predictions: Sequence[Mapping] | None = None,
    clicks_s: Sequence[tuple[float, str]] = (),
    top_k: int | None = DEFAULT_TOP_K,
    min_score: float | None = None,
    duration_s: float | None = None,
) -> plt.Figure:
    """The timeline of one video as a figure (see the module docstring); :func:`plot_timeline` saves it.

    Args:
        fps: native frame rate; snippet ``t`` is drawn at its centre, ``(t + 0.5)·16 / fps`` s.
        cas: ``(T, C + 1)`` sigmoid scores; the class tracks drawn are y_c·(1 − y_∅) as used for
            proposals, plus the non-sentiment column.
        class_names: the C class labels, in column order (``p``/``n`` for TSL-300).
        w_sent, global_cas: ``(T,)`` and ``(T, C)`` FSENet outputs, drawn when given.
        ground_truth: ActivityNet entries, or ``None`` for no ground-truth lanes.
        predictions: ActivityNet entries after NMS, or ``None`` for no prediction lanes; per class
            the ``top_k`` best (``None``: all) of those scoring at least ``min_score`` are drawn.
        clicks_s: ``(time in s, label)`` point labels; a lane of them is added when there are any.
        duration_s: the video's length; defaults to the span of the ``T`` snippets.
    """
    span = "the video lasts" if duration_s is not None else "the snippets span"
    duration_s = float(snippet_to_seconds(len(cas), fps) if duration_s is None else duration_s)
    lanes = timeline_lanes(class_names, ground_truth, predictions, duration_s, top_k, min_score)
    colours = label_colours(lane_labels([*class_names, *(lane.label for lane in lanes), *(c for _, c in clicks_s)]))
    clicks = [(float(t), label) for t, label in clicks_s if 0.0 <= float(t) <= duration_s]
    rows = len(lanes) + bool(clicks)
    if rows:
        fig, (ax_cas, ax_seg) = plt.subplots(
            2, 1, figsize=(12, 3.8 + 0.32 * rows), sharex=True,
            gridspec_kw={"height_ratios": [3, 0.35 * rows + 0.3]}, layout="constrained",
        )
        _draw_segment_panel(ax_seg, lanes, clicks, colours)
        if any(lane.kind == PREDICTED for lane in lanes):
            ax_seg.set_title(_segment_caption(top_k, min_score), fontsize=8, loc="left", color="0.3")
    else:
        fig, ax_cas = plt.subplots(figsize=(12, 3.6), layout="constrained")
    _draw_scores(ax_cas, fps, cas, class_names, colours, w_sent, global_cas, clicks)
    ax_cas.set_title(video_id, fontsize=10)
    ax_cas.set_xlim(0.0, duration_s)
    fig.axes[-1].set_xlabel(f"time (s); {span} {duration_s:.2f} s")
    return fig


def _draw_segment_panel(ax: plt.Axes, lanes: Sequence[Lane], clicks: Sequence[tuple[float, str]],
                        colours: Mapping[str, str]) -> None:
    """The lanes top to bottom, then a lane of clicks when there are any, and a legend of the classes."""
    rows = len(lanes) + bool(clicks)
    names = []
    for row, (lane, shades) in enumerate(zip(lanes, lane_shades(lanes))):
        _draw_lane(ax, lane, rows - 1 - row, colours[lane.label], shades)
        names.append(f"{label_name(lane.label)} · {lane.kind}")
    if clicks:
        ax.scatter([t for t, _ in clicks], np.zeros(len(clicks)), marker="v", s=30, zorder=3,
                   c=[colours[label] for _, label in clicks], edgecolors="black", linewidths=0.4)
        names.append("clicks")
    ax.set_yticks(np.arange(rows)[::-1], names, fontsize=8)
    ax.set_ylim(-0.5, rows - 0.5)
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    handles = [Patch(facecolor=colour, label=label_name(label)) for label, colour in colours.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, framealpha=0.9,
              title="class", title_fontsize=7)


def _draw_scores(ax: plt.Axes, fps: float, cas: np.ndarray, class_names: Sequence[str], colours: Mapping[str, str],
                 w_sent: np.ndarray | None, global_cas: np.ndarray | None, clicks: Sequence[tuple[float, str]]) -> None:
    """The score panel: per class y_c·(1 − y_∅) (solid) and Global CAS (dashed), y_∅, W_sent, clicks."""
    t = snippet_to_seconds(np.arange(len(cas)) + 0.5, fps)
    num_classes = len(class_names)
    column = {name: c for c, name in enumerate(class_names)}
    for name in lane_labels(class_names):
        c = column[name]
        ax.plot(t, cas[:, c] * (1.0 - cas[:, num_classes]), color=colours[name], lw=1.4, label=f"CAS {label_name(name)}")
        if global_cas is not None:
            ax.plot(t, global_cas[:, c], color=colours[name], lw=1.0, ls="--", label=f"Global CAS {label_name(name)}")
    ax.plot(t, cas[:, num_classes], color="0.45", lw=0.8, label="non-sentiment")
    if w_sent is not None:
        ax.fill_between(t, 0, w_sent, color=OKABE_ITO["reddish_purple"], alpha=0.18, lw=0, label="W_sent")
    for time_s, label in clicks:
        ax.axvline(time_s, color=colours[label], lw=0.9, ls=":")
    handles = ax.get_legend_handles_labels()[0]
    if clicks:
        handles.append(Line2D([], [], color="0.2", lw=0.9, ls=":", label="click"))
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("score")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, framealpha=0.9)


def plot_timeline(path: Path, video_id: str, fps: float, cas: np.ndarray, class_names: Sequence[str],
                  **options) -> Path:
    """Save :func:`timeline_figure` (same arguments, ``options`` by keyword) as a PNG at ``path``, atomically."""
    return save_png(timeline_figure(video_id, fps, cas, class_names, **options), path, tight=False)
