"""Video emotion recognition (recognition layout): one emotion per clip, and the segments that carry it.

The task reads the recognition layout (docs/recognition.md, :mod:`sentiloc.data.recognition`):
per-segment features of one or more streams and one label per clip. It trains from the clip
labels only, selects ``best.pt`` on the accuracy of a validation split carved from the training
videos when ``data.val_fraction`` > 0 and otherwise keeps the last epoch of a fixed schedule (the
released CTEN code picks its epoch, and the best of three accuracies, on the test split: a
leak sentiloc does not copy, docs/methods.md §8). A prediction holds the class probabilities,
the per-segment attention and the evidence segments drawn from it
(:mod:`sentiloc.postprocess.recognition`); the ``recognition`` evaluator scores accuracy, UAR,
WAR and, against ``keyframes.json``, evidence detection. Folds are the dataset's own: the
``fold`` column of the labels file, else its train/test split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ExperimentConfig
from sentiloc.data.normalize import stats_from_state
from sentiloc.data.recognition import layout
from sentiloc.data.recognition.annotations import folds_of, read_classes, read_labels
from sentiloc.data.recognition.batch import UNLABELLED, RecognitionBatch
from sentiloc.data.recognition.dataset import (
    RecognitionDataConfig,
    RecognitionDataset,
    collate_recognition,
    feature_dims,
    load_labels,
    unpool_segments,
    videos_of_split,
)
from sentiloc.data.recognition.validate import require_valid_recognition
from sentiloc.data.sampler import LengthBucketSampler
from sentiloc.data.splits import holdout
from sentiloc.engine.inference import inference_model, run_model
from sentiloc.engine.interfaces import Selection, TrainingData
from sentiloc.postprocess.recognition import RecognitionPostprocessConfig, prediction_entry, prediction_file
from sentiloc.tasks.base import TASKS, Fold, Task, TrainedModel, standardize_with_training_stats, text_derived


def clip_outputs(model: nn.Module, dataset: Dataset, device: torch.device, amp: str = "none",
                 micro_batch: int = 8) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Video -> ``(probabilities (C,), attention (T,))`` for every clip of ``dataset``, on its real segments."""
    batches = DataLoader(dataset, batch_sampler=LengthBucketSampler(dataset.lengths, micro_batch),
                         collate_fn=collate_recognition)
    outputs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for batch, out in run_model(inference_model(model, device, amp), batches, device, amp):
        batch: RecognitionBatch
        probs = torch.softmax(out.logits.float(), dim=-1).cpu().numpy()
        attention = out.attention.float().cpu().numpy()
        for b, video_id in enumerate(batch.video_ids):
            outputs[video_id] = (probs[b], attention[b, :int(batch.lengths[b])])
    return outputs


def accuracy_of(model: nn.Module, dataset: RecognitionDataset, device: torch.device, amp: str = "none") -> float:
    """Top-1 accuracy of ``model`` on the labelled clips of ``dataset`` (the validation selection metric)."""
    outputs = clip_outputs(model, dataset, device, amp)
    labelled = {video: dataset.labels[video] for video in dataset.video_ids if dataset.labels[video] != UNLABELLED}
    if not labelled:
        return 0.0
    return float(np.mean([int(np.argmax(outputs[video][0])) == label for video, label in labelled.items()]))


def _keep_batch(batch: RecognitionBatch, generator: torch.Generator) -> RecognitionBatch:
    """Recognition has no training-time perturbation."""
    return batch


def fold_numbers(root: Path, cfg: RecognitionDataConfig) -> list[int]:
    """The folds of the labels file's ``fold`` column, sorted (empty without the column)."""
    return folds_of(read_labels(root, read_classes(root), cfg.labels_file))


def check_classes(trained: Sequence[str], root: Path) -> None:
    """Refuse a dataset whose ``classes.txt`` names other classes than the checkpoint was trained on."""
    listed = read_classes(root)
    if set(listed) != set(trained):
        raise SentilocError(f"{Path(root) / layout.CLASSES_FILE}: lists {list(listed)} but the checkpoint was trained "
                            f"on {list(trained)}; predict on data with the model's classes")


