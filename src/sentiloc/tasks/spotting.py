"""Facial-expression spotting (P-FES layout): macro/micro intervals ``(onset, apex, offset)`` in frames.

The task reads the spotting layout (docs/spotting.md, :mod:`sentiloc.data.spotting`), trains from
one click per instance on the working timeline, keeps the last epoch of a fixed schedule (the
released code's per-subject best epoch is chosen on the held-out subject: test-set selection,
docs/methods.md §6), turns intensity and apex scores into intervals
(:mod:`sentiloc.postprocess.spotting`) in native frames, and is scored by the ``spotting``
(MEGC) evaluator. Its folds are leave-one-subject-out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ExperimentConfig
from sentiloc.data.normalize import stats_from_state
from sentiloc.data.sampler import LengthBucketSampler
from sentiloc.data.splits import leave_one_subject_out
from sentiloc.data.spotting.annotations import read_videos
from sentiloc.data.spotting.batch import (
    EXPRESSION_TYPES,
    SpottingBatch,
    working_to_native,
)
from sentiloc.data.spotting.dataset import (
    SpottingDataConfig,
    SpottingDataset,
    collate_spotting,
    feature_dim,
    load_points,
    videos_of_split,
)
from sentiloc.data.spotting.validate import require_valid_spotting
from sentiloc.engine.inference import inference_model, run_model
from sentiloc.engine.interfaces import Selection, TrainingData
from sentiloc.evaluation.spotting import PREDICTIONS_UNIT, PREDICTIONS_VERSION
from sentiloc.postprocess.spotting import SpottingPostprocessConfig, spot_video
from sentiloc.tasks.base import TASKS, Fold, Task, TrainedModel, standardize_with_training_stats


def video_spots(intensity: np.ndarray, apex: np.ndarray, stride: int, n_frames: int,
                post: SpottingPostprocessConfig) -> list[dict]:
    """One video's spotted intervals in native frames, best first, from its ``(T,)`` intensity and ``(T, 2)`` apex scores."""
    spots = spot_video(intensity, apex, post)
    onset, offset, apex_frame = working_to_native(spots.start, spots.end, spots.apex, stride, n_frames)
    return [{"onset": int(onset[i]), "apex": int(apex_frame[i]), "offset": int(offset[i]),
             "type": EXPRESSION_TYPES[int(spots.type_index[i])], "score": float(spots.score[i])}
            for i in range(len(spots.score))]


def spot_dataset(model: nn.Module, dataset: SpottingDataset, post: SpottingPostprocessConfig,
                 device: torch.device, amp: str = "none") -> dict[str, list[dict]]:
    """Spotted intervals of every video of ``dataset`` (one video per forward pass)."""
    batches = DataLoader(dataset, batch_sampler=LengthBucketSampler(dataset.lengths, 1), collate_fn=collate_spotting)
    results: dict[str, list[dict]] = {}
    for batch, out in run_model(inference_model(model, device, amp), batches, device, amp):
        batch: SpottingBatch
        for b, video_id in enumerate(batch.video_ids):
            n = int(batch.lengths[b])
            results[video_id] = video_spots(out.intensity[b, :n].float().cpu().numpy(),
                                            out.apex[b, :n].float().cpu().numpy(),
                                            int(batch.stride[b]), int(batch.n_frames[b]), post)
    return results


def prediction_file(results: Mapping[str, list[dict]]) -> dict:
    """The spotting prediction file's content (docs/spotting.md)."""
    return {"version": PREDICTIONS_VERSION, "unit": PREDICTIONS_UNIT, "results": dict(results)}


def _keep_batch(batch: SpottingBatch, generator: torch.Generator) -> SpottingBatch:
    """Spotting has no training-time perturbation."""
    return batch


#: The one stream of a spotting dataset, as models and checkpoints name its dim (``{"frame": D}``).
FEATURE_STREAM = "frame"


class SpottingTask(Task):
    """Macro- and micro-expression spotting on the P-FES layout, trained from one click per instance."""

    data_config = SpottingDataConfig
    postprocess_config = SpottingPostprocessConfig
    default_model = "pfes"
    default_loss = "pfes"
    evaluator = "spotting"

    def training_data(self, exp: ExperimentConfig, root: Path) -> TrainingData:
        """Every video of the training subjects, with its clicks; no validation split (fixed schedule)."""
        cfg: SpottingDataConfig = exp.data
        require_valid_spotting(root)
        videos = videos_of_split(list(read_videos(root).values()), cfg, "train")
        dim = feature_dim(root, videos)
        train_set = SpottingDataset(root, videos, cfg, points=load_points(root, videos, cfg.working_fps), dim=dim)
        return TrainingData(
            train_set=train_set,
            val_set=None,
            dims={FEATURE_STREAM: dim},
            lengths=list(train_set.lengths),
            collate=collate_spotting,
            augment=_keep_batch,
            checkpoint_extras={"classes": list(EXPRESSION_TYPES), "feature_stats": None},
        )

    def fit_normalisation(self, data: TrainingData, exp: ExperimentConfig, root: Path, model: nn.Module) -> None:
        """``data.standardize: dataset``: z-score statistics of the training subjects' working frames
        (``video`` scales each video by its own statistics when it is loaded, ``none`` not at all)."""
        if exp.data.standardize == "dataset":
            standardize_with_training_stats(data, model)

    def selection(self, exp: ExperimentConfig, data: TrainingData, device: torch.device) -> Selection:
        """Never called: spotting trains a fixed schedule and keeps the last epoch (no validation set)."""
        def refuse(model: nn.Module) -> float:
            raise SentilocError("spotting keeps the last epoch of its fixed schedule; it has no validation metric")

        return Selection("last epoch", refuse)

    def predict(self, trained: TrainedModel, root: Path, split: str, device: torch.device,
                face_missing: float = 0.0, **options: Any) -> dict:
        """The spotting prediction file for the videos of ``split`` (``test``: the held-out subject)."""
        if face_missing:
            raise SentilocError("--face-missing hides faces of the localization streams; spotting has none")
        require_valid_spotting(root)
        cfg: SpottingDataConfig = trained.exp.data
        videos = videos_of_split(list(read_videos(root).values()), cfg, split)
        dataset = SpottingDataset(root, videos, cfg, dim=trained.dims[FEATURE_STREAM], stats=trained.extras["stats"])
        return prediction_file(spot_dataset(trained.model, dataset, trained.exp.postprocess, device,
                                            trained.exp.train.amp))

    def folds(self, exp: ExperimentConfig, root: Path) -> list[Fold]:
        """Leave-one-subject-out: one fold per subject of ``videos.csv``, in sorted order.

        Only ``videos.csv`` is read: each fold's training and prediction check the whole dataset.
        """
        subject_of = {video.video_id: video.subject for video in read_videos(root).values()}
        return [Fold(subject, (f"data.test_subject={json.dumps(subject)}",), split="test", subset=subject)
                for subject, _, _ in leave_one_subject_out(subject_of)]

    def pooled_subset(self, folds: Sequence[Fold]) -> str:
        """Every video: leave-one-subject-out holds each one out once."""
        return "all"

    def ground_truth_file(self, exp: ExperimentConfig, root: Path) -> Path:
        """The dataset folder itself: the evaluator reads ``videos.csv`` and ``annotations.csv``."""
        return Path(root)

    def restore_extras(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"stats": stats_from_state(state.get("feature_stats"))}


TASKS.register("spotting")(SpottingTask())
