"""``sentiloc predict``: a checkpoint + a dataset split -> an ActivityNet-style JSON file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sentiloc.data.annotations import read_video_infos
from sentiloc.data.perturb import hide_face_to_fraction, video_rng
from sentiloc.data.dataset import VideoDataset, VideoItem
from sentiloc.data.normalize import FeatureStats, stats_from_state
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.engine.inference import predict
from sentiloc.engine.trainer import Experiment, make_model, resolve_device
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import refuse_clobber
from sentiloc.postprocess import activitynet_results, write_results


@dataclass
class TrainedModel:
    """A model restored from a checkpoint, with the experiment it was trained under."""

    model: torch.nn.Module
    exp: Experiment
    dims: dict[str, int]
    classes: list[str]
    extractor: dict | None  # how the training features were extracted (build-dataset), else None
    stats: FeatureStats | None  # the training split's standardisation (data.standardize), else None


def load_trained(checkpoint: Path, device: torch.device) -> TrainedModel:
    """Rebuild the model of ``checkpoint`` (weights_only load) in eval mode on ``device``."""
    state = load_checkpoint(checkpoint)
    exp = Experiment.from_config(state["config"])
    dims = {k: int(v) for k, v in state["dims"].items()}
    model = make_model(exp, dims)
    model.load_state_dict(state["model"])
    return TrainedModel(model.to(device).eval(), exp, dims, list(state["classes"]), state.get("extractor"),
                        stats_from_state(state.get("feature_stats")))


class FaceMissingDataset(VideoDataset):
    """A split whose videos lose their face until ``fraction`` of each one's snippets is face-missing.

    The face rows are zeroed as well as flagged, so a hidden face looks exactly like a face the
    detector never found (an all-zero row) to every model, whether or not it reads ``face_present``.
    """

    def __init__(self, *args, fraction: float, seed: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.cfg.face is None:
            raise SentilocError("--face-missing: the model was trained without a face stream (data.face)")
        if not 0.0 <= fraction <= 1.0:
            raise SentilocError(f"--face-missing {fraction}: a fraction of snippets, between 0 and 1")
        self.fraction = fraction
        self.seed = seed

    def __getitem__(self, i: int) -> VideoItem:
        item = super().__getitem__(i)
        item.face_present = hide_face_to_fraction(item.face_present, self.fraction, video_rng(self.seed, item.video_id))
        rows = item.features[self.cfg.face]
        item.features[self.cfg.face] = np.where(item.face_present[:, None], rows, 0.0).astype(rows.dtype)
        return item


def predict_split(
    checkpoint: Path, data_root: Path, split: str, out: Path, overwrite: bool = False, device: str = "cpu",
    face_missing: float = 0.0, face_seed: int = 0,
) -> dict:
    """Predict every video of ``split`` and write the results JSON atomically.

    A non-zero ``face_missing`` first hides faces (seeded by ``face_seed``, see :class:`FaceMissingDataset`),
    to measure how a model degrades when the face detector fails more often than in training.
    """
    refuse_clobber(out, overwrite)
    torch_device = resolve_device(device)
    trained = load_trained(checkpoint, torch_device)
    infos = list(read_video_infos(data_root, (split,)).values())
    if face_missing:
        dataset = FaceMissingDataset(data_root, infos, trained.exp.data, dims=trained.dims, stats=trained.stats,
                                     fraction=face_missing, seed=face_seed)
    else:
        dataset = VideoDataset(data_root, infos, trained.exp.data, dims=trained.dims, stats=trained.stats)
    proposals, _ = predict(trained.model, dataset, trained.classes, trained.exp.post, torch_device, trained.exp.train.amp)
    results = activitynet_results(proposals)
    write_results(out, results, overwrite=overwrite)
    return results
