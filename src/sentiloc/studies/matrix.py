"""``sentiloc study accuracy``: the config x fold x seed matrix behind the accuracy tables.

Every run is train -> predict the fold's evaluation split from ``best.pt`` -> score it with the
task's evaluator, in its own folder ``OUT/runs/<config>_s<seed>`` (``<config>_<fold>_s<seed>``
where the task's dataset has more than one fold: leave-one-subject-out, k-fold). A matrix takes about an hour, so its state lives
in files and a killed matrix continues when the same command is repeated: a run whose metrics
file exists is read back, a half-trained one resumes from ``last.pt``, and ``results.csv`` /
``table.md`` are rewritten after every run. ``run.json`` in each run folder holds a fingerprint of
the resolved config, so a rerun with other settings cannot silently mix old and new runs. Once a
run is evaluated only its ``best.pt`` is kept (see :func:`prune_checkpoints`).

The aggregation (rows, mean ± std over seeds, the Markdown table) is pure and separate from the
running, so it is tested without training anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import shutil
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiloc.apps.predict import predict_split
from sentiloc.apps.train import check_config, train
from sentiloc.core.config import (
    CONFIG_DIR,
    apply_overrides,
    load_config,
    resolve_config_path,
)
from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import DEFAULT_TASK
from sentiloc.core.io import atomic_write_json, atomic_write_text, csv_cell, load_json
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.evaluation.registry import EVALUATORS, Evaluator
from sentiloc.tasks import TASKS, Fold, Task

log = logging.getLogger(__name__)

#: The method x supervision configs of the accuracy table, in table order (ablations follow).
MAIN_CONFIGS = ("fsenet_point", "fsenet_video", "fsenet_full", "tslnet_point", "mil_video", "frame_full")

#: Epochs per run of the default matrix; why this is enough is in ``sentiloc benchmark --help``.
MATRIX_EPOCHS = 6


def say(line: str) -> None:
    """Log a progress line (INFO, shown by the CLI on stderr at once; hidden by ``-q``): a matrix runs for an hour."""
    log.info(line)


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class RunSpec:
    """One training run: its table row, seed, fully resolved config and folder."""

    label: str
    seed: int
    config: dict[str, Any]
    run_dir: Path
    params: dict[str, float] = field(default_factory=dict)
    fold: Fold = Fold("test")

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(self.config)

    @property
    def epochs(self) -> int:
        return int(self.config["train"]["epochs"])


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """A short hash of a resolved config: equal configs train identical runs (same seed, same data)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def config_label(name_or_path: str) -> str:
    """Row name of a config: shipped ones by name (``ablations/no_gsp``), other files by stem."""
    path = resolve_config_path(name_or_path).resolve()
    try:
        return path.relative_to(CONFIG_DIR).with_suffix("").as_posix()
    except ValueError:
        return path.stem


