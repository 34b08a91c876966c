"""Face stream: Haar detection, eye levelling, descriptors and the per-snippet extractor.

Every test runs on real pixels: the astronaut photo bundled with scikit-image, cropped to her
head and pasted onto a mid-grey 240x320 frame, stands in for a talking head; blank and noise
frames stand in for snippets without one.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage
import torch
from skimage import data

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.features.face import FACE_DETECTORS
from sentiloc.features.face.base import (
    NONZERO_EPS,
    Face,
    FaceExtractor,
    HogLbpDescriptor,
    TorchScriptFaceEmbedder,
    align_face,
)
from sentiloc.features.face.haar import HaarFaceDetector
from sentiloc.features.settings import ExtractSettings

# The TorchScript tests use torch.jit, which torch 2.13 marks deprecated; the format is what
# --face-weights documents, so the warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")

HEIGHT, WIDTH = 240, 320
#: The astronaut's head (hair to chin) in the 512x512 photo; her face is ~45% of this crop.
HEAD = data.astronaut()[20:240, 115:335]


def grey_frame(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.full((height, width, 3), 128, dtype=np.uint8)


def paste_head(frame: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    """Paste the head crop, resized to ``size`` px square, with its corner at (top, left)."""
    frame[top : top + size, left : left + size] = cv2.resize(HEAD, (size, size), interpolation=cv2.INTER_AREA)
    return frame


def face_frame() -> np.ndarray:
    return paste_head(grey_frame(), 120, 60, 100)


def clip_of(frame: np.ndarray) -> np.ndarray:
    return np.repeat(frame[None], SNIPPET_FRAMES, axis=0)


def inside(box: tuple[int, int, int, int], top: int, left: int, size: int) -> bool:
    """Whether the box's centre lies in the pasted square."""
    x, y, w, h = box
    return left <= x + w / 2 < left + size and top <= y + h / 2 < top + size


@pytest.fixture(scope="module")
def detector() -> HaarFaceDetector:
    return HaarFaceDetector()


@pytest.fixture(scope="module")
def extractor(detector: HaarFaceDetector) -> FaceExtractor:
    return FaceExtractor(detector, HogLbpDescriptor())


def face_stream(**settings: object) -> FaceExtractor:
    """The face stream's extractor that ``ExtractSettings(**settings)`` build, through the detector registry."""
    chosen = ExtractSettings(**settings)
    return FACE_DETECTORS.get(chosen.face_detector).build(chosen, "cpu")


def tiny_cnn(out: int = 8) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, out)
    ).eval()


def save_script(model: torch.nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(model), str(path))
    return path


# --- detection -------------------------------------------------------------------------------


def test_pasted_face_is_detected_with_level_eyes(detector: HaarFaceDetector) -> None:
    face = detector.detect(face_frame())
    assert face is not None and inside(face.box, 60, 100, 120)
    assert face.eyes is not None
    (lx, ly), (rx, ry) = face.eyes
    x, y, w, h = face.box
    assert x <= lx < rx <= x + w and y <= min(ly, ry) and max(ly, ry) <= y + h / 2
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 10  # she tilts her head ~3-4°


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blank_and_noise_frames_have_no_face(detector: HaarFaceDetector, seed: int) -> None:
    assert all(detector.detect(frame) is None for frame in no_face_frames(seed))


def no_face_frames(seed: int) -> list[np.ndarray]:
    """Uniform noise and flat grey: frames no detector may find a face in."""
    return [np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), grey_frame()]


def two_heads(big_left: bool) -> tuple[int, tuple[int, int], int, tuple[int, int]]:
    """Sizes and (row, column) positions of a 150-px and a 100-px head on opposite sides of a frame."""
    big, small = 150, 100
    big_at = (20, 5) if big_left else (20, WIDTH - big - 5)
    small_at = (70, WIDTH - small - 5) if big_left else (70, 5)
    return big, big_at, small, small_at


