"""Checkpoints written before the task/engine restructure still load and predict the same segments.

``tests/fixtures/legacy`` holds tiny checkpoints trained by the earlier layout (config stored
with ``model.modalities``/``model.face``/``loss.r_act``, no ``task`` key) and the predictions
that code made with them on ``make_dataset(n_train=3, n_test=2, seed=5)``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from sentiloc.apps.predict import predict_split
from sentiloc.core.errors import SentilocError
from sentiloc.tasks import load_trained
from tests.conftest import make_dataset

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("legacy") / "data", n_train=3, n_test=2, seed=5)


@pytest.mark.parametrize("name", ["fsenet_point", "tslnet_point", "mil_video"])
def test_legacy_checkpoint_predicts_what_it_did(name: str, data: Path, tmp_path: Path) -> None:
    results = predict_split(LEGACY / f"{name}.pt", data, "test", tmp_path / "p.json")["results"]
    recorded = json.loads((LEGACY / f"{name}.test.json").read_text())["results"]
    durations = json.loads((data / "len_duration_dict.json").read_text())
    assert results.keys() == recorded.keys()
    for video, entries in recorded.items():
        # Recorded before segments were clipped to the video: the same segments, ends past it clipped.
        entries = [{**e, "segment": [min(x, durations[video]) for x in e["segment"]]} for e in entries]
        assert [e["label"] for e in results[video]] == [e["label"] for e in entries]
        got = [v for e in results[video] for v in (e["score"], *e["segment"])]
        assert got == pytest.approx([v for e in entries for v in (e["score"], *e["segment"])], abs=1e-6)


def test_a_config_contradicting_what_is_derived_is_refused_by_name(tmp_path: Path) -> None:
    state = torch.load(LEGACY / "mil_video.pt", weights_only=True)
    state["config"]["model"]["modalities"] = ["rgb", "logmfcc"]  # the data section reads three streams
    buffer = io.BytesIO()
    torch.save(state, buffer)
    (tmp_path / "edited.pt").write_bytes(buffer.getvalue())
    with pytest.raises(SentilocError, match="model.modalities = .*contradicts.*remove model.modalities"):
        load_trained(tmp_path / "edited.pt", torch.device("cpu"))
