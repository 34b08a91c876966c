"""Suggested clicks and uncertainty ordering: the formulas by hand, then through the API with a stand-in model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.apps.annotate.suggest import (
    ModelTrack,
    above_runs,
    binary_entropy_bits,
    class_suggestions,
    model_track,
    uncertainty,
)
from sentiloc.tasks.localization import VideoOutput

SCORES = np.array([0.1, 0.6, 0.9, 0.7, 0.2, 0.8, 0.3])


def test_runs_above_the_threshold_are_numbered() -> None:
    assert above_runs(np.array([0.2, 0.7, 0.8, 0.1, 0.9]), 0.5).tolist() == [0, 1, 1, 0, 2]


def test_one_suggestion_per_run_at_its_peak_unless_covered() -> None:
    none = np.zeros(0)
    # runs [1, 3] (peak 0.9 at snippet 2) and [5] (0.8); 1 s snippets, centres at t + 0.5 s
    assert class_suggestions(SCORES, 1.0, 0.5, none, none, 1.0) == [(2.5, 0.9), (5.5, 0.8)]
    # a click at 1.2 s lies in snippet 1, inside the first run: that segment is clicked
    assert class_suggestions(SCORES, 1.0, 0.5, np.array([1.2]), none, 1.0) == [(5.5, 0.8)]
    # a rejection 0.5 s from the second peak (window 1 s) hides it; one 1.5 s away does not
    assert class_suggestions(SCORES, 1.0, 0.5, none, np.array([6.0]), 1.0) == [(2.5, 0.9)]
    assert class_suggestions(SCORES, 1.0, 0.5, none, np.array([7.0]), 1.0) == [(2.5, 0.9), (5.5, 0.8)]
    assert class_suggestions(SCORES, 1.0, 0.95, none, none, 1.0) == []


def test_binary_entropy_and_uncertainty_by_hand() -> None:
    # H(0.9) = -0.9 log2 0.9 - 0.1 log2 0.1 = 0.9 * 0.15200 + 0.1 * 3.32193 = 0.46900
    assert binary_entropy_bits(np.array([0.5, 0.9, 0.0, 1.0])) == pytest.approx([1.0, 0.46900, 0.0, 0.0], abs=1e-5)
    # mean of H over [[0.5, 1.0], [0.9, 0.1]] = (1 + 0 + 0.469 + 0.469) / 4 = 0.48450
    track = ModelTrack(25.0, np.array([[0.5, 1.0], [0.9, 0.1]]), np.zeros(2))
    assert uncertainty(track) == pytest.approx(0.48450, abs=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40), st.floats(0.05, 0.95))
def test_suggestions_sit_on_peaks_above_the_threshold_one_per_run(values: list[float], threshold: float) -> None:
    scores = np.array(values)
    found = class_suggestions(scores, 0.5, threshold, np.zeros(0), np.zeros(0), 0.1)
    runs = above_runs(scores, threshold)
    assert len(found) == runs.max()
    for time_s, score in found:
        snippet = int(time_s / 0.5)
        assert score >= threshold and score == scores[snippet] == scores[runs == runs[snippet]].max()


def stand_in_localizer(cas_source: str) -> SimpleNamespace:
    """The parts of a :class:`~sentiloc.apps.localize.Localizer` :func:`model_track` reads."""
    return SimpleNamespace(trained=SimpleNamespace(exp=SimpleNamespace(postprocess=SimpleNamespace(
        cas_source=cas_source)), model=SimpleNamespace(cfg=SimpleNamespace(r_act=2))))


def test_the_track_is_the_one_the_checkpoint_cuts_proposals_from() -> None:
    # 2 snippets, classes (n, p) + background; the session shows p first, so columns [1, 0]
    cas = np.array([[0.2, 0.6, 0.2], [0.4, 0.8, 0.1]], dtype=np.float32)
    global_cas = np.array([[0.0, 0.2, 0.8], [0.6, 0.4, 0.0]], dtype=np.float32)
    output = VideoOutput("v", 25.0, cas, global_cas, np.array([0.5, 1.0]), np.array([0.3, 0.7]))
    expected = {"cas": [[0.6, 0.2], [0.8, 0.4]], "global": [[0.2, 0.0], [0.4, 0.6]], "mean": [[0.4, 0.1], [0.6, 0.5]]}
    for source, scores in expected.items():
        track = model_track(stand_in_localizer(source), output, [1, 0])
        np.testing.assert_allclose(track.cas, scores, atol=1e-6, err_msg=source)
        assert track.fps == 25.0 and track.w_sent.tolist() == [0.5, 1.0]
    asked = model_track(stand_in_localizer("global"), output, [1, 0], source="cas")
    np.testing.assert_allclose(asked.cas, expected["cas"], atol=1e-6, err_msg="a source asked for overrides")


class StandInModel:
    """What :class:`~sentiloc.apps.annotate.suggest.ModelOutputs` gives, from fixed CAS curves (p, n columns)."""

    source = "cas"

    def __init__(self, tracks: dict[str, ModelTrack]) -> None:
        self.tracks = tracks

    def track(self, video: Path) -> ModelTrack:
        return self.tracks[Path(video).stem]


def curves(p_peak_s: float | None, level: float) -> ModelTrack:
    """12 snippets of 0.64 s (8 s at 25 fps): CAS ``level`` everywhere, 0.95 for p at the snippet of ``p_peak_s``."""
    cas = np.full((13, 2), level, dtype=np.float32)
    if p_peak_s is not None:
        cas[int(p_peak_s / 0.64), 0] = 0.95
    return ModelTrack(25.0, cas, np.full(13, 0.5, dtype=np.float32))


@pytest.fixture
def model_client(clips, tmp_path):
    from starlette.testclient import TestClient

    from sentiloc.apps.annotate.server import create_app
    from sentiloc.apps.annotate.session import AnnotationSession, probe_videos
    from sentiloc.apps.annotate.store import LabelStore
    from sentiloc.apps.localize import video_files

    model = StandInModel({"clip0": curves(3.0, 0.02), "clip1": curves(None, 0.45), "clip2": curves(5.0, 0.2)})
    store = LabelStore(tmp_path / "labels.csv")
    session = AnnotationSession(probe_videos(video_files([clips])), store, ["p", "n"], "ana", model)
    with TestClient(create_app(session)) as client:
        yield client, session
    store.close()


def test_videos_are_ordered_most_uncertain_first(model_client) -> None:
    client, _ = model_client
    overview = client.get("/api/session").json()
    # CAS 0.45 everywhere (clip1) is the least sure, 0.02 (clip0) the surest
    assert overview["order"] == [1, 2, 0] and overview["resume"] == {"video": 1, "time_s": 0.0}
    assert overview["has_model"] is True and overview["track_name"] == "CAS"


def test_accepting_and_rejecting_suggestions(model_client, tmp_path) -> None:
    client, session = model_client
    model = client.get("/api/videos/0/model").json()
    assert len(model["cas"]["p"]) == 13 and len(model["w_sent"]) == 13
    # the peak is snippet int(3.0 / 0.64) = 4, whose centre is 4.5 * 0.64 = 2.88 s
    assert model["suggestions"] == [{"label": "p", "time_s": 2.88, "score": 0.95}]
    accepted = client.post("/api/marks", json={"annotator": "ana", "video": 0, "label": "p", "time_s": 2.88})
    assert accepted.status_code == 201
    assert client.get("/api/videos/0/model").json()["suggestions"] == []
    assert client.get("/api/videos/0/model?annotator=bo").json()["suggestions"] != [], "per annotator"
    # 5.0 / 0.64 -> snippet 7, centre 7.5 * 0.64 = 4.8 s
    assert client.get("/api/videos/2/model").json()["suggestions"] == [{"label": "p", "time_s": 4.8, "score": 0.95}]
    rejected = client.post("/api/marks", json={"annotator": "ana", "video": 2, "label": "p", "time_s": 4.8,
                                               "kind": "rejected"})
    assert rejected.status_code == 201
    assert client.get("/api/videos/2/model").json()["suggestions"] == []
    kinds = sorted((m.video, m.kind) for m in session.store.marks())
    assert kinds == [("clip0", "click"), ("clip2", "rejected")]
    path, count = session.export(tmp_path / "export")
    assert count == 1 and path.read_text().splitlines()[1:] == ["p,1,72,72,clip0,72"]  # 2.88 s * 25 fps = 72


def test_a_session_without_model_says_how_to_get_one(client) -> None:
    answer = client.get("/api/videos/0/model")
    assert answer.status_code == 400 and "--checkpoint" in answer.json()["error"]
