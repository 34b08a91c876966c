"""Per-clip frame-relevance maps of a recognition prediction file (``sentiloc evaluate --relevance``).

A recognition prediction (docs/methods.md §7, §8) gives each clip a label, its class
probabilities and a per-segment ``attention (T,)`` in [0, 1]: TG-DFER's min-max normalised
frame relevance, CTEN's normalised temporal attention, uniform for the mean-pooling baseline.
The figure has one row per clip. Each row holds, on the clip's segment axis (0-based segment
index: the recognition layout stores no timebase, so there are no seconds to show):

* a heat strip of the attention, one cell per segment, on one fixed 0-1 colour scale for every
  row (the colour bar), so rows compare; a clip shorter than the longest one ends early;
* above it, the clip's ground-truth keyframe runs from ``keyframes.json`` as black bars (the lane
  is left out when the dataset has no ``keyframes.json``; a clip without runs says so);
* below it, the prediction's evidence segments, at most :data:`EVIDENCE_SHOWN` best ones, one
  thin line each, best first (nearest the strip), darker for a higher score (evidence runs
  overlap, so they do not share a line);
* on the left, the clip id, its true label, the predicted label and that label's probability;
  a wrong prediction is written in vermillion and marked ✗, a right one marked ✓.

Which clips: the ids the user names (in that order), else per true class (``classes.txt``
order) up to ``per_class`` clips of the evaluated subset with a prediction: half of them
(rounded up) the most confident right predictions, the rest the most confident wrong ones, each
pool topping up the other when it runs short. Confidence is the probability of the predicted
label; ties keep the file order. So the default shows what the model looks at when it is sure and
right next to when it is sure and wrong.

The data functions (:func:`default_clips`, :func:`named_clips`, :func:`clip_relevance`) are pure;
:func:`relevance_figure` draws and :func:`plot_relevance` writes the PNG atomically. Colours: the
single-hue ``Blues`` map of the confusion matrix (monotone lightness, greyscale- and colour-blind
safe) for the strip, and from the Okabe-Ito palette of :mod:`sentiloc.viz.segments` bluish green
for the evidence and vermillion for wrong predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sentiloc.core.errors import SentilocError  # noqa: E402
from sentiloc.data.recognition import layout  # noqa: E402
from sentiloc.evaluation.recognition import (  # noqa: E402
    DEFAULT_SUBSET,
    load_ground_truth,
    load_predictions,
    selected_videos,
)
from sentiloc.viz.confusion import COLOUR_MAP  # noqa: E402
from sentiloc.viz.figures import save_png  # noqa: E402
from sentiloc.viz.segments import OKABE_ITO, score_shade, tint  # noqa: E402

#: Clips per true class drawn by default: one sure-and-right and one sure-and-wrong.
DEFAULT_PER_CLASS = 2
#: Most rows one figure takes; more would not be readable.
MAX_CLIPS = 60
#: Evidence segments drawn per clip (the best ones).
EVIDENCE_SHOWN = 3
WRONG_COLOUR = OKABE_ITO["vermillion"]
EVIDENCE_COLOUR = OKABE_ITO["bluish_green"]
KEYFRAME_COLOUR = "0.1"
#: Cells get white borders while the longest clip has at most this many segments (beyond, they would stripe the strip).
CELL_EDGES_UP_TO = 40
#: Figure width in inches: 4.6 + 0.42 per segment of the longest clip, within these bounds; the legend
#: entries sit side by side from ``WIDE_LEGEND_IN`` on, else one above the other.
MIN_WIDTH_IN, MAX_WIDTH_IN, WIDE_LEGEND_IN = 7.0, 13.0, 9.5
#: Heights within a row (rows 1 apart, y grows downwards): (top, bottom) of the keyframe lane and the heat
#: strip, and the top, height and spacing of the evidence lines (one line per shown segment, best first).
KEYFRAME_LANE = (-0.46, -0.35)
STRIP = (-0.29, 0.15)
EVIDENCE_TOP, EVIDENCE_HEIGHT, EVIDENCE_STEP = 0.2, 0.065, 0.09


@dataclass(frozen=True)
class ClipRelevance:
    """What one row of the figure shows.

    Attributes:
        video_id: the clip.
        attention: ``(T,)`` relevance in [0, 1] per segment, or None when the prediction has none.
        keyframes: ``(K, 2)`` inclusive ground-truth runs ``[first, last]`` (``K`` may be 0), or
            None when the dataset has no ``keyframes.json``.
        evidence: ``(E, 2)`` inclusive evidence segments, best first.
        evidence_score: ``(E,)`` their scores.
        true_label: the class of ``labels.csv``, or None for a clip it does not label.
        predicted: the predicted class.
        probability: the predicted class's probability.
    """

    video_id: str
    attention: np.ndarray | None
    keyframes: np.ndarray | None
    evidence: np.ndarray
    evidence_score: np.ndarray
    true_label: str | None
    predicted: str
    probability: float

    @property
    def correct(self) -> bool | None:
        """Whether the prediction is right; None for an unlabelled clip."""
        return None if self.true_label is None else self.true_label == self.predicted


# --------------------------------------------------------------------------- data


def confidence(entry: Mapping, classes: Sequence[str]) -> float:
    """The probability of ``entry``'s predicted label (``classes``: the prediction file's class order)."""
    return float(entry["scores"][list(classes).index(entry["label"])])


def default_clips(ground_truth: Mapping, predictions: Mapping, videos: Sequence[str],
                  per_class: int = DEFAULT_PER_CLASS) -> list[str]:
    """Up to ``per_class`` clips per true class of ``videos`` with a prediction (module docstring).

    Args:
        ground_truth: :func:`~sentiloc.evaluation.recognition.load_ground_truth`.
        predictions: :func:`~sentiloc.evaluation.recognition.load_predictions`.
        videos: the labelled clips to choose from (the evaluated subset), file order.
        per_class: clips per class, >= 1.
    Returns:
        The chosen ids: class by class, right predictions before wrong ones, each by falling confidence.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    results, pred_classes = predictions["results"], predictions["classes"]
    names = ground_truth["classes"]
    shown = [v for v in videos if v in results]
    true = np.array([ground_truth["labels"][v] for v in shown], dtype=np.int64)
    right = np.array([results[v]["label"] == names[ground_truth["labels"][v]] for v in shown], dtype=bool)
    sure = np.array([confidence(results[v], pred_classes) for v in shown], dtype=np.float64)
    order = np.argsort(-sure, kind="stable")  # (N,) most confident first, file order on ties
    chosen: list[str] = []
    for c in range(len(names)):
        mine = order[true[order] == c]
        good, bad = mine[right[mine]], mine[~right[mine]]
        n_good = min(math.ceil(per_class / 2), len(good))
        n_bad = min(per_class - n_good, len(bad))
        n_good = min(per_class - n_bad, len(good))
        chosen += [shown[i] for i in (*good[:n_good], *bad[:n_bad])]
    return chosen


