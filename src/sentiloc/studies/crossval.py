"""``sentiloc crossval``: train one config on every fold of a dataset, pool the held-out predictions, score them once.

The folds are the task's (:meth:`~sentiloc.tasks.base.Task.folds`): leave-one-subject-out for
spotting, the fixed train/test split for TSL-300. Each fold is a run of the accuracy matrix's
machinery (:mod:`sentiloc.studies.matrix`) in ``OUT/folds/<fold>``: resumable (a finished fold is
read back, a half-trained one resumes from ``last.pt``), refused when the folder holds a run of
another config, and pruned to ``best.pt`` once its predictions are written. The pooled
predictions go to ``OUT/predictions.json``. ``OUT/metrics.json`` holds the metrics of the pooled
counts where the evaluator pools (MEGC spotting pools TP/FP/FN over subjects rather than averaging
per-subject scores), or the evaluator's mean over folds plus the pooled metrics under ``"pooled"``
where the protocol averages folds (recognition: accuracy, UAR, WAR as DFEW reports them);
``OUT/folds.csv`` has each fold's own scores beside them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiloc.apps.predict import predict_split
from sentiloc.apps.train import check_config
from sentiloc.core.config import apply_overrides
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_json, atomic_write_text, id_problem, load_json
from sentiloc.postprocess import write_results
from sentiloc.studies.matrix import (
    RunSpec,
    check_run_dir,
    config_label,
    csv_text,
    evaluator_of,
    prune_checkpoints,
    resolve_config,
    task_of,
    train_run,
)
from sentiloc.tasks import Fold

log = logging.getLogger(__name__)

FOLD_PREDICTIONS = "predictions.json"


@dataclass
class CrossvalResult:
    """The pooled metrics (the evaluator's JSON), each fold's own metrics, and where they were written."""

    metrics: dict[str, Any]
    folds: dict[str, dict[str, Any]]
    out: Path


def plan_folds(label: str, config: Mapping[str, Any], folds: Sequence[Fold], out: Path) -> list[RunSpec]:
    """One run per fold in ``OUT/folds/<fold name>``; a fold name that is not a safe folder name is refused."""
    specs = []
    for fold in folds:
        problem = id_problem(fold.name)
        if problem:
            raise SentilocError(f"fold {fold.name!r} (a subject id) {problem}; rename it in videos.csv")
        config_of_fold = apply_overrides(dict(config), list(fold.overrides))
        seed = int(config_of_fold["train"].get("seed", 0)) if isinstance(config_of_fold.get("train"), Mapping) else 0
        specs.append(RunSpec(label, seed, config_of_fold, out / "folds" / fold.name, fold=fold))
    return specs


def fold_predictions(spec: RunSpec, data_root: Path, device: str) -> dict:
    """Train the fold (or resume it, or reuse it) and predict its held-out split from ``best.pt``."""
    check_run_dir(spec)
    path = spec.run_dir / FOLD_PREDICTIONS
    if path.is_file():
        return load_json(path, "fold predictions")
    train_run(spec, data_root, device)
    predictions = predict_split(spec.run_dir / "best.pt", data_root, spec.fold.split, path, overwrite=True,
                                device=device)
    prune_checkpoints(spec.run_dir)
    return predictions


def pool_predictions(per_fold: Mapping[str, Mapping]) -> dict:
    """One prediction file from the folds' files: their ``results`` merged (a video in two folds is a bug)."""
    pooled: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for name, predictions in per_fold.items():
        pooled.update({k: v for k, v in predictions.items() if k != "results"})
        twice = sorted(set(results) & set(predictions["results"]))
        if twice:
            raise SentilocError(f"fold {name}: video {twice[0]!r} is held out by two folds; the folds must not overlap")
        results.update(predictions["results"])
    return {**pooled, "results": results}


def run_crossval(config_name: str, data_root: Path, out: Path, overrides: Sequence[str] = (),
                 overwrite: bool = False, device: str = "cpu", say: Callable[[str], None] = log.info) -> CrossvalResult:
    """Train ``config_name`` on every fold of ``data_root`` into ``out`` (resumable), pool and score."""
    data_root, out = Path(data_root), Path(out)
    if out.exists() and not out.is_dir():
        raise SentilocError(f"{out}: --out is a file; name a folder for the folds, predictions and metrics")
    config = resolve_config(config_name, overrides, None)
    task = task_of(config)
    evaluator = evaluator_of(config)
    exp = check_config(config)
    ground_truth = evaluator.load_ground_truth(task.ground_truth_file(exp, data_root))
    folds = task.folds(exp, data_root)
    specs = plan_folds(config_label(config_name), config, folds, out)
    per_fold: dict[str, dict] = {}
    fold_metrics: dict[str, dict[str, Any]] = {}
    for k, spec in enumerate(specs, 1):
        if overwrite and spec.run_dir.exists():
            shutil.rmtree(spec.run_dir)
        per_fold[spec.fold.name] = fold_predictions(spec, data_root, device)
        fold_metrics[spec.fold.name] = evaluator.evaluate(ground_truth, per_fold[spec.fold.name],
                                                           spec.fold.subset).to_json()
        say(f"[{k}/{len(specs)}] fold {spec.fold.name}: {evaluator.headline} "
            f"{evaluator.headline_value(fold_metrics[spec.fold.name]):.4f}")
    pooled = pool_predictions(per_fold)
    pooled_metrics = evaluator.evaluate(ground_truth, pooled, task.pooled_subset(folds)).to_json()
    metrics = (pooled_metrics if evaluator.fold_summary is None
               else {**evaluator.fold_summary(fold_metrics), "pooled": pooled_metrics})
    write_results(out / "predictions.json", pooled, overwrite=True)
    atomic_write_json(out / "metrics.json", metrics)
    rows = [{"fold": name, evaluator.headline: evaluator.headline_value(m)} for name, m in fold_metrics.items()]
    atomic_write_text(out / "folds.csv", csv_text(rows))
    over = "pooled over" if evaluator.fold_summary is None else "mean over"
    say(f"{over} {len(specs)} folds: {evaluator.headline} {evaluator.headline_value(metrics):.4f}")
    return CrossvalResult(metrics, fold_metrics, out)

