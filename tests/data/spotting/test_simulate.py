"""simulate --task spotting: deterministic, valid, and with the structure's expression statistics."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.simulate.spotting import (
    STRUCTURES,
    SpottingSimulationSpec,
    directions,
    draw_clicks,
    draw_instances,
    intensity_profile,
    simulate_spotting,
)
from sentiloc.data.spotting.annotations import (
    Instance,
    read_ground_truth,
    read_points,
    read_videos,
)
from sentiloc.data.spotting.validate import check_spotting_dataset


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def casme2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full-size CAS(ME)2-like structure (95 videos, 22 subjects)."""
    out = tmp_path_factory.mktemp("sim") / "casme2"
    simulate_spotting(out, SpottingSimulationSpec(structure="casme2", dim=8), progress=False)
    return out


def test_intensity_profile_by_hand() -> None:
    # onset 0, apex 1, offset 3: rise (1/2, 2/2) -> sin^2(pi/4) = 0.5, sin^2(pi/2) = 1;
    # fall (2/3, 1/3) -> sin^2(pi/3) = 0.75, sin^2(pi/6) = 0.25
    np.testing.assert_allclose(intensity_profile(Instance(0, 1, 3, "macro")), [0.5, 1.0, 0.75, 0.25])
    assert intensity_profile(Instance(4, 4, 4, "micro")).tolist() == [1.0]


def test_clicks_stay_inside_their_instance() -> None:
    instances = [Instance(10, 12, 14, "micro"), Instance(100, 150, 250, "macro")]
    for seed in range(50):
        for click, instance in zip(draw_clicks(np.random.default_rng(seed), instances), instances):
            assert instance.onset <= click.frame <= instance.offset and click.type == instance.type


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["casme2", "samm"]), st.floats(5.0, 150.0), st.integers(0, 2**32 - 1))
def test_drawn_instances_fit_their_video(structure: str, seconds: float, seed: int) -> None:
    shape = STRUCTURES.get(structure)
    n_frames = int(seconds * shape.fps)
    instances = draw_instances(np.random.default_rng(seed), shape, n_frames)
    for a, b in itertools.pairwise(instances):
        assert a.offset < b.onset
    for instance in instances:
        assert shape.fps <= instance.onset <= instance.apex <= instance.offset < n_frames - shape.fps
        length_s = (instance.offset - instance.onset + 1) / shape.fps
        assert (0.5 <= length_s <= 4.0) if instance.type == "macro" else (length_s < 0.5)


def test_directions_are_unit_with_the_documented_overlaps() -> None:
    dirs = directions(0, 16)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, atol=1e-9)
    # rows: expression, macro, micro, blink, head_yaw, head_pitch, talk
    assert dirs[3] @ dirs[0] == pytest.approx(0.5) and dirs[4] @ dirs[0] == pytest.approx(0.3)
    assert dirs[6] @ dirs[1] == pytest.approx(0.4) and dirs[1] @ dirs[0] == pytest.approx(0.0, abs=1e-9)


def test_deterministic_and_nested(tmp_path: Path) -> None:
    spec = SpottingSimulationSpec(subjects=2, videos_per_subject=2, max_seconds=20, dim=8)
    simulate_spotting(tmp_path / "a", spec, progress=False)
    simulate_spotting(tmp_path / "b", spec, progress=False)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    simulate_spotting(tmp_path / "c", SpottingSimulationSpec(subjects=2, videos_per_subject=2, max_seconds=20, dim=8,
                                                             seed=1), progress=False)
    assert digests(tmp_path / "a")["features/s15_01.npy"] != digests(tmp_path / "c")["features/s15_01.npy"]
    simulate_spotting(tmp_path / "d", SpottingSimulationSpec(subjects=3, videos_per_subject=2, max_seconds=20, dim=8),
                      progress=False)
    small, large = digests(tmp_path / "a"), digests(tmp_path / "d")
    assert all(large[k] == v for k, v in small.items() if k.startswith("features/"))


def test_full_casme2_structure(casme2: Path) -> None:
    report = check_spotting_dataset(casme2)
    assert report.ok, report.format()
    gt = read_ground_truth(casme2)
    assert len(gt) == 95 and len({v["subject"] for v in gt.values()}) == 22
    assert {v["fps"] for v in gt.values()} == {30.0}
    seconds = [v["n_frames"] / v["fps"] for v in gt.values()]
    assert 60 <= min(seconds) and max(seconds) <= 150
    kinds = [i["type"] for v in gt.values() for i in v["instances"]]
    # published: 300 macro / 57 micro (micro fraction 0.16); Poisson counts give about that
    assert 230 <= kinds.count("macro") <= 340 and 35 <= kinds.count("micro") <= 80
    assert 0.08 <= kinds.count("micro") / len(kinds) <= 0.25


