"""Optional MediaPipe face path: detection, face mesh, mesh-geometry descriptor, extractor.

MediaPipe 0.10.14 needs numpy<2, so it lives in its own environment (docs/features.md) and every
test that runs it is marked :data:`needs_mediapipe`: it skips, with that reason, where that release
is not installed. The install-error tests and the geometry of the descriptor on synthetic landmarks
need no MediaPipe and run everywhere. Like ``test_face.py``, the detector tests run on real pixels:
the astronaut's head pasted on grey stands in for a talking head, blank and noise frames for
snippets without one.
"""

from __future__ import annotations

import sys
import types
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.features.face.base import Face, FaceExtractor
from sentiloc.features.face.mediapipe import (
    DESCRIPTOR_POINTS,
    DISTANCE_NAMES,
    MEDIAPIPE_VERSION,
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
    face_stream,
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


def supported_mediapipe_installed() -> bool:
    """Whether the installed mediapipe is the one supported release (read from its metadata, not imported)."""
    try:
        return metadata.version("mediapipe") == MEDIAPIPE_VERSION
    except metadata.PackageNotFoundError:
        return False


needs_mediapipe = pytest.mark.skipif(
    not supported_mediapipe_installed(),
    reason=f"mediapipe=={MEDIAPIPE_VERSION} is not installed (optional; see docs/features.md)",
)


@pytest.fixture(scope="module")
def detector() -> MediapipeFaceDetector:
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
        face_stream(face_detector="mediapipe")
    message = str(caught.value)
    assert "numpy<2" in message and "opencv-contrib-python" in message and "<5" in message
    assert "separate environment" in message


def test_descriptor_refuses_a_face_without_landmarks() -> None:
    with pytest.raises(ValueError, match="landmarks"):
        MeshGeometryDescriptor()(Face(box=(0, 0, 10, 10)))


def synthetic_landmarks(seed: int = 0) -> np.ndarray:
    """``(468, 3)`` points of a made-up upright face: eye centres 50 px apart on y = 100, the rest scattered."""
    rng = np.random.default_rng(seed)
    points = np.column_stack([rng.uniform(100, 220, MESH_POINTS), rng.uniform(60, 220, MESH_POINTS),
                              rng.uniform(-5, 5, MESH_POINTS)])
    points[[33, 133, 263, 362], :2] = [(120, 100), (150, 100), (200, 100), (170, 100)]
    return points.astype(np.float32)


def geometry(landmarks: np.ndarray) -> np.ndarray:
    return MeshGeometryDescriptor()(Face(box=(0, 0, 1, 1), landmarks=landmarks))


def moved(landmarks: np.ndarray, shift: tuple[float, float], scale: float, degrees: float) -> np.ndarray:
    """``landmarks`` rotated by ``degrees`` and scaled about the origin, then shifted (depth untouched)."""
    angle = np.radians(degrees)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = landmarks.copy()
    out[:, :2] = landmarks[:, :2] @ rotation.T + shift
    return out


@pytest.mark.parametrize(("shift", "scale", "degrees"), [((40, -25), 1.0, 0), ((0, 0), 2.5, 0), ((0, 0), 1.0, 12),
                                                          ((300, 80), 0.4, -20)])
def test_geometry_ignores_where_how_big_and_how_rolled_the_face_is(shift, scale, degrees) -> None:
    reference = geometry(synthetic_landmarks())
    assert reference.shape == (2 * len(DESCRIPTOR_POINTS) + len(DISTANCE_NAMES),) and reference.dtype == np.float32
    np.testing.assert_allclose(geometry(moved(synthetic_landmarks(), shift, scale, degrees)), reference, atol=1e-4)


def test_geometry_measures_in_inter_ocular_units() -> None:
    landmarks = synthetic_landmarks()
    landmarks[[13, 14], :2] = [(160, 170), (160, 180)]  # inner lips 10 px apart
    landmarks[[61, 291], :2] = [(140, 171), (180, 171)]  # corners 40 px apart, 4 px above the lips' centre
    distances = dict(zip(DISTANCE_NAMES, geometry(landmarks)[-len(DISTANCE_NAMES) :]))
    assert distances["mouth_open"] == pytest.approx(10 / 50)
    assert distances["mouth_width"] == pytest.approx(40 / 50)
    assert distances["mouth_corner_lift"] == pytest.approx(4 / 50)
    right_eye_outer = geometry(landmarks)[2 * DESCRIPTOR_POINTS.index(33) :][:2]
    np.testing.assert_allclose(right_eye_outer, [-0.8, 0.0], atol=1e-6)  # 40 px left of the eye centres' midpoint


def test_geometry_refuses_coincident_eyes() -> None:
    landmarks = synthetic_landmarks()
    landmarks[[33, 133, 263, 362], :2] = (150, 100)
    with pytest.raises(ValueError, match="degenerate"):
        geometry(landmarks)


# --- detection -------------------------------------------------------------------------------


@needs_mediapipe
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


@needs_mediapipe
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blank_and_noise_frames_have_no_face(detector: MediapipeFaceDetector, seed: int) -> None:
    assert all(detector.detect(frame) is None for frame in no_face_frames(seed))


@needs_mediapipe
@pytest.mark.parametrize("big_left", [True, False])
def test_largest_of_two_faces_gets_the_box_and_the_mesh(detector: MediapipeFaceDetector, big_left: bool) -> None:
    big, big_at, small, small_at = two_heads(big_left)
    face = detector.detect(paste_head(paste_head(grey_frame(), big, *big_at), small, *small_at))
    assert face is not None and inside(face.box, *big_at, big)
    top, left = big_at
    assert (face.landmarks[:, 0] >= left).all() and (face.landmarks[:, 0] < left + big).all()
    assert (face.landmarks[:, 1] >= top).all() and (face.landmarks[:, 1] < top + big).all()


# --- the mesh-geometry descriptor ------------------------------------------------------------


@needs_mediapipe
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


@needs_mediapipe
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


@needs_mediapipe
@pytest.mark.parametrize("degrees", [-15, 15])
def test_descriptor_ignores_head_roll(detector: MediapipeFaceDetector, reference: np.ndarray, degrees: int) -> None:
    rotation = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), degrees, 1.0)
    rolled = cv2.warpAffine(face_frame(), rotation, (WIDTH, HEIGHT), borderValue=(128, 128, 128))
    assert relative_change(describe(detector, rolled), reference) < INVARIANCE_TOLERANCE


