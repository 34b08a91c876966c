"""``sentiloc benchmark sensitivity``: how accuracy moves with one knob, as a CSV and a plot.

Three studies of one base config (FSENet-point by default), each point trained and evaluated by
the accuracy matrix's run machinery (:mod:`sentiloc.studies.matrix`), so studies are resumable
and share its folder layout:

* ``bspg``: the BSPG window w and boundary threshold β (docs/methods.md §2.5); a heatmap.
* ``face``: the share of face-missing test snippets, for a model trained without and with face
  dropout; each model is trained once and predicted once per share. Faces can only be taken
  away, so a share is a floor per video and the plot's x axis is the share actually reached.
* ``jitter``: training clicks moved by up to ±j seconds, each seed with its own jitter draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sentiloc.apps.train import check_config
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_text
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import FaceMissingDataset
from sentiloc.studies.matrix import (
    MATRIX_EPOCHS,
    RunSpec,
    csv_text,
    markdown_table,
    plan_runs,
    record_row,
    resolve_config,
    run_matrix,
    say,
    summarize,
)
from sentiloc.viz.sensitivity import plot_curves, plot_heatmap

STUDIES = ("bspg", "face", "jitter")

#: Config key behind each study parameter.
PARAM_KEYS = {
    "window": "loss.pseudo.window",
    "beta": "loss.pseudo.beta",
    "face_dropout": "train.face_dropout",
    "click_jitter_s": "data.click_jitter_s",
}

BSPG_WINDOWS = (3, 5, 7, 9, 11)
BSPG_BETAS = (0.4, 0.6, 0.8)
FACE_DROPOUTS = (0.0, 0.5)
FACE_MISSING = (0.0, 0.25, 0.5, 0.75)
JITTER_S = (0.0, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class StudyPlan:
    """The trained points of a study, the test conditions of each, and which keys follow the seed."""

    points: list[dict[str, float]]
    face_missing: tuple[float, ...] = (0.0,)
    seed_keys: tuple[str, ...] = ("train.seed",)


def study_plan(study: str, quick: bool = False) -> StudyPlan:
    """The grid of ``study``; ``quick`` keeps two points of it (a smoke test, not a measurement)."""
    if study == "bspg":
        grid = [(3, 0.6), (7, 0.6)] if quick else [(w, b) for b in BSPG_BETAS for w in BSPG_WINDOWS]
        return StudyPlan([{"window": w, "beta": b} for w, b in grid])
    if study == "face":
        return StudyPlan([{"face_dropout": d} for d in FACE_DROPOUTS], (0.0, 0.5) if quick else FACE_MISSING)
    if study == "jitter":
        # each seed draws its own jitter, so the spread over seeds includes the annotation noise
        return StudyPlan([{"click_jitter_s": j} for j in ((0.0, 2.0) if quick else JITTER_S)],
                         seed_keys=("train.seed", "data.click_jitter_seed"))
    raise SentilocError(f"--study {study!r}: choose one of {', '.join(STUDIES)}")


#: How each parameter reads in a run name (``bspg_w7_b0.6``, ``face_dropout0.5``, ``jitter_2s``).
PARAM_NAMES = {"window": "w{:g}", "beta": "b{:g}", "face_dropout": "dropout{:g}", "click_jitter_s": "{:g}s"}


def point_label(study: str, params: Mapping[str, float]) -> str:
    """The row name of a study point and, with the seed, its run folder (unique across studies)."""
    return "_".join([study, *(PARAM_NAMES[key].format(value) for key, value in params.items())])


def point_overrides(params: Mapping[str, float]) -> list[str]:
    """``--set`` overrides that put a study point into a config."""
    return [f"{PARAM_KEYS[key]}={value}" for key, value in params.items()]


def check_study_config(study: str, name: str, config: Mapping[str, Any]) -> None:
    """Refuse a config the study cannot perturb, before anything trains."""
    data = check_config(config).data
    if study == "face" and data.face is None:
        raise SentilocError(f"--study face: config {name} reads no face stream (data.face); choose one that does")
    if study == "jitter" and data.supervision != "point":
        raise SentilocError(f"--study jitter: config {name} is {data.supervision}-supervised; clicks need point level")


def face_missing_share(data_root: Path, config: Mapping[str, Any], fraction: float, seed: int) -> float:
    """The share of face-missing test snippets that predicting with ``fraction`` actually sees."""
    cfg = check_config(config).data
    infos = list(read_video_infos(data_root, ("test",)).values())
    dataset = FaceMissingDataset(data_root, infos, cfg, fraction=fraction, seed=seed)
    present = np.concatenate([dataset[i].face_present for i in range(len(dataset))])
    return float(1.0 - present.mean())


def study_rows(
    study: str, done: Sequence[tuple[RunSpec, Mapping[str, Any]]], face_share: Callable[[RunSpec, float], float]
) -> list[dict[str, Any]]:
    """One CSV row per (run, test condition): the point's parameters, seed and metrics (percent)."""
    rows = []
    for spec, record in done:
        row: dict[str, Any] = dict(spec.params)
        if study == "face":
            row["face_missing"] = 100 * record["face_missing"]
            row["face_missing_achieved"] = 100 * face_share(spec, record["face_missing"])
        rows.append({**row, "seed": spec.seed, **record_row(record)})
    return rows


