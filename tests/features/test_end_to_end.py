"""The whole raw-video path, no mocks: videos -> build-dataset -> train FSENet-point -> localize a held-out video.

Positive sentiment is, by construction, a real face photograph on screen together with a loud sound
burst; everything else is a panning background and faint noise. A small FSENet trained from one
click per training video must find the window in a video it has never seen.
"""

from __future__ import annotations

import csv
import json

import pytest

from sentiloc.cli import main
from sentiloc.data.validate import check_dataset
from tests.features.videos import positive_video, write_annotations

SMALL_FSENET = ["--set", "model.hidden=64", "--set", "model.gsp_hidden=128", "--set", "model.trunk_hidden=128",
                "--set", "train.batch_size=2", "--set", "train.checkpoint_every=0"]


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("e2e")
    windows = {}
    for seed in range(10):
        path, window = positive_video(root / "videos" / f"clip{seed:02d}.mp4", seed=seed, duration_s=14.0)
        windows[path.stem] = window
    held_out, held_window = positive_video(root / "held_out.mp4", seed=42, duration_s=14.0)
    annotations = write_annotations(root / "annotations.csv", windows, test_ids={"clip08", "clip09"})
    data, run, loc = root / "data", root / "run", root / "localized"
    assert main(["build-dataset", str(root / "videos"), "--annotations", str(annotations), "--out", str(data)]) == 0
    assert main(["train", "--config", "fsenet_point", "--data", str(data), "--out", str(run), "--epochs", "30",
                 *SMALL_FSENET]) == 0
    assert main(["localize", str(held_out), "--checkpoint", str(run / "best.pt"), "--out", str(loc)]) == 0
    return {"root": root, "data": data, "run": run, "loc": loc, "held_out": held_out, "window": held_window,
            "windows": windows}


def test_built_dataset_has_the_tsl300_layout(workspace):
    data = workspace["data"]
    assert check_dataset(data).ok
    assert (data / "split_test.txt").read_text().split() == ["clip08", "clip09"]
    gt = json.loads((data / "gt.json").read_text())["database"]
    assert gt["clip00"]["annotations"] == [] and len(gt["clip08"]["annotations"]) == 1
    start, end = (float(x) for x in gt["clip08"]["annotations"][0]["segment"])
    assert (start, end) == pytest.approx(workspace["windows"]["clip08"], abs=1e-3)
    fps = json.loads((data / "fps_dict.json").read_text())
    with (data / "point_gaussian" / "point_labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {r["video_id"] for r in rows} == {f"clip{i:02d}" for i in range(8)}
    for row in rows:  # clicks are native frames inside their window
        lo, hi = workspace["windows"][row["video_id"]]
        assert lo <= int(row["point"]) / fps[row["video_id"]] <= hi
    assert json.loads((data / "extractor.json").read_text())["streams"]["rgb"]["name"] == "colour-motion"


def test_localize_finds_the_window_in_an_unseen_video(workspace):
    loc, window = workspace["loc"], workspace["window"]
    segments = json.loads((loc / "held_out.json").read_text())["results"]["held_out"]
    best = max(segments, key=lambda s: s["score"])
    assert best["label"] == "p"
    assert tiou(tuple(best["segment"]), window) >= 0.5, (best, window)
    with (loc / "held_out.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(segments) and float(rows[0]["score"]) == pytest.approx(best["score"], rel=1e-5)


def test_report_page_is_self_contained_and_clickable(workspace):
    page = (workspace["loc"] / "held_out.html").read_text()
    assert 'src="data:video/mp4;base64,' in page and "data:image/png;base64," in page
    assert page.count('class="seg"') >= 1 and "data-start=" in page and "currentTime" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    assert (workspace["loc"] / "held_out.png").stat().st_size > 10_000


def test_checkpoint_carries_the_extractor_and_the_feature_statistics(workspace):
    import torch

    state = torch.load(workspace["run"] / "best.pt", weights_only=True)
    assert state["extractor"]["settings"]["visual"] == "default"
    assert set(state["feature_stats"]) == {"rgb", "logmfcc", "img"}


def test_localize_refuses_to_overwrite_and_reuses_features(workspace, capsys):
    args = ["localize", str(workspace["held_out"]), "--checkpoint", str(workspace["run"] / "best.pt"),
            "--out", str(workspace["loc"])]
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def test_a_checkpoint_of_other_features_is_refused(workspace, tmp_path, capsys):
    from tests.conftest import make_dataset

    data = make_dataset(tmp_path / "data")  # dims 6/4/5: no extractor makes these
    assert main(["train", "--config", "fsenet_point", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--epochs", "1", *SMALL_FSENET]) == 0
    capsys.readouterr()
    assert main(["localize", str(workspace["held_out"]), "--checkpoint", str(tmp_path / "run" / "best.pt"),
                 "--out", str(tmp_path / "loc")]) == 1
    err = capsys.readouterr().err
    assert "expects rgb features of dim 6" in err and "colour-motion" in err
