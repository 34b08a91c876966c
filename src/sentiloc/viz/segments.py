"""What the timeline plot and the HTML report share: the palette, the lanes, and which segments they show.

Colours come from the Okabe-Ito palette (Okabe & Ito, *Color Universal Design*, 2008), which stays
distinguishable under the common colour-vision deficiencies: positive is blue and negative
orange, told apart by hue and, in greyscale, by lightness. Segments are ActivityNet entries
``{"label", "score", "segment": [start_s, end_s]}``; everything shown is first clipped to the
video, ``[0, duration_s]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

#: The Okabe-Ito colours by name.
OKABE_ITO = {
    "blue": "#0072B2", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "reddish_purple": "#CC79A7", "vermillion": "#D55E00", "yellow": "#F0E442", "black": "#000000",
}
LABEL_NAMES = {"p": "positive", "n": "negative"}
LABEL_COLOURS = {"p": OKABE_ITO["blue"], "n": OKABE_ITO["orange"]}
#: Colours of labels other than ``p``/``n``, in the order their lanes appear.
OTHER_COLOURS = tuple(OKABE_ITO[k] for k in ("bluish_green", "reddish_purple", "sky_blue", "vermillion", "black"))
#: Palest shade of a shown prediction (the lowest score shown), as a share of its colour; the best is full colour.
MIN_SHADE = 0.3


def label_name(label: str) -> str:
    """``positive``/``negative`` for ``p``/``n``; any other label as it is."""
    return LABEL_NAMES.get(label, str(label))


def lane_labels(labels: Iterable[str]) -> list[str]:
    """One lane per label, top to bottom: ``p``, ``n`` (those present), then the others in first-seen order."""
    unique = list(dict.fromkeys(labels))
    return [label for label in LABEL_NAMES if label in unique] + [label for label in unique if label not in LABEL_NAMES]


def label_colours(lanes: Sequence[str]) -> dict[str, str]:
    """``{label: hex colour}``: the fixed ``p``/``n`` colours, the other labels in lane order."""
    others = [label for label in lanes if label not in LABEL_COLOURS]
    colours = {label: OTHER_COLOURS[i % len(OTHER_COLOURS)] for i, label in enumerate(others)}
    return {label: LABEL_COLOURS.get(label) or colours[label] for label in lanes}


def clip_segments(segments: Sequence[Mapping], duration_s: float) -> list[dict]:
    """``segments`` with both bounds clipped to ``[0, duration_s]``; those left empty are dropped; order kept."""
    if not segments:
        return []
    bounds = np.clip(np.array([[float(x) for x in seg["segment"]] for seg in segments]).reshape(-1, 2), 0.0, duration_s)
    inside = np.flatnonzero(bounds[:, 1] > bounds[:, 0])
    return [{**segments[i], "segment": [float(bounds[i, 0]), float(bounds[i, 1])]} for i in inside]


def shown_segments(segments: Sequence[Mapping], label: str, top_k: int | None = None,
                   min_score: float | None = None) -> list[Mapping]:
    """The segments of ``label`` that are drawn, in drawing order: ascending score, so the best lands on top.

    Of ``label``'s segments, those scoring at least ``min_score`` (all when ``None``), and of
    those the ``top_k`` best (all when ``None``). Equal scores keep their input order.
    """
    mine = [seg for seg in segments if seg["label"] == label and (min_score is None or float(seg["score"]) >= min_score)]
    best_first = sorted(mine, key=lambda seg: -float(seg["score"]))[:top_k]
    return best_first[::-1]


def score_shade(scores: np.ndarray, low: float = MIN_SHADE) -> np.ndarray:
    """``(N,)`` colour strengths in ``[low, 1]``, linear in score from the lowest to the highest of ``scores (N,)``.

    Scores are outer-inner contrasts plus a share of the video score, not probabilities, so they
    are scaled to what is shown; all-equal scores all get the full colour.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    span = scores.max() - scores.min()
    if span <= 0:
        return np.ones_like(scores)
    return low + (1.0 - low) * (scores - scores.min()) / span


def tint(colour: str, strength: np.ndarray) -> np.ndarray:
    """``(N, 3)`` RGB in [0, 1] of the hex ``colour`` mixed with white; ``strength (N,)`` 1 is the colour itself.

    Shades are opaque, unlike transparency: a bar drawn over a weaker one hides it instead of
    adding to its colour, so an overlap never looks like a third, darker segment.
    """
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return 1.0 - np.asarray(strength, dtype=np.float64)[:, None] * (1.0 - rgb)


def hex_colour(rgb: np.ndarray) -> str:
    """``#rrggbb`` of one RGB triple in [0, 1]."""
    return "#" + "".join(f"{round(255 * float(x)):02x}" for x in rgb)