def default_configs(config_dir: Path = CONFIG_DIR) -> list[str]:
    """:data:`MAIN_CONFIGS` that exist, then every ``ablations/*.yaml``: new configs join by being shipped."""
    main = [name for name in MAIN_CONFIGS if (config_dir / f"{name}.yaml").is_file()]
    return main + sorted(f"ablations/{path.stem}" for path in (config_dir / "ablations").glob("*.yaml"))


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> seeds 1, 2, 3; ``"4,7"`` -> seeds 4 and 7 (a comma list names the seeds)."""
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",") if part.strip()]
        else:
            seeds = list(range(1, int(text) + 1))
    except ValueError:
        seeds = []
    if not seeds or any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise SentilocError(f"--seeds {text!r}: a count N (seeds 1..N) or distinct seeds such as 4,7")
    return seeds


def resolve_config(name_or_path: str, overrides: Sequence[str], epochs: int | None) -> dict[str, Any]:
    """Load a config with ``--set`` overrides and the matrix's epochs, validated before any run starts,
    so that a typo fails now rather than an hour into the matrix."""
    config = apply_overrides(load_config(name_or_path), list(overrides))
    if epochs is not None:
        config = apply_overrides(config, [f"train.epochs={epochs}"])
    check_config(config)
    return config


def plan_runs(
    entries: Sequence[tuple[str, dict[str, Any], dict[str, float]]],
    seeds: Sequence[int],
    runs_dir: Path,
    seed_keys: Sequence[str] = ("train.seed",),
    folds: Sequence[Fold] = (Fold("test"),),
) -> list[RunSpec]:
    """One :class:`RunSpec` per (entry, fold, seed), config-major.

    ``entries`` are ``(label, config, params)``; each fold's overrides are applied, and each
    ``seed_keys`` key is set to the seed. Runs whose resolved configs are identical
    (``ablations/bspg`` is ``fsenet_point``) share the folder of the first, so they are trained once.
    """
    labels = [label for label, _, _ in entries]
    if len(set(labels)) != len(labels):
        raise SentilocError(f"configs {labels}: two have the same name; rename one of the files")
    folders: dict[str, Path] = {}
    specs = []
    for label, config, params in entries:
        for fold in folds:
            for seed in seeds:
                seeded = apply_overrides(config, [*fold.overrides, *(f"{key}={seed}" for key in seed_keys)])
                name = label.replace("/", "-") + (f"_{fold.name}" if len(folds) > 1 else "")
                run_dir = folders.setdefault(config_fingerprint(seeded), runs_dir / f"{name}_s{seed}")
                specs.append(RunSpec(label, seed, seeded, run_dir, dict(params), fold))
    return specs


# --------------------------------------------------------------------------- running one run


def metrics_name(face_missing: float) -> str:
    """``metrics.json``, or ``metrics_face25.json`` for predictions with 25% of faces hidden."""
    return "metrics.json" if face_missing == 0 else f"metrics_face{round(100 * face_missing):02d}.json"


def check_run_dir(spec: RunSpec) -> None:
    """Refuse a run folder that holds a run of another config (stale results must never be mixed in)."""
    state_file = spec.run_dir / "run.json"
    if state_file.is_file() and load_json(state_file, "run state").get("fingerprint") != spec.fingerprint:
        raise SentilocError(
            f"{spec.run_dir}: holds a run of another config (changed --set, --epochs or config file); "
            "use another --out or pass --overwrite to retrain"
        )


def train_run(spec: RunSpec, data_root: Path, device: str = "cpu") -> float:
    """Train ``spec`` unless done (resuming from ``last.pt``); return its training wall time in seconds.

    A resumed run adds the recorded epoch times of the epochs before the interruption.
    """
    state_file = spec.run_dir / "run.json"
    identity = {"label": spec.label, "seed": spec.seed, "fingerprint": spec.fingerprint}
    if state_file.is_file():
        done = load_json(state_file, "run state").get("train_s")
        if done is not None:
            return float(done)
    last = spec.run_dir / "last.pt"
    prior_s = 0.0
    tic = time.perf_counter()
    if last.is_file():
        prior_s = sum(r.get("time/epoch_s", 0.0) for r in load_checkpoint(last)["history"])
        train(None, data_root, spec.run_dir, resume=True, epochs=spec.epochs, device=device, progress=False)
    else:
        spec.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(state_file, identity)
        train(spec.config, data_root, spec.run_dir, overwrite=True, device=device, progress=False)
    train_s = prior_s + time.perf_counter() - tic
    atomic_write_json(state_file, {**identity, "train_s": train_s})
    return train_s


def evaluate_run(
    spec: RunSpec, data_root: Path, ground_truth: Mapping, train_s: float, face_missing: float = 0.0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Predict the fold's split from ``best.pt`` and score it; the metrics file marks the run done."""
    name = metrics_name(face_missing)
    predictions = predict_split(
        spec.run_dir / "best.pt", data_root, spec.fold.split, spec.run_dir / name.replace("metrics", "test"),
        overwrite=True, device=device, face_missing=face_missing, face_seed=spec.seed,
    )
    result = evaluator_of(spec.config).evaluate(ground_truth, predictions, spec.fold.subset)
    record = {
        "evaluator": task_of(spec.config).evaluator, "label": spec.label, "seed": spec.seed, "fold": spec.fold.name, "fingerprint": spec.fingerprint,
        "epochs": spec.epochs,
        "face_missing": face_missing, "train_s": train_s, "metrics": result.to_json(),
    }
    atomic_write_json(spec.run_dir / name, record)
    return record


def execute_run(
    spec: RunSpec, data_root: Path, ground_truth: Mapping, face_missing: Sequence[float] = (0.0,),
    device: str = "cpu",
) -> tuple[list[dict[str, Any]], bool]:
    """Train once and evaluate under each ``face_missing`` condition; reuse whatever is on disk.

    Returns the records (one per condition) and whether everything was already done.
    """
    check_run_dir(spec)
    paths = [spec.run_dir / metrics_name(f) for f in face_missing]
    if all(path.is_file() for path in paths):
        return [load_json(path, "run metrics") for path in paths], True
    train_s = train_run(spec, data_root, device)
    records = [
        load_json(path, "run metrics") if path.is_file()
        else evaluate_run(spec, data_root, ground_truth, train_s, f, device)
        for f, path in zip(face_missing, paths)
    ]
    prune_checkpoints(spec.run_dir)
    return records, False


