"""``sentiloc study annotation``: does the annotate loop pay? Clicks spent against avg mAP, with a simulated annotator.

A simulated dataset knows every training video's true segments (``videosenti_gt.json``). A
simulated annotator works through the training videos in rounds of ``per_round`` videos:

* it **clicks** each true segment once, at a seeded uniform time inside it (one click = one unit
  of cost);
* shown a **suggestion** (``sentiloc annotate --checkpoint``, :mod:`sentiloc.apps.annotate.suggest`),
  it accepts it when it lies inside a true segment of its class (the suggestion becomes that
  segment's label, and the segment needs no click) and rejects it otherwise (no label, no cost).

Two strategies are compared:

* ``in_order``: the videos in the order of ``split_train.txt``, no model help;
* ``suggest``: the first round as ``in_order``; then the remaining videos ordered by the last
  round's model's uncertainty (mean binary entropy of its CAS, most uncertain first), each with
  that model's suggestions.

After every round a model is trained from scratch on the videos annotated so far (their labels
as the point file; the test split unchanged) and scored on the test split. ``results.csv`` has one
row per seed x strategy x round (clicks spent, suggestions accepted and rejected, avg mAP),
``curve.png`` avg mAP against clicks (mean ± std over seeds), ``table.md`` the means. The study is
not resumable: a rerun trains every round again.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentiloc.apps.annotate.suggest import ModelTrack, suggestions, uncertainty
from sentiloc.apps.localize import Localizer
from sentiloc.apps.predict import predict_split
from sentiloc.apps.train import train
from sentiloc.core.config import apply_overrides
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_text, load_npy
from sentiloc.data import layout
from sentiloc.data.annotations import (
    Segment,
    read_segments,
    read_split,
    read_video_infos,
)
from sentiloc.evaluation import evaluate_detection, load_ground_truth
from sentiloc.studies.matrix import csv_text, say

STRATEGIES = ("in_order", "suggest")
#: Files of the dataset every round's dataset shares (the splits and point file are the round's own).
SHARED_FILES = (layout.FPS_FILE, layout.DURATION_FILE, layout.GT_FILE, layout.DENSE_GT_FILE, layout.TEST_DURATION_FILE)


@dataclass
class Labels:
    """What the simulated annotator has produced so far: ``{video: [(frame, class)]}`` and its costs."""

    points: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    clicks: int = 0
    accepted: int = 0
    rejected: int = 0


def click_time_s(segment: Segment, rng: np.random.Generator) -> float:
    """A seeded uniform time inside ``segment`` (s)."""
    return float(rng.uniform(segment.start_s, segment.end_s))


def review(segments: Sequence[Segment], proposed: Sequence[tuple[str, float]]) -> tuple[dict[int, float], int]:
    """The simulated annotator's verdict on suggestions ``(label, time_s)``: ``{segment index: time_s}`` of
    the accepted ones (the first suggestion inside a segment of its class labels it) and the number rejected.

    Segments ``[(p, 2-6 s), (n, 10-12 s)]``, suggestions ``[(p, 3), (p, 11), (n, 11.5)]``: ``(p, 3)``
    lies in segment 0, of its class (accepted); ``(p, 11)`` in a segment of the other class
    (rejected); ``(n, 11.5)`` in segment 1 -> ``({0: 3.0, 1: 11.5}, 1)``.
    """
    starts = np.array([seg.start_s for seg in segments])
    ends = np.array([seg.end_s for seg in segments])
    classes = np.array([seg.label for seg in segments])
    accepted: dict[int, float] = {}
    rejected = 0
    for label, time_s in proposed:
        inside = np.flatnonzero((starts <= time_s) & (time_s < ends) & (classes == label))
        if len(inside):
            accepted.setdefault(int(inside[0]), time_s)
        else:
            rejected += 1
    return accepted, rejected


def annotate_video(labels: Labels, video: str, fps: float, segments: Sequence[Segment],
                   proposed: Sequence[tuple[str, float]], rng: np.random.Generator) -> None:
    """Add one video's labels: accepted suggestions where they hit a segment, a click for every other segment."""
    accepted, rejected = review(segments, proposed) if proposed and segments else ({}, len(proposed))
    points = []
    for index, seg in enumerate(segments):
        time_s = accepted.get(index)
        if time_s is None:
            time_s = click_time_s(seg, rng)
            labels.clicks += 1
        points.append((math.floor(time_s * fps), seg.label))
    labels.points[video] = points
    labels.accepted += len(accepted)
    labels.rejected += rejected


