"""Data layer: streams on the snippet grid, supervision isolation, padding, validation split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import (
    DataConfig,
    ModalitySpec,
    VideoDataset,
    collate,
    dense_targets,
    load_streams,
    load_supervision,
)
from tests.conftest import make_dataset


def test_streams_trimmed_and_face_mask(tiny_dataset: Path) -> None:
    info = read_video_infos(tiny_dataset)["0_sim_train_0"]
    path = tiny_dataset / "features" / "train" / "logmfcc" / "0_sim_train_0.npy"
    np.save(path, np.load(path)[:-2])  # two snippets shorter: within tolerance, trimmed
    streams, face = load_streams(tiny_dataset, info, DataConfig())
    lengths = {name: len(rows) for name, rows in streams.items()}
    assert len(set(lengths.values())) == 1
    img = np.load(tiny_dataset / "features" / "train" / "img" / "0_sim_train_0.npy")[: len(face)]
    np.testing.assert_array_equal(face, np.abs(img).sum(1) > 0)
    assert 0 < (~face).mean() < 0.5


def test_frame_rate_stream_subsampled(tiny_dataset: Path) -> None:
    info = read_video_infos(tiny_dataset)["0_sim_train_0"]
    path = tiny_dataset / "features" / "train" / "rgb" / "0_sim_train_0.npy"
    snippets = np.load(path)
    np.save(path, np.repeat(snippets, 16, axis=0))
    cfg = DataConfig(modalities=("rgb:16", "logmfcc", "img"))
    streams, _ = load_streams(tiny_dataset, info, cfg)
    np.testing.assert_array_equal(streams["rgb"], snippets)
    with pytest.raises(SentilocError, match="disagree by more than"):
        load_streams(tiny_dataset, info, DataConfig())


def test_nan_stream_names_the_file(tiny_dataset: Path) -> None:
    info = read_video_infos(tiny_dataset)["1_sim_train_1"]
    path = tiny_dataset / "features" / "train" / "img" / "1_sim_train_1.npy"
    rows = np.load(path)
    rows[0, 0] = np.nan
    np.save(path, rows)
    with pytest.raises(SentilocError, match="1_sim_train_1.npy: 1 NaN/inf value"):
        load_streams(tiny_dataset, info, DataConfig())


def test_point_supervision_reads_only_point_and_class(tiny_dataset: Path) -> None:
    """Point labels never touch dense segments or the CSV's start/stop window columns."""
    infos = {k: v for k, v in read_video_infos(tiny_dataset).items() if v.split == "train"}
    before = load_supervision(tiny_dataset, infos, DataConfig(supervision="point"))
    (tiny_dataset / "videosenti_gt.json").unlink()
    csv_path = tiny_dataset / "point_gaussian" / "point_labels.csv"
    lines = csv_path.read_text().splitlines()
    garbled = [lines[0]] + [",".join([r.split(",")[0], "7", "garbage", "", *r.split(",")[4:]]) for r in lines[1:]]
    csv_path.write_text("\n".join(garbled) + "\n")
    after = load_supervision(tiny_dataset, infos, DataConfig(supervision="point"))
    assert before.by_video.keys() == after.by_video.keys()
    for vid, sup in before.by_video.items():
        np.testing.assert_array_equal(sup.clicks_t, after.by_video[vid].clicks_t)
        np.testing.assert_array_equal(sup.clicks_cls, after.by_video[vid].clicks_cls)
        assert after.by_video[vid].segments is None
    assert after.sources == [str(csv_path)]


