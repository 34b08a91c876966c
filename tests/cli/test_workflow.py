"""End-to-end through the CLI: simulate -> check-data -> train -> predict -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sentiloc.cli import main
from sentiloc.engine.checkpoint import load_checkpoint

TINY_MODEL = [
    "--set", "model.hidden=16", "--set", "model.heads=2", "--set", "model.gsp_hidden=32",
    "--set", "model.trunk_hidden=32", "--set", "train.batch_size=2", "--set", "train.micro_batch=2",
    "--set", "data.val_fraction=0.25",
]


@pytest.fixture(scope="module")
def sim_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "data"
    assert main(["simulate", str(out), "--videos", "9", "--seed", "1", "--dims", "rgb=12,logmfcc=6,img=10"]) == 0
    return out


def test_simulated_data_passes_check(sim_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-data", str(sim_data)]) == 0
    assert "check-data: OK" in capsys.readouterr().out


def test_perfect_prediction_scores_one(sim_data: Path, tmp_path: Path) -> None:
    gt = json.loads((sim_data / "gt.json").read_text())["database"]
    results = {
        vid: [{"label": a["label"], "score": 1.0, "segment": [float(x) for x in a["segment"]]} for a in entry["annotations"]]
        for vid, entry in gt.items()
        if entry["subset"] == "test"
    }
    pred = tmp_path / "perfect.json"
    pred.write_text(json.dumps({"version": "test", "results": results, "external_data": {}}))
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--gt", str(sim_data / "gt.json"), "--pred", str(pred), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["average_mAP"] == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in metrics["mAP"])


@pytest.mark.parametrize("config", ["fsenet_point", "fsenet_video", "fsenet_full"])
def test_train_predict_evaluate(config: str, sim_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "--config", config, "--data", str(sim_data), "--out", str(run), "--epochs", "2", *TINY_MODEL]
    assert main(args) == 0
    for name in ["best.pt", "last.pt", "config.yaml", "summary.json"]:
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 2 and state["dims"] == {"rgb": 12, "logmfcc": 6, "img": 10}
    assert main(args) == 1  # refuses to train into a non-empty run folder
    pred = tmp_path / "pred.json"
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(sim_data), "--out", str(pred)]) == 0
    results = json.loads(pred.read_text())["results"]
    test_ids = (sim_data / "split_test.txt").read_text().split()
    assert sorted(results) == sorted(test_ids)
    entry = next(e for v in results.values() for e in v)
    assert entry["label"] in ("p", "n") and entry["segment"][0] < entry["segment"][1]
    assert main(["evaluate", "--gt", str(sim_data / "gt.json"), "--pred", str(pred)]) == 0
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(sim_data), "--out", str(pred)]) == 1


def test_resume_matches_uninterrupted_run(sim_data: Path, tmp_path: Path) -> None:
    base = ["--config", "fsenet_point", "--data", str(sim_data), "--epochs", "3", *TINY_MODEL]
    assert main(["train", *base, "--out", str(tmp_path / "straight")]) == 0
    assert main(["train", *base, "--out", str(tmp_path / "killed"), "--stop-after", "1"]) == 0
    assert load_checkpoint(tmp_path / "killed" / "last.pt")["epoch"] == 1
    assert main(["train", "--data", str(sim_data), "--out", str(tmp_path / "killed"), "--resume"]) == 0
    straight = load_checkpoint(tmp_path / "straight" / "last.pt")
    resumed = load_checkpoint(tmp_path / "killed" / "last.pt")
    assert resumed["epoch"] == 3
    def untimed(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in record.items() if not k.startswith("time/")} for record in history]

    assert untimed(resumed["history"]) == untimed(straight["history"])
    for key, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][key], value, rtol=0, atol=0)


def test_bad_inputs_are_one_line_errors(sim_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", "nope", "--data", str(sim_data), "--out", str(tmp_path / "r")]) == 1
    assert "config not found" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(tmp_path / "x.pt"), "--data", str(sim_data), "--out", str(tmp_path / "p.json")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"garbage")
    assert main(["predict", "--checkpoint", str(bogus), "--data", str(sim_data), "--out", str(tmp_path / "p.json")]) == 1
    assert "not a loadable sentiloc checkpoint" in capsys.readouterr().err
    assert main(["train", "--config", "fsenet_point", "--set", "train.lrr=1", "--data", str(sim_data), "--out", str(tmp_path / "r2")]) == 1
    assert "unknown key" in capsys.readouterr().err


def test_predict_refuses_features_of_another_extractor(sim_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "--config", "fsenet_point", "--data", str(sim_data), "--out", str(run), "--epochs", "1", *TINY_MODEL]) == 0
    other = tmp_path / "other"
    assert main(["simulate", str(other), "--videos", "3", "--dims", "rgb=7,logmfcc=6,img=10"]) == 0
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(run / "last.pt"), "--data", str(other), "--out", str(tmp_path / "p.json")]) == 1
    assert "feature dim 7 but the model expects 12 for 'rgb'" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_benchmark_speed_reports_every_figure(sim_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["benchmark", "speed", "--data", str(sim_data), "--train-videos", "2", "--repeats", "2", "--threads", "1"]
    assert main([*args, *TINY_MODEL]) == 0
    out = capsys.readouterr().out
    for figure in ["s/video", "longest video", "peak RSS", "per 100 test videos (median of 2 passes)"]:
        assert figure in out, figure


ABLATIONS = {  # config -> (parameter prefixes that must exist, prefixes that must not, pseudo-labels)
    "ablations/bspg": (["fci.v_from_audio", "gsp."], [], "bspg"),
    "ablations/gsp_only": (["gsp."], ["fci."], "bspg"),
    "ablations/fci_one_stage": (["fci.v_from_face", "gsp."], ["fci.v_from_audio"], "bspg"),
    "ablations/no_gsp": (["fci.v_from_audio"], ["gsp."], "bspg"),
    "ablations/no_pseudo": (["fci.v_from_audio", "gsp."], [], "none"),
    "ablations/threshold_pseudo": (["fci.v_from_audio", "gsp."], [], "threshold"),
    "ablations/gaussian_pseudo": (["fci.v_from_audio", "gsp."], [], "gaussian"),
}


@pytest.mark.parametrize("config", sorted(ABLATIONS))
def test_every_ablation_config_trains(config: str, sim_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--config", config, "--data", str(sim_data), "--out", str(run), "--epochs", "1", *TINY_MODEL]) == 0
    state = load_checkpoint(run / "last.pt")
    names = list(state["model"])
    present, absent, pseudo = ABLATIONS[config]
    assert state["config"]["loss"]["pseudo"]["strategy"] == pseudo
    assert all(any(n.startswith(p) for n in names) for p in present), present
    assert not any(n.startswith(p) for n in names for p in absent), absent


def test_face_dropout_is_wired_and_reproducible(sim_data: Path, tmp_path: Path) -> None:
    def weights(name: str, rate: str) -> dict[str, torch.Tensor]:
        run = tmp_path / name
        args = ["train", "--config", "fsenet_point", "--data", str(sim_data), "--out", str(run), "--epochs", "1",
                "--set", f"train.face_dropout={rate}", *TINY_MODEL]
        assert main(args) == 0
        return load_checkpoint(run / "last.pt")["model"]

    first, again, without = weights("a", "1.0"), weights("b", "1.0"), weights("c", "0.0")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], without[k]) for k in first)


def test_benchmark_attention_profiles_every_fci_layer(
    sim_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {}
    for config in ("fsenet_point", "ablations/gsp_only"):
        runs[config] = tmp_path / config.replace("/", "-")
        args = ["train", "--config", config, "--data", str(sim_data), "--out", str(runs[config]), "--epochs", "1"]
        assert main([*args, *TINY_MODEL]) == 0
    capsys.readouterr()
    probe = ["study", "attention", "--data", str(sim_data), "--checkpoint"]
    assert main([*probe, str(runs["fsenet_point"] / "best.pt")]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| fci.")]
    assert [r[1].strip() for r in rows] == ["fci.v_from_face", "fci.a_from_face", "fci.v_from_audio", "fci.a_from_visual"]
    for row in rows:
        queries, entropy, same, chance = int(row[2]), *(float(x) for x in row[3:6])
        assert queries > 0 and 0.0 <= entropy <= 1.0 + 1e-6 and 0.0 <= same <= 1.0 and 0.0 < chance <= 1.0
    # a model without FCI has nothing to probe: a one-line error, not a crash
    assert main([*probe, str(runs["ablations/gsp_only"] / "best.pt")]) == 1
    assert "no attention layer" in capsys.readouterr().err


def test_crossval_on_tsl300_is_its_fixed_split(sim_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "cv"
    assert main(["crossval", "--config", "fsenet_point", "--data", str(sim_data), "--out", str(out), "--epochs", "1",
                 *TINY_MODEL]) == 0
    assert [p.name for p in (out / "folds").iterdir()] == ["test"]
    assert main(["evaluate", "--gt", str(sim_data / "gt.json"), "--pred", str(out / "predictions.json"),
                 "--json", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text()) == json.loads((out / "metrics.json").read_text())
