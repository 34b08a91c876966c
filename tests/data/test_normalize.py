"""Standardisation of extracted features: training statistics, face rows, the auto switch, checkpoints."""

from __future__ import annotations

import numpy as np

from sentiloc.data.normalize import (
    StatsAccumulator,
    standardize,
    stats_from_state,
    stats_to_state,
    wants_standardize,
)


def test_statistics_use_only_face_present_rows_of_the_face_stream():
    acc = StatsAccumulator()
    face = np.array([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0]])
    audio = np.array([[-50.0], [-30.0], [-10.0]])
    acc.add({"img": face, "logmfcc": audio}, np.array([False, True, True]), face="img")
    stats = acc.stats()
    np.testing.assert_allclose(stats["img"]["mean"], [3.0, 6.0])
    np.testing.assert_allclose(stats["img"]["std"], [1.0, 2.0])
    np.testing.assert_allclose(stats["logmfcc"]["mean"], [-30.0])
    np.testing.assert_allclose(stats["logmfcc"]["std"], [np.sqrt(800 / 3)], rtol=1e-6)


def test_constant_dimensions_get_a_finite_floor():
    acc = StatsAccumulator()
    acc.add({"rgb": np.array([[1.0, 0.0], [1.0, 2.0]])}, np.ones(2, bool), face=None)
    std = acc.stats()["rgb"]["std"]
    assert std[0] == np.float32(1e-2 * 0.5) and std[1] == 1.0


def test_standardize_keeps_missing_faces_zero():
    stats = {"img": {"mean": np.array([3.0, 6.0], np.float32), "std": np.array([1.0, 2.0], np.float32)}}
    face = np.array([[0.0, 0.0], [4.0, 8.0]], np.float32)
    out = standardize({"img": face, "rgb": np.ones((2, 3), np.float32)}, np.array([False, True]), stats, "img")
    np.testing.assert_array_equal(out["img"], [[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(out["rgb"], np.ones((2, 3)))  # no statistics: untouched


def test_auto_means_features_sentiloc_extracted(tmp_path):
    assert not wants_standardize("auto", tmp_path) and wants_standardize(True, tmp_path)
    (tmp_path / "extractor.json").write_text("{}")
    assert wants_standardize("auto", tmp_path) and not wants_standardize(False, tmp_path)


def test_statistics_round_trip_through_checkpoint_tensors():
    stats = {"rgb": {"mean": np.arange(3, dtype=np.float32), "std": np.ones(3, np.float32)}}
    back = stats_from_state(stats_to_state(stats))
    np.testing.assert_array_equal(back["rgb"]["mean"], stats["rgb"]["mean"])
    assert stats_to_state(None) is None and stats_from_state(None) is None


def test_a_stream_without_rows_gets_no_statistics():
    acc = StatsAccumulator()
    acc.add({"img": np.zeros((3, 2)), "rgb": np.ones((3, 1))}, np.zeros(3, bool), face="img")
    assert set(acc.stats()) == {"rgb"}


def test_trainer_standardizes_extracted_data_except_what_the_model_scales_itself(tmp_path):
    from sentiloc.apps.train import build_trainer
    from sentiloc.core.config import load_config
    from tests.conftest import make_dataset

    data = make_dataset(tmp_path / "data", dims={"rgb": 6, "logmfcc": 32 * 60, "img": 5})
    assert build_trainer(load_config("fsenet_point"), data).data.train_set.stats is None  # not sentiloc-extracted: as released
    (data / "extractor.json").write_text('{"settings": {}}')
    assert set(build_trainer(load_config("fsenet_point"), data).data.train_set.stats) == {"rgb", "logmfcc", "img"}
    # TSL-Net (rgb + logmfcc, no face): its audio CNN applies (x + 50) / 80 to raw log-mel itself
    assert set(build_trainer(load_config("tslnet_point"), data).data.train_set.stats) == {"rgb"}
