"""The recognition simulator: determinism, shapes, keyframes, labels that agree with what was drawn, the CLI."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.annotations import (
    read_classes,
    read_keyframes,
    read_labels,
)
from sentiloc.data.recognition.validate import check_recognition_dataset
from sentiloc.data.simulate import recognition as sim
from sentiloc.data.simulate.recognition import (
    RecognitionSimulationSpec,
    simulate_recognition,
)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ve8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full-size ve8 simulation (1,101 videos), once for the module."""
    root = tmp_path_factory.mktemp("ve8") / "data"
    simulate_recognition(root, RecognitionSimulationSpec(), progress=False)
    return root


def test_similarity_by_hand() -> None:
    s = sim.similarity(("anger", "disgust", "joy", "angry"))
    # anger (-0.51, 0.59, 0.25), disgust (-0.60, 0.35, 0.11): d^2 = 0.09^2 + 0.24^2 + 0.14^2 = 0.0853
    # exp(-0.0853 / (2 * 0.35^2)) = exp(-0.3482) = 0.7060
    assert s[0, 1] == pytest.approx(0.7060, abs=1e-4)
    assert np.allclose(np.diag(s), 1.0) and np.allclose(s, s.T)
    assert s[0, 2] < 0.01 and s[0, 3] == 1.0  # anger is far from joy; DFEW's "angry" is anger


def test_prototypes_have_the_similarity_as_inner_products() -> None:
    s = sim.similarity(sim.STRUCTURES.get("ve8").classes)
    protos, salience = sim.prototypes(0, "visual", s, 32)
    np.testing.assert_allclose(protos @ protos.T, s, atol=1e-10)
    np.testing.assert_allclose(protos @ salience, 0.0, atol=1e-10)
    assert np.linalg.norm(salience) == pytest.approx(1.0)


def test_confusable_classes_are_the_similar_ones() -> None:
    s = sim.similarity(sim.STRUCTURES.get("ve8").classes)
    names = sim.STRUCTURES.get("ve8").classes
    nearest = {name: names[int(np.argsort(-row)[1])] for name, row in zip(names, s)}
    assert nearest["anger"] == "disgust" and nearest["joy"] in {"anticipation", "trust", "surprise"}
    assert nearest["surprise"] == "anticipation" and nearest["sadness"] in {"disgust", "fear"}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), length=st.integers(1, 40))
def test_keyframe_runs_lie_inside_and_apart(seed: int, length: int) -> None:
    runs = sim.keyframe_runs(np.random.default_rng(seed), length)
    assert 1 <= len(runs) <= 2
    assert all(0 <= first <= last < length for first, last in runs)
    if len(runs) == 2:
        assert runs[0][1] + 1 < runs[1][0]  # a gap of at least one segment
    total = sum(last - first + 1 for first, last in runs)
    assert max(1, round(0.2 * length) - 1) <= total <= max(1, round(0.5 * length) + 1)


def test_class_counts_keep_the_proportions() -> None:
    shape = sim.STRUCTURES.get("ve8")
    assert sim.class_counts(shape, None) == [100, 101, 115, 150, 180, 101, 236, 118]
    counts = sim.class_counts(shape, 40)
    assert sum(counts) == 40 and min(counts) >= 1 and counts[6] == max(counts)


def test_full_ve8_layout_and_protocol(ve8: Path) -> None:
    report = check_recognition_dataset(ve8)
    assert report.ok, report.format()
    assert report.summary["videos"] == 1101 and report.summary["streams"] == {"audio": 64, "visual": 128}
    assert report.summary["segments"] == "10..10"
    splits = report.summary["splits"]
    assert splits["train"] + splits["test"] == 1101 and abs(splits["test"] / 1101 - 1 / 3) < 0.01
    assert read_classes(ve8) == ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")


def test_labels_and_keyframes_agree_with_what_was_drawn(ve8: Path) -> None:
    drawn = json.loads((ve8 / "simulation.json").read_text())
    rows = read_labels(ve8, read_classes(ve8))
    keyframes = read_keyframes(ve8, rows)
    assert set(drawn["videos"]) == set(rows)
    for video, record in drawn["videos"].items():
        assert record["label"] == rows[video].label
        assert [list(span) for span in keyframes[video]] == record["keyframes"]
        assert all(0 <= first <= last < record["segments"] for first, last in record["keyframes"])
        inside = {t for first, last in record["keyframes"] for t in range(first, last + 1)}
        assert not inside & set(record["distractors"])


def test_stream_states_follow_the_constants(ve8: Path) -> None:
    drawn = json.loads((ve8 / "simulation.json").read_text())["videos"].values()
    states = Counter(("neutral" if s == "neutral" else "label" if s == "label" else "confused")
                     for record in drawn for s in record["streams"].values())
    n = sum(states.values())  # 2202 draws: binomial sd of a 0.15 share is 0.008
    assert abs(states["neutral"] / n - sim.NEUTRAL_STREAM) < 0.03
    assert abs(states["confused"] / n - sim.CONFUSED_STREAM) < 0.03
    shown = Counter(s for record in drawn if record["label"] == "anger" for s in record["streams"].values()
                    if s not in ("label", "neutral"))
    assert shown["disgust"] > shown.get("joy", 0)  # confusions go to similar classes


