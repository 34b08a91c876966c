"""Timeline plots: what a model saw and said about one video, on a seconds axis."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sentiloc.core.io import atomic_write_bytes  # noqa: E402
from sentiloc.core.timebase import snippet_to_seconds  # noqa: E402

CLASS_COLOURS = {"p": "tab:green", "n": "tab:red"}


def _colour(label: str) -> str:
    return CLASS_COLOURS.get(label, "tab:blue")


def _segment_lane(ax: plt.Axes, segments: Sequence[Mapping], y: float, height: float) -> None:
    for seg in segments:
        start, end = (float(x) for x in seg["segment"])
        alpha = 0.35 + 0.65 * min(max(float(seg.get("score", 1.0)), 0.0), 1.0) if "score" in seg else 0.9
        ax.broken_barh([(start, end - start)], (y, height), color=_colour(seg["label"]), alpha=alpha)


def plot_timeline(
    path: Path,
    video_id: str,
    fps: float,
    cas: np.ndarray,
    class_names: Sequence[str],
    w_sent: np.ndarray | None = None,
    global_cas: np.ndarray | None = None,
    ground_truth: Sequence[Mapping] = (),
    predictions: Sequence[Mapping] = (),
    clicks_s: Sequence[tuple[float, str]] = (),
    top_k: int = 10,
) -> Path:
    """Save a PNG timeline: CAS and Global CAS per class, W_sent, GT, top predictions, clicks.

    Args:
        cas: ``(T, C + 1)`` sigmoid scores; the class tracks drawn are y_c·(1 − y_∅) as used for
            proposals, plus the non-sentiment column.
        predictions: ActivityNet entries; only the ``top_k`` highest-scoring are drawn to keep
            the figure readable.
    """
    t = snippet_to_seconds(np.arange(len(cas)) + 0.5, fps)
    num_classes = len(class_names)
    fig, (ax_cas, ax_seg) = plt.subplots(
        2, 1, figsize=(12, 4.8), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}, constrained_layout=True
    )
    for c, name in enumerate(class_names):
        fused = cas[:, c] * (1.0 - cas[:, num_classes])
        ax_cas.plot(t, fused, color=_colour(name), lw=1.3, label=f"CAS {name}")
        if global_cas is not None:
            ax_cas.plot(t, global_cas[:, c], color=_colour(name), lw=1.0, ls="--", label=f"Global CAS {name}")
    ax_cas.plot(t, cas[:, num_classes], color="0.55", lw=0.8, label="non-sentiment")
    if w_sent is not None:
        ax_cas.fill_between(t, 0, w_sent, color="tab:purple", alpha=0.15, label="W_sent")
    for time_s, label in clicks_s:
        ax_cas.axvline(time_s, color=_colour(label), lw=0.8, ls=":")
    ax_cas.set_ylim(0, 1.02)
    ax_cas.set_ylabel("score")
    ax_cas.legend(loc="upper right", ncol=4, fontsize=7, framealpha=0.8)
    ax_cas.set_title(video_id, fontsize=10)
    top = sorted(predictions, key=lambda p: -float(p["score"]))[:top_k]
    _segment_lane(ax_seg, ground_truth, 1.1, 0.8)
    _segment_lane(ax_seg, top, 0.1, 0.8)
    for time_s, label in clicks_s:
        ax_seg.plot([time_s], [1.95], marker="v", color=_colour(label), ms=5)
    ax_seg.set_yticks([0.5, 1.5], [f"predicted (top {top_k})", "ground truth"])
    ax_seg.set_ylim(0, 2.1)
    ax_seg.set_xlabel("time (s)")
    ax_seg.set_xlim(0, float(snippet_to_seconds(len(cas), fps)))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
