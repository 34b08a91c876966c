"""Which extractor settings ``localize`` uses, and when it refuses."""

from __future__ import annotations

import pytest

from sentiloc.apps.localize import Segment, localize_settings, segments_csv
from sentiloc.core.errors import SentilocError
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
    text = segments_csv([Segment.from_entry({"label": "p", "score": 0.5, "segment": [1.0, 2.25]})])
    assert text == "label,start_s,end_s,score\np,1.000,2.250,0.500000\n"
    formula = segments_csv([Segment.from_entry({"label": "=HYPERLINK(1)", "score": 0.5, "segment": [1.0, 2.25]})])
    assert formula.splitlines()[1] == "'=HYPERLINK(1),1.000,2.250,0.500000"


def test_compatibility_refuses_other_dims_and_kinds_and_warns_on_other_versions():
    from types import SimpleNamespace

    from sentiloc.apps.localize import check_compatible
    from sentiloc.data.dataset import DataConfig

    infos = {"rgb": {"name": "i3d-rgb", "version": "pytorch-i3d/b+sha256-2", "dim": 4},
             "logmfcc": {"name": "logmel60x32", "version": "librosa-1", "dim": 3},
             "img": {"name": "haar+hoglbp", "version": "v1", "dim": 2}}
    extractors = SimpleNamespace(stream_infos=lambda: infos)
    recorded = {"rgb": {"name": "i3d-rgb", "version": "pytorch-i3d/a+sha256-1", "dim": 4},
                "logmfcc": dict(infos["logmfcc"]), "img": dict(infos["img"])}

    def trained(dims, streams=recorded, modalities=("rgb", "logmfcc", "img")):
        return SimpleNamespace(exp=SimpleNamespace(data=DataConfig(modalities=modalities)), dims=dims,
                               extras={"extractor": {"streams": streams}})

    dims = {"rgb": 4, "logmfcc": 3, "img": 2}
    warnings = check_compatible(trained(dims), extractors, "ckpt.pt")
    assert len(warnings) == 1 and "pytorch-i3d/a+sha256-1" in warnings[0]
    with pytest.raises(SentilocError, match="expects img features of dim 5"):
        check_compatible(trained({**dims, "img": 5}), extractors, "ckpt.pt")
    with pytest.raises(SentilocError, match="trained on img features from 'mediapipe\\+meshgeom'"):
        check_compatible(trained(dims, {**recorded, "img": {"name": "mediapipe+meshgeom", "dim": 2}}), extractors,
                         "ckpt.pt")
    with pytest.raises(SentilocError, match="rows per snippet"):
        check_compatible(trained(dims, modalities=("rgb:16", "logmfcc", "img")), extractors, "ckpt.pt")