def prune_checkpoints(run_dir: Path) -> None:
    """Delete a finished run's resume checkpoints (``last.pt``, ``epoch_*.pt``), keeping ``best.pt``.

    With optimiser state an FSENet checkpoint is ~300 MB, so a 3-seed matrix would otherwise leave
    ~40 GB behind. Only ``best.pt`` is read again (predictions under new conditions, probes); a run
    whose training time is recorded in ``run.json`` never resumes.
    """
    for path in [run_dir / "last.pt", *run_dir.glob("epoch_*.pt")]:
        path.unlink(missing_ok=True)


def task_of(config: Mapping[str, Any]) -> Task:
    return TASKS.get(str(config.get("task") or DEFAULT_TASK))


def evaluator_of(config: Mapping[str, Any]) -> Evaluator:
    return EVALUATORS.get(task_of(config).evaluator)


def load_ground_truth_of(specs: Sequence[RunSpec], data_root: Path) -> Mapping:
    """The ground truth every run of ``specs`` is scored against (one task per matrix), read once.

    Refused up front when a fold's split holds no ground truth (every run would score 0).
    """
    tasks = {str(spec.config.get("task") or DEFAULT_TASK) for spec in specs}
    if len(tasks) > 1:
        raise SentilocError(f"configs of several tasks {sorted(tasks)} in one matrix; run one matrix per task")
    path = task_of(specs[0].config).ground_truth_file(check_config(specs[0].config), Path(data_root))
    evaluator = evaluator_of(specs[0].config)
    ground_truth = evaluator.load_ground_truth(path)
    for subset in sorted({spec.fold.subset for spec in specs}):
        if not evaluator.has_ground_truth(ground_truth, subset):
            raise SentilocError(f"{path}: no ground truth in the {subset} subset; nothing to evaluate")
    return ground_truth


def run_matrix(
    specs: Sequence[RunSpec],
    data_root: Path,
    face_missing: Sequence[float] = (0.0,),
    overwrite: bool = False,
    device: str = "cpu",
    after_each: Callable[[list[tuple[RunSpec, dict[str, Any]]]], None] = lambda done: None,
    log: Callable[[str], None] = say,
) -> list[tuple[RunSpec, dict[str, Any]]]:
    """Execute ``specs`` in order with one progress line each; ``after_each`` sees all results so far.

    With ``overwrite`` each run folder is emptied once before its run, so everything is retrained.
    """
    ground_truth = load_ground_truth_of(specs, data_root)
    finished: dict[Path, tuple[str, list[dict[str, Any]]]] = {}
    done: list[tuple[RunSpec, dict[str, Any]]] = []
    for k, spec in enumerate(specs, 1):
        if spec.run_dir in finished:
            first, records = finished[spec.run_dir]
            note = f"same config as {first}, reused"
        else:
            if overwrite and spec.run_dir.exists():
                shutil.rmtree(spec.run_dir)
            records, skipped = execute_run(spec, data_root, ground_truth, face_missing, device)
            finished[spec.run_dir] = (spec.label, records)
            note = "finished earlier, skipped" if skipped else f"trained in {records[0]['train_s'] / 60:.1f} min"
        done.extend((spec, record) for record in records)
        evaluator = evaluator_of(spec.config)
        scores = ", ".join(f"{100 * evaluator.headline_value(r['metrics']):.2f}" for r in records)
        fold = f" fold {spec.fold.name}" if spec.fold.overrides else ""
        log(f"[{k}/{len(specs)}] {spec.label} seed {spec.seed}{fold}: {header(evaluator.headline)} {scores} ({note})")
        after_each(done)
    return done


# --------------------------------------------------------------------------- aggregation (pure)

#: Columns of :func:`accuracy_rows` that name a run rather than measure it.
RUN_COLUMNS = frozenset({"config", "fold", "seed", "run_dir"})