def test_durations_and_clicks(casme2: Path) -> None:
    gt = read_ground_truth(casme2)
    points = read_points(casme2, read_videos(casme2))
    for video, entry in gt.items():
        instances = sorted(entry["instances"], key=lambda i: i["onset"])
        for instance in instances:
            seconds = (instance["offset"] - instance["onset"] + 1) / entry["fps"]
            assert (0.5 <= seconds <= 4.0) if instance["type"] == "macro" else (seconds < 0.5)
        assert all(a["offset"] < b["onset"] for a, b in itertools.pairwise(instances)), "instances overlap"
        assert len(points[video]) == len(instances)
        for point in points[video]:
            assert any(i["onset"] <= point.frame <= i["offset"] and i["type"] == point.type for i in instances)


def test_expressions_are_visible_but_weak_for_micros(casme2: Path) -> None:
    """Along the expression direction, macro frames stand out more than micro frames (no tuning, just the model)."""
    direction = directions(0, 8)[0]
    gt = read_ground_truth(casme2)
    apex = {"macro": [], "micro": [], "rest": []}
    for video, entry in list(gt.items())[:30]:
        projection = np.load(casme2 / "features" / f"{video}.npy") @ direction
        for instance in entry["instances"]:
            apex[instance["type"]].append(projection[instance["apex"]] - np.median(projection))
        apex["rest"].append(projection[:25] - np.median(projection))
    rest = np.concatenate(apex["rest"]).std()
    assert np.mean(apex["macro"]) > np.mean(apex["micro"]) > 0 and np.mean(apex["macro"]) > rest


def test_samm_structure_and_speed(tmp_path: Path) -> None:
    tic = time.perf_counter()
    summary = simulate_spotting(tmp_path / "samm", SpottingSimulationSpec(structure="samm", subjects=3), progress=False)
    elapsed = time.perf_counter() - tic
    assert summary["subjects"] == 3 and summary["videos"] == 15
    videos = read_videos(tmp_path / "samm")
    assert {v.fps for v in videos.values()} == {200.0} and {v.subject for v in videos.values()} == {"006", "007", "008"}
    assert elapsed < 10, f"3 subjects took {elapsed:.1f} s (about 0.4 s measured on an idle core)"
    record = json.loads((tmp_path / "samm" / "simulation.json").read_text())
    assert record["spec"]["seed"] == 0 and record["spec"]["structure"] == "samm" and record["structure"]["fps"] == 200.0


@pytest.mark.parametrize(("spec", "names"), [
    (SpottingSimulationSpec(structure="casme3"), "--structure 'casme3': unknown dataset structure; known: casme2, samm"),
    (SpottingSimulationSpec(dim=3), "--dim 3: between 7 and 4096"),
    (SpottingSimulationSpec(max_seconds=2), "--max-seconds 2: cap videos at 5 s or more"),
    (SpottingSimulationSpec(seed=-1), "--seed -1"),
])
def test_impossible_specs(tmp_path: Path, spec: SpottingSimulationSpec, names: str) -> None:
    with pytest.raises(SentilocError) as caught:
        simulate_spotting(tmp_path / "x", spec, progress=False)
    assert names in str(caught.value)
    assert not (tmp_path / "x").exists()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    argv = ["simulate", "--task", "spotting", str(out), "--subjects", "1", "--videos-per-subject", "2", "--dim", "8",
            "--max-seconds", "10", "--seed", "3"]
    assert main(argv) == 0 and "videos: 2" in capsys.readouterr().out
    assert main(["check-data", str(out)]) == 0 and "check-data: OK" in capsys.readouterr().out
    assert main(argv) == 1 and "pass --overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    capsys.readouterr()
    assert main(["simulate", "--task", "spotting", str(tmp_path / "y"), "--clicks", "noisy", "--videos", "3"]) == 1
    assert "--videos, --clicks belong(s) to the other task's simulator" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "z"), "--max-seconds", "10"]) == 1
    assert "simulate --task localization: --max-seconds" in capsys.readouterr().err
    assert main(["check-data", str(out), "--task", "localization"]) == 1