@pytest.mark.parametrize("big_left", [True, False])
def test_largest_of_two_faces_wins(detector: HaarFaceDetector, big_left: bool) -> None:
    big, big_at, small, small_at = two_heads(big_left)
    alone = detector.detect(paste_head(grey_frame(), small, *small_at))
    assert alone is not None and inside(alone.box, *small_at, small)  # the small one is findable
    both = paste_head(paste_head(grey_frame(), big, *big_at), small, *small_at)
    face = detector.detect(both)
    assert face is not None and inside(face.box, *big_at, big)


def test_boxes_come_back_in_full_resolution_pixels(detector: HaarFaceDetector) -> None:
    small = detector.detect(face_frame())
    large = detector.detect(cv2.resize(face_frame(), (4 * WIDTH, 4 * HEIGHT), interpolation=cv2.INTER_CUBIC))
    assert small is not None and large is not None
    np.testing.assert_allclose(np.array(large.box), 4 * np.array(small.box), atol=8)


def test_missing_cascades_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SentilocError, match="opencv-python-headless<5") as caught:
        HaarFaceDetector(cascade_dir=tmp_path)
    assert str(tmp_path / "haarcascade_frontalface_default.xml") in str(caught.value)


# --- alignment -------------------------------------------------------------------------------


def test_blurred_face_without_eyes_still_gives_a_crop(detector: HaarFaceDetector) -> None:
    blurred = cv2.GaussianBlur(face_frame(), (0, 0), 4)
    face = detector.detect(blurred)
    assert face is not None and face.eyes is None
    crop = align_face(blurred, face)
    assert crop.shape == (96, 96) and crop.dtype == np.uint8


def test_alignment_levels_the_eyes() -> None:
    """Two dark dots on a 20°-tilted line come out on one row of the crop."""
    frame = np.full((HEIGHT, WIDTH, 3), 200, dtype=np.uint8)
    left, right = (140.0, 100.0), (140.0 + 40 * np.cos(np.radians(20)), 100.0 + 40 * np.sin(np.radians(20)))
    for cx, cy in (left, right):
        cv2.circle(frame, (round(cx), round(cy)), 4, (0, 0, 0), -1)
    crop = align_face(frame, Face(box=(120, 80, 80, 80), eyes=(left, right)), size=64)
    assert crop.shape == (64, 64) and crop.dtype == np.uint8
    _, labels, stats, centroids = cv2.connectedComponentsWithStats((crop < 100).astype(np.uint8))
    dots = centroids[1:][stats[1:, cv2.CC_STAT_AREA] > 3]
    assert len(dots) == 2 and abs(dots[0, 1] - dots[1, 1]) < 1.0


def test_crop_is_clamped_to_the_frame() -> None:
    frame = face_frame()
    for box in [(0, 0, 60, 60), (WIDTH - 50, HEIGHT - 50, 50, 50), (0, 0, 400, 400)]:
        crop = align_face(frame, Face(box=box))
        assert crop.shape == (96, 96) and crop.dtype == np.uint8


# --- descriptors -----------------------------------------------------------------------------


def test_hoglbp_is_unit_norm_deterministic_and_never_zero(detector: HaarFaceDetector) -> None:
    descriptor = HogLbpDescriptor()
    assert descriptor.dim == 5 * 5 * 4 * 9 + 4 * 10
    frame = face_frame()
    crop = align_face(frame, detector.detect(frame))
    first = descriptor(crop)
    assert first.shape == (descriptor.dim,) and first.dtype == np.float32
    np.testing.assert_array_equal(first, descriptor(crop.copy()))
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    flat = descriptor(np.full((96, 96), 77, dtype=np.uint8))  # no gradients at all
    assert np.any(flat) and np.isfinite(flat).all()


def test_torchscript_embedder_loads_and_embeds(tmp_path: Path) -> None:
    embedder = TorchScriptFaceEmbedder(save_script(tiny_cnn(8), tmp_path / "tiny.pt"))
    assert embedder.dim == 8 and embedder.name == "torchscript:tiny.pt"
    embedding = embedder(np.full((96, 96), 90, dtype=np.uint8))
    assert embedding.shape == (8,) and embedding.dtype == np.float32


