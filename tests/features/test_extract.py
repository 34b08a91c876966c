"""``sentiloc extract`` on real files: outputs, truth agreement, failures that do not stop the batch, reruns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import main
from sentiloc.core.errors import SentilocError
from sentiloc.data.simulate.video import SyntheticVideo, write_video
from sentiloc.features.batch import expand_inputs, extract_videos
from sentiloc.features.settings import ExtractSettings

FACE = (3.0, 7.0)
BURST = (4.0, 6.0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "talk.mp4", SyntheticVideo(duration_s=10.0, width=240, height=180,
                                                    face_windows=[FACE], burst_windows=[BURST]))
    write_video(folder / "quiet.mp4", SyntheticVideo(duration_s=4.0, fps=29.97, width=160, height=120, seed=3))
    good = (folder / "talk.mp4").read_bytes()
    (folder / "damaged.mp4").write_bytes(good[: len(good) // 3])
    return folder


@pytest.fixture(scope="module")
def extracted(videos, tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("extracted")
    code = main(["extract", str(videos), "--out", str(out)])
    return out, code


def snippet_times(meta: dict) -> np.ndarray:
    return (np.arange(meta["n_snippets"]) + 0.5) * 16 / meta["fps"]


def test_good_videos_are_extracted_and_the_damaged_one_is_reported(extracted, capsys):
    out, code = extracted
    assert code == 1  # one failure
    for video in ("talk", "quiet"):
        meta = json.loads((out / "meta" / f"{video}.json").read_text())
        rows = {s: np.load(out / "features" / s / f"{video}.npy") for s in ("rgb", "logmfcc", "img")}
        assert {s: r.shape[0] for s, r in rows.items()} == dict.fromkeys(rows, meta["n_snippets"])
        assert rows["logmfcc"].shape[1] == 1920 and all(np.isfinite(r).all() for r in rows.values())
        assert meta["snippet_frames"] == 16 and meta["extractors"]["img"]["dim"] == rows["img"].shape[1]
        assert meta["face_present"] == (np.abs(rows["img"]).sum(axis=1) > 0).tolist()
    assert not (out / "meta" / "damaged.json").exists()


def test_meta_matches_the_container(extracted):
    meta = json.loads((extracted[0] / "meta" / "quiet.json").read_text())
    assert meta["fps"] == pytest.approx(29.97, abs=1e-3)
    assert meta["n_frames"] == round(4.0 * 29.97) and meta["n_snippets"] == 8
    assert meta["duration"] == pytest.approx(meta["n_frames"] / meta["fps"])
    assert meta["settings"] == ExtractSettings().to_dict()


def test_face_presence_agrees_with_the_truth(extracted):
    meta = json.loads((extracted[0] / "meta" / "talk.json").read_text())
    t = snippet_times(meta)
    truth = (t >= FACE[0]) & (t < FACE[1])
    agreement = (np.asarray(meta["face_present"]) == truth).mean()
    assert agreement >= 0.85, (meta["face_present"], truth.tolist())
    assert not any(meta["face_present"][i] for i in np.flatnonzero(t < FACE[0] - 0.7))


def test_log_mel_energy_peaks_in_the_burst_snippets(extracted):
    meta = json.loads((extracted[0] / "meta" / "talk.json").read_text())
    energy = np.load(extracted[0] / "features" / "logmfcc" / "talk.npy").mean(axis=1)
    t = snippet_times(meta)
    burst = (t >= BURST[0]) & (t < BURST[1])
    assert energy[burst].min() > energy[~burst].max()


def test_rerun_skips_finished_videos_and_refuses_other_settings(videos, extracted, tmp_path):
    out, _ = extracted
    before = (out / "features" / "rgb" / "talk.npy").stat().st_mtime_ns
    report = extract_videos([videos / "talk.mp4"], out, ExtractSettings(), progress=False)
    assert report.skipped == ["talk"] and not report.extracted
    assert (out / "features" / "rgb" / "talk.npy").stat().st_mtime_ns == before
    report = extract_videos([videos / "talk.mp4"], out, ExtractSettings(face_frames=3), progress=False)
    assert "--overwrite" in report.failed["talk"]


def test_parallel_workers_give_the_same_features(videos, extracted, tmp_path):
    report = extract_videos([videos / "talk.mp4", videos / "quiet.mp4"], tmp_path, ExtractSettings(), workers=2,
                            progress=False)
    assert sorted(report.extracted) == ["quiet", "talk"]
    for stream in ("rgb", "logmfcc", "img"):
        np.testing.assert_allclose(np.load(tmp_path / "features" / stream / "quiet.npy"),
                                   np.load(extracted[0] / "features" / stream / "quiet.npy"), atol=1e-5)


def test_input_problems_are_clear(videos, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes(b"")
    (tmp_path / "b" / "x.mp4").write_bytes(b"")
    with pytest.raises(SentilocError, match="both would be video 'x'"):
        extract_videos([tmp_path / "a", tmp_path / "b"], tmp_path / "out", ExtractSettings(), progress=False)
    with pytest.raises(SentilocError, match="no such file"):
        expand_inputs([tmp_path / "missing.mp4"])
    with pytest.raises(SentilocError, match="needs --visual-weights"):
        ExtractSettings(visual="i3d")
    with pytest.raises(SentilocError, match="face-frames"):
        ExtractSettings(face_frames=0)


def test_i3d_and_a_torchscript_face_model_run_through_extract(tmp_path):
    """The weight-loading path end to end: pytorch-i3d-style state dict + TorchScript face CNN (random weights)."""
    import torch

    from sentiloc.features.streams.i3d import InceptionI3d

    torch.manual_seed(0)
    torch.save(InceptionI3d().state_dict(), tmp_path / "rgb_imagenet.pt")
    face_net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                   torch.nn.Linear(4, 16))
    torch.jit.save(torch.jit.script(face_net), tmp_path / "face.pt")
    video = write_video(tmp_path / "short.mp4", SyntheticVideo(duration_s=1.2, width=320, height=240,
                                                               face_windows=[(0.0, 1.2)]))
    settings = ExtractSettings(visual="i3d", visual_weights=str(tmp_path / "rgb_imagenet.pt"),
                               face_weights=str(tmp_path / "face.pt"), short_side=224)
    report = extract_videos([video], tmp_path / "out", settings, progress=False)
    assert report.extracted == ["short"], report.format()
    meta = json.loads((tmp_path / "out" / "meta" / "short.json").read_text())
    assert meta["extractors"]["rgb"]["name"] == "i3d-rgb" and meta["extractors"]["rgb"]["dim"] == 1024
    assert meta["extractors"]["rgb"]["version"].startswith("pytorch-i3d/rgb_imagenet+sha256-")
    assert meta["extractors"]["img"]["dim"] == 16 and meta["extractors"]["img"]["name"].startswith("haar+torchscript")
    rgb = np.load(tmp_path / "out" / "features" / "rgb" / "short.npy")
    assert rgb.shape == (2, 1024) and np.isfinite(rgb).all() and np.abs(rgb).sum() > 0
    assert all(meta["face_present"])
