"""The weight-free colour-motion descriptor."""

from __future__ import annotations

import numpy as np

from sentiloc.features.streams.colour_motion import DIM, ColourMotionExtractor, grid_means, hsv_histogram


def moving_square_clip(step: int) -> np.ndarray:
    clip = np.full((16, 120, 160, 3), 90, dtype=np.uint8)
    for i in range(16):
        x = 20 + step * i
        clip[i, 40:80, x : x + 40] = (220, 40, 40)
    return clip


def test_dim_and_determinism():
    extractor = ColourMotionExtractor()
    clip = moving_square_clip(3)
    row = extractor(clip)
    assert row.shape == (DIM,) == (extractor.info.dim,) and row.dtype == np.float32
    np.testing.assert_array_equal(row, extractor(clip))
    assert extractor.info.name == "colour-motion"


def test_motion_parts_are_zero_for_a_still_clip_and_positive_for_motion():
    extractor = ColourMotionExtractor()
    still, moving = extractor(moving_square_clip(0)), extractor(moving_square_clip(3))
    differences = slice(DIM - 15, DIM)
    assert np.all(still[differences] == 0) and np.all(moving[differences] > 0)
    motion = slice(128 + 48 + 16, DIM - 15)
    assert np.abs(still[motion]).max() < 1e-3 < moving[motion].max()


def test_colour_histogram_and_grid():
    frame = np.zeros((40, 40, 3), dtype=np.uint8)
    frame[:, 20:] = 255
    assert np.isclose(hsv_histogram(frame).sum(), 1.0)
    cells = grid_means(frame.astype(np.float32), grid=2).reshape(4, 3)
    np.testing.assert_array_equal(cells[:, 0], [0, 255, 0, 255])