def _axis(values: Sequence[float]) -> list[float]:
    return sorted(set(values))


def plot_study(study: str, rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """The study's figure from its rows (means over seeds)."""
    if study == "bspg":
        summary = summarize(rows, ["window", "beta"], ["avg_mAP"])
        windows, betas = _axis([e["window"] for e in summary]), _axis([e["beta"] for e in summary])
        grid = np.full((len(betas), len(windows)), np.nan)
        for entry in summary:
            grid[betas.index(entry["beta"]), windows.index(entry["window"])] = entry["avg_mAP"]
        plot_heatmap(path, grid, [f"{b:g}" for b in betas], [f"{w:g}" for w in windows],
                     "BSPG window w (snippets)", "BSPG edge score β", "avg mAP (%) over BSPG settings")
        return
    if study == "face":
        summary = summarize(rows, ["face_dropout", "face_missing"], ["avg_mAP", "face_missing_achieved"])
        curves = {}
        for dropout in _axis([e["face_dropout"] for e in summary]):
            line = [e for e in summary if e["face_dropout"] == dropout]
            curves[f"train.face_dropout {dropout:g}"] = (
                [e["face_missing_achieved"] for e in line], [e["avg_mAP"] for e in line], [e["avg_mAP_std"] for e in line]
            )
        plot_curves(path, curves, "face-missing test snippets (%)", "avg mAP (%)", "Robustness to missing faces")
        return
    summary = summarize(rows, ["click_jitter_s"], ["avg_mAP"])
    curve = ([e["click_jitter_s"] for e in summary], [e["avg_mAP"] for e in summary], [e["avg_mAP_std"] for e in summary])
    plot_curves(path, {"clicks": curve}, "click jitter ± j (s)", "avg mAP (%)", "Robustness to click jitter")


def run_sensitivity(
    study: str,
    data_root: Path,
    out: Path,
    config: str = "fsenet_point",
    seeds: Sequence[int] = (1, 2, 3),
    epochs: int = MATRIX_EPOCHS,
    overrides: Sequence[str] = (),
    quick: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    log: Callable[[str], None] = say,
) -> str:
    """Run (or continue) ``study`` into ``out``; write ``<study>.csv`` and ``<study>.png``; return the table."""
    data_root, out = Path(data_root), Path(out)
    plan = study_plan(study, quick)
    entries = [
        (point_label(study, params), resolve_config(config, [*overrides, *point_overrides(params)], epochs), params)
        for params in plan.points
    ]
    check_study_config(study, config, entries[0][1])
    specs = plan_runs(entries, seeds, out / "runs", plan.seed_keys)
    shares: dict[tuple[float, int], float] = {}

    def face_share(spec: RunSpec, fraction: float) -> float:
        key = (fraction, spec.seed)
        if key not in shares:
            shares[key] = face_missing_share(data_root, spec.config, fraction, spec.seed)
        return shares[key]

    def write(done: list[tuple[RunSpec, dict[str, Any]]]) -> None:
        atomic_write_text(out / f"{study}.csv", csv_text(study_rows(study, done, face_share)))

    log(f"sensitivity study {study}: {len(plan.points)} points x {len(seeds)} seeds, {epochs} epochs, into {out}")
    done = run_matrix(specs, data_root, plan.face_missing, overwrite, device, after_each=write, log=log)
    rows = study_rows(study, done, face_share)
    plot_study(study, rows, out / f"{study}.png")
    keys = [*plan.points[0], *(["face_missing"] if study == "face" else [])]
    metrics = ["avg_mAP", "recall", "f2"]
    return markdown_table(summarize(rows, keys, metrics), keys, metrics)
