"""The detector-independent half of the face stream: align, describe, average over a snippet.

TSL-300's face stream has one row per 16-frame snippet, and the data layer reads an all-zero row
as "no face in this snippet". So the stream has two jobs: find a face reliably enough that the
mask means something (the detectors: :mod:`.haar`, :mod:`.mediapipe`), and make sure a found face
can never produce an all-zero row (:class:`FaceExtractor`, here).

The pipeline per snippet is detect → align (rotate so the eyes are level, crop, resize) →
describe (HOG + LBP, which needs no weights, or the user's TorchScript / ``torch.export``
expression CNN, ``--face-weights``) → average over the sampled frames. This module holds
everything but the detectors, and imports none of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import skimage
import torch
from skimage.feature import hog, local_binary_pattern

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.features.base import ExtractorInfo, file_digest
from sentiloc.features.settings import ExtractSettings

#: Context kept around the detector's box (Haar's runs brow to mouth) on each side, as a share of its side.
CROP_MARGIN = 0.1
#: Side of the aligned grayscale crop the descriptors see.
ALIGNED_SIZE = 96
#: Value written into the first element of a face descriptor that came out exactly zero, so a
#: present face never reads as face-missing (float32 keeps it exactly nonzero).
NONZERO_EPS = 1e-6

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


#: (x, y) centres of the image-left and the image-right eye.
EyePair = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Face:
    """One detected face in full-resolution frame pixels.

    ``eyes`` is ``None`` when the detector found no level pair of eyes (see
    :class:`~sentiloc.features.face.haar.HaarFaceDetector`). ``landmarks`` is ``float32 (468, 3)``
    MediaPipe face-mesh points (pixel x, y; relative depth z), set only by the optional MediaPipe
    detector (:mod:`sentiloc.features.face.mediapipe`); it is left out of ``==``, which arrays
    cannot answer.
    """

    box: tuple[int, int, int, int]
    eyes: EyePair | None = None
    landmarks: np.ndarray | None = field(default=None, compare=False)


def align_face(frame: np.ndarray, face: Face, size: int = ALIGNED_SIZE) -> np.ndarray:
    """Grayscale ``uint8 (size, size)`` crop of ``face``, rotated so its eyes are level.

    Levelling the eyes removes head roll, which otherwise dominates HOG cells and drifts a CNN's
    embedding for the same expression. Rotation (about the eye midpoint) and cropping (the box
    plus ``CROP_MARGIN``, a square clamped to the frame) are one ``warpAffine`` at full
    resolution, so only the crop's pixels are computed; corners that rotation brings in from
    outside the frame repeat the border rather than turning black. The crop is then shrunk with
    area averaging, which unlike the warp's bilinear sampling does not alias fine texture.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    rotation = _eye_levelling(face)
    x, y, w, h = face.box
    centre_x, centre_y = rotation @ np.array([x + w / 2, y + h / 2, 1.0])
    height, width = gray.shape
    side = max(1, min(round(max(w, h) * (1 + 2 * CROP_MARGIN)), width, height))
    x0 = float(np.clip(centre_x - side / 2, 0, width - side))
    y0 = float(np.clip(centre_y - side / 2, 0, height - side))
    rotation[:, 2] -= (x0, y0)
    crop = cv2.warpAffine(gray, rotation, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    shrink = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=shrink)


def _eye_levelling(face: Face) -> np.ndarray:
    """``2 x 3`` rotation about the eye midpoint that levels the eyes (identity without eyes)."""
    if face.eyes is None:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    (lx, ly), (rx, ry) = face.eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    return cv2.getRotationMatrix2D(((lx + rx) / 2, (ly + ry) / 2), angle, 1.0)


class FaceDetector(Protocol):
    """Finds the largest face of an RGB frame (:mod:`.haar`, :mod:`.mediapipe`)."""

    name: str
    version: str

    def detect(self, frame: np.ndarray) -> Face | None: ...


class FaceDescriptor(Protocol):
    """Maps an aligned ``uint8 (S, S)`` face crop to a fixed-length ``float32 (dim,)`` vector.

    A descriptor with a true ``wants_face`` attribute is given the :class:`Face` instead of the
    crop (the face-mesh geometry reads landmarks, not pixels).
    """

    name: str
    version: str
    dim: int

    def __call__(self, crop: np.ndarray) -> np.ndarray: ...


