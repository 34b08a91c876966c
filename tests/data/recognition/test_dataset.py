"""RecognitionDataConfig, split and fold selection, segment pooling, standardisation and collation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.config import typed_section
from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.batch import UNLABELLED
from sentiloc.data.recognition.dataset import (
    RecognitionDataConfig,
    RecognitionDataset,
    RecognitionItem,
    chunk_starts,
    collate_recognition,
    feature_dims,
    load_labels,
    pool_segments,
    videos_of_split,
)
from tests.data.recognition.conftest import DIMS, VIDEOS


def test_config_defaults_and_roles() -> None:
    cfg = typed_section(RecognitionDataConfig, {"streams": ["visual"], "segments": 4}, "data")
    assert cfg.streams == ("visual",) and cfg.roles() == {"streams": ("visual",)}
    assert RecognitionDataConfig().roles() == {"streams": ("visual", "audio")}
    assert not hasattr(RecognitionDataConfig, "classes")


@pytest.mark.parametrize(("values", "names"), [
    ({"supervision": "point"}, "data.supervision 'point'"),
    ({"streams": []}, "data.streams ()"),
    ({"streams": ["visual", "visual"]}, "data.streams ('visual', 'visual')"),
    ({"streams": ["../x"]}, "data.streams '../x': stream name '../x' contains a path separator"),
    ({"labels_file": "sub/labels.csv"}, "data.labels_file 'sub/labels.csv'"),
    ({"labels_file": "labels.txt"}, "data.labels_file 'labels.txt'"),
    ({"test_fold": 0}, "data.test_fold 0"),
    ({"test_fold": True}, "data.test_fold True"),
    ({"val_fraction": 1.0}, "data.val_fraction 1.0"),
    ({"val_seed": -1}, "data.val_seed -1"),
    ({"segments": 0}, "data.segments 0"),
    ({"standardize": "video"}, "data.standardize 'video'"),
])
def test_config_refusals_are_one_line(values: dict, names: str) -> None:
    with pytest.raises(SentilocError) as caught:
        RecognitionDataConfig(**values)
    assert str(caught.value).startswith(names) and "\n" not in str(caught.value)


def test_split_column_selects(data: Path) -> None:
    cfg = RecognitionDataConfig()
    assert videos_of_split(data, cfg, "train") == ["v_anger_1", "v_joy_1", "v_sad_1"]
    assert videos_of_split(data, cfg, "test") == ["v_anger_2", "v_joy_2", "v_sad_2"]
    assert videos_of_split(data, cfg, "all") == list(VIDEOS)


def test_test_fold_selects_the_fold_and_trains_on_the_others(data: Path) -> None:
    cfg = RecognitionDataConfig(test_fold=2)
    assert videos_of_split(data, cfg, "test") == ["v_anger_2", "v_joy_1", "v_sad_2"]
    assert videos_of_split(data, cfg, "train") == ["v_anger_1", "v_joy_2", "v_sad_1"]


def test_an_unlabelled_video_is_never_trained_on(data: Path) -> None:
    (data / "labels.csv").write_text("video,label,split,fold\nv_joy_1,joy,train,1\nv_sad_1,,test,1\n"
                                     "v_anger_1,anger,test,2\n")
    assert videos_of_split(data, RecognitionDataConfig(test_fold=2), "train") == ["v_joy_1"]
    assert videos_of_split(data, RecognitionDataConfig(test_fold=1), "test") == ["v_joy_1", "v_sad_1"]


def test_fold_errors(data: Path) -> None:
    with pytest.raises(SentilocError, match="data.test_fold 3: labels.csv has folds 1..2"):
        videos_of_split(data, RecognitionDataConfig(test_fold=3), "test")
    (data / "labels.csv").write_text("video,label,split\nv_anger_1,anger,train\n")
    with pytest.raises(SentilocError, match="no fold column"):
        videos_of_split(data, RecognitionDataConfig(test_fold=1), "test")
    with pytest.raises(SentilocError, match="no test videos"):
        videos_of_split(data, RecognitionDataConfig(), "test")
    (data / "labels.csv").write_text("video,label,fold\nv_anger_1,anger,1\n")
    with pytest.raises(SentilocError, match="no split column, only folds; set data.test_fold"):
        videos_of_split(data, RecognitionDataConfig(), "train")
    with pytest.raises(SentilocError, match="split 'val'"):
        videos_of_split(data, RecognitionDataConfig(), "val")


def test_labels_file_option(data: Path) -> None:
    (data / "labels_split02.csv").write_text("video,label,split\nv_joy_1,joy,test\nv_sad_1,,test\nv_anger_1,anger,train\n")
    cfg = RecognitionDataConfig(labels_file="labels_split02.csv")
    assert videos_of_split(data, cfg, "test") == ["v_joy_1", "v_sad_1"]
    assert load_labels(data, cfg) == {"v_joy_1": 1, "v_sad_1": UNLABELLED, "v_anger_1": 0}


def test_chunk_starts_by_hand() -> None:
    # floor(k * 10 / 4) for k = 0..3 = 0, 2.5 -> 2, 5, 7.5 -> 7
    assert chunk_starts(10, 4).tolist() == [0, 2, 5, 7]


def test_pool_segments_by_hand() -> None:
    rows = np.arange(10, dtype=np.float32).reshape(5, 2)  # rows [0,1], [2,3], [4,5], [6,7], [8,9]
    # 5 rows in 2 chunks: starts floor(0)=0, floor(5/2)=2 -> rows 0-1 and rows 2-4
    # means: ([0,1]+[2,3])/2 = [1,2]; ([4,5]+[6,7]+[8,9])/3 = [6,7]
    np.testing.assert_allclose(pool_segments(rows, 2), [[1, 2], [6, 7]])
    assert pool_segments(rows, 5) is rows and pool_segments(rows, 8) is rows and pool_segments(rows, None) is rows


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 40), segments=st.integers(1, 12))
def test_pooling_keeps_the_mean_of_a_constant_and_never_empties_a_chunk(length: int, segments: int) -> None:
    rows = np.full((length, 3), 2.5, dtype=np.float32)
    pooled = pool_segments(rows, segments)
    assert pooled.shape == (min(length, segments), 3) and np.allclose(pooled, 2.5)
    if length > segments:
        assert np.all(np.diff(np.append(chunk_starts(length, segments), length)) >= 1)


def test_items_lengths_and_labels(data: Path) -> None:
    cfg = RecognitionDataConfig(segments=4)
    videos = videos_of_split(data, cfg, "train")
    dims = feature_dims(data, cfg, videos)
    assert dims == {"visual": DIMS["visual"], "audio": DIMS["audio"]}
    ds = RecognitionDataset(data, videos, cfg, load_labels(data, cfg), dims)
    assert ds.lengths == [4, 4, 3]  # T = 6, 5, 3 pooled to at most 4
    item = ds[0]
    raw = np.load(data / "features" / "visual" / "v_anger_1.npy")
    # T = 6 in 4 chunks: starts 0, 1, 3, 4 -> rows {0}, {1,2}, {3}, {4,5}
    np.testing.assert_allclose(item.streams["visual"][1], raw[1:3].mean(axis=0), rtol=1e-6)
    assert item.streams["audio"].shape == (4, DIMS["audio"]) and item.label == 0 and item.video_id == "v_anger_1"


def test_unlabelled_without_labels(data: Path) -> None:
    cfg = RecognitionDataConfig()
    ds = RecognitionDataset(data, ["v_joy_2"], cfg, None, feature_dims(data, cfg, ["v_joy_2"]))
    assert ds[0].label == UNLABELLED


def test_dataset_standardisation(data: Path) -> None:
    cfg = RecognitionDataConfig()
    videos = videos_of_split(data, cfg, "train")
    ds = RecognitionDataset(data, videos, cfg, None, feature_dims(data, cfg, videos))
    stats = ds.raw_stats()
    rows = np.concatenate([np.load(data / "features" / "visual" / f"{v}.npy") for v in videos]).astype(np.float64)
    np.testing.assert_allclose(stats["visual"]["mean"], rows.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["visual"]["std"], rows.std(axis=0), rtol=1e-5)
    ds.stats = stats
    scaled = np.concatenate([ds[i].streams["visual"] for i in range(len(ds))])
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-4)


def test_standardisation_by_hand(tmp_path: Path) -> None:
    from tests.data.recognition.conftest import make_recognition_dataset

    root = make_recognition_dataset(tmp_path / "d", videos={"a": ("joy", "train", 1, 2, []), "b": ("anger", "test", 1, 2, [])},
                                    dims={"visual": 1})
    np.save(root / "features" / "visual" / "a.npy", np.array([[1.0], [3.0]], dtype=np.float32))
    cfg = RecognitionDataConfig(streams=("visual",))
    ds = RecognitionDataset(root, ["a"], cfg, None, {"visual": 1})
    # mean (1 + 3) / 2 = 2, std sqrt(((1-2)^2 + (3-2)^2) / 2) = 1 -> rows -1, +1
    ds.stats = ds.raw_stats()
    np.testing.assert_allclose(ds[0].streams["visual"][:, 0], [-1.0, 1.0])


def test_a_wrong_dim_or_unequal_streams_are_one_line_errors(data: Path) -> None:
    cfg = RecognitionDataConfig()
    with pytest.raises(SentilocError, match=r"v_anger_1.npy: feature dim 5, but stream 'visual' has 7"):
        RecognitionDataset(data, ["v_anger_1"], cfg, None, {"visual": 7, "audio": 3})[0]
    np.save(data / "features" / "audio" / "v_anger_1.npy", np.zeros((5, 3), dtype=np.float32))
    with pytest.raises(SentilocError, match=r"v_anger_1.npy: the streams have \{'visual': 6, 'audio': 5\} segments"):
        RecognitionDataset(data, ["v_anger_1"], cfg, None, {"visual": 5, "audio": 3})[0]
    with pytest.raises(SentilocError, match="no feature dim for \\['audio'\\]"):
        RecognitionDataset(data, ["v_anger_1"], cfg, None, {"visual": 5})


def test_collate_pads_and_masks() -> None:
    items = [RecognitionItem("a", {"v": np.ones((3, 2), np.float32), "a": np.ones((3, 1), np.float32)}, 1),
             RecognitionItem("b", {"v": np.full((1, 2), 2, np.float32), "a": np.ones((1, 1), np.float32)}, UNLABELLED)]
    batch = collate_recognition(items)
    assert batch.streams["v"].shape == (2, 3, 2) and batch.streams["a"].shape == (2, 3, 1)
    assert batch.mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.labels.tolist() == [1, UNLABELLED] and batch.labels.dtype == torch.long
    assert batch.lengths.tolist() == [3, 1] and batch.video_ids == ["a", "b"]
    assert torch.all(batch.streams["v"][1, 1:] == 0) and batch.streams["v"][1, 0].tolist() == [2.0, 2.0]
    assert set(batch.inputs()) == {"streams", "mask"}


def test_unpool_segments_gives_each_stored_segment_its_chunk_value() -> None:
    from sentiloc.data.recognition.dataset import unpool_segments

    # 10 stored rows in 4 chunks start at 0, 2, 5, 7: sizes 2, 3, 2, 3
    values = np.array([0.1, 0.2, 0.3, 0.4])
    assert unpool_segments(values, 10, 4).tolist() == [0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.4]
    assert unpool_segments(values, 4, None).tolist() == values.tolist()
    assert unpool_segments(values[:3], 3, 8).tolist() == [0.1, 0.2, 0.3]  # shorter than the chunk count
