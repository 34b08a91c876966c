"""The stream-extractor registries: choices, validation, light imports, and a new extractor filling a stream."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data import layout
from sentiloc.data.simulate.video import SyntheticVideo, write_video
from sentiloc.features.base import RGB, ExtractorInfo, StreamExtractor
from sentiloc.features.extract import build_extractors, extract_video
from sentiloc.features.settings import ExtractSettings
from sentiloc.features.streams import (
    AUDIO_CHOICES,
    AUDIO_EXTRACTORS,
    EXTRACTOR_OPTIONS,
    FACE_DETECTOR_CHOICES,
    FACE_DETECTORS,
    VISUAL_CHOICES,
    VISUAL_EXTRACTORS,
    selected,
)

#: Modules that listing the choices, making settings or importing the face base must not load.
HEAVY = ("cv2", "torch", "librosa", "av", "skimage", "mediapipe", "sentiloc.features.face.haar",
         "sentiloc.features.face.mediapipe")


def modules_loaded_by(code: str) -> list[str]:
    """Which of :data:`HEAVY` a fresh interpreter has imported after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_the_cli_choices_are_the_registries():
    assert VISUAL_CHOICES == ("clip", "default", "i3d") == tuple(VISUAL_EXTRACTORS.names())
    assert AUDIO_CHOICES == ("egemaps", "logmel") == tuple(AUDIO_EXTRACTORS.names())
    assert FACE_DETECTOR_CHOICES == ("haar", "mediapipe") == tuple(FACE_DETECTORS.names())


def test_every_entry_says_which_stream_option_and_choice_it_is():
    streams = []
    for option, registry in EXTRACTOR_OPTIONS.items():
        entries = [entry for _, entry in registry.items()]
        assert all(entry.option == option for entry in entries)
        assert [entry.choice for entry in entries] == registry.names()
        assert len({entry.stream for entry in entries}) == 1
        streams.append(entries[0].stream)
    assert tuple(streams) == layout.DEFAULT_MODALITIES
    assert list(selected(ExtractSettings())) == list(layout.DEFAULT_MODALITIES)


def test_unknown_choices_and_bad_combinations_are_refused_clearly():
    with pytest.raises(SentilocError, match="--audio 'mfcc': unknown audio extractor; known: egemaps, logmel"):
        ExtractSettings(audio="mfcc")
    with pytest.raises(SentilocError, match="--face-detector 'dlib': unknown face detector; known: haar, mediapipe"):
        ExtractSettings(face_detector="dlib")
    with pytest.raises(SentilocError, match="only used with --visual i3d"):
        ExtractSettings(visual_weights="w.pt")
    with pytest.raises(SentilocError, match="--short-side must be at least 224"):
        ExtractSettings(visual="i3d", visual_weights="w.pt", short_side=128)


def test_choices_and_settings_load_no_extractor_library():
    code = ("import sentiloc.cli\nfrom sentiloc.features.settings import ExtractSettings\n"
            "ExtractSettings(face_detector='mediapipe', audio='egemaps')")
    assert modules_loaded_by(code) == []


def test_the_face_base_imports_without_its_detectors():
    loaded = set(modules_loaded_by("import sentiloc.features.face.base"))
    assert "cv2" in loaded
    assert not loaded & {"mediapipe", "sentiloc.features.face.haar", "sentiloc.features.face.mediapipe"}


@dataclass
class Constant:
    """A frames extractor whose row is the snippet's mean brightness, three times."""

    info = ExtractorInfo("mean-brightness", "test", 3)

    def __call__(self, clip: np.ndarray) -> np.ndarray:
        return np.full(3, clip.mean() / 255, dtype=np.float32)


def test_a_newly_registered_extractor_fills_its_stream(monkeypatch, tmp_path):
    entry = StreamExtractor(stream=RGB, option="visual", choice="brightness", summary="mean brightness",
                            build=lambda settings, device: Constant())
    monkeypatch.setitem(VISUAL_EXTRACTORS._entries, "brightness", entry)
    settings = ExtractSettings(visual="brightness")
    video = write_video(tmp_path / "clip.mp4", SyntheticVideo(duration_s=1.0, width=96, height=64))
    extracted = extract_video(video, build_extractors(settings), settings, progress=False)
    assert extracted.features[RGB].shape == (extracted.meta["n_snippets"], 3)
    assert extracted.meta["extractors"][RGB] == {"name": "mean-brightness", "version": "test", "dim": 3}
    assert list(extracted.features) == list(layout.DEFAULT_MODALITIES)
    assert len(extracted.meta["face_present"]) == extracted.meta["n_snippets"]
