"""The simulator: layout, determinism, real-structure copying, built-in statistics, learnability."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import segment_to_snippets
from sentiloc.data import layout
from sentiloc.data.simulate.structure import (
    CLICK_MODELS,
    draw_structure,
    jitter_clicks,
    load_structure,
    outside_fraction,
    subset_structure,
)
from sentiloc.data.simulate.tsl300 import (
    SimulationSpec,
    build_structure,
    simulate_dataset,
)
from sentiloc.data.validate import check_dataset
from tests.conftest import FIXTURES

REAL = FIXTURES / "tsl300"

TINY = {"rgb": 6, "logmfcc": 4, "img": 16}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def builtin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("builtin") / "data"
    summary = simulate_dataset(out, SimulationSpec(n_videos=30, seed=5, dims=TINY, face_missing=0.3), progress=False)
    return out, summary


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("copied") / "data"
    spec = SimulationSpec(n_videos=12, dims=TINY, clicks="real")
    return out, simulate_dataset(out, spec, structure=REAL, progress=False)


def test_layout_is_complete_and_passes_check_data(builtin: tuple[Path, dict]) -> None:
    out, summary = builtin
    for name in [layout.GT_FILE, layout.DENSE_GT_FILE, layout.FPS_FILE, layout.DURATION_FILE,
                 layout.TEST_DURATION_FILE, *layout.SPLIT_FILES.values(), layout.POINT_FILE, *layout.ANNOTATOR_FILES]:
        assert (out / name).is_file(), name
    splits = {s: (out / name).read_text().split() for s, name in layout.SPLIT_FILES.items()}
    assert summary["videos"] == {"train": 20, "test": 10} == {s: len(ids) for s, ids in splits.items()}
    for split, ids in splits.items():
        for modality in TINY:
            on_disk = sorted(p.stem for p in (out / layout.FEATURES_DIR / split / modality).glob("*.npy"))
            assert on_disk == sorted(ids)
    gt = json.loads((out / layout.GT_FILE).read_text())["database"]
    dense = json.loads((out / layout.DENSE_GT_FILE).read_text())["database"]
    assert set(gt) == set(dense) == set(splits["train"]) | set(splits["test"])
    assert all(gt[v] == {"subset": "train", "annotations": []} for v in splits["train"])
    assert all(gt[v] == dense[v] and gt[v]["subset"] == "test" for v in splits["test"])
    segments = [a["segment"] for entry in dense.values() for a in entry["annotations"]]
    assert segments and all(isinstance(x, str) and x == str(round(float(x), 3)) for seg in segments for x in seg)
    assert set(json.loads((out / layout.TEST_DURATION_FILE).read_text())) == set(splits["test"])
    points = _csv_rows(out / layout.POINT_FILE)
    assert tuple(points[0]) == layout.POINT_COLUMNS
    for label, index, start, stop, video_id, point in points[1:]:
        assert video_id in splits["train"] and layout.CLASS_NAMES[int(index)] == label
        assert int(start) <= int(point) <= int(stop)
    report = check_dataset(out)
    assert report.ok, report.format()


def test_shapes_dtypes_and_snippet_counts(builtin: tuple[Path, dict]) -> None:
    out, summary = builtin
    fps = json.loads((out / layout.FPS_FILE).read_text())
    durations = json.loads((out / layout.DURATION_FILE).read_text())
    total = 0
    for split, name in layout.SPLIT_FILES.items():
        for vid in (out / name).read_text().split():
            expected = math.ceil(durations[vid] * fps[vid] / 16)
            for modality, dim in TINY.items():
                array = np.load(layout.feature_path(out, split, modality, vid))
                assert array.dtype == np.float32 and array.shape == (expected, dim)
                assert np.isfinite(array).all()
            total += expected
    assert summary["snippets"] == total


def test_face_missing_rows_are_zero_at_the_requested_rate(builtin: tuple[Path, dict]) -> None:
    out, summary = builtin
    missing = present_zero = total = 0
    for path in (out / layout.FEATURES_DIR).glob(f"*/{layout.FACE_MODALITY}/*.npy"):
        face = np.load(path)
        zero = ~face.any(axis=1)
        missing += int(zero.sum())
        total += len(face)
        other = np.load(path.parents[1] / "rgb" / path.name)
        present_zero += int((~other.any(axis=1)).sum())
    assert present_zero == 0  # only the face stream loses rows
    assert summary["face_missing"] == pytest.approx(missing / total, abs=1e-4)
    assert missing / total == pytest.approx(0.3, abs=0.06)


def test_features_are_unit_scale_and_sentiment_is_learnable(builtin: tuple[Path, dict]) -> None:
    """A mean-difference direction fitted on training videos separates test-video snippets."""
    out, _ = builtin
    dense = json.loads((out / layout.DENSE_GT_FILE).read_text())["database"]
    fps = json.loads((out / layout.FPS_FILE).read_text())
    data: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    for vid, entry in dense.items():
        face = np.load(layout.feature_path(out, entry["subset"], layout.FACE_MODALITY, vid))
        positive = np.zeros(len(face), dtype=bool)
        for a in entry["annotations"]:
            if a["label"] == "p":
                first, last = segment_to_snippets(float(a["segment"][0]), float(a["segment"][1]), fps[vid])
                positive[first:last] = True
        present = face.any(axis=1)
        data[entry["subset"]][0].append(face[present])
        data[entry["subset"]][1].append(positive[present])
    x_train, y_train = (np.concatenate(part) for part in data["train"])
    x_test, y_test = (np.concatenate(part) for part in data["test"])
    assert 0.7 < x_train[~y_train].std() < 1.4
    direction = x_train[y_train].mean(axis=0) - x_train[~y_train].mean(axis=0)
    scores = x_test @ direction
    ranks = scores.argsort().argsort() + 1.0
    n_pos, n_neg = int(y_test.sum()), int((~y_test).sum())
    auc = (ranks[y_test].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    assert auc > 0.75


def test_same_seed_is_byte_identical_and_seed_changes_features(tmp_path: Path) -> None:
    spec = dict(n_videos=6, dims={"rgb": 3, "logmfcc": 2, "img": 4}, max_duration_s=60.0, click_jitter_s=1.0)
    first = _files_of(tmp_path / "a", SimulationSpec(seed=1, **spec))
    assert first == _files_of(tmp_path / "b", SimulationSpec(seed=1, **spec))
    other = _files_of(tmp_path / "c", SimulationSpec(seed=2, **spec))
    features = [name for name in first if name.endswith(".npy")]
    assert features and not any(other.get(name) == first[name] for name in features)


def _files_of(out: Path, spec: SimulationSpec) -> dict[str, bytes]:
    simulate_dataset(out, spec, progress=False)
    return _files(out)


def test_a_subset_has_the_features_of_the_full_set(tmp_path: Path) -> None:
    dims = {"rgb": 3, "logmfcc": 2, "img": 4}
    small = _files_of(tmp_path / "small", SimulationSpec(n_videos=5, dims=dims, max_duration_s=40.0))
    large = _files_of(tmp_path / "large", SimulationSpec(n_videos=11, dims=dims, max_duration_s=40.0))
    features = [name for name in small if name.endswith(".npy")]
    assert len(features) == 15
    assert all(large[name] == small[name] for name in features)


def test_refuses_a_non_empty_output_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    spec = SimulationSpec(n_videos=2, dims={"rgb": 2, "logmfcc": 2, "img": 2}, max_duration_s=20.0)
    with pytest.raises(SentilocError, match="not empty"):
        simulate_dataset(out, spec, progress=False)
    simulate_dataset(out, spec, overwrite=True, progress=False)
    assert (out / "keep.txt").read_text() == "mine" and (out / layout.GT_FILE).is_file()


@pytest.mark.parametrize("bad", [dict(dims={"depth": 4}), dict(face_missing=1.5), dict(n_videos=1), dict(n_videos=301),
                                 dict(seed=-1), dict(click_jitter_s=-1.0), dict(max_duration_s=1.0)])
def test_rejects_impossible_specs(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(SentilocError):
        simulate_dataset(tmp_path / "out", SimulationSpec(**bad), progress=False)


def test_max_duration_caps_videos_segments_and_clicks() -> None:
    plan = build_structure(SimulationSpec(n_videos=30, max_duration_s=90.0))
    assert all(v.duration_s <= 90.0 for v in plan.videos)
    assert all(s.end_s <= v.duration_s and s.end_s - s.start_s >= 1.0 for v in plan.videos for s in v.segments)
    fps = {v.video_id: v.fps for v in plan.videos}
    rows = plan.points + tuple(r for rows in plan.annotators.values() for r in rows)
    assert rows and all(r.point / fps[r.video_id] <= 90.0 and r.stop_frame <= math.ceil(90.0 * fps[r.video_id]) for r in rows)


def test_click_jitter_moves_points_consistently() -> None:
    plan = build_structure(SimulationSpec(n_videos=30))
    moved = jitter_clicks(plan, 2.0, seed=0)
    fps = {v.video_id: v.fps for v in plan.videos}
    shifts = [after.point - before.point for before, after in zip(plan.points, moved.points)]
    assert any(shifts)
    assert all(abs(s) <= 2.0 * fps[r.video_id] + 1 for s, r in zip(shifts, plan.points))
    assert all(r.start_frame <= r.point <= r.stop_frame for r in moved.points)
    annotator_rows = {r for rows in moved.annotators.values() for r in rows}
    assert set(moved.points) <= annotator_rows  # a click moves the same way in both files


def test_builtin_structure_matches_tsl300_statistics() -> None:
    structure = draw_structure(seed=0, inside_p=CLICK_MODELS["noisy"])
    videos = structure.videos
    durations = np.array([v.duration_s for v in videos])
    lengths = np.array([s.end_s - s.start_s for v in videos for s in v.segments])
    counts = np.array([len(v.segments) for v in videos])
    positive = np.mean([s.label == "p" for v in videos for s in v.segments])
    assert (len(structure.split_ids("train")), len(structure.split_ids("test"))) == (200, 100)
    assert durations.min() >= 120.0 and durations.max() <= 1160.2
    assert durations.mean() == pytest.approx(258.0, rel=0.12)
    assert np.median(lengths) == pytest.approx(6.6, rel=0.12)
    assert lengths.min() >= 1.07 - 1e-6 and lengths.max() > 60.0
    assert positive == pytest.approx(0.58, abs=0.05)
    assert np.mean(counts / (durations / 60.0)) == pytest.approx(1.5, rel=0.2)
    assert counts.sum() == pytest.approx(1642, rel=0.15)
    fps = [round(v.fps, 2) for v in videos]
    assert max(set(fps), key=fps.count) in (30.0, 29.97) and {25.0, 23.98} <= set(fps)
    train = set(structure.split_ids("train"))
    assert {r.video_id for r in structure.points} == train
    assert outside_fraction(structure) == pytest.approx(0.41, abs=0.06)  # the real clicks' share
    widths = [np.median([r.stop_frame - r.start_frame for r in rows]) for rows in structure.annotators.values()]
    assert widths[0] < widths[1] < widths[2]


def test_default_clicks_lie_inside_their_own_segments() -> None:
    """Point supervision as defined: one click per training segment, inside it, with its label."""
    structure = draw_structure(seed=0)
    assert outside_fraction(structure) == 0.0
    noisy = draw_structure(seed=0, inside_p=CLICK_MODELS["noisy"])
    assert [v.segments for v in structure.videos] == [v.segments for v in noisy.videos]  # only clicks differ
    for rows in (structure.points, *structure.annotators.values()):
        by_video = {v.video_id: v for v in structure.videos}
        for row in rows:
            video = by_video[row.video_id]
            t = row.point / video.fps
            assert any(s.start_s <= t <= s.end_s and s.label == row.label for s in video.segments), row
    train = [v for v in structure.videos if v.split == "train"]
    assert len(structure.points) == sum(len(v.segments) for v in train)


def test_inside_and_noisy_clicks_on_a_real_structure() -> None:
    inside = build_structure(SimulationSpec(n_videos=40, dims=TINY), structure=REAL)
    assert outside_fraction(inside) == 0.0
    noisy = build_structure(SimulationSpec(n_videos=40, dims=TINY, clicks="noisy"), structure=REAL)
    real = build_structure(SimulationSpec(n_videos=40, dims=TINY, clicks="real"), structure=REAL)
    assert inside.videos == noisy.videos == real.videos
    assert 0.2 < outside_fraction(noisy) < 0.6 and outside_fraction(real) > 0.2


def test_real_clicks_need_a_real_structure() -> None:
    with pytest.raises(SentilocError, match="--clicks real .* pass --structure"):
        build_structure(SimulationSpec(clicks="real"))
    with pytest.raises(SentilocError, match="clicks 'some'"):
        SimulationSpec(clicks="some").validate()


def test_real_structure_keeps_the_outside_click_fact() -> None:
    structure = load_structure(REAL)
    assert len(structure.videos) == 300 and len(structure.points) == 1227
    assert outside_fraction(structure) == pytest.approx(0.41, abs=0.02)
    subset = subset_structure(structure, 30, seed=0)
    assert (len(subset.split_ids("train")), len(subset.split_ids("test"))) == (20, 10)
    assert set(subset_structure(structure, 12, seed=0).split_ids("train")) <= set(subset.split_ids("train"))


def test_structure_copies_real_ids_segments_and_clicks(copied: tuple[Path, dict]) -> None:
    out, summary = copied
    assert summary["videos"] == {"train": 8, "test": 4}
    real_dense = json.loads((REAL / layout.DENSE_GT_FILE).read_text())["database"]
    real_gt = json.loads((REAL / layout.GT_FILE).read_text())["database"]
    dense = json.loads((out / layout.DENSE_GT_FILE).read_text())["database"]
    gt = json.loads((out / layout.GT_FILE).read_text())["database"]
    for vid, entry in dense.items():
        assert entry == real_dense[vid] and gt[vid] == real_gt[vid]
    for name in (layout.FPS_FILE, layout.DURATION_FILE):
        real, ours = (json.loads((root / name).read_text()) for root in (REAL, out))
        assert ours == {vid: real[vid] for vid in dense}
    train = set((out / layout.SPLIT_FILES["train"]).read_text().split())
    assert train <= set((REAL / layout.SPLIT_FILES["train"]).read_text().split())
    for name in (layout.POINT_FILE, *layout.ANNOTATOR_FILES):
        real_rows = [row for row in _csv_rows(REAL / name)[1:] if row[4] in train]
        assert _csv_rows(out / name)[1:] == real_rows and real_rows
    real_outside = outside_fraction(subset_structure(load_structure(REAL), 12, seed=0))
    assert summary["clicks_outside_segments"] == pytest.approx(real_outside, abs=1e-4)
    report = check_dataset(out)
    assert report.ok, report.format()


def test_structure_output_must_not_be_the_structure_folder() -> None:
    with pytest.raises(SentilocError, match="structure"):
        simulate_dataset(REAL, SimulationSpec(n_videos=2), structure=REAL, overwrite=True, progress=False)
