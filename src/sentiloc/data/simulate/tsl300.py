"""``sentiloc simulate``: a deterministic dataset in exactly the TSL-300 layout.

Real TSL-300 features are a multi-gigabyte download and cannot be redistributed with the
toolkit, yet every part of it (loaders, training, evaluation, benchmarks, the demo) needs data of
the right shape and difficulty. The simulator writes such data: the annotation *structure* is
copied from a real TSL-300 folder or drawn from statistics measured on it
(:mod:`sentiloc.data.simulate.structure`), and the features come from a documented generative
model (:mod:`sentiloc.data.simulate.features`, docs/simulator.md).

Determinism is per video: each video's features depend only on ``(seed, video id)`` and its own
structure, so a subset (``n_videos``) holds exactly the same features as the full dataset.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import (
    atomic_save_npy,
    atomic_write_json,
    atomic_write_text,
    prepare_output_dir,
)
from sentiloc.core.progress import progress_bar
from sentiloc.data import layout
from sentiloc.data.simulate.features import (
    FACE_MISSING_DEFAULT,
    check_modalities,
    make_bank,
    video_features,
)
from sentiloc.data.simulate.structure import (
    CLICK_MODELS,
    ClickRow,
    DatasetStructure,
    cap_durations,
    draw_structure,
    jitter_clicks,
    load_structure,
    outside_fraction,
    seconds_text,
    simulate_annotations,
    subset_structure,
)

DEFAULT_DIMS = {"rgb": 1024, "logmfcc": 768, "img": 1024}


@dataclass
class SimulationSpec:
    """What to simulate; every field has a CLI flag of the same meaning (``sentiloc simulate``)."""

    n_videos: int | None = None
    seed: int = 0
    dims: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DIMS))
    face_missing: float | None = None
    click_jitter_s: float = 0.0
    max_duration_s: float | None = None
    clicks: str = "inside"

    def validate(self) -> None:
        """Refuse impossible values before anything is written."""
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SentilocError(f"seed {self.seed!r}: use a non-negative integer")
        check_modalities(self.dims)
        if self.face_missing is not None and not 0.0 <= self.face_missing <= 1.0:
            raise SentilocError(f"face_missing {self.face_missing}: a fraction of snippets, between 0 and 1")
        if self.click_jitter_s < 0:
            raise SentilocError(f"click_jitter_s {self.click_jitter_s}: a jitter amplitude in seconds, >= 0")
        if self.clicks not in (*CLICK_MODELS, "real"):
            raise SentilocError(f"clicks {self.clicks!r}: choose one of {[*CLICK_MODELS, 'real']}")
        if self.max_duration_s is not None and self.max_duration_s < 10.0:
            raise SentilocError(f"max_duration_s {self.max_duration_s}: cap videos at 10 s or more")

    @property
    def face_fraction(self) -> float:
        return FACE_MISSING_DEFAULT if self.face_missing is None else self.face_missing


def build_structure(spec: SimulationSpec, structure: Path | None = None) -> DatasetStructure:
    """The annotation structure ``simulate_dataset`` writes: source and clicks, then subset, cap and jitter."""
    if structure is None:
        if spec.clicks == "real":
            raise SentilocError("--clicks real copies the annotators' clicks of a real dataset: pass --structure DIR, "
                                "or choose --clicks inside|noisy")
        result = draw_structure(spec.seed, CLICK_MODELS[spec.clicks])
    else:
        result = load_structure(Path(structure))
        if spec.clicks != "real":
            result = simulate_annotations(result.videos, spec.seed, CLICK_MODELS[spec.clicks])
    if spec.n_videos is not None:
        result = subset_structure(result, spec.n_videos, spec.seed)
    if spec.max_duration_s is not None:
        result = cap_durations(result, spec.max_duration_s)
    if spec.click_jitter_s > 0:
        result = jitter_clicks(result, spec.click_jitter_s, spec.seed)
    return result


def simulate_dataset(out: Path, spec: SimulationSpec, structure: Path | None = None,
                     overwrite: bool = False, progress: bool = True) -> dict:
    """Write a simulated TSL-300-layout dataset into ``out`` and return a summary of it.

    ``structure`` is a real TSL-300 folder whose ids, splits, durations, fps, dense segments and
    clicks are copied (only features are generated); without it the built-in statistics are used.
    ``out`` must be empty unless ``overwrite`` (which replaces the files written here and leaves
    any others alone).
    """
    tic = time.perf_counter()
    spec.validate()
    out = Path(out)
    if structure is not None and out.resolve() == Path(structure).resolve():
        raise SentilocError(f"{out}: the output folder is the --structure folder; write the simulation elsewhere")
    plan = build_structure(spec, structure)
    prepare_output_dir(out, overwrite, "simulation folder")
    written = write_annotations(out, plan)
    bank = make_bank(spec.seed, spec.dims)
    snippets = missing = 0
    for video in progress_bar(plan.videos, enabled=progress, desc="simulate", unit="video"):
        features, face_missing = video_features(video, bank, spec.seed, spec.face_fraction)
        for modality, array in features.items():
            path = layout.feature_path(out, video.split, modality, video.video_id)
            atomic_save_npy(path, array)
            written.append(path)
        snippets += len(face_missing)
        missing += int(face_missing.sum())
    labels = [s.label for v in plan.videos for s in v.segments]
    return {
        "videos": {split: len(plan.split_ids(split)) for split in layout.SPLIT_FILES},
        "segments": {c: labels.count(c) for c in layout.CLASS_NAMES},
        "snippets": snippets,
        "clicks": len(plan.points),
        "clicks_outside_segments": round(outside_fraction(plan), 4),
        "face_missing": round(missing / snippets, 4) if layout.FACE_MODALITY in spec.dims and snippets else 0.0,
        "bytes": sum(p.stat().st_size for p in written),
        "seconds": round(time.perf_counter() - tic, 2),
    }


def write_annotations(out: Path, plan: DatasetStructure) -> list[Path]:
    """Every annotation file of the layout, formatted as TSL-300 does; returns the paths written."""
    dense = {
        v.video_id: {
            "subset": v.split,
            "annotations": [{"segment": [seconds_text(s.start_s), seconds_text(s.end_s)], "label": s.label} for s in v.segments],
        }
        for v in plan.videos
    }
    # The evaluator's ground truth: test segments only, training videos listed with no labels.
    gt = {vid: {**entry, "annotations": entry["annotations"] if entry["subset"] == "test" else []}
          for vid, entry in dense.items()}
    files: dict[Path, object] = {
        out / layout.GT_FILE: {"database": gt},
        out / layout.DENSE_GT_FILE: {"database": dense},
        out / layout.FPS_FILE: {v.video_id: v.fps for v in plan.videos},
        out / layout.DURATION_FILE: {v.video_id: v.duration_s for v in plan.videos},
        out / layout.TEST_DURATION_FILE: {v.video_id: v.duration_s for v in plan.videos if v.split == "test"},
    }
    for path, obj in files.items():
        atomic_write_json(path, obj, indent=None)
    written = list(files)
    for split, name in layout.SPLIT_FILES.items():
        atomic_write_text(out / name, "".join(f"{vid}\n" for vid in plan.split_ids(split)))
        written.append(out / name)
    point_files = {layout.POINT_FILE: plan.points}
    point_files.update({layout.ANNOTATOR_FILES[a]: rows for a, rows in plan.annotators.items()})
    for name, rows in point_files.items():
        atomic_write_text(out / name, points_csv(rows))
        written.append(out / name)
    return written


def points_csv(rows: tuple[ClickRow, ...]) -> str:
    """A TSL-300 point file: the header of :data:`layout.POINT_COLUMNS`, then one row per click."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(layout.POINT_COLUMNS)
    writer.writerows(row.as_csv() for row in rows)
    return buffer.getvalue()
