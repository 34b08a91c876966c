"""The whole loop on real encoded videos: clicks -> build-dataset -> train -> suggestions from the checkpoint -> export -> train.

Slow (feature extraction of three clips, twice, and two one-epoch trainings of a small FSENet).
"""

from __future__ import annotations

import shutil

import pytest

from sentiloc.apps.annotate import suggest
from sentiloc.apps.annotate.session import open_session
from sentiloc.apps.annotate.store import LabelStore
from sentiloc.cli import main

SMALL = ["--epochs", "1", "--set", "model.hidden=32", "--set", "model.gsp_hidden=64", "--set", "model.trunk_hidden=64",
         "--set", "train.batch_size=2", "--set", "train.checkpoint_every=0"]


@pytest.mark.slow
def test_clicks_train_a_model_whose_suggestions_come_back_and_whose_export_trains_again(encoded, tmp_path,
                                                                                         monkeypatch) -> None:
    clips, windows = encoded
    labels = tmp_path / "labels.csv"
    store = LabelStore(labels)
    for video in ("clip0", "clip1"):  # one click in the middle of each training video's positive window
        store.add(video, "click", "ana", "p", round(sum(windows[video]) / 2, 2))
    store.wait(store.add("clip1", "rejected", "ana", "n", 0.5)[1])
    store.close()
    start, end = windows["clip2"]
    with labels.open("a") as handle:  # the test video's segment, as a person adds it to the same file
        handle.write(f"clip2,p,{start},{end},,test,,,,\n")
    assert main(["-q", "build-dataset", str(clips), "--annotations", str(labels), "--out", str(tmp_path / "data")]) == 0
    assert main(["-q", "train", "--config", "fsenet_point", "--data", str(tmp_path / "data"),
                 "--out", str(tmp_path / "run"), *SMALL]) == 0
    checkpoint = tmp_path / "run" / "best.pt"

    session = open_session([clips], labels, "ana", checkpoint=checkpoint, threshold=0.05)
    try:
        assert session.track_name == "Global CAS", "fsenet_point cuts its proposals from the Global CAS"
        assert sorted(session.uncertainty) == [0, 1, 2] and set(session.order()) == {0, 1, 2}
        model = session.model_of(2, "ana")
        assert len(model["cas"]["p"]) == len(model["w_sent"]) >= 12  # 8 s at 25 fps = 12.5 snippets
        assert model["suggestions"], "a CAS at or above 0.05 somewhere gives a suggestion"
        first = model["suggestions"][0]
        session.store.wait(session.add({"annotator": "ana", "video": 2, "label": first["label"],
                                        "time_s": first["time_s"]})[1])
        assert first not in session.model_of(2, "ana")["suggestions"]
        exported, clicks = session.export(tmp_path / "export")
    finally:
        session.store.close()
    # the suggestion accepted in clip2 stays in labels.csv but not in the export: clip2 is a test video
    assert clicks == 2 and len(list(tmp_path.glob(".labels.csv.cache/*.npz"))) == 3
    assert "clip2,p," in labels.read_text(), "the segment row another tool wrote is kept"

    def no_model(*args, **kwargs):
        raise AssertionError("the CAS must come from the cache")

    monkeypatch.setattr(suggest.ModelOutputs, "_compute", no_model)
    open_session([clips], labels, "ana", checkpoint=checkpoint).store.close()

    shutil.copy(exported, tmp_path / "data" / "point_gaussian" / "point_labels.csv")
    assert main(["-q", "train", "--config", "fsenet_point", "--data", str(tmp_path / "data"),
                 "--out", str(tmp_path / "run2"), *SMALL]) == 0
