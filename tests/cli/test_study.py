"""``study accuracy`` / ``study sensitivity`` and ``predict --face-missing`` through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sentiloc.cli import build_parser, main
from sentiloc.cli.study import ACCURACY_HELP as MATRIX_HELP
from sentiloc.core.config import CONFIG_DIR
from sentiloc.core.errors import SentilocError
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import DataConfig, FaceMissingDataset
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.studies import matrix
from sentiloc.studies.matrix import MATRIX_EPOCHS
from tests.conftest import make_dataset

TINY_MODEL = [
    "--set", "model.hidden=16", "--set", "model.heads=2", "--set", "model.gsp_hidden=32",
    "--set", "model.trunk_hidden=32", "--set", "train.batch_size=2", "--set", "train.micro_batch=2",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("matrix") / "data")


@pytest.fixture(scope="module")
def quick_matrix(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One ``study accuracy --quick`` run shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("acc") / "out"
    assert main(["study", "accuracy", "--quick", "--data", str(data), "--out", str(out), *TINY_MODEL]) == 0
    return out, (out / "table.md").read_text()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_quick_accuracy_writes_rows_and_table(quick_matrix: tuple[Path, str]) -> None:
    out, table = quick_matrix
    rows = _csv(out / "results.csv")
    assert [(r["config"], r["seed"]) for r in rows] == [("fsenet_point", "1")]
    for column in ["avg_mAP", "mAP@0.1", "mAP@0.3", "recall", "f2", "AP_p", "AP_n", "train_min"]:
        assert 0.0 <= float(rows[0][column]) <= 100.0, column
    assert float(rows[0]["train_min"]) > 0
    run = out / "runs" / "fsenet_point_s1"
    assert load_checkpoint(run / "best.pt")["epoch"] == 1
    # a finished run keeps only the selected checkpoint: resume files would fill disks (~300 MB each)
    assert {p.name for p in run.glob("*.pt")} == {"best.pt"}
    assert {"metrics.json", "test.json", "run.json"} <= {p.name for p in run.iterdir()}
    assert "| config | seeds | mAP@0.1 |" in table and "| fsenet_point | 1 |" in table
    assert "1 epochs, seeds 1:" in table


def test_rerun_skips_finished_runs(quick_matrix: tuple[Path, str], data: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out, table = quick_matrix

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(matrix, "train", no_training)
    monkeypatch.setattr(matrix, "predict_split", no_training)
    assert main(["study", "accuracy", "--quick", "--data", str(data), "--out", str(out), *TINY_MODEL]) == 0
    printed = capsys.readouterr()
    assert "[1/1] fsenet_point seed 1: avg mAP" in printed.err and "finished earlier, skipped" in printed.err
    assert table.strip() in printed.out
    assert (out / "table.md").read_text() == table


def test_changed_settings_are_refused(quick_matrix: tuple[Path, str], data: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = quick_matrix
    args = ["study", "accuracy", "--quick", "--data", str(data), "--out", str(out), *TINY_MODEL]
    assert main([*args, "--set", "train.lr=1e-3"]) == 1
    assert "holds a run of another config" in capsys.readouterr().err


def test_killed_matrix_resumes_from_last_pt(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    real_train = matrix.train
    calls = []

    def killed_after_one_epoch(*args, **kwargs):
        calls.append(kwargs.get("resume", False))
        real_train(*args, **{**kwargs, "stop_after": 1})
        raise KeyboardInterrupt

    monkeypatch.setattr(matrix, "train", killed_after_one_epoch)
    args = ["study", "accuracy", "--data", str(data), "--out", str(tmp_path), "--configs", "fsenet_point",
            "--seeds", "1", "--epochs", "2", *TINY_MODEL]
    assert main(args) == 130
    run = tmp_path / "runs" / "fsenet_point_s1"
    assert load_checkpoint(run / "last.pt")["epoch"] == 1 and not (run / "metrics.json").exists()
    monkeypatch.setattr(matrix, "train", lambda *a, **k: (calls.append(k.get("resume", False)), real_train(*a, **k)))
    assert main(args) == 0
    assert calls == [False, True], "the second invocation resumed instead of starting over"
    assert json.loads((run / "summary.json").read_text())["epochs_done"] == 2
    assert not (run / "last.pt").exists(), "resume files are pruned once the run is evaluated"
    assert "trained in" in capsys.readouterr().err
    assert [r["seed"] for r in _csv(tmp_path / "results.csv")] == ["1"]


def test_requested_config_that_does_not_exist_is_an_error(data: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = ["study", "accuracy", "--data", str(data), "--out", str(tmp_path), "--configs", "fsenet_point",
            "tslnet_nowhere"]
    assert main(args) == 1
    assert "tslnet_nowhere: config not found" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists(), "nothing runs before every config is known"


def test_sensitivity_face_quick(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["study", "sensitivity", "--study", "face", "--quick", "--data", str(data), "--out", str(tmp_path)]
    assert main([*args, *TINY_MODEL]) == 0
    rows = _csv(tmp_path / "face.csv")
    assert [(r["face_dropout"], r["face_missing"]) for r in rows] == [
        ("0.0", "0.0"), ("0.0", "50.0"), ("0.5", "0.0"), ("0.5", "50.0")
    ]
    assert float(rows[1]["face_missing_achieved"]) == pytest.approx(50.0, abs=1.0)
    assert float(rows[0]["face_missing_achieved"]) > 20.0, "the data's own missing faces count"
    assert (tmp_path / "face.png").read_bytes().startswith(b"\x89PNG")
    assert {p.name for p in tmp_path.glob("runs/*")} == {"face_dropout0_s1", "face_dropout0.5_s1"}
    assert (tmp_path / "runs" / "face_dropout0_s1" / "metrics_face50.json").is_file()
    assert "| face_dropout | face_missing | seeds | avg mAP |" in capsys.readouterr().out


@pytest.mark.parametrize("study,runs", [("jitter", {"jitter_0s_s1", "jitter_2s_s1"}),
                                        ("bspg", {"bspg_w3_b0.6_s1", "bspg_w7_b0.6_s1"})])
def test_sensitivity_jitter_and_bspg_quick(study: str, runs: set[str], data: Path, tmp_path: Path) -> None:
    args = ["study", "sensitivity", "--study", study, "--quick", "--data", str(data), "--out", str(tmp_path)]
    assert main([*args, *TINY_MODEL]) == 0
    assert len(_csv(tmp_path / f"{study}.csv")) == 2
    assert (tmp_path / f"{study}.png").read_bytes().startswith(b"\x89PNG")
    assert {p.name for p in tmp_path.glob("runs/*")} == runs


@pytest.mark.parametrize("study,config,message", [("face", "faceless.yaml", "reads no face stream"),
                                                   ("jitter", "fsenet_full", "full-supervised")])
def test_studies_refuse_configs_they_cannot_perturb(study: str, config: str, message: str, data: Path,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faceless = tmp_path / "faceless.yaml"
    faceless.write_text(f"_base_: {CONFIG_DIR / 'fsenet_point.yaml'}\ndata: {{modalities: [rgb, logmfcc], face: null}}\n")
    config = str(faceless) if config == faceless.name else config
    args = ["study", "sensitivity", "--study", study, "--config", config, "--quick", "--data", str(data),
            "--out", str(tmp_path / "out")]
    assert main(args) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_predict_with_hidden_faces(quick_matrix: tuple[Path, str], data: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    best = quick_matrix[0] / "runs" / "fsenet_point_s1" / "best.pt"
    base = ["predict", "--checkpoint", str(best), "--data", str(data)]
    assert main([*base, "--out", str(tmp_path / "p.json"), "--face-missing", "0.75", "--face-seed", "3"]) == 0
    assert (tmp_path / "p.json").is_file()
    assert main([*base, "--out", str(tmp_path / "q.json"), "--face-missing", "1.5"]) == 1
    assert "--face-missing 1.5" in capsys.readouterr().err


def test_face_missing_dataset_hides_and_zeroes_faces(data: Path) -> None:
    infos = list(read_video_infos(data, ("test",)).values())
    dataset = FaceMissingDataset(data, infos, DataConfig(), fraction=0.6, seed=1)
    for i in range(len(dataset)):
        item = dataset[i]
        assert (~item.face_present).sum() == round(0.6 * len(item.face_present))
        assert not item.features["img"][~item.face_present].any(), "hidden faces look like undetected ones"
        assert item.features["img"][item.face_present].any(axis=1).all()
    with pytest.raises(SentilocError, match="without a face stream"):
        FaceMissingDataset(data, infos, DataConfig(modalities=("rgb", "logmfcc"), face=None), fraction=0.5, seed=0)


def test_help_states_the_matrix_schedule() -> None:
    assert f"({MATRIX_EPOCHS} epochs" in MATRIX_HELP and f"(default {MATRIX_EPOCHS})" in MATRIX_HELP + _epochs_help()
    assert "--videos 90 --max-duration 120" in MATRIX_HELP


def _epochs_help() -> str:
    study = build_parser()._subparsers._group_actions[0].choices["study"]
    accuracy = study._subparsers._group_actions[0].choices["accuracy"]
    return next(a.help for a in accuracy._actions if "--epochs" in a.option_strings)


def test_click_study_compares_click_models_on_identical_videos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "clicks"
    args = ["study", "clicks", "--quick", "--videos", "24", "--max-duration", "40", "--out", str(out), *TINY_MODEL]
    assert main(args) == 0
    table = (out / "clicks.md").read_text()
    assert "| fsenet_point | inside |" in table and "| fsenet_point | noisy |" in table
    with (out / "clicks.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["clicks"] for row in rows) == ["inside", "noisy"]
    inside, noisy = (out / "data" / "inside"), (out / "data" / "noisy")
    for name in ("videosenti_gt.json", "split_train.txt"):
        assert (inside / name).read_bytes() == (noisy / name).read_bytes()
    assert (inside / "point_gaussian" / "point_labels.csv").read_bytes() != (noisy / "point_gaussian" / "point_labels.csv").read_bytes()
    assert "| fsenet_point | inside |" in capsys.readouterr().out