def record_row(record: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of one run as flat columns in percent (its evaluator's ``table_row``), then ``train_min``.

    A record names its evaluator; records written before they did are detection records.
    """
    evaluator = EVALUATORS.get(str(record.get("evaluator", "detection")))
    return {**evaluator.table_row(record["metrics"]), "train_min": record["train_s"] / 60}


def metric_columns(rows: Iterable[Mapping[str, Any]], run_columns: Iterable[str] = RUN_COLUMNS) -> list[str]:
    """Table metric columns: those of :func:`record_row` in the order the rows first show them, training time last.

    ``run_columns`` name a run rather than measure it (a study adds its own, e.g. ``clicks``).
    """
    skip = {*run_columns, "train_min"}
    seen = dict.fromkeys(key for row in rows for key in row if key not in skip)
    return [*seen, "train_min"]


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1) over seeds; no std from a single seed."""
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarize(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Mean ± std of ``metrics`` over the rows sharing ``keys`` (i.e. over seeds), in first-seen order.

    Each group gives ``{key: value, ..., "seeds": n, metric: mean, metric + "_std": std or None}``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    summary = []
    for values, members in groups.items():
        entry: dict[str, Any] = {**dict(zip(keys, values)), "seeds": len(members)}
        for metric in metrics:
            entry[metric], entry[f"{metric}_std"] = mean_std([row[metric] for row in members])
        summary.append(entry)
    return summary


def format_mean_std(mean: float, std: float | None) -> str:
    """``12.34 ± 0.56`` (two decimals, as the paper's tables); just the mean without a std."""
    return f"{mean:.2f}" if std is None or math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


HEADERS = {"avg_mAP": "avg mAP", "average_mAP": "avg mAP", "recall": "Recall", "f2": "F2", "train_min": "train min", "seeds": "seeds", "uar": "UAR",
           "keyframe_mAP": "keyframe mAP"}


def header(column: str) -> str:
    """Display name of a column (``AP_p`` -> ``AP p``)."""
    return HEADERS.get(column, column.replace("_", " ", 1) if column.startswith("AP_") else column)


def markdown_table(
    summary: Sequence[Mapping[str, Any]], keys: Sequence[str], metrics: Sequence[str], plain: Sequence[str] = ("train_min",)
) -> str:
    """A Markdown table of :func:`summarize` output; ``plain`` metrics show the mean only."""
    columns = [*keys, "seeds", *metrics]
    lines = ["| " + " | ".join(header(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for entry in summary:
        cells = [str(entry[k]) for k in keys] + [str(entry["seeds"])]
        cells += [
            f"{entry[m]:.2f}" if m in plain else format_mean_std(entry[m], entry[f"{m}_std"]) for m in metrics
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV, columns in first-seen order (rows may lack columns: a class absent from a run).

    Column names and text cells (config names, class names in ``AP_<class>``) that read as a
    spreadsheet formula are quoted.
    """
    columns = list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(column) for column in columns])
    writer.writerows([csv_cell(row.get(column, "")) for column in columns] for row in rows)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the accuracy matrix


def accuracy_rows(done: Sequence[tuple[RunSpec, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One CSV row per run: config, fold, seed, metrics in percent, training minutes, run folder."""
    return [
        {"config": spec.label, "fold": spec.fold.name, "seed": spec.seed, **record_row(record),
         "run_dir": str(spec.run_dir)}
        for spec, record in done
    ]


def accuracy_report(rows: Sequence[Mapping[str, Any]], data_root: Path, epochs: int, seeds: Sequence[int]) -> str:
    """``table.md``: one line saying what was run, then mean ± std over the runs (folds x seeds) per config."""
    metrics = metric_columns(rows)
    table = markdown_table(summarize(rows, ["config"], metrics), ["config"], metrics)
    folds = sorted({row["fold"] for row in rows})
    over = "seeds" if len(folds) == 1 else f"folds ({', '.join(folds)}) x seeds"
    note = (f"Accuracy on {data_root}, {epochs} epochs, seeds {', '.join(map(str, seeds))}: "
            f"mean ± sample std over {over}, in %; train min = mean training wall time per run.")
    return f"{note}\n\n{table}\n"


def run_accuracy(
    data_root: Path,
    out: Path,
    configs: Sequence[str] | None = None,
    seeds: Sequence[int] = (1, 2, 3),
    epochs: int = MATRIX_EPOCHS,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    device: str = "cpu",
    log: Callable[[str], None] = say,
) -> list[dict[str, Any]]:
    """Run (or continue) the matrix of ``configs`` x ``seeds`` into ``out``; its rows, one per run.

    ``OUT/results.csv`` (the rows) and ``OUT/table.md`` (mean ± std per config) are rewritten
    after every run.
    """
    data_root, out = Path(data_root), Path(out)
    names = list(configs) if configs else default_configs()
    entries = [(config_label(name), resolve_config(name, overrides, epochs), {}) for name in names]
    first = entries[0][1]
    if evaluator_of(first).table_row is None:
        raise SentilocError(f"config {entries[0][0]}: a {first.get('task')} config's folds are scored together, not "
                            "averaged run by run; use `sentiloc crossval`, which pools the folds' counts")
    specs = plan_runs(entries, seeds, out / "runs", folds=task_of(first).folds(check_config(first), data_root))

    def write(done: list[tuple[RunSpec, dict[str, Any]]]) -> None:
        rows = accuracy_rows(done)
        atomic_write_text(out / "results.csv", csv_text(rows))
        atomic_write_text(out / "table.md", accuracy_report(rows, data_root, epochs, seeds))

    folds = sorted({spec.fold.name for spec in specs})
    log(f"accuracy matrix: {len(names)} configs x {len(folds)} fold(s) x {len(seeds)} seeds, {epochs} epochs, into {out}")
    return accuracy_rows(run_matrix(specs, data_root, overwrite=overwrite, device=device, after_each=write, log=log))
