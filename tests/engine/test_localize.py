"""Which extractor settings ``localize`` uses, and when it refuses."""

from __future__ import annotations

import pytest

from sentiloc.engine.localize import localize_settings, segments_csv
from sentiloc.errors import SentilocError
from sentiloc.features.extract import ExtractSettings


def test_without_a_record_the_command_line_decides(tmp_path):
    assert localize_settings(None, None, None) == ExtractSettings()
    weights = tmp_path / "rgb_imagenet.pt"
    settings = localize_settings(None, weights, None)
    assert settings.visual == "i3d" and settings.visual_weights == str(weights)


def test_the_record_is_reused_and_moved_weights_can_be_pointed_to(tmp_path):
    recorded = ExtractSettings(face_weights=str(tmp_path / "gone.pt"), face_frames=3).to_dict()
    with pytest.raises(SentilocError, match="gone.pt.*--face-weights"):
        localize_settings({"settings": recorded}, None, None)
    moved = tmp_path / "here.pt"
    moved.write_bytes(b"x")
    settings = localize_settings({"settings": recorded}, None, moved)
    assert settings.face_weights == str(moved) and settings.face_frames == 3


def test_segments_csv():
    text = segments_csv([{"label": "p", "score": 0.5, "segment": [1.0, 2.25]}])
    assert text == "label,start_s,end_s,score\np,1.000,2.250,0.500000\n"