def test_torch_export_programs_load_too(tmp_path: Path) -> None:
    net = tiny_cnn(8).eval()
    path = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, 112, 112),)), path)
    embedder = TorchScriptFaceEmbedder(path)
    assert embedder.dim == 8
    np.testing.assert_allclose(embedder(np.full((96, 96), 90, dtype=np.uint8)),
                               TorchScriptFaceEmbedder(save_script(net, tmp_path / "tiny.pt"))(
                                   np.full((96, 96), 90, dtype=np.uint8)), atol=1e-6)


@pytest.mark.parametrize("content", [b"not a torchscript archive", None])
def test_unloadable_weights_name_the_file_and_the_fix(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "weights.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SentilocError, match="--face-weights expects a model") as caught:
        TorchScriptFaceEmbedder(path)
    assert str(path) in str(caught.value)


def test_model_that_cannot_take_the_crop_is_refused_at_load(tmp_path: Path) -> None:
    path = save_script(torch.nn.Linear(5, 2), tmp_path / "linear.pt")
    with pytest.raises(SentilocError, match="failed on a") as caught:
        TorchScriptFaceEmbedder(path)
    assert str(path) in str(caught.value)


# --- the per-snippet extractor ---------------------------------------------------------------


def test_clip_with_a_face_gives_a_present_row(extractor: FaceExtractor) -> None:
    row, present = extractor(clip_of(face_frame()))
    assert present and row.shape == (extractor.info.dim,) and row.dtype == np.float32
    assert np.isfinite(row).all() and np.any(row)
    assert extractor.info.name == "haar+hoglbp" and extractor.info.dim == 940
    assert cv2.__version__ in extractor.info.version and skimage.__version__ in extractor.info.version


def test_clip_without_a_face_gives_exact_zeros(extractor: FaceExtractor) -> None:
    row, present = extractor(clip_of(grey_frame()))
    assert not present and row.dtype == np.float32
    np.testing.assert_array_equal(row, np.zeros(extractor.info.dim, dtype=np.float32))


def test_sampled_frames_are_slice_centres(detector: HaarFaceDetector) -> None:
    def frames(n: int) -> list[int]:
        return FaceExtractor(detector, HogLbpDescriptor(), n).sampled_frames(SNIPPET_FRAMES).tolist()

    assert frames(2) == [4, 12] and frames(1) == [8] and frames(16) == list(range(16))
    with pytest.raises(ValueError):
        FaceExtractor(detector, HogLbpDescriptor(), 0)


def test_only_frames_with_a_face_enter_the_mean(extractor: FaceExtractor, detector: HaarFaceDetector) -> None:
    clip = clip_of(grey_frame())
    clip[4] = face_frame()  # frame 12, the other sampled one, stays blank
    row, present = extractor(clip)
    expected = extractor.descriptor(align_face(clip[4], detector.detect(clip[4])))
    assert present
    np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_descriptor_of_zeros_still_marks_the_face_present(tmp_path: Path) -> None:
    """A model whose head outputs exact zeros must not turn a present face into a missing one."""
    model = tiny_cnn(8)
    with torch.no_grad():
        model[-1].weight.zero_()
        model[-1].bias.zero_()
    extractor = face_stream(face_weights=str(save_script(model, tmp_path / "zeros.pt")))
    assert extractor.info.name == "haar+torchscript:zeros.pt" and extractor.info.dim == 8
    row, present = extractor(clip_of(face_frame()))
    assert present and row[0] == np.float32(NONZERO_EPS) and not np.any(row[1:])
    assert np.abs(row).sum() > 0  # what the data layer checks


def test_factory_defaults_to_hoglbp() -> None:
    extractor = face_stream(face_frames=1)
    assert extractor.info.name == "haar+hoglbp" and extractor.frames_per_snippet == 1