def named_clips(predictions: Mapping, ids: Sequence[str], pred_path: Path | str) -> list[str]:
    """``ids`` in the given order without repeats; an id the prediction file lacks is a one-line error."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise SentilocError("--clips names no clip; give comma-separated clip ids such as anger_0001,joy_0002")
    missing = [v for v in unique if v not in predictions["results"]]
    if missing:
        raise SentilocError(f"{pred_path}: no prediction for clip {missing[0]!r}; name clips of that file, "
                            f"e.g. {', '.join(list(predictions['results'])[:3])}")
    return unique


def _spans(values: Sequence | None) -> np.ndarray:
    """Inclusive ``[first, last]`` pairs as an ``(N, 2)`` int64 array (``(0, 2)`` for none)."""
    return np.asarray(values if values else np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)


def clip_relevance(ground_truth: Mapping, predictions: Mapping, video_ids: Sequence[str]) -> list[ClipRelevance]:
    """One :class:`ClipRelevance` per id of ``video_ids`` (all in the prediction file), in that order.

    A keyframe run ending past the clip's attention is a one-line error: the two would index
    different segments (as ``sentiloc evaluate`` refuses them for keyframe mAP).
    """
    results, pred_classes = predictions["results"], predictions["classes"]
    keyframes = ground_truth["keyframes"]
    rows = []
    for video in video_ids:
        entry = results[video]
        attention = None if entry.get("attention") is None else np.asarray(entry["attention"], dtype=np.float64)
        spans = None if keyframes is None else _spans(keyframes.get(video))
        if attention is not None and spans is not None and len(spans) and spans[:, 1].max() >= len(attention):
            raise SentilocError(f"{layout.KEYFRAMES_FILE}: clip {video!r} has a keyframe ending at segment "
                                f"{spans[:, 1].max()} but its prediction has {len(attention)} segments; keyframes "
                                "and predictions must index the same segments (predict without data.segments pooling)")
        evidence = entry.get("evidence") or []
        label = ground_truth["labels"].get(video)
        rows.append(ClipRelevance(
            video_id=video, attention=attention, keyframes=spans,
            evidence=_spans([item["segment"] for item in evidence]),
            evidence_score=np.array([float(item["score"]) for item in evidence], dtype=np.float64),
            true_label=None if label is None else ground_truth["classes"][label],
            predicted=entry["label"], probability=confidence(entry, pred_classes)))
    return rows


# --------------------------------------------------------------------------- drawing


def row_label(clip: ClipRelevance) -> str:
    """``"<id>\\n<true> → <predicted> <p>% ✓|✗"``; an unlabelled clip shows ``unlabelled`` and no mark."""
    mark = {True: " ✓", False: " ✗", None: ""}[clip.correct]
    return f"{clip.video_id}\n{clip.true_label or 'unlabelled'} → {clip.predicted} {100 * clip.probability:.0f}%{mark}"


def _bars(ax: plt.Axes, spans: np.ndarray, lanes: np.ndarray, colours: np.ndarray | str, gid: str) -> None:
    """Inclusive segment ``spans (N, 2)`` as bars covering ``[first - 0.5, last + 0.5]``, bar ``i`` between the
    heights ``lanes[i] = (top, bottom)`` (``lanes``: ``(N, 2)`` or one ``(2,)`` lane for all)."""
    lanes = np.broadcast_to(lanes, (len(spans), 2))
    bars = ax.bar(spans[:, 0] - 0.5, lanes[:, 1] - lanes[:, 0], width=spans[:, 1] - spans[:, 0] + 1,
                  bottom=lanes[:, 0], align="edge", color=colours, linewidth=0)
    for bar in bars.patches:
        bar.set_gid(gid)


def evidence_lines(y: float, count: int) -> np.ndarray:
    """``(count, 2)`` (top, bottom) heights of the evidence lines under the strip of row ``y``, best first."""
    top = y + EVIDENCE_TOP + EVIDENCE_STEP * np.arange(count)
    return np.column_stack([top, top + EVIDENCE_HEIGHT])


def _draw_row(ax: plt.Axes, clip: ClipRelevance, y: float, width: int, norm: Normalize) -> None:
    """The keyframe lane, the heat strip and the evidence lines of ``clip`` around height ``y``."""
    if clip.keyframes is not None and len(clip.keyframes):
        _bars(ax, clip.keyframes, y + np.array(KEYFRAME_LANE), KEYFRAME_COLOUR, f"keyframes:{clip.video_id}")
    elif clip.keyframes is not None:
        ax.text(-0.45, y + sum(KEYFRAME_LANE) / 2, "no keyframes annotated", ha="left", va="center", fontsize=6.5,
                style="italic", color="0.35")
    top, bottom = y + STRIP[0], y + STRIP[1]
    if clip.attention is None:
        ax.add_patch(Rectangle((-0.5, top), width, bottom - top, facecolor="0.95", edgecolor="0.6", hatch="//", lw=0.6))
        ax.text((width - 1) / 2, (top + bottom) / 2, "no attention in this prediction", ha="center", va="center",
                fontsize=7, style="italic", color="0.3", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        return
    length = len(clip.attention)
    mesh = ax.pcolormesh(np.arange(length + 1) - 0.5, [top, bottom], clip.attention[None, :], cmap=COLOUR_MAP,
                         norm=norm, edgecolors="white", linewidth=0.4 if width <= CELL_EDGES_UP_TO else 0.0)
    mesh.set_gid(f"attention:{clip.video_id}")
    ax.add_patch(Rectangle((-0.5, top), length, bottom - top, fill=False, edgecolor="0.45", lw=0.6))
    best = np.argsort(-clip.evidence_score, kind="stable")[:EVIDENCE_SHOWN]
    if len(best):
        _bars(ax, clip.evidence[best], evidence_lines(y, len(best)),
              tint(EVIDENCE_COLOUR, score_shade(clip.evidence_score[best])), f"evidence:{clip.video_id}")


def _legend_handles(clips: Sequence[ClipRelevance]) -> list[Patch]:
    handles = []
    if any(clip.keyframes is not None for clip in clips):
        handles.append(Patch(facecolor=KEYFRAME_COLOUR, label="ground-truth keyframes (above)"))
    if any(len(clip.evidence) for clip in clips):
        handles.append(Patch(facecolor=EVIDENCE_COLOUR, label=f"predicted evidence (below): up to {EVIDENCE_SHOWN}, best first, "
                             "darker = higher score"))
    return handles


def relevance_figure(clips: Sequence[ClipRelevance], title: str | None = None, subtitle: str | None = None) -> plt.Figure:
    """The relevance maps of ``clips``, one row each, top to bottom (see the module docstring)."""
    if not clips:
        raise ValueError("no clips to draw")
    width = max(len(clip.attention) if clip.attention is not None else 1 for clip in clips)
    norm = Normalize(0.0, 1.0)
    fig_width = float(np.clip(4.6 + 0.42 * width, MIN_WIDTH_IN, MAX_WIDTH_IN))
    fig, ax = plt.subplots(figsize=(fig_width, 1.6 + 0.62 * len(clips)), layout="constrained")
    for y, clip in enumerate(clips):
        _draw_row(ax, clip, y, width, norm)
    ax.hlines(np.arange(1, len(clips)) - 0.5, -0.5, width - 0.5, color="0.88", lw=0.6, zorder=0).set_gid("separators")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(len(clips) - 0.5, -0.5)
    ax.set_yticks(np.arange(len(clips)), [row_label(clip) for clip in clips], fontsize=8)
    for tick, clip in zip(ax.get_yticklabels(), clips):
        if clip.correct is False:
            tick.set_color(WRONG_COLOUR)
    ax.tick_params(axis="y", length=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("segment (0-based index)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    colourbar = fig.colorbar(plt.cm.ScalarMappable(norm, COLOUR_MAP), ax=ax, fraction=0.04, pad=0.02,
                             aspect=max(10, 4 * len(clips)))
    colourbar.set_label("relevance (attention, 0-1)")
    heading = title or "frame relevance per clip"
    ax.set_title(f"{heading}\n{subtitle}" if subtitle else heading, fontsize=10)
    handles = _legend_handles(clips)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=1 if fig_width < WIDE_LEGEND_IN else len(handles),
                   fontsize=7.5, frameon=False)
    return fig


def plot_relevance(clips: Sequence[ClipRelevance], path: Path | str, title: str | None = None,
                   subtitle: str | None = None) -> Path:
    """Save :func:`relevance_figure` of ``clips`` as a PNG at ``path``, atomically."""
    return save_png(relevance_figure(clips, title, subtitle), path)


def load_relevance(gt_path: Path | str, pred_path: Path | str, subset: str = DEFAULT_SUBSET,
                   clips: Sequence[str] | None = None, per_class: int = DEFAULT_PER_CLASS
                   ) -> tuple[list[ClipRelevance], str]:
    """The rows for ``sentiloc evaluate --relevance`` and a subtitle saying how they were chosen.

    ``clips`` names the clips (any of the prediction file); without it :func:`default_clips`
    chooses ``per_class`` per class among the labelled clips of ``subset`` (``all``, ``train``,
    ``test`` or ``fold:K``, as ``sentiloc evaluate --subset``).
    """
    ground_truth, predictions = load_ground_truth(gt_path), load_predictions(pred_path)
    if clips is not None:
        chosen, how = named_clips(predictions, clips, pred_path), "clips as named"
    else:
        chosen = default_clips(ground_truth, predictions, selected_videos(ground_truth, subset), per_class)
        how = f"subset {subset} · per true class: most confident right, then wrong (up to {per_class})"
    if len(chosen) > MAX_CLIPS:
        raise SentilocError(f"{len(chosen)} clips do not fit one readable figure (at most {MAX_CLIPS}); "
                            "lower --per-class or name fewer --clips")
    if not chosen:
        raise SentilocError(f"{pred_path}: no clip of subset {subset!r} has a prediction; check --subset")
    return clip_relevance(ground_truth, predictions, chosen), how