class HogLbpDescriptor:
    """Weight-free expression descriptor: HOG for shape, uniform LBP for texture.

    HOG (9 orientations, 16x16-px cells, 2x2-cell blocks, L2-Hys) on the 96x96 crop gives
    5 x 5 blocks x 4 cells x 9 = 900 values that follow brows, eyes and mouth corners; uniform
    LBP (P=8, R=1, 10 codes) histograms over a 2x2 grid add 40 values of wrinkle/skin texture
    that HOG's coarse cells average away. Each part is L2-normalised on its own before they are
    joined, so the 40 LBP bins are not drowned out by 900 HOG bins, and the result has unit
    norm. The LBP histograms always sum to one per cell, so the vector is never all zero.
    """

    name = "hoglbp"
    _ORIENTATIONS = 9
    _CELL = 16
    _BLOCK = 2
    _LBP_POINTS = 8
    _LBP_BINS = _LBP_POINTS + 2
    _LBP_GRID = 2

    def __init__(self, size: int = ALIGNED_SIZE) -> None:
        self.size = size
        blocks = size // self._CELL - self._BLOCK + 1
        self.dim = blocks * blocks * self._BLOCK**2 * self._ORIENTATIONS + self._LBP_GRID**2 * self._LBP_BINS
        self.version = f"skimage-{skimage.__version__}"

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """Return the unit-norm ``float32 (dim,)`` descriptor of a ``(size, size)`` crop."""
        if crop.shape != (self.size, self.size):
            raise ValueError(f"HogLbpDescriptor expects a ({self.size}, {self.size}) crop, got {crop.shape}")
        shape = hog(
            crop,
            orientations=self._ORIENTATIONS,
            pixels_per_cell=(self._CELL, self._CELL),
            cells_per_block=(self._BLOCK, self._BLOCK),
            block_norm="L2-Hys",
            feature_vector=True,
        )
        parts = np.concatenate([_unit(shape), _unit(self._lbp_histograms(crop))]) / math.sqrt(2)
        return parts.astype(np.float32)

    def _lbp_histograms(self, crop: np.ndarray) -> np.ndarray:
        """Per-cell normalised histograms of uniform LBP codes, one vectorised bincount."""
        codes = local_binary_pattern(crop, self._LBP_POINTS, 1, method="uniform").astype(np.int64)
        rows = np.arange(crop.shape[0]) * self._LBP_GRID // crop.shape[0]
        cols = np.arange(crop.shape[1]) * self._LBP_GRID // crop.shape[1]
        cell = rows[:, None] * self._LBP_GRID + cols[None, :]
        counts = np.bincount((cell * self._LBP_BINS + codes).ravel(), minlength=self._LBP_GRID**2 * self._LBP_BINS)
        counts = counts.reshape(self._LBP_GRID**2, self._LBP_BINS).astype(np.float64)
        return (counts / counts.sum(axis=1, keepdims=True)).ravel()


def _unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit L2 norm (left as is when it is all zero)."""
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


class TorchScriptFaceEmbedder:
    """A user-supplied expression CNN, exported as TorchScript or with ``torch.export``, as the face descriptor.

    Both formats keep the model's computation with its weights, so any architecture loads without
    this package knowing its class (and without unpickling arbitrary Python). The model sees the aligned crop as 3-channel RGB (the gray value
    repeated), resized to ``input_size``, scaled to [0, 1] and ImageNet-normalised, shape
    ``(1, 3, S, S)``, which is what ImageNet-pretrained backbones expect; its flattened output is
    the embedding. The dim is read off one dummy forward at load time, so a model that cannot
    run on such input fails here, naming the file, rather than mid-extraction.
    """

    def __init__(self, path: Path, input_size: int = 112) -> None:
        self.path = Path(path)
        self.input_size = input_size
        self._model = self._load()
        self.name = f"torchscript:{self.path.name}"
        self.version = f"torch-{torch.__version__}+sha256-{file_digest(self.path)}"
        dummy = self._embed(np.zeros((input_size, input_size), dtype=np.uint8))
        self.dim = int(dummy.size)

    def _load(self) -> torch.nn.Module:
        """TorchScript (``.pt``/``.pth``), or a ``torch.export`` program (``.pt2``), TorchScript's successor."""
        try:
            if self.path.suffix == ".pt2":
                return torch.export.load(str(self.path)).module()
            model = torch.jit.load(str(self.path), map_location="cpu")
        except Exception as exc:  # torch raises RuntimeError, ValueError or OSError depending on the damage
            first_line = next(iter(str(exc).splitlines()), "")
            raise self._error(f"cannot load it ({type(exc).__name__}: {first_line})") from exc
        return model.eval()

    def _error(self, problem: str) -> SentilocError:
        return SentilocError(
            f"{self.path}: {problem}. --face-weights expects a model taking a (1, 3, S, S) ImageNet-normalised "
            "image, saved with torch.export.save(torch.export.export(model, (example,)), 'face.pt2') or as "
            "TorchScript: torch.jit.save(torch.jit.script(model), 'face.pt')"
        )

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """Return the flattened ``float32`` embedding of a grayscale ``uint8`` crop."""
        return self._embed(crop)

    def _embed(self, crop: np.ndarray) -> np.ndarray:
        image = cv2.resize(crop, (self.input_size, self.input_size), interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB).astype(np.float32) / 255.0
        batch = torch.from_numpy(((rgb - _IMAGENET_MEAN) / _IMAGENET_STD).transpose(2, 0, 1)[None].copy())
        try:
            with torch.inference_mode():
                output = self._model(batch)
            embedding = output.detach().to(torch.float32).reshape(-1).numpy()
        except Exception as exc:
            shape = f"(1, 3, {self.input_size}, {self.input_size})"
            raise self._error(f"the model failed on a {shape} input ({type(exc).__name__})") from exc
        if embedding.size == 0 or not np.isfinite(embedding).all():
            raise self._error("the model returned an empty or non-finite embedding")
        return embedding


