"""Temporal sentiment localization (TSL-300 layout): segments ``(start s, end s, class, score)``.

The task reads the TSL-300 layout (:mod:`sentiloc.data.dataset`), selects ``best.pt`` with the
metric its supervision level allows (:data:`sentiloc.evaluation.selection.SELECTION`), turns the
CAS into proposals (:mod:`sentiloc.postprocess`) and is scored by the ``detection`` evaluator
(docs/methods.md §2.9, §3).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from sentiloc.core.experiment import ExperimentConfig
from sentiloc.data import layout
from sentiloc.data.annotations import read_extractor_record, read_video_infos
from sentiloc.data.batch import Batch
from sentiloc.data.dataset import (
    DataConfig,
    FaceMissingDataset,
    VideoDataset,
    collate,
    load_supervision,
)
from sentiloc.data.normalize import stats_from_state, wants_standardize
from sentiloc.data.perturb import drop_face_runs
from sentiloc.data.sampler import LengthBucketSampler
from sentiloc.data.splits import holdout
from sentiloc.data.validate import require_valid
from sentiloc.engine.inference import inference_model, run_model
from sentiloc.engine.interfaces import Selection, TrainingData
from sentiloc.evaluation.selection import SELECTION, ValidationSet
from sentiloc.postprocess import PostprocessConfig, activitynet_results, video_proposals
from sentiloc.postprocess.proposals import scoring_inputs
from sentiloc.tasks.base import TASKS, Fold, Task, TrainedModel, standardize_with_training_stats, text_derived


@dataclass
class VideoOutput:
    """One video's model outputs on its real snippets, as numpy arrays."""

    video_id: str
    fps: float
    cas: np.ndarray
    global_cas: np.ndarray | None
    w_sent: np.ndarray
    video_scores: np.ndarray


def video_batches(dataset: VideoDataset, num_classes: int, micro_batch: int = 1) -> DataLoader:
    """The videos of ``dataset`` in batches of similar length (one video per batch is fastest on a CPU)."""
    lengths = [info.duration_s * info.fps for info in dataset.infos]
    return DataLoader(dataset, batch_sampler=LengthBucketSampler(lengths, micro_batch),
                      collate_fn=partial(collate, num_classes=num_classes), generator=torch.Generator())


def video_outputs(model: nn.Module, batches: Iterable[Batch], device: torch.device, amp: str = "none",
                  cas_only: bool = False) -> Iterator[VideoOutput]:
    """Each video's unpadded outputs, in the order of ``batches`` (see :func:`~sentiloc.engine.inference.run_model`)."""
    for batch, out in run_model(model, batches, device, amp, cas_only=cas_only):
        for b, video_id in enumerate(batch.video_ids):
            n = int(batch.lengths[b])
            yield VideoOutput(
                video_id=video_id,
                fps=float(batch.fps[b]),
                cas=out.cas[b, :n].float().cpu().numpy(),
                global_cas=None if out.global_cas is None else out.global_cas[b, :n].float().cpu().numpy(),
                w_sent=out.w_sent[b, :n].float().cpu().numpy(),
                video_scores=out.video_scores[b].float().cpu().numpy(),
            )


def predict_proposals(model: nn.Module, dataset: VideoDataset, class_names: Sequence[str], post: PostprocessConfig,
                      device: torch.device, amp: str = "none", micro_batch: int = 1,
                      ) -> tuple[dict[str, list[dict]], dict[str, np.ndarray]]:
    """Proposals per video (ActivityNet entries, seconds within the video) and the video scores behind them."""
    proposals: dict[str, list[dict]] = {}
    scores: dict[str, np.ndarray] = {}
    durations = {info.video_id: info.duration_s for info in dataset.infos}
    ratio = model.cfg.r_act
    model = inference_model(model, device, amp)
    batches = video_batches(dataset, len(class_names), micro_batch)
    for output in video_outputs(model, batches, device, amp, cas_only=post.cas_source == "cas"):
        proposals[output.video_id], scores[output.video_id] = output_proposals(
            output, post, class_names, ratio, durations[output.video_id]
        )
    return proposals, scores


