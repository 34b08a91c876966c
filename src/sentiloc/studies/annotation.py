"""``sentiloc study annotation``: does the annotate loop pay? Clicks spent against avg mAP, with a simulated annotator.

A simulated dataset knows every training video's true segments (``videosenti_gt.json``). A
simulated annotator works through the training videos in rounds of ``per_round`` videos:

* it **clicks** each true segment once, at a seeded uniform time inside it (one click = one unit
  of cost);
* shown a **suggestion** (``sentiloc annotate --checkpoint``, :mod:`sentiloc.apps.annotate.suggest`),
  it accepts it when it lies inside a true segment of its class (the suggestion becomes that
  segment's label, and the segment needs no click) and rejects it otherwise (no label, no cost).

Four strategies are compared; the last one is the app's loop, the middle two take it apart:

* ``in_order``: the videos in the order of ``split_train.txt``, no model help;
* ``uncertain_order``: after the first round, the remaining videos ordered by the last round's
  model's uncertainty (mean binary entropy of its CAS, most uncertain first), no suggestions;
* ``suggest_in_order``: the videos in split order, each with the last round's model's suggestions;
* ``suggest``: both, uncertainty order and suggestions (what ``sentiloc annotate --checkpoint`` does).

The CAS is the track the model cuts its detections from
(:func:`~sentiloc.apps.annotate.suggest.model_track`). After every round a model is trained from
scratch on the videos annotated so far (their labels as the point file; the test split unchanged)
and scored on the test split. ``results.csv`` has one row per seed x strategy x round (clicks
spent, suggestions accepted and rejected, the annotator's decisions = clicks + accepted + rejected,
avg mAP), ``curve.png`` avg mAP against clicks and against decisions (mean ± std over seeds),
``table.md`` the means, each strategy's avg mAP minus ``in_order``'s at the same cost, and the cost
each strategy spends to reach ``in_order``'s avg mAP as a fraction of ``in_order``'s (seed by seed).

A round is trained only when no finished round of the same seed and number (the strategy's own,
or another strategy's) has the same labels and config; a round is finished when its test
predictions are written. So the first round, the same for every strategy (the first videos of
the split, no model yet), is trained once; a strategy whose round came out the same as another's
(no suggestion shown, say) reuses it; a killed study continues where it stopped; and a strategy
or seed added later trains only its own rounds.
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

from sentiloc.apps.annotate.suggest import ModelTrack, model_track, suggestions, uncertainty
from sentiloc.apps.localize import Localizer
from sentiloc.apps.predict import predict_split
from sentiloc.apps.train import stored_config, train
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
from sentiloc.evaluation import evaluate_detection, load_ground_truth, load_predictions
from sentiloc.studies.matrix import config_fingerprint, csv_text, say


@dataclass(frozen=True)
class Strategy:
    """How the simulated annotator picks each round's videos, and whether it sees the last model's suggestions."""

    by_uncertainty: bool
    suggest: bool

    @property
    def needs_model(self) -> bool:
        return self.by_uncertainty or self.suggest


#: The strategies, in the order they are run, tabled and plotted (see the module docstring).
STRATEGIES = {
    "in_order": Strategy(by_uncertainty=False, suggest=False),
    "uncertain_order": Strategy(by_uncertainty=True, suggest=False),
    "suggest_in_order": Strategy(by_uncertainty=False, suggest=True),
    "suggest": Strategy(by_uncertainty=True, suggest=True),
}
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
    atomic_write_text(folder / layout.POINT_FILE, point_file_text(labels))
    return folder


def point_file_text(labels: Labels) -> str:
    """``labels`` as a TSL-300 point file (``point_gaussian/point_labels.csv``), one row per label."""
    order = sorted(layout.CLASS_NAMES)
    rows = [",".join(layout.POINT_COLUMNS)] + [f"{label},{order.index(label)},{frame},{frame},{video},{frame}"
                                               for video, points in labels.points.items() for frame, label in points]
    return "\n".join(rows) + "\n"


def test_avg_map(data: Path, predictions: Mapping[str, Any]) -> float:
    """avg mAP (%) of ActivityNet-style ``predictions`` on the test split of ``data``."""
    return 100 * evaluate_detection(load_ground_truth(data / layout.GT_FILE), predictions, subset="test").average_mAP


def finished_round(folder: Path, labels: Labels, config: Mapping[str, Any]) -> bool:
    """Whether the round in ``folder`` was trained on these ``labels`` with this ``config`` and predicted the test split."""
    run, points = folder / "run", folder / "data" / layout.POINT_FILE
    if not (run / "test.json").is_file() or not points.is_file():
        return False
    stored = stored_config(run)
    return (points.read_text(encoding="utf-8") == point_file_text(labels) and stored is not None
            and config_fingerprint(stored) == config_fingerprint(config))


def trained_round(data: Path, seed_dir: Path, name: str, round_number: int, labels: Labels,
                  config: Mapping[str, Any], plan: StudyPlan, trained: set[Path]) -> Path:
    """The folder of a model trained on ``labels``, with its test predictions: a finished round of the same
    seed and number whose labels and config match (strategy ``name``'s own first, then the others'), else
    ``name``'s, trained from scratch. With ``plan.overwrite`` only rounds in ``trained`` (this call's) count
    as finished; a trained round is added to it."""
    folders = list(dict.fromkeys(seed_dir / other / f"round{round_number}" for other in (name, *STRATEGIES)))
    for folder in folders:
        if (folder in trained or not plan.overwrite) and finished_round(folder, labels, config):
            return folder
    folder, run = folders[0], folders[0] / "run"
    round_data = round_dataset(data, folder / "data", labels)
    train(dict(config), round_data, run, overwrite=True, device=plan.device, progress=False)
    predict_split(run / "best.pt", round_data, "test", run / "test.json", overwrite=True, device=plan.device)
    trained.add(folder)
    return folder


def model_tracks(checkpoint: Path, data: Path, videos: Sequence[str], fps: Mapping[str, float],
                 device: str, source: str | None = None) -> dict[str, ModelTrack]:
    """The checkpoint's tracks (``p``, ``n`` columns; what ``sentiloc annotate`` suggests from, or the
    ``postprocess.cas_source`` named by ``source``) on the training features of ``videos``."""
    localizer = Localizer(checkpoint, device)
    columns = [list(localizer.trained.classes).index(c) for c in ("p", "n")]
    names = [spec.name for spec in localizer.trained.exp.data.modalities]
    tracks = {}
    for video in videos:
        streams = {name: load_npy(layout.feature_path(data, "train", name, video), data) for name in names}
        tracks[video] = model_track(localizer, localizer.features(streams, fps[video], video).output, columns, source)
    return tracks


@dataclass(frozen=True)
class StudyPlan:
    """The study's settings: rounds of ``per_round`` videos, suggestion ``threshold``, strategies, seeds,
    device, and whether finished rounds are trained again (``overwrite``)."""

    rounds: int = 4
    per_round: int = 6
    threshold: float = 0.5
    window_s: float = 2.0
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    seeds: tuple[int, ...] = (1, 2, 3)
    device: str = "cpu"
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.rounds < 2 or self.per_round < 1:
            raise SentilocError(f"--rounds {self.rounds} / --per-round {self.per_round}: at least 2 rounds of 1 video")
        if not 0 < self.threshold < 1:
            raise SentilocError(f"--threshold {self.threshold}: a CAS level between 0 and 1")
        unknown = [name for name in self.strategies if name not in STRATEGIES]
        if unknown or not self.strategies:
            raise SentilocError(f"--strategies {','.join(self.strategies)}: choose from {', '.join(STRATEGIES)}")


def run_strategy(data: Path, out: Path, config: Mapping[str, Any], plan: StudyPlan, name: str, seed: int,
                 trained: set[Path], say_line: Callable[[str], None]) -> list[dict]:
    """One seed of strategy ``name``, round by round: its rows of ``results.csv``. ``trained`` collects the
    round folders trained in this call (the shared first round is trained once even with ``overwrite``)."""
    strategy = STRATEGIES[name]
    infos = read_video_infos(data, ["train"])
    segments = read_segments(data / layout.DENSE_GT_FILE)
    remaining = read_split(data, "train")
    fps = {v: infos[v].fps for v in remaining}
    config = apply_overrides(dict(config), [f"train.seed={seed}"])
    rng = np.random.default_rng(seed)
    labels, rows, tracks = Labels(), [], {}
    for round_index in range(plan.rounds):
        ranked = sorted(remaining, key=lambda v: -uncertainty(tracks[v])) if strategy.by_uncertainty and tracks \
            else remaining
        batch = ranked[: plan.per_round]
        if not batch:
            break
        remaining = [v for v in remaining if v not in batch]
        for video in batch:
            proposed = [(s.label, s.time_s) for s in suggestions(tracks[video], ("p", "n"), [], [], plan.threshold,
                                                                 plan.window_s)] if strategy.suggest and tracks else []
            annotate_video(labels, video, fps[video], segments.get(video, []), proposed, rng)
        folder = trained_round(data, out / f"s{seed}", name, round_index + 1, labels, config, plan, trained)
        score = test_avg_map(data, load_predictions(folder / "run" / "test.json"))
        rows.append({"seed": seed, "strategy": name, "round": round_index + 1, "videos": len(labels.points),
                     "clicks": labels.clicks, "accepted": labels.accepted, "rejected": labels.rejected,
                     "decisions": labels.clicks + labels.accepted + labels.rejected, "avg_mAP": round(score, 2)})
        say_line(f"seed {seed} {name} round {round_index + 1}: {len(labels.points)} videos, {labels.clicks} clicks, "
                 f"{labels.accepted} accepted, {labels.rejected} rejected -> avg mAP {score:.2f}")
        if strategy.needs_model and remaining and round_index + 1 < plan.rounds:
            tracks = model_tracks(folder / "run" / "best.pt", data, remaining, fps, plan.device)
    return rows


def run_annotation_study(data: Path, out: Path, config: Mapping[str, Any], plan: StudyPlan,
                         say_line: Callable[[str], None] = say) -> list[dict]:
    """Every seed x strategy (see the module docstring); writes ``results.csv``, ``table.md`` and ``curve.png``."""
    data, out = Path(data), Path(out)
    if not (data / layout.DENSE_GT_FILE).is_file():
        raise SentilocError(f"{data}: no {layout.DENSE_GT_FILE}; the simulated annotator needs the true segments "
                            "(use a dataset from `sentiloc simulate`)")
    rows: list[dict] = []
    trained: set[Path] = set()
    for seed in plan.seeds:
        for name in plan.strategies:
            rows += run_strategy(data, out, config, plan, name, seed, trained, say_line)
            atomic_write_text(out / "results.csv", csv_text(rows))
    atomic_write_text(out / "table.md", table_text(rows, plan.threshold))
    plot_curves(out / "curve.png", rows, plan.threshold)
    return rows


def table_text(rows: Sequence[Mapping[str, Any]], threshold: float) -> str:
    """Mean costs and avg mAP (± sample std over seeds) per strategy and round, then the seed-by-seed comparisons
    with ``in_order`` (``threshold``: the suggestions' track level, named in the heading)."""
    seeds = len({r["seed"] for r in rows})
    lines = [f"Suggestions where the model's track reaches {threshold:g}; {seeds} seed{'s' if seeds > 1 else ''}.", "",
             "| strategy | round | videos | clicks | accepted | rejected | decisions | avg mAP |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for strategy in STRATEGIES:
        for round_index in sorted({r["round"] for r in rows}):
            sel = [r for r in rows if r["strategy"] == strategy and r["round"] == round_index]
            if not sel:
                continue
            maps = np.array([r["avg_mAP"] for r in sel])
            spread = f" ± {maps.std(ddof=1):.2f}" if len(maps) > 1 else ""
            costs = " | ".join(f"{np.mean([r[k] for r in sel]):.1f}" for k in ("clicks", "accepted", "rejected",
                                                                              "decisions"))
            lines.append(f"| {strategy} | {round_index} | {np.mean([r['videos'] for r in sel]):.0f} | {costs} | "
                         f"{maps.mean():.2f}{spread} |")
    return ("\n".join(lines) + "\n" + "".join(paired_text(rows, cost) for cost in ("clicks", "decisions"))
            + "".join(reach_text(rows, cost) for cost in ("clicks", "decisions")))


def seed_curve(rows: Sequence[Mapping[str, Any]], seed: int, strategy: str,
               cost: str) -> tuple[np.ndarray, np.ndarray]:
    """One seed's ``strategy`` after each of its rounds, in round order: the ``cost`` spent (``clicks`` or
    ``decisions``) and the avg mAP (%), ``(R,)`` float64 each."""
    sel = sorted((r for r in rows if r["seed"] == seed and r["strategy"] == strategy), key=lambda r: r["round"])
    return (np.array([r[cost] for r in sel], dtype=np.float64),
            np.array([r["avg_mAP"] for r in sel], dtype=np.float64))


def compared_strategies(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The strategies in ``rows`` other than ``in_order``, in :data:`STRATEGIES` order."""
    return [name for name in STRATEGIES if name != "in_order" and any(r["strategy"] == name for r in rows)]


def map_at_cost(rows: Sequence[Mapping[str, Any]], seed: int, strategy: str, cost: str, budget: float) -> float | None:
    """One seed's avg mAP of ``strategy`` after spending ``budget`` of ``cost`` (``clicks`` or ``decisions``),
    interpolated linearly between its rounds; None outside the costs its rounds reached."""
    spent, maps = seed_curve(rows, seed, strategy, cost)
    if not len(spent) or not spent[0] <= budget <= spent[-1]:
        return None
    return float(np.interp(budget, spent, maps))


def paired_text(rows: Sequence[Mapping[str, Any]], cost: str) -> str:
    """Each strategy's avg mAP minus ``in_order``'s at the same ``cost``, seed by seed: mean ± sample std,
    and how many seeds it is ahead in. The budgets are ``in_order``'s mean cost after each round but the first."""
    base = [r for r in rows if r["strategy"] == "in_order" and r["round"] > 1]
    budgets = sorted({round(float(np.mean([r[cost] for r in base if r["round"] == k])), 1) for k in
                      {r["round"] for r in base}})
    others = compared_strategies(rows)
    if not budgets or not others:
        return ""
    lines = ["", f"avg mAP minus in_order's after the same {cost} (per seed, interpolated between rounds; "
             "mean ± std, seeds ahead / seeds compared):", "",
             f"| strategy | {' | '.join(f'{b:g} {cost}' for b in budgets)} |", "|---|" + "---:|" * len(budgets)]
    seeds = sorted({r["seed"] for r in rows})
    for name in others:
        cells = []
        for budget in budgets:
            pairs = [(map_at_cost(rows, s, name, cost, budget), map_at_cost(rows, s, "in_order", cost, budget))
                     for s in seeds]
            diffs = np.array([a - b for a, b in pairs if a is not None and b is not None])
            spread = f" ± {diffs.std(ddof=1):.2f}" if len(diffs) > 1 else ""
            cells.append(f"{diffs.mean():+.2f}{spread} ({int((diffs > 0).sum())}/{len(diffs)})" if len(diffs) else "–")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def cost_to_reach(rows: Sequence[Mapping[str, Any]], seed: int, strategy: str, cost: str,
                  target_map: float) -> float | None:
    """The ``cost`` (``clicks`` or ``decisions``) after which one seed's ``strategy`` first reaches ``target_map``
    avg mAP, interpolated linearly between its rounds; None if no round reaches it."""
    spent, maps = seed_curve(rows, seed, strategy, cost)
    reached = np.flatnonzero(maps >= target_map)
    if not len(reached):
        return None
    k = int(reached[0])
    if k == 0:
        return float(spent[0])
    fraction = (target_map - maps[k - 1]) / (maps[k] - maps[k - 1])
    return float(spent[k - 1] + fraction * (spent[k] - spent[k - 1]))


def reach_text(rows: Sequence[Mapping[str, Any]], cost: str) -> str:
    """What each strategy spends to reach ``in_order``'s avg mAP after each round but the first, as a fraction of
    what ``in_order`` spent to first reach it (an earlier round of its own may have), seed by seed: the median over
    seeds (a seed whose rounds never reach it ranks above every seed that does; "–" when that is the median), the
    range over the seeds that reach it, and how many do."""
    rounds = sorted({r["round"] for r in rows if r["strategy"] == "in_order" and r["round"] > 1})
    others = compared_strategies(rows)
    if not rounds or not others:
        return ""
    base = {(r["seed"], r["round"]): r for r in rows if r["strategy"] == "in_order"}
    lines = ["", f"{cost.capitalize()} spent to reach in_order's avg mAP after a round, as a fraction of the {cost} "
             "in_order spent to first reach it (per seed, interpolated between rounds; median over seeds, range, "
             "seeds that reach it):", "",
             f"| strategy | {' | '.join(f'in_order round {k}' for k in rounds)} |", "|---|" + "---:|" * len(rounds)]
    for name in others:
        cells = []
        for k in rounds:
            seeds = [s for (s, kk) in base if kk == k and any(r["seed"] == s and r["strategy"] == name for r in rows)]
            targets = [base[s, k]["avg_mAP"] for s in seeds]
            spent = [cost_to_reach(rows, s, name, cost, target) for s, target in zip(seeds, targets)]
            own = [cost_to_reach(rows, s, "in_order", cost, target) for s, target in zip(seeds, targets)]
            ratios = np.array([np.inf if c is None else c / o for c, o in zip(spent, own)])
            finite = ratios[np.isfinite(ratios)]
            if not len(ratios):
                cells.append("–")
                continue
            median = np.median(ratios)
            span = f", {finite.min():.2f}–{finite.max():.2f}" if len(finite) > 1 else ""
            cells.append(f"{'–' if np.isinf(median) else f'{median:.2f}'}{span} ({len(finite)}/{len(ratios)})")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


#: Line colour and marker of each strategy in ``curve.png``.
STRATEGY_STYLES = {"in_order": ("orange", "o"), "uncertain_order": ("reddish_purple", "s"),
                   "suggest_in_order": ("bluish_green", "^"), "suggest": ("blue", "D")}
#: The x axes of ``curve.png``: the column of ``results.csv`` and its label.
COST_AXES = (("clicks", "clicks spent by the annotator"),
             ("decisions", "decisions made (clicks + suggestions accepted or rejected)"))


def plot_curves(path: Path, rows: Sequence[Mapping[str, Any]], threshold: float) -> Path:
    """avg mAP against clicks (left) and against decisions (right), one line per strategy (mean over seeds,
    ± sample std as error bars); ``threshold``, the suggestions' track level, is named in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sentiloc.viz.figures import save_png
    from sentiloc.viz.segments import OKABE_ITO

    fig, axes = plt.subplots(1, len(COST_AXES), figsize=(11, 4.2), sharey=True)
    for ax, (cost, label) in zip(axes, COST_AXES):
        for strategy, (colour, marker) in STRATEGY_STYLES.items():
            rounds = sorted({r["round"] for r in rows if r["strategy"] == strategy})
            if not rounds:
                continue
            sel = [[r for r in rows if r["strategy"] == strategy and r["round"] == k] for k in rounds]
            maps = [[r["avg_mAP"] for r in group] for group in sel]
            ax.errorbar([np.mean([r[cost] for r in group]) for group in sel], [np.mean(m) for m in maps],
                        yerr=[np.std(m, ddof=1) if len(m) > 1 else 0 for m in maps], color=OKABE_ITO[colour],
                        marker=marker, capsize=3, label=strategy.replace("_", " "))
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("avg mAP on the test split (%)")
    axes[0].legend()
    seeds = len({r["seed"] for r in rows})
    fig.suptitle(f"Simulated annotator, suggestions at track ≥ {threshold:g}; mean ± std over {seeds} "
                 f"seed{'s' if seeds > 1 else ''}", fontsize=11)
    fig.tight_layout()
    return save_png(fig, path, tight=False)