def test_keyframes_carry_the_label(ve8: Path) -> None:
    """Projected on the label's prototype, keyframe segments exceed the context of the same video."""
    drawn = json.loads((ve8 / "simulation.json").read_text())["videos"]
    shape = sim.STRUCTURES.get("ve8")
    protos, _ = sim.prototypes(0, "visual", sim.similarity(shape.classes), 128)
    gaps = []
    for video, record in list(drawn.items())[:300]:
        if record["streams"]["visual"] != "label":
            continue
        rows = np.load(ve8 / "features" / "visual" / f"{video}.npy") @ protos[shape.classes.index(record["label"])]
        inside = np.zeros(len(rows), dtype=bool)
        for first, last in record["keyframes"]:
            inside[first:last + 1] = True
        if (~inside).any():
            gaps.append(rows[inside].mean() - rows[~inside].mean())
    # expected gap (1 - 0.2) * gain, gain uniform in [1.5, 3] -> about 1.8
    assert 1.5 < float(np.mean(gaps)) < 2.1


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    spec = RecognitionSimulationSpec(videos=24, dims={"visual": 12, "audio": 10})
    simulate_recognition(tmp_path / "a", spec, progress=False)
    simulate_recognition(tmp_path / "b", spec, progress=False)
    simulate_recognition(tmp_path / "c", RecognitionSimulationSpec(videos=24, seed=1, dims={"visual": 12, "audio": 10}),
                         progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["features/visual/anger_0001.npy"] != _digest(tmp_path / "c")["features/visual/anger_0001.npy"]


def test_dfew_folds_and_variable_lengths(tmp_path: Path) -> None:
    root = tmp_path / "dfew"
    summary = simulate_recognition(root, RecognitionSimulationSpec(structure="dfew", videos=12, min_segments=5),
                                   progress=False)
    assert summary["streams"] == {"face": 128, "audio": 64} and summary["protocol"] == "5 folds"
    report = check_recognition_dataset(root)
    assert report.ok, report.format()
    assert set(report.summary["folds"]) == {1, 2, 3, 4, 5} and report.summary["classes"]["neutral"] >= 1
    lengths = [len(np.load(p)) for p in (root / "features" / "face").iterdir()]
    assert min(lengths) >= 5 and max(lengths) <= 16 and len(set(lengths)) > 1


def test_ekman6_is_a_half_split(tmp_path: Path) -> None:
    simulate_recognition(tmp_path / "e", RecognitionSimulationSpec(structure="ekman6", videos=60), progress=False)
    with (tmp_path / "e" / "labels.csv").open() as handle:
        splits = Counter(row["split"] for row in csv.DictReader(handle))
    assert splits == {"train": 30, "test": 30}


@pytest.mark.parametrize(("spec", "names"), [
    (RecognitionSimulationSpec(structure="casme2"), "--structure 'casme2': unknown recognition structure"),
    (RecognitionSimulationSpec(videos=10), "--videos 10: between 16 and 1000000 for ve8"),
    (RecognitionSimulationSpec(dims={"rgb": 8}), "--dims ['rgb']: ve8 has the streams ['visual', 'audio']"),
    (RecognitionSimulationSpec(dims={"visual": 8}), "--dims visual=8: between 9 and 4096"),
    (RecognitionSimulationSpec(segments=5, min_segments=6), "--min-segments 6: between 1 and --segments (5)"),
    (RecognitionSimulationSpec(seed=-1), "--seed -1"),
])
def test_impossible_specs_are_refused_before_writing(tmp_path: Path, spec: RecognitionSimulationSpec, names: str) -> None:
    with pytest.raises(SentilocError, match=names.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        simulate_recognition(tmp_path / "out", spec, progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_simulate_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    assert main(["-q", "simulate", str(out), "--task", "recognition", "--videos", "20", "--dims", "visual=16,audio=12",
                 "--segments", "8"]) == 0
    assert "videos: 20" in capsys.readouterr().out
    assert main(["check-data", str(out)]) == 0
    assert "streams: {'audio': 12, 'visual': 16}" in capsys.readouterr().out
    assert main(["-q", "simulate", str(out), "--task", "recognition", "--videos", "20"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["-q", "simulate", str(tmp_path / "x"), "--task", "recognition", "--clicks", "noisy"]) == 1
    assert "--clicks belong(s) to the other task's simulator" in capsys.readouterr().err
    assert main(["-q", "simulate", str(tmp_path / "y"), "--task", "spotting", "--segments", "4"]) == 1
    assert "--segments belong(s) to the other task's simulator" in capsys.readouterr().err
