"""Robustness-study perturbations: faces hidden to a target share, clicks jittered — both seeded per video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.core.seeding import video_rng
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import DataConfig, load_supervision
from sentiloc.data.perturb import hide_face_to_fraction, jitter_click_frames


def _face(length: int = 157) -> np.ndarray:
    face = np.ones(length, dtype=bool)
    face[20:31] = False  # a face the detector already missed
    face[100:104] = False
    return face


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_hidden_share_is_exact_and_only_shrinks(fraction: float) -> None:
    face = _face()
    for seed in range(30):
        out = hide_face_to_fraction(face, fraction, video_rng(seed, "v"))
        missing = int((~out).sum())
        assert missing == max(round(fraction * len(face)), int((~face).sum()))
        assert abs(missing / len(face) - fraction) <= 1 / len(face) or missing == (~face).sum()
        assert not (out & ~face).any(), "a face is never invented"


def test_hidden_runs_are_reproducible_per_seed_and_video() -> None:
    face = _face()
    a = hide_face_to_fraction(face, 0.5, video_rng(3, "video_a"))
    np.testing.assert_array_equal(a, hide_face_to_fraction(face, 0.5, video_rng(3, "video_a")))
    assert not np.array_equal(a, hide_face_to_fraction(face, 0.5, video_rng(4, "video_a")))
    assert not np.array_equal(a, hide_face_to_fraction(face, 0.5, video_rng(3, "video_b")))
    assert face.sum() == 142, "the input is not modified"


def test_hidden_snippets_come_in_runs() -> None:
    face = np.ones(2000, dtype=bool)
    out = hide_face_to_fraction(face, 0.25, video_rng(0, "v"))
    starts = np.flatnonzero(np.diff(out.astype(int)) == -1).size + int(not out[0])
    assert 500 / starts > 4, "runs, not scattered snippets (mean run ~8 snippets, merged runs longer)"


def test_a_share_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        hide_face_to_fraction(_face(), 1.5, video_rng(0, "v"))


def test_jitter_stays_within_amplitude_and_video() -> None:
    frames = np.array([0, 500, 1000, 1499], dtype=np.int64)
    fps, n_frames = 25.0, 1500.0
    for seed in range(50):
        out = jitter_click_frames(frames, fps, n_frames, 2.0, video_rng(seed, "v"))
        assert out.dtype == np.int64
        assert np.all(np.abs(out - frames) <= 2.0 * fps + 0.5)
        assert out.min() >= 0 and out.max() <= 1499
    inner = frames[1:3]  # away from the ends, where clipping piles clicks up
    moved = np.concatenate([jitter_click_frames(inner, fps, n_frames, 2.0, video_rng(s, "v")) - inner for s in range(200)])
    assert moved.min() < -45 and moved.max() > 45 and abs(moved.mean()) < 5  # spread over ±2 s, centred


def test_zero_jitter_is_the_identity_and_jitter_is_seeded() -> None:
    frames = np.array([10, 700], dtype=np.int64)
    assert jitter_click_frames(frames, 30.0, 900.0, 0.0, video_rng(0, "v")) is frames
    a = jitter_click_frames(frames, 30.0, 900.0, 1.0, video_rng(1, "v"))
    np.testing.assert_array_equal(a, jitter_click_frames(frames, 30.0, 900.0, 1.0, video_rng(1, "v")))
    assert not np.array_equal(a, jitter_click_frames(frames, 30.0, 900.0, 1.0, video_rng(2, "v")))


def test_training_clicks_are_jittered_per_data_seed_and_video(tiny_dataset: Path) -> None:
    infos = {k: v for k, v in read_video_infos(tiny_dataset).items() if v.split == "train"}
    exact = load_supervision(tiny_dataset, infos, DataConfig()).by_video
    moved = load_supervision(tiny_dataset, infos, DataConfig(click_jitter_s=2.0)).by_video
    again = load_supervision(tiny_dataset, infos, DataConfig(click_jitter_s=2.0)).by_video
    other = load_supervision(tiny_dataset, infos, DataConfig(click_jitter_s=2.0, click_jitter_seed=1)).by_video
    for video, info in infos.items():
        reach = int(np.ceil(2.0 * info.fps / 16)) + 1  # ±2 s in snippets, plus rounding
        assert np.all(np.abs(moved[video].clicks_t - exact[video].clicks_t) <= reach)
        np.testing.assert_array_equal(moved[video].clicks_t, again[video].clicks_t)
        np.testing.assert_array_equal(moved[video].clicks_cls, exact[video].clicks_cls)
    assert any(not np.array_equal(moved[v].clicks_t, exact[v].clicks_t) for v in infos)
    assert any(not np.array_equal(moved[v].clicks_t, other[v].clicks_t) for v in infos)
    with pytest.raises(SentilocError, match="click_jitter_s"):
        DataConfig(click_jitter_s=-1.0)