def round_dataset(data: Path, folder: Path, labels: Labels) -> Path:
    """A dataset in ``folder`` whose training split is the annotated videos: the shared files copied,
    the features hard-linked, the labels as its point file."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in SHARED_FILES:
        if (data / name).is_file():
            shutil.copyfile(data / name, folder / name)
    shutil.copyfile(data / layout.SPLIT_FILES["test"], folder / layout.SPLIT_FILES["test"])
    atomic_write_text(folder / layout.SPLIT_FILES["train"], "".join(f"{v}\n" for v in labels.points))
    shutil.copytree(data / layout.FEATURES_DIR, folder / layout.FEATURES_DIR, copy_function=os.link)
    order = sorted(layout.CLASS_NAMES)
    rows = [",".join(layout.POINT_COLUMNS)] + [f"{label},{order.index(label)},{frame},{frame},{video},{frame}"
                                               for video, points in labels.points.items() for frame, label in points]
    atomic_write_text(folder / layout.POINT_FILE, "\n".join(rows) + "\n")
    return folder


def train_and_score(config: Mapping[str, Any], data: Path, run: Path, device: str) -> float:
    """Train ``config`` on ``data`` into ``run``; the test split's avg mAP (%)."""
    train(dict(config), data, run, overwrite=True, device=device, progress=False)
    results = predict_split(run / "best.pt", data, "test", run / "test.json", overwrite=True, device=device)
    return 100 * evaluate_detection(load_ground_truth(data / layout.GT_FILE), results, subset="test").average_mAP


def model_tracks(checkpoint: Path, data: Path, videos: Sequence[str], fps: Mapping[str, float],
                 device: str) -> dict[str, ModelTrack]:
    """The checkpoint's CAS (``p``, ``n`` columns) and ``W_sent`` on the training features of ``videos``."""
    localizer = Localizer(checkpoint, device)
    columns = [list(localizer.trained.classes).index(c) for c in ("p", "n")]
    names = [spec.name for spec in localizer.trained.exp.data.modalities]
    tracks = {}
    for video in videos:
        streams = {name: load_npy(layout.feature_path(data, "train", name, video), data) for name in names}
        output = localizer.features(streams, fps[video], video).output
        tracks[video] = ModelTrack(fps[video], output.cas[:, columns], output.w_sent)
    return tracks


@dataclass(frozen=True)
class StudyPlan:
    """The study's settings: rounds of ``per_round`` videos, suggestion ``threshold``, seeds, device."""

    rounds: int = 4
    per_round: int = 6
    threshold: float = 0.5
    window_s: float = 2.0
    seeds: tuple[int, ...] = (1, 2, 3)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.rounds < 2 or self.per_round < 1:
            raise SentilocError(f"--rounds {self.rounds} / --per-round {self.per_round}: at least 2 rounds of 1 video")
        if not 0 < self.threshold < 1:
            raise SentilocError(f"--threshold {self.threshold}: a CAS level between 0 and 1")


def run_strategy(data: Path, out: Path, config: Mapping[str, Any], plan: StudyPlan, strategy: str, seed: int,
                 first: tuple[Labels, float] | None, say_line: Callable[[str], None]) -> tuple[list[dict], tuple]:
    """One seed of one strategy, round by round; its rows and its first round ``(labels, avg mAP)``.

    ``first`` is the first round of another strategy with the same seed: identical (same videos, no
    model yet), so it is reused instead of trained again.
    """
    infos = read_video_infos(data, ["train"])
    segments = read_segments(data / layout.DENSE_GT_FILE)
    remaining = read_split(data, "train")
    fps = {v: infos[v].fps for v in remaining}
    rng = np.random.default_rng(seed)
    labels, rows, tracks = Labels(), [], {}
    for round_index in range(plan.rounds):
        ranked = sorted(remaining, key=lambda v: -uncertainty(tracks[v])) if tracks else remaining
        batch = ranked[: plan.per_round]
        remaining = [v for v in remaining if v not in batch]
        if not batch:
            break
        run = out / f"s{seed}" / strategy / f"round{round_index + 1}"
        if round_index == 0 and first is not None:
            labels = Labels(dict(first[0].points), first[0].clicks)
            score, run = first[1], out / f"s{seed}" / STRATEGIES[0] / "round1"
        else:
            for video in batch:
                proposed = [(s.label, s.time_s) for s in suggestions(tracks[video], ("p", "n"), [], [], plan.threshold,
                                                                     plan.window_s)] if tracks else []
                annotate_video(labels, video, fps[video], segments.get(video, []), proposed, rng)
            score = train_and_score(apply_overrides(dict(config), [f"train.seed={seed}"]),
                                    round_dataset(data, run / "data", labels), run / "run", plan.device)
        if round_index == 0:
            first = (Labels(dict(labels.points), labels.clicks), score)
        rows.append({"seed": seed, "strategy": strategy, "round": round_index + 1, "videos": len(labels.points),
                     "clicks": labels.clicks, "accepted": labels.accepted, "rejected": labels.rejected,
                     "avg_mAP": round(score, 2)})
        say_line(f"seed {seed} {strategy} round {round_index + 1}: {len(labels.points)} videos, {labels.clicks} clicks, "
                 f"{labels.accepted} accepted, {labels.rejected} rejected -> avg mAP {score:.2f}")
        if strategy == "suggest" and remaining and round_index + 1 < plan.rounds:
            tracks = model_tracks(run / "run" / "best.pt", data, remaining, fps, plan.device)
    return rows, first


