"""Plots of the robustness studies (``sentiloc benchmark sensitivity``): a heatmap and error-bar curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sentiloc.viz.figures import save_png  # noqa: E402


def plot_heatmap(
    path: Path,
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    xlabel: str,
    ylabel: str,
    title: str,
) -> None:
    """``values`` ``(rows, cols)`` as a colour grid with each cell's value written in it (NaN = not run)."""
    fig, ax = plt.subplots(figsize=(1.1 * len(col_labels) + 2.5, 0.8 * len(row_labels) + 1.8))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(col_labels)), col_labels)
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "black" if image.norm(value) > 0.5 else "white"  # readable on viridis' bright end
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=9)
    fig.colorbar(image, ax=ax, label="avg mAP (%)")
    save_png(fig, path, dpi=120)


def plot_curves(
    path: Path,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float | None]]],
    xlabel: str,
    ylabel: str,
    title: str,
) -> None:
    """One line per curve ``name -> (x, mean, std)``, with ±std error bars where a std exists."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (x, mean, std) in curves.items():
        err = [0.0 if s is None else s for s in std]
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    save_png(fig, path, dpi=120)
