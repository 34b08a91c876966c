"""``sentiloc study clicks``: how point supervision degrades when the clicks miss their segments.

One dataset per click model of the simulator (docs/simulator.md): ``inside`` (one click inside
each training segment, point supervision as defined), ``noisy`` (the built-in off-segment model)
and, with a real ``--structure``, ``real`` (the real annotators' files, 41% of whose clicks miss
every dense segment). The datasets share everything but the click files — ids, segments and
features are identical — and every config x seed is trained and tested on each through the
accuracy matrix (resumable, :mod:`sentiloc.studies.matrix`). The table puts the click models side
by side; ``clicks.csv`` holds one row per run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sentiloc.core.io import atomic_write_text
from sentiloc.data.simulate.tsl300 import SimulationSpec, simulate_dataset
from sentiloc.studies.matrix import (
    MATRIX_EPOCHS,
    RUN_COLUMNS,
    csv_text,
    markdown_table,
    metric_columns,
    run_accuracy,
    say,
    summarize,
)


def click_models(structure: Path | None) -> list[str]:
    """The click models a study compares: ``real`` needs a real structure to copy the clicks from."""
    return ["inside", "noisy"] + (["real"] if structure is not None else [])


def simulate_for_clicks(out: Path, spec: SimulationSpec, structure: Path | None, clicks: str) -> Path:
    """``OUT/data/<clicks>``, simulated once (a rerun of the study reuses it)."""
    data = out / "data" / clicks
    if not (data / "gt.json").is_file():
        simulate_dataset(data, replace(spec, clicks=clicks), structure, overwrite=True, progress=False)
    return data


def run_click_study(
    out: Path,
    spec: SimulationSpec,
    structure: Path | None = None,
    configs: Sequence[str] = ("fsenet_point",),
    log: Callable[[str], None] = say,
    **matrix: Any,
) -> str:
    """Simulate one dataset per click model, run the configs on each, write ``clicks.csv``/``clicks.md``.

    ``matrix`` goes to :func:`~sentiloc.studies.matrix.run_accuracy` (seeds, epochs, overrides, ...).
    """
    out = Path(out)
    rows = []
    for clicks in click_models(structure):
        data = simulate_for_clicks(out, spec, structure, clicks)
        log(f"clicks {clicks}: {data}")
        runs = run_accuracy(data, out / clicks, configs, log=log, **matrix)
        rows += [{"clicks": clicks, **row} for row in runs]
    metrics = [m for m in metric_columns(rows, {*RUN_COLUMNS, "clicks"}) if m != "train_min"]
    table = markdown_table(summarize(rows, ["config", "clicks"], metrics), ["config", "clicks"], metrics, plain=())
    atomic_write_text(out / "clicks.csv", csv_text(rows))
    epochs, seeds = matrix.get("epochs", MATRIX_EPOCHS), matrix.get("seeds", (1, 2, 3))
    atomic_write_text(out / "clicks.md", f"Click models on one simulation (seed {spec.seed}), {epochs} epochs, "
                      f"seeds {', '.join(map(str, seeds))}: mean ± sample std over seeds, in %.\n\n{table}\n")
    return table
