"""``sentiloc predict``: a checkpoint + a dataset split -> an ActivityNet-style JSON file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import VideoDataset
from sentiloc.engine.checkpoint import load_checkpoint
from sentiloc.engine.inference import predict
from sentiloc.engine.trainer import Experiment, make_model, resolve_device
from sentiloc.io import refuse_clobber
from sentiloc.postprocess import activitynet_results, write_results


@dataclass
class TrainedModel:
    """A model restored from a checkpoint, with the experiment it was trained under."""

    model: torch.nn.Module
    exp: Experiment
    dims: dict[str, int]
    classes: list[str]


def load_trained(checkpoint: Path, device: torch.device) -> TrainedModel:
    """Rebuild the model of ``checkpoint`` (weights_only load) in eval mode on ``device``."""
    state = load_checkpoint(checkpoint)
    exp = Experiment.from_config(state["config"])
    dims = {k: int(v) for k, v in state["dims"].items()}
    model = make_model(exp, dims)
    model.load_state_dict(state["model"])
    return TrainedModel(model.to(device).eval(), exp, dims, list(state["classes"]))


def predict_split(
    checkpoint: Path, data_root: Path, split: str, out: Path, overwrite: bool = False, device: str = "cpu"
) -> dict:
    """Predict every video of ``split`` and write the results JSON atomically."""
    refuse_clobber(out, overwrite)
    torch_device = resolve_device(device)
    trained = load_trained(checkpoint, torch_device)
    infos = list(read_video_infos(data_root, (split,)).values())
    dataset = VideoDataset(data_root, infos, trained.exp.data, dims=trained.dims)
    proposals, _ = predict(trained.model, dataset, trained.classes, trained.exp.post, torch_device, trained.exp.train.amp)
    results = activitynet_results(proposals)
    write_results(out, results, overwrite=overwrite)
    return results
