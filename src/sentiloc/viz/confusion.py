"""The confusion matrix of a recognition evaluation (``sentiloc evaluate --task recognition --plot``).

Input is the evaluator's metrics JSON (:meth:`sentiloc.evaluation.recognition.RecognitionResult.to_json`):
rows are true classes, columns predicted ones. Each row is normalised by its videos, so a cell
reads "share of the true class's videos predicted as this class" and the diagonal holds the
per-class recall; every cell also shows its count. A class without videos in the subset gets a
hatched row that says so. The colour map is a single-hue sequential one (matplotlib ``Blues``):
its lightness falls monotonically with the share, so it reads the same in greyscale and under
colour-vision deficiencies; cell text switches to white on the dark cells. The title carries the
accuracy (= WAR) and UAR. Videos without a prediction are in no cell (so a row's ``n`` and its
diagonal share then differ from the class's videos and recall); a note under the title says how many.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from sentiloc.viz.figures import save_png

COLOUR_MAP = "Blues"
#: Share above which the cell text is white (the ``Blues`` map is dark enough there).
DARK_SHARE = 0.55
#: Column labels stay upright while (longest class name) x (classes) is at most this many characters.
UPRIGHT_CHARS = 36


def row_shares(confusion: np.ndarray) -> np.ndarray:
    """``(C, C)`` counts divided by their row sums; NaN on the rows of classes without videos."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.full_like(confusion, np.nan), where=totals > 0)


def _check(metrics: Mapping[str, Any]) -> tuple[list[str], np.ndarray]:
    """The class names and the ``(C, C)`` int counts of ``metrics``, or a ValueError naming what does not fit."""
    classes = [str(name) for name in metrics["classes"]]
    confusion = np.asarray(metrics["confusion"], dtype=np.int64)
    if confusion.shape != (len(classes), len(classes)) or (confusion < 0).any():
        raise ValueError(f"confusion must be a ({len(classes)}, {len(classes)}) matrix of counts >= 0 for the "
                         f"classes {classes[:10]}, got shape {confusion.shape}")
    return classes, confusion


def _subtitle(metrics: Mapping[str, Any]) -> str:
    line = (f"accuracy (WAR) {100 * metrics['accuracy']:.1f} %, UAR {100 * metrics['uar']:.1f} %, "
            f"{metrics['videos']} videos")
    missing = int(metrics.get("missing_predictions") or 0)
    return line + (f";\n{missing} video(s) without a prediction: in no cell, counted wrong in both rates" if missing else "")


def confusion_figure(metrics: Mapping[str, Any], title: str | None = None) -> plt.Figure:
    """The row-normalised confusion matrix of ``metrics`` as a figure (see the module docstring)."""
    classes, confusion = _check(metrics)
    shares = row_shares(confusion)
    n = len(classes)
    side = 2.2 + 0.72 * n
    fig, ax = plt.subplots(figsize=(side + 1.4, side), layout="constrained")
    image = ax.imshow(np.nan_to_num(shares), cmap=COLOUR_MAP, vmin=0.0, vmax=1.0)
    fontsize = max(7.0, 11.0 - 0.45 * n)
    rows, cols = np.nonzero(np.isfinite(shares))
    for r, c in zip(rows, cols):
        colour = "white" if shares[r, c] > DARK_SHARE else "0.1"
        ax.text(c, r, f"{100 * shares[r, c]:.0f}%\n({confusion[r, c]})", ha="center", va="center",
                fontsize=fontsize, color=colour, fontweight="bold" if r == c else "normal")
    for r in np.flatnonzero(~np.isfinite(shares[:, 0])):
        ax.add_patch(Rectangle((-0.5, r - 0.5), n, 1, facecolor="0.94", edgecolor="0.6", hatch="//", lw=0))
        ax.text((n - 1) / 2, r, "no videos", ha="center", va="center", fontsize=fontsize, style="italic",
                color="0.3", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5})
    for k in np.flatnonzero(np.isfinite(shares[:, 0])):  # outline the diagonal: the per-class recalls
        ax.add_patch(Rectangle((k - 0.5, k - 0.5), 1, 1, fill=False, edgecolor="0.15", lw=1.4, zorder=3))
    tilt = max(map(len, classes)) * n > UPRIGHT_CHARS
    ax.set_xticks(np.arange(n), classes, rotation=40 if tilt else 0, ha="right" if tilt else "center",
                  rotation_mode="anchor", fontsize=9)
    ax.set_yticks(np.arange(n), [f"{name} (n={total})" for name, total in zip(classes, confusion.sum(axis=1))],
                  fontsize=9)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    colourbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    colourbar.set_label("share of the true class's videos")
    colourbar.set_ticks(np.linspace(0, 1, 6), labels=[f"{p}%" for p in range(0, 101, 20)])
    ax.set_title(f"{title or 'confusion matrix'}\n{_subtitle(metrics)}", fontsize=10)
    return fig


def plot_confusion(metrics: Mapping[str, Any], path: Path | str, title: str | None = None) -> Path:
    """Save :func:`confusion_figure` of ``metrics`` (a recognition metrics JSON) as a PNG at ``path``, atomically."""
    return save_png(confusion_figure(metrics, title), path)