def run_annotation_study(data: Path, out: Path, config: Mapping[str, Any], plan: StudyPlan,
                         say_line: Callable[[str], None] = say) -> list[dict]:
    """Every seed x strategy (see the module docstring); writes ``results.csv``, ``table.md`` and ``curve.png``."""
    data, out = Path(data), Path(out)
    if not (data / layout.DENSE_GT_FILE).is_file():
        raise SentilocError(f"{data}: no {layout.DENSE_GT_FILE}; the simulated annotator needs the true segments "
                            "(use a dataset from `sentiloc simulate`)")
    rows: list[dict] = []
    for seed in plan.seeds:
        in_order, first = run_strategy(data, out, config, plan, STRATEGIES[0], seed, None, say_line)
        rows += in_order + run_strategy(data, out, config, plan, STRATEGIES[1], seed, first, say_line)[0]
        atomic_write_text(out / "results.csv", csv_text(rows))
    atomic_write_text(out / "table.md", table_text(rows))
    plot_curves(out / "curve.png", rows)
    return rows


def table_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Mean clicks and avg mAP (± sample std over seeds) per strategy and round."""
    lines = ["| strategy | round | videos | clicks | accepted | rejected | avg mAP |", "|---|---:|---:|---:|---:|---:|---:|"]
    for strategy in STRATEGIES:
        for round_index in sorted({r["round"] for r in rows}):
            sel = [r for r in rows if r["strategy"] == strategy and r["round"] == round_index]
            if not sel:
                continue
            maps = np.array([r["avg_mAP"] for r in sel])
            spread = f" ± {maps.std(ddof=1):.2f}" if len(maps) > 1 else ""
            lines.append(f"| {strategy} | {round_index} | {np.mean([r['videos'] for r in sel]):.0f} | "
                         f"{np.mean([r['clicks'] for r in sel]):.1f} | {np.mean([r['accepted'] for r in sel]):.1f} | "
                         f"{np.mean([r['rejected'] for r in sel]):.1f} | {maps.mean():.2f}{spread} |")
    return "\n".join(lines) + "\n"


def plot_curves(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """avg mAP against clicks spent, one line per strategy (mean over seeds, ± std as error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sentiloc.viz.figures import save_png
    from sentiloc.viz.segments import OKABE_ITO

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for strategy, colour in zip(STRATEGIES, (OKABE_ITO["orange"], OKABE_ITO["blue"])):
        rounds = sorted({r["round"] for r in rows if r["strategy"] == strategy})
        clicks = [np.mean([r["clicks"] for r in rows if r["strategy"] == strategy and r["round"] == k]) for k in rounds]
        maps = [[r["avg_mAP"] for r in rows if r["strategy"] == strategy and r["round"] == k] for k in rounds]
        ax.errorbar(clicks, [np.mean(m) for m in maps], yerr=[np.std(m, ddof=1) if len(m) > 1 else 0 for m in maps],
                    color=colour, marker="o", capsize=3, label=strategy.replace("_", " "))
    ax.set_xlabel("clicks spent by the annotator")
    ax.set_ylabel("avg mAP on the test split (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_png(fig, path, tight=False)
