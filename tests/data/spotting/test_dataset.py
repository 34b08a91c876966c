"""Working timeline, SpottingDataConfig, LOSO splits, the point-only dataset and its collate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sentiloc.core.config import typed_section
from sentiloc.core.errors import SentilocError
from sentiloc.data.spotting.annotations import read_videos
from sentiloc.data.spotting.batch import EXPRESSION_TYPES
from sentiloc.data.spotting.dataset import (
    SpottingDataConfig,
    SpottingDataset,
    collate_spotting,
    feature_dim,
    load_points,
    pool_to_working,
    stride_of,
    videos_of_split,
    working_length,
)
from tests.data.spotting.conftest import DIM


@pytest.mark.parametrize(("fps", "working", "stride"), [(30, 30, 1), (200, 30, 7), (25, 30, 1), (60, 30, 2),
                                                        (10, 30, 1), (200, 100, 2)])
def test_stride_of(fps: float, working: float, stride: int) -> None:
    # 200 / 30 = 6.67 -> 7; 10 / 30 = 0.33 -> round 0 -> at least 1
    assert stride_of(fps, working) == stride


def test_pool_to_working_by_hand() -> None:
    native = np.array([[0.0, 10], [1, 11], [2, 12], [3, 13], [4, 14]], dtype=np.float32)
    # stride 2: rows (0, 1) -> 0.5, (2, 3) -> 2.5, the partial last group (4) -> 4
    assert pool_to_working(native, 2).tolist() == [[0.5, 10.5], [2.5, 12.5], [4.0, 14.0]]
    # stride 3: rows (0, 1, 2) -> 1, (3, 4) -> 3.5
    assert pool_to_working(native, 3).tolist() == [[1.0, 11.0], [3.5, 13.5]]
    assert pool_to_working(native, 7).tolist() == [[2.0, 12.0]]
    assert pool_to_working(native, 2).dtype == np.float32


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 4)), elements=st.floats(-100, 100, width=32)),
       st.integers(1, 9))
def test_pooling_keeps_length_and_mass(native: np.ndarray, stride: int) -> None:
    pooled = pool_to_working(native, stride)
    assert pooled.shape == (working_length(len(native), stride), native.shape[1]) == (-(-len(native) // stride), native.shape[1])
    counts = np.minimum(stride, len(native) - np.arange(0, len(native), stride))
    np.testing.assert_allclose((pooled * counts[:, None]).sum(0), native.astype(np.float64).sum(0), atol=1e-2)
    if stride == 1:
        np.testing.assert_array_equal(pooled, native)


def test_data_config_defaults_and_refusals() -> None:
    cfg = typed_section(SpottingDataConfig, {"test_subject": "s1", "working_fps": 25}, "data")
    assert cfg.classes == EXPRESSION_TYPES and cfg.roles() == {} and cfg.supervision == "point"
    for values, names in [({"supervision": "full"}, "data.supervision 'full'"), ({"working_fps": 0}, "data.working_fps 0"),
                          ({"working_fps": float("inf")}, "data.working_fps inf"), ({"test_subject": " "}, "test_subject"),
                          ({"classes": ["a"]}, "unknown key(s) ['classes']")]:
        with pytest.raises(SentilocError, match=names.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            typed_section(SpottingDataConfig, values, "data")


def test_leave_one_subject_out(data: Path) -> None:
    videos = list(read_videos(data).values())
    fold = SpottingDataConfig(test_subject="s2")
    assert [v.video_id for v in videos_of_split(videos, fold, "train")] == ["s1_a", "s1_b"]
    assert [v.video_id for v in videos_of_split(videos, fold, "test")] == ["s2_a"]
    everything = SpottingDataConfig()
    assert videos_of_split(videos, everything, "train") == videos_of_split(videos, everything, "test") == videos
    with pytest.raises(SentilocError, match=r"data.test_subject 's9' is not a subject of videos.csv; choose one of \['s1', 's2'\]"):
        videos_of_split(videos, SpottingDataConfig(test_subject="s9"), "train")


def test_points_on_the_working_timeline(data: Path) -> None:
    videos = list(read_videos(data).values())
    points = load_points(data, videos, working_fps=30.0)
    # s1_a at 30 fps: stride 1, frames unchanged; s2_a at 200 fps: stride 7, 45 // 7 = 6, 103 // 7 = 14
    assert points["s1_a"][0].tolist() == [7, 21] and points["s1_a"][1].tolist() == [0, 1]
    assert points["s2_a"][0].tolist() == [6, 14] and points["s2_a"][1].tolist() == [0, 1]


def test_batches_pad_and_mask(data: Path) -> None:
    videos = list(read_videos(data).values())
    cfg = SpottingDataConfig(standardize="none")
    dataset = SpottingDataset(data, videos, cfg, points=load_points(data, videos, cfg.working_fps))
    # 40 and 25 frames at stride 1; 150 frames at stride 7 -> ceil(150 / 7) = 22 working frames
    assert dataset.lengths == [40, 25, 22] and len(dataset) == 3
    batch = collate_spotting([dataset[i] for i in range(3)])
    assert batch.features.shape == (3, 40, DIM) and batch.features.dtype == torch.float32
    assert batch.mask.sum(1).tolist() == [40, 25, 22] and batch.lengths.tolist() == [40, 25, 22]
    assert batch.features[1, 25:].abs().sum() == 0 and batch.features[2, 22:].abs().sum() == 0
    assert batch.stride.tolist() == [1, 1, 7] and batch.n_frames.tolist() == [40, 25, 150]
    assert batch.point_t.shape == (3, 2) and batch.point_mask.tolist() == [[True, True], [True, False], [True, True]]
    assert batch.point_t[2].tolist() == [6, 14] and batch.point_type[0].tolist() == [0, 1]
    assert set(batch.inputs()) == {"features", "mask"}
    native = np.load(data / "features" / "s2_a.npy")
    np.testing.assert_allclose(batch.features[2, 0].numpy(), native[:7].mean(0), rtol=1e-5)


def test_without_points_a_batch_has_no_clicks(data: Path) -> None:
    videos = list(read_videos(data).values())
    batch = collate_spotting([SpottingDataset(data, videos, SpottingDataConfig())[i] for i in range(2)])
    # one masked-out click column, so reductions over clicks stay defined
    assert batch.point_t.shape == batch.point_mask.shape == (2, 1) and not batch.point_mask.any()


def test_standardisation_uses_the_given_stats(data: Path) -> None:
    videos = list(read_videos(data).values())
    dataset = SpottingDataset(data, videos, SpottingDataConfig())
    dataset.stats = dataset.raw_stats()
    frames = np.concatenate([dataset[i].features for i in range(len(dataset))])
    np.testing.assert_allclose(frames.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(frames.std(0), 1.0, atol=1e-4)


def test_a_model_dim_mismatch_is_one_line(data: Path) -> None:
    videos = list(read_videos(data).values())
    with pytest.raises(SentilocError, match=r"s1_a.npy: feature dim 3, but the model expects 5; re-extract"):
        SpottingDataset(data, videos, SpottingDataConfig(), dim=5)[0]


def _point_batch(root: Path) -> dict[str, torch.Tensor]:
    videos = list(read_videos(root).values())
    cfg = SpottingDataConfig(test_subject="s2")
    train = videos_of_split(videos, cfg, "train")
    dataset = SpottingDataset(root, train, cfg, points=load_points(root, train, cfg.working_fps))
    batch = collate_spotting([dataset[i] for i in range(len(dataset))])
    return {k: v for k, v in vars(batch).items() if isinstance(v, torch.Tensor)}


def test_onsets_and_offsets_never_reach_a_point_batch(data: Path) -> None:
    """A point-level batch is the same with annotations.csv intact, turned to garbage, or deleted."""
    intact = _point_batch(data)
    (data / "annotations.csv").write_bytes(b"\xff\xfe garbage, not even UTF-8 \x00")
    garbage = _point_batch(data)
    (data / "annotations.csv").unlink()
    deleted = _point_batch(data)
    for other in (garbage, deleted):
        assert intact.keys() == other.keys()
        for key in intact:
            assert torch.equal(intact[key], other[key]), key


def test_feature_dim_reads_the_header(data: Path) -> None:
    videos = list(read_videos(data).values())
    assert feature_dim(data, videos) == DIM
    np.save(data / "features" / "s1_a.npy", np.zeros(40, np.float32))
    with pytest.raises(SentilocError, match=r"s1_a.npy: expected a 2-D array \(n_frames, dim\), got shape \(40,\)"):
        feature_dim(data, videos)


def test_an_empty_split_is_refused(data: Path) -> None:
    with pytest.raises(SentilocError, match="no videos in this split"):
        SpottingDataset(data, [], SpottingDataConfig())



def test_per_video_standardization_removes_a_constant_appearance():
    # Two frames, two dims: x = [[1, 10], [3, 10]] -> dim 0: mean 2, std 1 -> [-1, 1]; dim 1: constant -> 0.
    from sentiloc.data.spotting.dataset import zscore_over_time

    out = zscore_over_time(np.array([[1.0, 10.0], [3.0, 10.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[-1.0, 0.0], [1.0, 0.0]])
    shifted = zscore_over_time(np.array([[1.0, 10.0], [3.0, 10.0]], dtype=np.float32) + 7.0)
    np.testing.assert_allclose(shifted, out)
