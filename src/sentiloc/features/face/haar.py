"""The default face detector: OpenCV's Haar cascades, with eye centres for levelling.

The cascades ship inside ``opencv-python`` (4.x; OpenCV 5 dropped them), so the default face
stream needs no weights. They only find roughly frontal, upright faces; that is the point of the
stream (the speaker's expression), and a snippet whose sampled frames show only profiles counts
as face-missing. Registered as ``--face-detector haar`` in :mod:`sentiloc.features.face`.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.features.face.base import (
    EyePair,
    Face,
    FaceExtractor,
    HogLbpDescriptor,
    user_embedder,
)
from sentiloc.features.settings import ExtractSettings

#: Detection runs on a copy whose longer side is at most this many pixels: Haar cascades are
#: scale-searched, so cost grows with the pixel count while faces worth describing stay well
#: above the cascade's 24-px window at this size.
DETECT_MAX_SIDE = 320
#: Pyramid step of the face search; 1.1 is OpenCV's default and misses fewer faces than coarser
#: steps on frames this small.
FACE_SCALE_FACTOR = 1.1
#: Overlapping hits a face needs before it counts. In our probes 4-5 still let one of ~40 noise
#: frames through; 6 rejected all of ~200 (raw and blurred) and still found faces of ~27 px.
FACE_MIN_NEIGHBORS = 6
#: Smallest face searched for, in working (downscaled) pixels: the cascade's native window.
FACE_MIN_SIZE = 24
#: The upper half of a face box is resized to this width before the eye search, so eyes are
#: always ~20-35 px whatever the face size, where the 20-px eye cascade is reliable.
EYE_ROI_WIDTH = 128
#: Eye sizes searched in that resized strip (eyes are ~0.2 of the face width, ~26 px of 128).
EYE_MIN_SIZE, EYE_MAX_SIZE = 16, 48
#: Overlapping hits an eye needs; 3 often keeps an eyebrow as a second "eye".
EYE_MIN_NEIGHBORS = 4
#: Where eye centres usually sit in the upper half of a Haar face box, as a share of its height
#: (about 0.38 of the whole box); candidates nearest this height and 0.3 / 0.7 of the width win.
EYE_TYPICAL_HEIGHT = 0.75
#: Eye pairs tilted more than this are rejected: the frontal-face cascade itself only fires up to
#: about ±15° of roll, so a steeper "pair" is an eyebrow, nostril or glasses frame.
MAX_EYE_TILT_DEG = 25.0

_OPENCV_FIX = "pip install 'opencv-python-headless<5'"


def _load_cascade(directory: Path, filename: str) -> cv2.CascadeClassifier:
    """Load one bundled cascade, or say how to get a build that still ships them."""
    path = directory / filename
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if cascade is None or cascade.empty():
        raise SentilocError(
            f"{path}: OpenCV's Haar cascade {filename} is missing or unreadable "
            f"(OpenCV {cv2.__version__}; OpenCV 5 no longer bundles the cascades). "
            f"Install a 4.x build: {_OPENCV_FIX}"
        )
    return cascade


def _bundled_cascade_dir() -> Path:
    """Where ``opencv-python`` keeps its cascades; absent from builds that dropped them."""
    data = getattr(cv2, "data", None)
    if data is None:
        raise SentilocError(f"OpenCV {cv2.__version__} ships no Haar cascades (no cv2.data). Install a 4.x build: {_OPENCV_FIX}")
    return Path(data.haarcascades)


class HaarFaceDetector:
    """Largest roughly frontal face in a frame, with eye centres when both are visible.

    Haar cascades are weight-free for the user (they ship inside ``opencv-python``), run on CPU
    in tens of ms per 320-px frame, and fire on upright frontal faces only, which is the face a
    sentiment model can read.
    """

    name = "haar"

    def __init__(self, cascade_dir: Path | None = None) -> None:
        directory = Path(cascade_dir) if cascade_dir is not None else _bundled_cascade_dir()
        self._faces = _load_cascade(directory, "haarcascade_frontalface_default.xml")
        self._eyes = _load_cascade(directory, "haarcascade_eye.xml")
        # Local (CLAHE) rather than global equalisation: a global histogram is dominated by
        # letterbox bars or flat backdrops, and stretching that spike washed out mid-sized faces
        # in our probes; CLAHE equalises each tile and kept every one of them detectable.
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self.version = f"cv2-{cv2.__version__}"

    def detect(self, frame: np.ndarray) -> Face | None:
        """Return the largest face in ``uint8 (H, W, 3)`` RGB ``frame``, or ``None``."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        box = self._largest_face(gray)
        if box is None:
            return None
        return Face(box=box, eyes=self._eye_centres(gray, box))

    def _largest_face(self, gray: np.ndarray) -> tuple[int, int, int, int] | None:
        """Search a downscaled, equalised copy and map the biggest hit back to full resolution."""
        scale = min(1.0, DETECT_MAX_SIDE / max(gray.shape))
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        hits = self._faces.detectMultiScale(
            self._clahe.apply(small),
            scaleFactor=FACE_SCALE_FACTOR,
            minNeighbors=FACE_MIN_NEIGHBORS,
            minSize=(FACE_MIN_SIZE, FACE_MIN_SIZE),
        )
        if len(hits) == 0:
            return None
        hits = np.asarray(hits, dtype=np.float64)
        x, y, w, h = hits[np.argmax(hits[:, 2] * hits[:, 3])] / scale
        height, width = gray.shape
        x0, y0 = max(0, round(x)), max(0, round(y))
        return x0, y0, min(width, round(x + w)) - x0, min(height, round(y + h)) - y0

    def _eye_centres(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> EyePair | None:
        """Eye hit nearest the typical eye spot in each half of the box's upper half, if level enough.

        The nearest hit, not the largest, because the eye cascade's usual false hit is an
        eyebrow just above the eye and often as large.
        """
        x, y, w, h = box
        upper = gray[y : y + h // 2, x : x + w]
        if upper.size == 0:
            return None
        scale = EYE_ROI_WIDTH / upper.shape[1]
        roi = cv2.equalizeHist(cv2.resize(upper, (EYE_ROI_WIDTH, max(1, round(upper.shape[0] * scale)))))
        hits = self._eyes.detectMultiScale(
            roi,
            scaleFactor=1.1,
            minNeighbors=EYE_MIN_NEIGHBORS,
            minSize=(EYE_MIN_SIZE, EYE_MIN_SIZE),
            maxSize=(EYE_MAX_SIZE, EYE_MAX_SIZE),
        )
        if len(hits) < 2:
            return None
        hits = np.asarray(hits, dtype=np.float64)
        centres = hits[:, :2] + hits[:, 2:] / 2
        left_half = centres[:, 0] < EYE_ROI_WIDTH / 2
        if left_half.all() or not left_half.any():
            return None
        pair = []
        for side, typical_x in ((left_half, 0.3), (~left_half, 0.7)):
            typical = np.array([typical_x * EYE_ROI_WIDTH, EYE_TYPICAL_HEIGHT * roi.shape[0]])
            candidates = centres[side]
            pair.append(candidates[np.argmin(np.linalg.norm(candidates - typical, axis=1))] / scale + (x, y))
        (lx, ly), (rx, ry) = pair
        if abs(math.degrees(math.atan2(ry - ly, rx - lx))) > MAX_EYE_TILT_DEG:
            return None
        return (float(lx), float(ly)), (float(rx), float(ry))


def from_settings(settings: ExtractSettings, device: str) -> FaceExtractor:
    """The face stream on Haar: HOG/LBP of the aligned face, or the ``--face-weights`` model on it."""
    descriptor = user_embedder(settings) or HogLbpDescriptor()
    return FaceExtractor(HaarFaceDetector(), descriptor, settings.face_frames)
