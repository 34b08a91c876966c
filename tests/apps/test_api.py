"""The Python API at the top of the package: docs/api.md's example end to end, and its error paths."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sentiloc
from sentiloc.apps.localize import Segment
from sentiloc.core.errors import SentilocError

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown.read_text(encoding="utf-8"), flags=re.S)


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """docs/api.md's first example, run as it is in an empty folder; its variables."""
    folder = tmp_path_factory.mktemp("api_example")
    namespace: dict = {"__name__": "__api_example__"}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        exec(compile(python_blocks(ROOT / "docs" / "api.md")[0], "docs/api.md", "exec"), namespace)
    namespace["folder"] = folder
    return namespace


def test_the_documented_example_runs_end_to_end(example: dict) -> None:
    folder, run = example["folder"], example["run"]
    assert run.checkpoint == Path("runs/tiny/best.pt") and (folder / run.checkpoint).is_file()
    assert run.summary["epochs_done"] == 1
    test_ids = (folder / "data/tiny/split_test.txt").read_text().split()
    assert sorted(example["predictions"]) == sorted(test_ids)
    assert 0.0 <= example["metrics"]["average_mAP"] <= 1.0 and len(example["metrics"]["mAP"]) == 5
    segments = example["predictions"][example["video"]]
    assert segments and all(isinstance(s, Segment) and s.start_s < s.end_s for s in segments)
    assert [s.score for s in segments] == sorted((s.score for s in segments), reverse=True)


def test_localizing_features_matches_predict_and_writes_nothing(example: dict, tmp_path: Path) -> None:
    folder, model = example["folder"], example["model"]
    before = files_under(folder)
    duration_s = json.loads((folder / "data/tiny/len_duration_dict.json").read_text())[example["video"]]
    segments = model.localize(example["streams"], fps=example["fps"], duration_s=duration_s)
    assert files_under(folder) == before
    rounded = [(s.label, round(s.start_s, 5), round(s.end_s, 5), round(s.score, 5)) for s in segments]
    assert rounded == [(s.label, round(s.start_s, 5), round(s.end_s, 5), round(s.score, 5))
                       for s in example["predictions"][example["video"]]]
    assert max(s.end_s for s in segments) <= duration_s
    # asked to, it writes the report (no HTML page without a video file) and then refuses to clobber it
    model.localize(example["streams"], fps=example["fps"], video_id="v", out=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.csv", "v.json", "v.png"]
    with pytest.raises(SentilocError, match="already exists"):
        model.localize(example["streams"], fps=example["fps"], video_id="v", out=tmp_path)


def test_evaluate_takes_files_folders_and_memory(example: dict, tmp_path: Path) -> None:
    folder, predictions = example["folder"], example["predictions"]
    in_memory = sentiloc.evaluate(folder / "data/tiny", predictions)
    results = {"results": {video: [s.to_entry() for s in segs] for video, segs in predictions.items()}}
    (tmp_path / "pred.json").write_text(json.dumps(results))
    assert sentiloc.evaluate(folder / "data/tiny/gt.json", tmp_path / "pred.json") == in_memory
    assert sentiloc.evaluate(folder / "data/tiny/gt.json", results) == in_memory
    assert sentiloc.evaluate(folder / "data/tiny/gt.json", predictions, tiou=[0.1, 0.2])["tiou"] == [0.1, 0.2]
    with pytest.raises(SentilocError, match="tiou"):
        sentiloc.evaluate(folder / "data/tiny/gt.json", predictions, tiou="0.3:0.1:0.05")
    with pytest.raises(SentilocError, match="no ground-truth segment in subset 'tset'"):
        sentiloc.evaluate(folder / "data/tiny/gt.json", predictions, subset="tset")
    with pytest.raises(SentilocError, match="expected"):
        sentiloc.evaluate(folder / "data/tiny/gt.json", {"v": [{"label": "p"}]})


def test_features_of_other_dims_or_without_fps_are_refused(example: dict) -> None:
    model, streams = example["model"], example["streams"]
    with pytest.raises(SentilocError, match="fps="):
        model.localize(streams)
    with pytest.raises(SentilocError, match=r"'rgb' features must be a finite \(snippets, 64\) array"):
        model.localize({**streams, "rgb": np.zeros((10, 7))}, fps=25.0)
    with pytest.raises(SentilocError, match="'img' is missing"):
        model.localize({k: v for k, v in streams.items() if k != "img"}, fps=25.0)


def test_load_model_takes_a_run_a_folder_or_a_file(example: dict) -> None:
    folder, run = example["folder"], example["run"]
    for where in (folder / "runs/tiny", folder / run.checkpoint, sentiloc.Run(folder / "runs/tiny", {})):
        assert sentiloc.load_model(where).classes == ["n", "p"]
    with pytest.raises(SentilocError, match="at inference only postprocess"):
        sentiloc.load_model(folder / "runs/tiny", postprocess={"train.lr": 1.0})


@pytest.mark.parametrize("overrides", [{"train.lr": "abc"}, ["train.lr=abc"]])
def test_load_config_checks_overrides(overrides) -> None:
    with pytest.raises(SentilocError, match="config key train.lr: 'abc' is not a float"):
        sentiloc.load_config("fsenet_point", overrides)
    assert sentiloc.load_config("fsenet_point", {"train.lr": 3e-4})["train"]["lr"] == 3e-4


def test_import_sentiloc_is_cheap_and_names_resolve_lazily() -> None:
    code = ("import sys, sentiloc; heavy = [m for m in ('torch', 'numpy', 'sentiloc.apps.api') if m in sys.modules]; "
            "assert not heavy, heavy; sentiloc.load_model; assert 'sentiloc.apps.api' in sys.modules; "
            "assert set(sentiloc.__all__) <= set(dir(sentiloc))")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sentiloc.nope  # noqa: B018


def test_load_model_refuses_a_spotting_model_in_one_line(tmp_path: Path) -> None:
    from tests.data.spotting.conftest import make_spotting_dataset

    data = make_spotting_dataset(tmp_path / "spotting")
    config = sentiloc.load_config("spotting/pfes_gim", overrides={"train.epochs": 1, "model.hidden": 8})
    run = sentiloc.train(config, data=data, out=tmp_path / "run")
    with pytest.raises(SentilocError, match="a spotting model; load_model serves localization models"):
        sentiloc.load_model(run.checkpoint)