class FaceExtractor:
    """Per-snippet face row: the mean descriptor of the largest face over sampled frames.

    Only ``frames_per_snippet`` evenly spaced frames are examined (for 2 of 16: frames 4 and 12,
    the centres of the two halves of the snippet), since detection dominates the cost and
    neighbouring frames carry nearly the same face. Frames where no face is found are left out of
    the mean; a snippet with no face in any sampled frame gives zeros and ``False``.
    """

    #: Bump when detection, alignment or sampling changes what rows come out.
    ALGORITHM = "face-v1"

    def __init__(self, detector: FaceDetector, descriptor: FaceDescriptor, frames_per_snippet: int = 2) -> None:
        if not 1 <= frames_per_snippet <= SNIPPET_FRAMES:
            raise ValueError(f"frames_per_snippet {frames_per_snippet}: must be in 1..{SNIPPET_FRAMES}")
        self.detector = detector
        self.descriptor = descriptor
        self.frames_per_snippet = frames_per_snippet
        version = f"{self.ALGORITHM}+{detector.version}+{descriptor.version}+frames{frames_per_snippet}"
        self.info = ExtractorInfo(name=f"{detector.name}+{descriptor.name}", version=version, dim=descriptor.dim)

    def sampled_frames(self, n_frames: int) -> np.ndarray:
        """Indices of the frames examined in an ``n_frames`` clip: centres of equal slices."""
        count = min(self.frames_per_snippet, n_frames)
        return (2 * np.arange(count) + 1) * n_frames // (2 * count)

    def __call__(self, clip: np.ndarray) -> tuple[np.ndarray, bool]:
        """Return ``(float32 (dim,), face_present)`` for a ``uint8 (F, H, W, 3)`` clip."""
        if clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[-1] != 3 or len(clip) == 0:
            raise ValueError(f"FaceExtractor expects a uint8 (F, H, W, 3) clip, got {clip.dtype} {clip.shape}")
        embeddings = []
        for index in self.sampled_frames(len(clip)):
            face = self.detector.detect(clip[index])
            if face is None:
                continue
            if getattr(self.descriptor, "wants_face", False):  # reads the Face itself (mesh landmarks)
                embeddings.append(self.descriptor(face))
            else:
                embeddings.append(self.descriptor(align_face(clip[index], face)))
        if not embeddings:
            return np.zeros(self.info.dim, dtype=np.float32), False
        return _never_zero(np.mean(embeddings, axis=0, dtype=np.float64).astype(np.float32)), True


def _never_zero(row: np.ndarray) -> np.ndarray:
    """``row``, with ``NONZERO_EPS`` in its first element if it is all zero.

    The data layer reads an all-zero face row as face-missing; a descriptor that happens to
    output zeros (a ReLU head, say) must not silently turn a present face into a missing one.
    """
    if np.any(row):
        return row
    row = row.copy()
    row[0] = NONZERO_EPS
    return row


def user_embedder(settings: ExtractSettings) -> TorchScriptFaceEmbedder | None:
    """The model ``--face-weights`` names, which replaces a detector's weight-free descriptor; None without one."""
    return TorchScriptFaceEmbedder(Path(settings.face_weights)) if settings.face_weights else None
