"""Localizing many video files: the API in memory and the ``localize`` verb, one set of extractors for all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import sentiloc
import sentiloc.features.extract as extract_module
from sentiloc.cli import main
from tests.features.videos import positive_video, write_annotations

SMALL = ["--set", "model.hidden=32", "--set", "model.gsp_hidden=64", "--set", "model.trunk_hidden=64",
         "--set", "train.batch_size=2", "--set", "train.checkpoint_every=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three short videos -> build-dataset -> one epoch of a small FSENet; two more videos to localize."""
    root = tmp_path_factory.mktemp("videos")
    windows = {}
    for seed in range(3):
        path, window = positive_video(root / "train" / f"clip{seed}.mp4", seed=seed, duration_s=8.0)
        windows[path.stem] = window
    for seed in (7, 8):
        positive_video(root / "new" / f"new{seed}.mp4", seed=seed, duration_s=8.0)
    annotations = write_annotations(root / "annotations.csv", windows, test_ids={"clip2"})
    assert main(["-q", "build-dataset", str(root / "train"), "--annotations", str(annotations),
                 "--out", str(root / "data")]) == 0
    assert main(["-q", "train", "--config", "fsenet_point", "--data", str(root / "data"), "--out", str(root / "run"),
                 "--epochs", "1", *SMALL]) == 0
    return {"root": root, "new": root / "new", "run": root / "run"}


@pytest.fixture
def count_builds(monkeypatch: pytest.MonkeyPatch) -> list:
    builds = []
    real = extract_module.build_extractors

    def counting(*args, **kwargs):
        builds.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module, "build_extractors", counting)
    return builds


def test_api_localizes_a_folder_in_memory_building_the_extractors_once(trained: dict, count_builds: list) -> None:
    before = sorted(trained["root"].rglob("*"))
    model = sentiloc.load_model(trained["run"])
    by_video = model.localize(trained["new"], progress=False)
    assert sorted(by_video) == ["new7", "new8"]
    one = model.localize(trained["new"] / "new7.mp4")
    assert [(s.label, s.start_s, s.end_s) for s in one] == [(s.label, s.start_s, s.end_s) for s in by_video["new7"]]
    assert len(count_builds) == 1, "the extractors are built once per model, not once per video"
    assert sorted(trained["root"].rglob("*")) == before, "nothing is written unless out= is given"


def test_cli_localizes_files_and_folders_and_refuses_to_clobber(trained: dict, tmp_path: Path, count_builds: list,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    extra = tmp_path / "other.mp4"
    shutil.copy(trained["new"] / "new7.mp4", extra)
    out = tmp_path / "out"
    args = ["localize", str(trained["new"]), str(extra), "--checkpoint", str(trained["run"] / "best.pt"),
            "--out", str(out), "--top", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "localized 3 of 3 videos" in printed and len(count_builds) == 1
    for video in ("new7", "new8", "other"):
        assert {p.name for p in out.glob(f"{video}.*")} == {f"{video}.{s}" for s in ("json", "csv", "png", "html")}
        assert f"{video}: " in printed
        assert list(json.loads((out / f"{video}.json").read_text())["results"]) == [video]
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    again = ["localize", str(extra), "--checkpoint", str(trained["run"] / "best.pt"), "--out", str(out)]
    assert main(again) == 1 and main([*again, "--overwrite"]) == 0


def test_cli_reports_a_bad_video_and_goes_on(trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    out = tmp_path / "out"
    args = ["localize", str(broken), str(trained["new"] / "new8.mp4"), "--checkpoint",
            str(trained["run"] / "best.pt"), "--out", str(out)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "error: broken: " in captured.err and "localized 1 of 2 videos" in captured.out
    assert (out / "new8.json").is_file() and not (out / "broken.json").exists()
