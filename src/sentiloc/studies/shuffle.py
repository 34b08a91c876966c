"""``sentiloc study shuffle``: does a trained model use each stream *where* it happens?

For every input stream, the rows of each test video are permuted over time (one seeded permutation
per video; the face-present mask travels with the face rows), so the stream keeps its content
and statistics but loses its timing. Two numbers per stream:

- **ΔCAS**: the mean absolute change of the class columns of the CAS over the real snippets;
- **ΔmAP**: average mAP on the split with the stream shuffled, minus the intact model's.

A stream that guides localization changes the CAS and costs mAP when shuffled; a stream the model
reads only as a video-level summary (or not at all) changes neither. Shuffling is a pure function
(:func:`shuffle_stream`); the runner predicts the split once per stream and scores it with the
task's evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sentiloc.core.seeding import video_rng
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import VideoDataset, VideoItem, collate
from sentiloc.evaluation.registry import EVALUATORS
from sentiloc.postprocess import activitynet_results
from sentiloc.tasks import TrainedModel, load_trained
from sentiloc.tasks.localization import output_proposals, video_outputs


def shuffle_stream(item: VideoItem, stream: str, face: str | None, rng: np.random.Generator) -> VideoItem:
    """``item`` with the rows of ``stream`` permuted over time (and the face mask, for the face stream)."""
    order = rng.permutation(len(item.face_present))
    features = {**item.features, stream: item.features[stream][order]}
    face_present = item.face_present[order] if stream == face else item.face_present
    return VideoItem(item.video_id, item.fps, features, face_present, item.supervision)


@dataclass
class ShuffleReport:
    checkpoint: Path
    split: str
    base_map: float
    rows: dict[str, tuple[float, float]]  # stream -> (ΔCAS, ΔmAP)

    def format(self) -> str:
        lines = [f"{self.checkpoint} on {self.split}: intact avg mAP {100 * self.base_map:.2f}",
                 f"{'stream':<10} {'ΔCAS':>8} {'ΔmAP':>8}"]
        lines += [f"{stream:<10} {cas:>8.4f} {100 * dmap:>+8.2f}" for stream, (cas, dmap) in self.rows.items()]
        return "\n".join(lines)


def _predict(trained: TrainedModel, items: list[VideoItem], durations: dict[str, float]) -> tuple[dict, dict[str, np.ndarray]]:
    """Results JSON (scored as ``predict`` scores, from the config's ``cas_source``) and each
    video's CAS for in-memory ``items``."""
    batches = [collate([item], len(trained.classes)) for item in items]
    outputs = list(video_outputs(trained.model, batches, torch.device("cpu"), trained.exp.train.amp))
    post, ratio = trained.exp.postprocess, trained.model.cfg.r_act
    proposals = {o.video_id: output_proposals(o, post, trained.classes, ratio, durations[o.video_id])[0]
                 for o in outputs}
    return activitynet_results(proposals), {o.video_id: o.cas for o in outputs}


def probe_shuffle(checkpoint: Path, data_root: Path, split: str = "test", seed: int = 0) -> ShuffleReport:
    """ΔCAS and ΔmAP of shuffling each stream of ``split`` over time, for the model of ``checkpoint``."""
    trained = load_trained(Path(checkpoint), torch.device("cpu"))
    infos = list(read_video_infos(Path(data_root), (split,)).values())
    dataset = VideoDataset(data_root, infos, trained.exp.data, dims=trained.dims, stats=trained.extras["stats"])
    items = [dataset[i] for i in range(len(dataset))]
    durations = {info.video_id: info.duration_s for info in infos}
    evaluator = EVALUATORS.get(trained.task.evaluator)
    ground_truth = evaluator.load_ground_truth(trained.task.ground_truth_file(trained.exp, Path(data_root)))

    def score(results: dict) -> float:
        return evaluator.headline_value(evaluator.evaluate(ground_truth, results, split).to_json())

    base_results, base_cas = _predict(trained, items, durations)
    base = score(base_results)
    c = len(trained.classes)
    rows = {}
    for stream in trained.exp.data.modality_names:
        shuffled = [shuffle_stream(item, stream, trained.exp.data.face, video_rng(seed, item.video_id)) for item in items]
        results, cas = _predict(trained, shuffled, durations)
        delta = float(np.mean([np.abs(cas[v][:, :c] - base_cas[v][:, :c]).mean() for v in base_cas]))
        rows[stream] = (delta, score(results) - base)
    return ShuffleReport(Path(checkpoint), split, base, rows)