def test_click_snippets_and_classes(tiny_dataset: Path) -> None:
    infos = {k: v for k, v in read_video_infos(tiny_dataset).items() if v.split == "train"}
    sup = load_supervision(tiny_dataset, infos, DataConfig()).by_video["0_sim_train_0"]
    fps = infos["0_sim_train_0"].fps
    # clicks at the middle of [5, 11.5] (p) and [20, 26.25] (n); class index n = 0, p = 1
    np.testing.assert_array_equal(sup.clicks_t, [int(8.25 * fps) // 16, int(23.125 * fps) // 16])
    np.testing.assert_array_equal(sup.clicks_cls, [1, 0])
    np.testing.assert_array_equal(sup.video_labels, [1, 1])


def test_video_supervision_has_no_timestamps(tiny_dataset: Path) -> None:
    infos = {k: v for k, v in read_video_infos(tiny_dataset).items() if v.split == "train"}
    sup = load_supervision(tiny_dataset, infos, DataConfig(supervision="video")).by_video["0_sim_train_0"]
    assert sup.clicks_t is None and sup.segments is None
    np.testing.assert_array_equal(sup.video_labels, [1, 1])


def test_full_supervision_dense_targets() -> None:
    # fps 16: one snippet per second; segment [2, 4.5) s -> snippets [2, 5)
    targets = dense_targets([(2.0, 4.5, 1)], length=8, fps=16.0, num_classes=2)
    np.testing.assert_array_equal(targets[:, 1], [0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(targets[:, 2], 1 - targets[:, 1])
    assert targets[:, 0].sum() == 0


def test_collate_pads_and_masks(tiny_dataset: Path) -> None:
    infos = [v for v in read_video_infos(tiny_dataset).values() if v.split == "train"]
    cfg = DataConfig(supervision="full")
    sup = load_supervision(tiny_dataset, {i.video_id: i for i in infos}, cfg)
    dataset = VideoDataset(tiny_dataset, infos, cfg, sup)
    items = [dataset[0], dataset[1]]
    batch = collate(items, num_classes=2)
    lengths = [len(i.face_present) for i in items]
    assert batch.mask.sum(1).tolist() == lengths
    assert batch.features["rgb"].shape == (2, max(lengths), 6)
    short = int(np.argmin(lengths))
    assert torch.all(batch.features["rgb"][short, min(lengths) :] == 0)
    assert not batch.face_present[short, min(lengths) :].any()
    assert batch.dense is not None and batch.point_t is None
    assert torch.all(batch.dense[short, min(lengths) :] == 0)


def test_point_batch_fields(tiny_dataset: Path) -> None:
    infos = [v for v in read_video_infos(tiny_dataset).values() if v.split == "train"]
    cfg = DataConfig()
    sup = load_supervision(tiny_dataset, {i.video_id: i for i in infos}, cfg)
    batch = collate([VideoDataset(tiny_dataset, infos, cfg, sup)[i] for i in range(3)], 2)
    assert batch.point_t.shape == batch.point_cls.shape == batch.point_mask.shape == (3, 2)
    assert batch.dense is None
    assert (batch.point_t < batch.lengths[:, None]).all()


def test_unseen_dims_are_read_from_files(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d", dims={"rgb": 32, "logmfcc": 3, "img": 7})
    infos = [v for v in read_video_infos(root).values() if v.split == "test"]
    dataset = VideoDataset(root, infos, DataConfig())
    assert dataset.dims == {"rgb": 32, "logmfcc": 3, "img": 7}


def test_config_errors_are_clear() -> None:
    with pytest.raises(SentilocError, match="data.face 'face'"):
        DataConfig(face="face")
    with pytest.raises(SentilocError, match="data.supervision"):
        DataConfig(supervision="weak")
    with pytest.raises(SentilocError, match="NAME:FRAMES_PER_SNIPPET"):
        ModalitySpec.parse("rgb:x")


def test_click_outside_video_is_refused(tiny_dataset: Path) -> None:
    csv_path = tiny_dataset / "point_gaussian" / "point_labels.csv"
    csv_path.write_text(csv_path.read_text() + "p,1,0,0,0_sim_train_0,99999\n")
    infos = {k: v for k, v in read_video_infos(tiny_dataset).items() if v.split == "train"}
    with pytest.raises(SentilocError, match="click outside the video"):
        load_supervision(tiny_dataset, infos, DataConfig())


def test_escaping_ids_are_refused(tiny_dataset: Path) -> None:
    (tiny_dataset / "split_train.txt").write_text("../../secret\n")
    with pytest.raises(SentilocError, match="path separator"):
        read_video_infos(tiny_dataset)
    fps = json.loads((tiny_dataset / "fps_dict.json").read_text())
    assert fps  # the table itself is untouched


@pytest.mark.parametrize("segment", [(-30.0, -10.0), (26.0, 20.0), (500.0, 600.0)])
def test_dense_targets_never_label_outside_or_reversed(segment: tuple[float, float]) -> None:
    targets = dense_targets([(*segment, 0)], length=100, fps=25.0, num_classes=2)
    assert targets[:, 0].sum() == 0 and targets[:, 2].all()


def test_dense_targets_clip_a_segment_that_starts_before_the_video() -> None:
    targets = dense_targets([(-5.0, 3.2, 1)], length=100, fps=25.0, num_classes=2)
    assert targets[:, 1].nonzero()[0].tolist() == list(range(5))
