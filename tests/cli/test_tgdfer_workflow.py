"""TG-DFER through the CLI, offline: train (the class texts encoded once, into the cache) -> predict
(from the checkpoint, never the encoder) -> evaluate, on the hand-built recognition dataset."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from sentiloc.cli import main
from sentiloc.models.text import TEXT_ENCODERS, TextEncoder
from tests.data.recognition.conftest import CLASSES, VIDEOS, make_recognition_dataset
from tests.models.test_text import HAVE_TEXT

pytestmark = pytest.mark.skipif(not HAVE_TEXT, reason="the text extra is not installed: pip install 'sentiloc[text]'")
TINY = ["--set", "model.hidden=8", "--set", "train.batch_size=8", "--set", "train.micro_batch=8",
        "--set", "train.num_threads=1", "--epochs", "2"]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No network, and a text cache of this test module (the encoder runs in the first test only)."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    cache = tmp_path_factory.getbasetemp() / "tgdfer-text-cache"
    monkeypatch.setenv("SENTILOC_CACHE_DIR", str(cache))
    return cache


def forbid_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_load(cfg):
        raise AssertionError("the text encoder was loaded")

    monkeypatch.setitem(TEXT_ENCODERS._entries, "minilm", TextEncoder(TEXT_ENCODERS.get("minilm").key, no_load))


def test_train_predict_evaluate_offline(offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    run, predictions, metrics = tmp_path / "run", tmp_path / "p.json", tmp_path / "m.json"
    assert main(["train", "--config", "recognition/tgdfer", "--data", str(data), "--out", str(run), *TINY]) == 0
    class_text = torch.tensor(torch.load(run / "best.pt", weights_only=True)["derived"]["class_text"])
    assert class_text.shape == (len(CLASSES), 384)
    torch.testing.assert_close(class_text.norm(dim=1), torch.ones(len(CLASSES)))

    forbid_encoder(monkeypatch)  # from here on: the checkpoint and the cache, never the encoder
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data), "--out", str(predictions)]) == 0
    results = json.loads(predictions.read_text())["results"]
    for video, entry in results.items():
        assert len(entry["attention"]) == VIDEOS[video][3] and max(entry["attention"]) == pytest.approx(1.0)
        assert entry["evidence"]
    assert main(["evaluate", "--task", "recognition", "--gt", str(data), "--pred", str(predictions),
                 "--json", str(metrics)]) == 0
    scored = json.loads(metrics.read_text())
    assert scored["videos"] == 3 and 0.0 <= scored["uar"] <= 1.0 and scored["keyframes"] is not None

    again = tmp_path / "again"
    assert main(["train", "--config", "recognition/tgdfer", "--data", str(data), "--out", str(again), *TINY]) == 0
    assert torch.equal(torch.tensor(torch.load(again / "best.pt", weights_only=True)["derived"]["class_text"]),
                       class_text)


def test_the_datasets_descriptions_change_the_class_text(offline: Path, tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    (data / "descriptions.json").write_text(json.dumps({"joy": ["a person jumping for joy at a surprise party"]}))
    shipped = make_recognition_dataset(tmp_path / "shipped")
    texts = {}
    for name, root in (("own", data), ("shipped", shipped)):
        assert main(["train", "--config", "recognition/tgdfer_no_prompts", "--data", str(root),
                     "--out", str(tmp_path / f"run_{name}"), *TINY[:-2], "--epochs", "1"]) == 0
        texts[name] = torch.tensor(torch.load(tmp_path / f"run_{name}" / "best.pt", weights_only=True)["derived"]["class_text"])
    joy = CLASSES.index("joy")
    assert not torch.allclose(texts["own"][joy], texts["shipped"][joy])
    others = [i for i in range(len(CLASSES)) if i != joy]
    torch.testing.assert_close(texts["own"][others], texts["shipped"][others])


def test_the_notext_variant_needs_no_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_encoder(monkeypatch)
    data = make_recognition_dataset(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", "--config", "recognition/tgdfer_notext", "--data", str(data), "--out", str(run), *TINY]) == 0
    assert torch.load(run / "best.pt", weights_only=True)["derived"] == {}
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(data),
                 "--out", str(tmp_path / "p.json")]) == 0


def test_a_class_without_description_stops_training_in_one_line(offline: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    data = make_recognition_dataset(tmp_path / "data", classes=("joy", "boredom", "sadness"),
                                    videos={v: ("boredom" if label == "anger" else label, *rest)
                                            for v, (label, *rest) in VIDEOS.items()})
    assert main(["train", "--config", "recognition/tgdfer", "--data", str(data), "--out", str(tmp_path / "r"),
                 *TINY]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'boredom'" in err[0] and "descriptions.json" in err[0]


def test_localization_from_video_labels_offline(offline: Path, tmp_path: Path, tiny_dataset: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """tgdfer_video on the TSL-300 layout: the sentiment classes' texts (p, n) are encoded at train time only."""
    run, predictions = tmp_path / "run", tmp_path / "p.json"
    assert main(["train", "--config", "tgdfer_video", "--data", str(tiny_dataset), "--out", str(run), *TINY]) == 0
    class_text = torch.tensor(torch.load(run / "best.pt", weights_only=True)["derived"]["class_text"])
    assert class_text.shape == (2, 384)
    forbid_encoder(monkeypatch)
    assert main(["predict", "--checkpoint", str(run / "best.pt"), "--data", str(tiny_dataset),
                 "--out", str(predictions)]) == 0
    results = json.loads(predictions.read_text())["results"]
    assert set(results) == {"100_sim_test_0", "101_sim_test_1"}
    for proposals in results.values():
        assert all(p["label"] in ("p", "n") and p["segment"][0] <= p["segment"][1] for p in proposals)
    assert main(["evaluate", "--gt", str(tiny_dataset / "gt.json"), "--pred", str(predictions)]) == 0