class RecognitionTask(Task):
    """Clip-level emotion recognition on the recognition layout, trained from clip labels."""

    data_config = RecognitionDataConfig
    postprocess_config = RecognitionPostprocessConfig
    default_model = "cten"
    default_loss = "cten"
    evaluator = "recognition"
    classes_from_data = True

    def training_data(self, exp: ExperimentConfig, root: Path) -> TrainingData:
        """The training videos (of the split, or of every fold but ``data.test_fold``) and, with
        ``data.val_fraction`` > 0, a seeded validation hold-out carved from them."""
        cfg: RecognitionDataConfig = exp.data
        require_valid_recognition(root, cfg)
        classes = read_classes(root)
        fit_ids, val_ids = holdout(videos_of_split(root, cfg, "train"), cfg.val_fraction, cfg.val_seed)
        dims = feature_dims(root, cfg, fit_ids)
        labels = load_labels(root, cfg)
        derived = text_derived(exp, root, classes)
        train_set = RecognitionDataset(root, fit_ids, cfg, labels, dims)
        val_set = RecognitionDataset(root, val_ids, cfg, labels, dims) if val_ids else None
        return TrainingData(
            train_set=train_set,
            val_set=val_set,
            dims=dims,
            lengths=[float(n) for n in train_set.lengths],
            collate=collate_recognition,
            augment=_keep_batch,
            checkpoint_extras={"classes": list(classes), "feature_stats": None},
            classes=tuple(classes),
            derived=derived,
        )

    def fit_normalisation(self, data: TrainingData, exp: ExperimentConfig, root: Path, model: nn.Module) -> None:
        """``data.standardize: dataset``: per-dim z-score statistics of the training clips' segments."""
        if exp.data.standardize == "dataset":
            standardize_with_training_stats(data, model)

    def selection(self, exp: ExperimentConfig, data: TrainingData, device: torch.device) -> Selection:
        """Validation accuracy (``val_accuracy``) on the hold-out; never called without one (last epoch kept)."""
        val_set = data.val_set

        def score(model: nn.Module) -> float:
            return accuracy_of(model, val_set, device, exp.train.amp)

        return Selection("val_accuracy", score)

    def predict(self, trained: TrainedModel, root: Path, split: str, device: torch.device,
                face_missing: float = 0.0, **options: Any) -> dict:
        """The recognition prediction file for the clips of ``split`` (docs/recognition.md).

        Attention and evidence are given on the stored segments (those ``keyframes.json`` indexes),
        also when ``data.segments`` pooled the clips for the model.
        """
        if face_missing:
            raise SentilocError("--face-missing hides faces of the localization streams; recognition has none")
        cfg: RecognitionDataConfig = trained.exp.data
        require_valid_recognition(root, cfg)
        classes = trained.classes
        check_classes(classes, root)
        dataset = RecognitionDataset(root, videos_of_split(root, cfg, split), cfg, None, trained.dims,
                                     trained.extras["stats"])
        outputs = clip_outputs(trained.model, dataset, device, trained.exp.train.amp)
        stored = dict(zip(dataset.video_ids, dataset.stored_lengths))
        return prediction_file({
            video: prediction_entry(probs, unpool_segments(attention, stored[video], cfg.segments), classes,
                                    trained.exp.postprocess)
            for video, (probs, attention) in outputs.items()}, classes)

    def folds(self, exp: ExperimentConfig, root: Path) -> list[Fold]:
        """One fold per value of the labels file's ``fold`` column (train on the others), else its train/test split."""
        numbers = fold_numbers(Path(root), exp.data)
        if not numbers:
            return [Fold("test")]
        return [Fold(str(k), (f"data.test_fold={k}",), split="test", subset=f"fold:{k}") for k in numbers]

    def pooled_subset(self, folds: Sequence[Fold]) -> str:
        """Every clip when each is held out by one fold, else the test split."""
        return "all" if any(fold.subset.startswith("fold:") for fold in folds) else "test"

    def ground_truth_file(self, exp: ExperimentConfig, root: Path) -> Path:
        """The labels file of ``exp``; the evaluator reads ``classes.txt`` and ``keyframes.json`` beside it."""
        return Path(root) / exp.data.labels_file

    def restore_extras(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"stats": stats_from_state(state.get("feature_stats"))}


TASKS.register("recognition")(RecognitionTask())
