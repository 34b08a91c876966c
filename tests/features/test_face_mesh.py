"""Optional MediaPipe face path: detection, face mesh, mesh-geometry descriptor, extractor.

MediaPipe 0.10.14 needs numpy<2, so it lives in its own environment and every test that runs it
skips where it is not installed; the install-error and input-check tests need no MediaPipe and run
everywhere. Like ``test_face.py``, everything runs on real pixels: the astronaut's head pasted on
grey stands in for a talking head, blank and noise frames for snippets without one.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.features.face import Face, FaceExtractor, build_face_extractor
from sentiloc.features.face_mesh import (
    DESCRIPTOR_POINTS,
    DISTANCE_NAMES,
    MESH_POINTS,
    MediapipeFaceDetector,
    MeshGeometryDescriptor,
)
from tests.features.test_face import (
    HEAD,
    HEIGHT,
    WIDTH,
    clip_of,
    face_frame,
    grey_frame,
    inside,
    no_face_frames,
    paste_head,
    save_script,
    tiny_cnn,
    two_heads,
)

# The TorchScript test uses torch.jit, which torch 2.13 marks deprecated (see test_face.py);
# MediaPipe 0.10.14 itself still calls a protobuf API that protobuf 4.25 marks deprecated.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning"),
]

#: Largest change of the descriptor, relative to its norm, allowed for a face that only moved,
#: grew, rolled or was mirrored. Measured: at most ~0.02 for faces of 80-200 px heads, ±15° roll
#: and mirroring, from the mesh's own resampling jitter.
INVARIANCE_TOLERANCE = 0.04


@pytest.fixture(scope="module")
def detector() -> MediapipeFaceDetector:
    pytest.importorskip("mediapipe")
    return MediapipeFaceDetector()


@pytest.fixture(scope="module")
def reference(detector: MediapipeFaceDetector) -> np.ndarray:
    """Descriptor of the standard frame: a 120-px head at (60, 100)."""
    return MeshGeometryDescriptor()(detector.detect(face_frame()))


def relative_change(vector: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(vector - reference) / np.linalg.norm(reference))


def describe(detector: MediapipeFaceDetector, frame: np.ndarray) -> np.ndarray:
    face = detector.detect(frame)
    assert face is not None
    return MeshGeometryDescriptor()(face)


# --- without MediaPipe -----------------------------------------------------------------------


@pytest.mark.parametrize("installed", [None, types.ModuleType("mediapipe")], ids=["missing", "no-solutions"])
def test_unusable_mediapipe_names_the_pinned_install(monkeypatch: pytest.MonkeyPatch, installed: object) -> None:
    """Not installed (``None`` blocks the import) or a release without the legacy solutions."""
    monkeypatch.setitem(sys.modules, "mediapipe", installed)
    with pytest.raises(SentilocError, match=r"pip install mediapipe==0\.10\.14") as caught:
        build_face_extractor(None, detector="mediapipe")
    message = str(caught.value)
    assert "numpy<2" in message and "opencv-contrib-python" in message and "<5" in message
    assert "separate environment" in message


def test_descriptor_refuses_a_face_without_landmarks() -> None:
    with pytest.raises(ValueError, match="landmarks"):
        MeshGeometryDescriptor()(Face(box=(0, 0, 10, 10)))


# --- detection -------------------------------------------------------------------------------


def test_pasted_face_is_detected_with_level_eyes_and_a_full_mesh(detector: MediapipeFaceDetector) -> None:
    face = detector.detect(face_frame())
    assert face is not None and inside(face.box, 60, 100, 120)
    x, y, w, h = face.box
    (lx, ly), (rx, ry) = face.eyes
    assert x <= lx < rx <= x + w and y <= min(ly, ry) and max(ly, ry) <= y + h / 2
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 10  # she tilts her head ~3-4°
    marks = face.landmarks
    assert marks.shape == (MESH_POINTS, 3) and marks.dtype == np.float32 and np.isfinite(marks).all()
    slack = 0.1 * w  # the box is tight: the chin's points sit on its lower edge
    assert (marks[:, 0] >= x - slack).all() and (marks[:, 0] <= x + w + slack).all()
    assert (marks[:, 1] >= y - slack).all() and (marks[:, 1] <= y + h + slack).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blank_and_noise_frames_have_no_face(detector: MediapipeFaceDetector, seed: int) -> None:
    assert all(detector.detect(frame) is None for frame in no_face_frames(seed))


@pytest.mark.parametrize("big_left", [True, False])
def test_largest_of_two_faces_gets_the_box_and_the_mesh(detector: MediapipeFaceDetector, big_left: bool) -> None:
    big, big_at, small, small_at = two_heads(big_left)
    face = detector.detect(paste_head(paste_head(grey_frame(), big, *big_at), small, *small_at))
    assert face is not None and inside(face.box, *big_at, big)
    top, left = big_at
    assert (face.landmarks[:, 0] >= left).all() and (face.landmarks[:, 0] < left + big).all()
    assert (face.landmarks[:, 1] >= top).all() and (face.landmarks[:, 1] < top + big).all()


# --- the mesh-geometry descriptor ------------------------------------------------------------


def test_descriptor_is_fixed_size_deterministic_finite_and_nonzero(
    detector: MediapipeFaceDetector, reference: np.ndarray
) -> None:
    descriptor = MeshGeometryDescriptor()
    assert descriptor.dim == 2 * len(DESCRIPTOR_POINTS) + len(DISTANCE_NAMES) == 64
    assert len(set(DESCRIPTOR_POINTS)) == len(DESCRIPTOR_POINTS) and max(DESCRIPTOR_POINTS) < MESH_POINTS
    assert reference.shape == (64,) and reference.dtype == np.float32 and np.isfinite(reference).all()
    assert np.abs(reference).max() > 0.1
    np.testing.assert_array_equal(reference, describe(detector, face_frame()))
    distances = dict(zip(DISTANCE_NAMES, reference[-len(DISTANCE_NAMES) :]))
    assert 0.8 < distances["mouth_width"] < 1.3  # mouths are about as wide as the eyes are apart
    assert distances["right_eye_open"] > 0 and distances["left_eye_open"] > 0
    assert distances["mouth_corner_lift"] > 0  # she smiles


@pytest.mark.parametrize(
    ("size", "top", "left"),
    [(120, 30, 180), (120, 100, 20), (80, 60, 100), (160, 40, 80), (200, 20, 60)],
    ids=["moved-right", "moved-left", "smaller", "larger", "largest"],
)
def test_descriptor_ignores_where_and_how_big_the_face_is(
    detector: MediapipeFaceDetector, reference: np.ndarray, size: int, top: int, left: int
) -> None:
    moved = describe(detector, paste_head(grey_frame(), size, top, left))
    assert relative_change(moved, reference) < INVARIANCE_TOLERANCE


@pytest.mark.parametrize("degrees", [-15, 15])
def test_descriptor_ignores_head_roll(detector: MediapipeFaceDetector, reference: np.ndarray, degrees: int) -> None:
    rotation = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), degrees, 1.0)
    rolled = cv2.warpAffine(face_frame(), rotation, (WIDTH, HEIGHT), borderValue=(128, 128, 128))
    assert relative_change(describe(detector, rolled), reference) < INVARIANCE_TOLERANCE


def test_mirrored_face_gives_a_similar_descriptor(detector: MediapipeFaceDetector, reference: np.ndarray) -> None:
    mirrored = describe(detector, face_frame()[:, ::-1])
    assert relative_change(mirrored, reference) < INVARIANCE_TOLERANCE


def test_descriptor_sees_a_change_of_face_shape(detector: MediapipeFaceDetector, reference: np.ndarray) -> None:
    """Stretching the face 25% vertically (a longer face, a lower jaw) is no invariance: it must show."""
    frame = grey_frame()
    frame[40:190, 100:220] = cv2.resize(HEAD, (120, 150), interpolation=cv2.INTER_AREA)
    stretched = describe(detector, frame)
    assert relative_change(stretched, reference) > 3 * INVARIANCE_TOLERANCE
    jaw = DISTANCE_NAMES.index("jaw_drop") - len(DISTANCE_NAMES)
    assert stretched[jaw] > 1.1 * reference[jaw]


# --- the per-snippet extractor ---------------------------------------------------------------


def test_extractor_rows_with_and_without_a_face(detector: MediapipeFaceDetector, reference: np.ndarray) -> None:
    extractor = FaceExtractor(detector, MeshGeometryDescriptor())
    assert extractor.info.name == "mediapipe+meshgeom" and extractor.info.dim == 64
    assert "mediapipe-0.10.14" in extractor.info.version and "meshgeom-v1" in extractor.info.version
    row, present = extractor(clip_of(face_frame()))
    assert present and row.dtype == np.float32
    np.testing.assert_allclose(row, reference, rtol=1e-6)  # the mean of two identical frames
    row, present = extractor(clip_of(grey_frame()))
    assert not present
    np.testing.assert_array_equal(row, np.zeros(64, dtype=np.float32))


def test_factory_builds_the_mesh_extractor() -> None:
    pytest.importorskip("mediapipe")
    extractor = build_face_extractor(None, frames_per_snippet=1, detector="mediapipe")
    assert extractor.info.name == "mediapipe+meshgeom" and extractor.frames_per_snippet == 1
    row, present = extractor(clip_of(face_frame()))
    assert present and row.shape == (64,) and np.any(row)


def test_factory_with_weights_embeds_the_aligned_crop(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    extractor = build_face_extractor(save_script(tiny_cnn(8), tmp_path / "tiny.pt"), detector="mediapipe")
    assert extractor.info.name == "mediapipe+torchscript:tiny.pt" and extractor.info.dim == 8
    assert extractor.detector.detect(face_frame()).landmarks is None  # the crop model needs no mesh
    row, present = extractor(clip_of(face_frame()))
    assert present and row.shape == (8,) and np.isfinite(row).all()
    row, present = extractor(clip_of(grey_frame()))
    assert not present and not np.any(row)