def output_proposals(output: VideoOutput, post: PostprocessConfig, class_names: Sequence[str], ratio: int,
                     duration_s: float) -> tuple[list[dict], np.ndarray]:
    """One video's proposals (seconds within ``[0, duration_s]``) and the ``(C,)`` video scores behind them.

    The track is the one ``post.cas_source`` names (CAS, Global CAS or their mean; ``ratio`` is the
    model's top-k ratio for Global-CAS video scores), so every caller scores a model as ``predict`` does.
    """
    track, video_scores = scoring_inputs(output.cas, output.global_cas, output.video_scores, post.cas_source, ratio)
    return video_proposals(track, video_scores, output.fps, post, class_names, duration_s), video_scores


@dataclass
class FaceDropout:
    """Training-time modality dropout: hide the face on one random run of a video with probability ``prob``."""

    prob: float

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        batch.face_present = drop_face_runs(batch.face_present, batch.mask, self.prob, generator)
        return batch


class LocalizationTask(Task):
    """Temporal sentiment localization on the TSL-300 layout."""

    data_config = DataConfig
    postprocess_config = PostprocessConfig
    default_model = "fsenet"
    default_loss = "fsenet"
    evaluator = "detection"

    def training_data(self, exp: ExperimentConfig, root: Path) -> TrainingData:
        cfg: DataConfig = exp.data
        require_valid(root, cfg)
        infos = read_video_infos(root, ("train",))
        train_ids, val_ids = holdout(list(infos), cfg.val_fraction, cfg.val_seed)
        supervision = load_supervision(root, infos, cfg)
        train_set = VideoDataset(root, [infos[v] for v in train_ids], cfg, supervision)
        val_set = (VideoDataset(root, [infos[v] for v in val_ids], cfg, supervision, train_set.dims)
                   if val_ids else None)
        derived = text_derived(exp, root, cfg.classes)
        return TrainingData(
            train_set=train_set,
            val_set=val_set,
            dims=train_set.dims,
            lengths=[info.duration_s * info.fps for info in train_set.infos],
            collate=partial(collate, num_classes=cfg.num_classes),
            augment=FaceDropout(exp.train.face_dropout),
            checkpoint_extras={"classes": list(cfg.classes), "extractor": read_extractor_record(root),
                               "feature_stats": None},
            derived=derived,
        )

    def fit_normalisation(self, data: TrainingData, exp: ExperimentConfig, root: Path, model: nn.Module) -> None:
        """``data.standardize``: z-score statistics of the training split, except streams the model scales itself."""
        if wants_standardize(exp.data.standardize, root):
            standardize_with_training_stats(data, model)

    def selection(self, exp: ExperimentConfig, data: TrainingData, device: torch.device) -> Selection:
        metric = SELECTION.get(exp.data.supervision)
        val_set = data.val_set
        classes = list(exp.data.classes)

        def score(model: nn.Module) -> float:
            proposals, scores = predict_proposals(model, val_set, classes, exp.postprocess, device, exp.train.amp)
            return metric.score(ValidationSet(proposals, scores, val_set.supervision.by_video,
                                              {info.video_id: info.fps for info in val_set.infos}, classes))

        return Selection(metric.name, score)

    def predict(self, trained: TrainedModel, root: Path, split: str, device: torch.device,
                face_missing: float = 0.0, face_seed: int = 0, **options: Any) -> dict:
        """ActivityNet-style results of ``split``; ``face_missing`` hides faces first (a robustness check)."""
        require_valid(root, trained.exp.data)
        infos = list(read_video_infos(root, (split,)).values())
        common = {"dims": trained.dims, "stats": trained.extras["stats"]}
        dataset = (FaceMissingDataset(root, infos, trained.exp.data, **common, fraction=face_missing, seed=face_seed)
                   if face_missing else VideoDataset(root, infos, trained.exp.data, **common))
        proposals, _ = predict_proposals(trained.model, dataset, trained.classes, trained.exp.postprocess, device,
                                         trained.exp.train.amp)
        return activitynet_results(proposals)

    def folds(self, exp: ExperimentConfig, root: Path) -> list[Fold]:
        """TSL-300 has one fixed split: train on ``train``, evaluate on ``test``."""
        return [Fold("test")]

    def ground_truth_file(self, exp: ExperimentConfig, root: Path) -> Path:
        return Path(root) / layout.GT_FILE

    def restore_extras(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"extractor": state.get("extractor"), "stats": stats_from_state(state.get("feature_stats"))}


TASKS.register("localization")(LocalizationTask())
