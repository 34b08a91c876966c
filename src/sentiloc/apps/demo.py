"""``sentiloc demo``: the whole workflow on simulated data, in a few minutes on a laptop CPU.

simulate (built-in TSL-300 statistics, a reduced size) -> check-data -> train FSENet from clicks
-> predict the test split -> evaluate -> metric table, metrics JSON and timeline PNGs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sentiloc.apps.predict import predict_split
from sentiloc.apps.train import train
from sentiloc.core.config import load_config
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_json, prepare_output_dir
from sentiloc.data.annotations import read_clicks, read_segments, read_video_infos
from sentiloc.data.dataset import VideoDataset
from sentiloc.data.simulate.tsl300 import SimulationSpec, simulate_dataset
from sentiloc.data.validate import check_dataset
from sentiloc.engine.memory import peak_rss_gib
from sentiloc.evaluation import DetectionResult, evaluate_detection, load_ground_truth
from sentiloc.tasks import load_trained
from sentiloc.tasks.localization import video_batches, video_outputs
from sentiloc.viz.timeline import plot_timeline

DEMO_CONFIG = "demo"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced: the test metrics (also in ``out/metrics.json``), its plots, its wall time."""

    out: Path
    metrics: DetectionResult
    plots: list[Path]
    seconds: float


def run_demo(out: Path, overwrite: bool = False, seed: int = 0, progress: bool = True) -> DemoResult:
    """Run the demo into ``out``; each step is logged (INFO) as it starts."""
    out = prepare_output_dir(Path(out), overwrite, "demo folder")
    tic = time.perf_counter()
    config = load_config(DEMO_CONFIG)
    sim = config.pop("simulation")
    data = out / "data"
    log.info(f"[1/5] simulating {sim['videos']} TSL-300-structured videos into {data}")
    simulate_dataset(
        data,
        SimulationSpec(n_videos=sim["videos"], seed=seed, dims=sim["dims"], max_duration_s=sim["max_duration_s"]),
        overwrite=True,
        progress=progress,
    )
    report = check_dataset(data)
    if not report.ok:
        raise SentilocError(f"{data}: the simulated dataset failed its own check:\n{report.format()}")
    log.info(f"[2/5] training FSENet (point supervision) into {out / 'run'}")
    summary = train(config, data, out / "run", overwrite=True, progress=progress)
    train_s = sum(record["time/epoch_s"] for record in summary["history"])
    log.info(f"      {summary['epochs_done']} epochs in {train_s:.0f} s ({train_s / summary['epochs_done']:.1f} s per epoch), "
          f"peak memory {peak_rss_gib():.2f} GiB")
    log.info("[3/5] predicting the test split")
    predictions = out / "predictions.json"
    results = predict_split(out / "run" / "best.pt", data, "test", predictions, overwrite=True)
    log.info("[4/5] evaluating")
    metrics = evaluate_detection(load_ground_truth(data / "gt.json"), results, subset="test")
    atomic_write_json(out / "metrics.json", metrics.to_json())
    log.info("[5/5] plotting timelines")
    plots = plot_examples(out, data, results["results"])
    return DemoResult(out, metrics, plots, time.perf_counter() - tic)


def plot_examples(out: Path, data: Path, predictions: dict[str, list[dict]], n_test: int = 3) -> list[Path]:
    """Timelines for the first ``n_test`` test videos and one training video.

    A test video shows its ground truth and the predictions of ``predictions.json``; the
    training video shows its ground truth and the clicks the model learned from (it is not
    predicted, so it has no prediction lanes).
    """
    cpu = torch.device("cpu")
    trained = load_trained(out / "run" / "best.pt", device=cpu)
    infos = read_video_infos(data)
    test = [i for i in infos.values() if i.split == "test"][:n_test]
    train_one = [i for i in infos.values() if i.split == "train"][:1]
    segments = read_segments(data / "videosenti_gt.json")
    clicks = read_clicks(data / trained.exp.data.point_file)
    dataset = VideoDataset(data, test + train_one, trained.exp.data, dims=trained.dims, stats=trained.extras["stats"])
    paths = []
    for output in video_outputs(trained.model, video_batches(dataset, len(trained.classes)), cpu):
        info = infos[output.video_id]
        gt = [{"segment": [s.start_s, s.end_s], "label": s.label} for s in segments.get(output.video_id, [])]
        video_clicks = [(c.frame / info.fps, c.label) for c in clicks.get(output.video_id, [])]
        paths.append(
            plot_timeline(
                out / "plots" / f"{info.split}_{output.video_id}.png",
                f"{output.video_id} ({info.split} split)",
                output.fps,
                output.cas,
                trained.classes,
                w_sent=output.w_sent,
                global_cas=output.global_cas,
                ground_truth=gt,
                predictions=predictions.get(output.video_id, []) if info.split == "test" else None,
                clicks_s=video_clicks,
                duration_s=info.duration_s,
            )
        )
    return paths