@needs_mediapipe
def test_mirrored_face_gives_a_similar_descriptor(detector: MediapipeFaceDetector, reference: np.ndarray) -> None:
    mirrored = describe(detector, face_frame()[:, ::-1])
    assert relative_change(mirrored, reference) < INVARIANCE_TOLERANCE


@needs_mediapipe
def test_descriptor_sees_a_change_of_face_shape(detector: MediapipeFaceDetector, reference: np.ndarray) -> None:
    """Stretching the face 25% vertically (a longer face, a lower jaw) is no invariance: it must show."""
    frame = grey_frame()
    frame[40:190, 100:220] = cv2.resize(HEAD, (120, 150), interpolation=cv2.INTER_AREA)
    stretched = describe(detector, frame)
    assert relative_change(stretched, reference) > 3 * INVARIANCE_TOLERANCE
    jaw = DISTANCE_NAMES.index("jaw_drop") - len(DISTANCE_NAMES)
    assert stretched[jaw] > 1.1 * reference[jaw]


# --- the per-snippet extractor ---------------------------------------------------------------


@needs_mediapipe
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


@needs_mediapipe
def test_factory_builds_the_mesh_extractor() -> None:
    extractor = face_stream(face_detector="mediapipe", face_frames=1)
    assert extractor.info.name == "mediapipe+meshgeom" and extractor.frames_per_snippet == 1
    row, present = extractor(clip_of(face_frame()))
    assert present and row.shape == (64,) and np.any(row)


@needs_mediapipe
def test_factory_with_weights_embeds_the_aligned_crop(tmp_path: Path) -> None:
    extractor = face_stream(face_detector="mediapipe", face_weights=str(save_script(tiny_cnn(8), tmp_path / "tiny.pt")))
    assert extractor.info.name == "mediapipe+torchscript:tiny.pt" and extractor.info.dim == 8
    assert extractor.detector.detect(face_frame()).landmarks is None  # the crop model needs no mesh
    row, present = extractor(clip_of(face_frame()))
    assert present and row.shape == (8,) and np.isfinite(row).all()
    row, present = extractor(clip_of(grey_frame()))
    assert not present and not np.any(row)
