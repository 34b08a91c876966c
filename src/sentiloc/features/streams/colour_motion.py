"""Visual stream without weights (``--visual default``): the ``colour-motion`` descriptor.

TSL-300's visual stream is I3D (RGB, Kinetics) — :mod:`sentiloc.features.streams.i3d` reproduces
it when the user supplies ``rgb_imagenet.pt``. Nothing can be downloaded here, so the default is
a hand-crafted descriptor that needs no weights and is clearly *not* I3D (its name says so in
every meta file and checkpoint): what a scene looks like and how it moves within the snippet.

Per snippet (frames scaled to a 160-pixel-wide working size):

* colour: an HSV histogram of the middle frame (8 hue x 4 saturation x 4 value bins, sums to 1),
  and the mean RGB of a 4 x 4 grid of cells (/255) — scene and lighting;
* texture: mean gradient magnitude per cell of the 4 x 4 grid — faces, text and clutter;
* motion: Farneback optical flow between frames 0 -> 8 and 8 -> 15: mean flow magnitude per cell
  (pixels per frame at the working size) and a magnitude-weighted 8-bin direction histogram;
  plus the mean absolute difference of each of the 15 consecutive frame pairs (/255) — cuts,
  gestures, camera shake.
"""

from __future__ import annotations

import cv2
import numpy as np

from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.features.base import ExtractorInfo
from sentiloc.features.settings import ExtractSettings

WORK_WIDTH = 160
GRID = 4
HSV_BINS = (8, 4, 4)
FLOW_PAIRS = ((0, 8), (8, SNIPPET_FRAMES - 1))
DIRECTION_BINS = 8
DIM = (
    int(np.prod(HSV_BINS))  # colour histogram
    + GRID * GRID * 3  # colour layout
    + GRID * GRID  # texture
    + len(FLOW_PAIRS) * (GRID * GRID + DIRECTION_BINS)  # motion
    + SNIPPET_FRAMES - 1  # frame differences
)


def grid_means(image: np.ndarray, grid: int = GRID) -> np.ndarray:
    """Mean of ``image`` (H, W[, C]) over a ``grid`` x ``grid`` partition, flattened cell-major."""
    h, w = image.shape[:2]
    rows, cols = np.linspace(0, h, grid + 1).astype(int), np.linspace(0, w, grid + 1).astype(int)
    cells = [image[rows[i] : rows[i + 1], cols[j] : cols[j + 1]].reshape(-1, *image.shape[2:]).mean(axis=0)
             for i in range(grid) for j in range(grid)]
    return np.asarray(cells, dtype=np.float32).reshape(-1)


def hsv_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised HSV colour histogram of an RGB frame."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HSV_BINS), [0, 180, 0, 256, 0, 256]).reshape(-1)
    return (hist / max(hist.sum(), 1.0)).astype(np.float32)


def flow_features(previous: np.ndarray, current: np.ndarray, frames_apart: int) -> np.ndarray:
    """Per-cell mean flow magnitude (pixels/frame) and a magnitude-weighted direction histogram."""
    flow = cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 2, 9, 2, 5, 1.1, 0) / max(frames_apart, 1)
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1])
    bins = np.minimum((angle / (2 * np.pi) * DIRECTION_BINS).astype(int), DIRECTION_BINS - 1)
    directions = np.bincount(bins.ravel(), weights=magnitude.ravel(), minlength=DIRECTION_BINS)
    directions = directions / max(directions.sum(), 1e-6)
    return np.concatenate([grid_means(magnitude), directions.astype(np.float32)])


class ColourMotionExtractor:
    """The weight-free default visual descriptor (see the module docstring)."""

    info = ExtractorInfo("colour-motion", f"1/opencv-{cv2.__version__}", DIM)

    def __call__(self, clip: np.ndarray) -> np.ndarray:
        h, w = clip.shape[1:3]
        size = (WORK_WIDTH, max(2, int(round(h * WORK_WIDTH / w))))
        frames = [cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in clip]
        gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
        middle = frames[len(frames) // 2]
        gradient = cv2.magnitude(cv2.Sobel(gray[len(gray) // 2], cv2.CV_32F, 1, 0),
                                 cv2.Sobel(gray[len(gray) // 2], cv2.CV_32F, 0, 1))
        stack = np.stack(gray).astype(np.float32)
        parts = [
            hsv_histogram(middle),
            grid_means(middle.astype(np.float32)) / 255.0,
            grid_means(gradient) / 255.0,
            *(flow_features(gray[a], gray[b], b - a) for a, b in FLOW_PAIRS),
            np.abs(np.diff(stack, axis=0)).mean(axis=(1, 2)) / 255.0,
        ]
        return np.concatenate(parts).astype(np.float32)


def from_settings(settings: ExtractSettings, device: str) -> ColourMotionExtractor:
    """The ``rgb`` extractor of ``--visual default`` (it has no options)."""
    return ColourMotionExtractor()
