"""``sentiloc benchmark``: the speed of training, inference, extraction and evaluation, against the reference.

The reference figures are the released FSENet code's on a 2-vCPU machine with the same data
shapes (docs/RESULTS.md); ratios > 1 mean sentiloc is faster / leaner.
Training is measured on real optimiser steps of the configured schedule (batch, micro-batch,
amp), inference on the whole test split including loading and post-processing (the median of
``infer_repeats`` passes, as reference-speed.md asks), and the longest training video is timed
alone to show that memory stays flat.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiloc.apps.train import build_trainer
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import VideoDataset, collate
from sentiloc.engine.device import autocast
from sentiloc.engine.memory import peak_rss_gib
from sentiloc.evaluation.detection import evaluate_detection
from sentiloc.tasks.localization import predict_proposals

REFERENCE = {
    "train_s_per_video": 4.30,
    "train_s_per_1k_snippets": 9.04,
    "infer_s_per_100_test_videos": 70.8,
    "peak_rss_gib": 13.0,
    "longest_video_fwd_bwd_s": 28.5,
}


REFERENCE_MACHINE = "2-vCPU Intel Xeon with AVX-512/AMX"


def cpu_description(cpuinfo: str | None = None) -> str:
    """CPU model and the vector/matrix extensions that decide CPU training speed.

    The reference figures come from an AVX-512/AMX Xeon; on a CPU without them (e.g. AVX2 only)
    every matrix product is several times slower for any implementation, so the ratios printed
    beside the figures are only like-for-like on a machine of the reference's kind.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return platform.processor() or platform.machine()
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in cpuinfo.splitlines())
        if key.strip() in ("model name", "flags")
    )
    flags = set(fields.get("flags", "").split())
    isa = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"),
                                   ("amx_bf16", "AMX-BF16")) if flag in flags]
    return f"{fields.get('model name', platform.machine())} ({', '.join(isa) or 'no AVX2'})"


@dataclass
class SpeedReport:
    """Measured figures, the machine they were measured on, and their ratios to the reference."""

    figures: dict[str, float]
    machine: str = ""

    def ratios(self) -> dict[str, float]:
        return {
            "train_speedup_per_video": REFERENCE["train_s_per_video"] / self.figures["train_s_per_video"],
            "train_speedup_per_1k_snippets": REFERENCE["train_s_per_1k_snippets"] / self.figures["train_s_per_1k_snippets"],
            "infer_speedup": REFERENCE["infer_s_per_100_test_videos"] / self.figures["infer_s_per_100_test_videos"],
            "memory_ratio": REFERENCE["peak_rss_gib"] / self.figures["train_peak_rss_gib"],
        }

    def format(self) -> str:
        f, r = self.figures, self.ratios()
        return "\n".join([
            f"machine: {self.machine}, {self.figures.get('threads', 2):.0f} threads "
            f"(reference: {REFERENCE_MACHINE}; ratios are like-for-like only on that kind of CPU)",
            f"training:  {f['train_s_per_video']:.3f} s/video, {f['train_s_per_1k_snippets']:.3f} s/1k snippets, "
            f"{f['train_s_per_epoch']:.1f} s/epoch ({f['train_videos_timed']:.0f} videos timed) "
            f"-> {r['train_speedup_per_video']:.1f}x faster per video than the reference (4.30 s)",
            f"longest video ({f['longest_snippets']:.0f} snippets): forward+backward {f['longest_fwd_bwd_s']:.2f} s",
            f"training peak RSS: {f['train_peak_rss_gib']:.2f} GiB -> {r['memory_ratio']:.1f}x less than the reference (13.0 GiB)",
            f"inference + post-processing: {f['infer_s_per_100_test_videos']:.1f} s per 100 test videos "
            f"(median of {f['infer_repeats']:.0f} passes) "
            f"-> {r['infer_speedup']:.1f}x faster than the reference (70.8 s)",
        ])


def benchmark_speed(config: dict[str, Any], data_root: Path, train_videos: int | None = None,
                    threads: int = 2, infer_repeats: int = 3) -> SpeedReport:
    """Time training steps, the longest video and test-split inference for ``config`` on ``data_root``."""
    torch.set_num_threads(threads)
    trainer = build_trainer(config, data_root)
    train_set = trainer.data.train_set
    all_infos = train_set.infos
    n_epoch = len(all_infos)
    n_train = n_epoch if train_videos is None else min(train_videos, n_epoch)
    train_set.infos = all_infos[: min(2, n_train)]
    trainer.rebuild_loader()
    trainer.train_epoch()  # warm-up: allocator, thread pool and page cache
    train_set.infos = all_infos[:n_train]
    trainer.rebuild_loader()
    snippets = sum(len(train_set[i].face_present) for i in range(n_train))
    tic = time.perf_counter()
    trainer.train_epoch()
    train_s = time.perf_counter() - tic
    longest = max(range(n_train), key=lambda i: train_set.infos[i].duration_s * train_set.infos[i].fps)
    batch = collate([train_set[longest]], trainer.exp.data.num_classes)
    tic = time.perf_counter()
    with autocast(trainer.device, trainer.exp.train.amp):
        out_ = trainer.model(**batch.inputs())
    trainer.objective(out_, batch)["total"].backward()
    longest_s = time.perf_counter() - tic
    train_rss = peak_rss_gib()
    infos = list(read_video_infos(data_root, ("test",)).values())
    infer_runs = []
    for _ in range(max(1, infer_repeats)):
        tic = time.perf_counter()
        dataset = VideoDataset(data_root, infos, trainer.exp.data, dims=trainer.data.dims, stats=train_set.stats)
        predict_proposals(trainer.model, dataset, list(trainer.exp.data.classes), trainer.exp.postprocess, trainer.device,
                          trainer.exp.train.amp)
        infer_runs.append(time.perf_counter() - tic)
    infer_s = statistics.median(infer_runs)
    full_epoch = train_s * n_epoch / n_train
    return SpeedReport({
        "train_videos_timed": float(n_train),
        "train_s_per_video": train_s / n_train,
        "train_s_per_1k_snippets": 1000 * train_s / snippets,
        "train_s_per_epoch": full_epoch,
        "longest_snippets": float(batch.mask.sum()),
        "longest_fwd_bwd_s": longest_s,
        "train_peak_rss_gib": train_rss,
        "infer_s_per_100_test_videos": 100 * infer_s / len(infos),
        "infer_repeats": float(len(infer_runs)),
        "threads": float(threads),
    }, machine=cpu_description())


@dataclass
class ExtractBenchmark:
    """Wall time of extracting one synthetic clip with a given extractor setting."""

    duration_s: float
    width: int
    height: int
    fps: float
    snippets: int
    cold_s: float
    warm_s: list[float]
    settings: dict[str, Any]

    def format(self) -> str:
        warm = statistics.median(self.warm_s)
        return "\n".join([
            f"machine: {cpu_description()}, torch threads {torch.get_num_threads()}",
            f"clip: {self.duration_s:.0f} s, {self.width}x{self.height} at {self.fps:g} fps, H.264 + AAC "
            f"({self.snippets} snippets); extractors {self.settings}",
            f"extraction: {warm:.2f} s (median of {len(self.warm_s)}) = {self.duration_s / warm:.1f}x real time; "
            f"first run {self.cold_s:.2f} s (with one-time imports and JIT)",
        ])


def benchmark_extract(duration_s: float = 60.0, width: int = 320, height: int = 240, fps: float = 25.0,
                      repeats: int = 3, settings: Any = None) -> ExtractBenchmark:
    """Time ``extract_video`` (decode + every extractor, default weight-free ones) on a synthetic clip.

    The clip is a real H.264/AAC file with a face in half of it, written to a temporary folder;
    the first extraction includes one-time costs (library imports, librosa's JIT) and is reported
    apart from the median of the following ``repeats``.
    """
    import tempfile

    from sentiloc.data.simulate.video import SyntheticVideo, write_video
    from sentiloc.features.extract import (
        ExtractSettings,
        build_extractors,
        extract_video,
    )

    settings = settings or ExtractSettings()
    half = duration_s / 2
    spec = SyntheticVideo(duration_s=duration_s, fps=fps, width=width, height=height,
                          face_windows=[(half / 2, half / 2 + half)], burst_windows=[(half / 2, half)])
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "benchmark_clip.mp4", spec)
        start = time.perf_counter()
        extractors = build_extractors(settings)
        result = extract_video(video, extractors, settings, progress=False)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(repeats):
            start = time.perf_counter()
            extract_video(video, extractors, settings, progress=False)
            warm.append(time.perf_counter() - start)
    return ExtractBenchmark(duration_s, width, height, fps, result.meta["n_snippets"], cold, warm, settings.to_dict())


REFERENCE_EVAL_S = 2.0  # the released evaluator on ~9,000 proposals


# --------------------------------------------------------------------------- the evaluator


def synthetic_case(n_videos: int = 100, preds_per_video: int = 90, seed: int = 0) -> tuple[dict, dict]:
    """A realistic problem: 6 GT segments (string bounds, as TSL-300) and ``preds_per_video`` proposals per video."""
    rng = np.random.default_rng(seed)
    database, results = {}, {}
    for i in range(n_videos):
        duration = float(rng.uniform(120, 600))
        starts = np.sort(rng.uniform(0, duration - 20, 6))
        database[f"v{i}"] = {
            "subset": "test",
            "annotations": [
                {"segment": [f"{s:.3f}", f"{s + rng.uniform(2, 15):.3f}"], "label": str(rng.choice(["p", "n"]))}
                for s in starts
            ],
        }
        centres = rng.uniform(0, duration, preds_per_video)
        lengths = rng.uniform(1, 20, preds_per_video)
        results[f"v{i}"] = [
            {"label": str(rng.choice(["p", "n"])), "score": float(rng.uniform()),
             "segment": [float(c - h / 2), float(c + h / 2)]}
            for c, h in zip(centres, lengths)
        ]
    return {"database": database}, {"results": results}


def benchmark_evaluator(n_videos: int = 100, preds_per_video: int = 90, seed: int = 0, repeats: int = 5) -> dict:
    """Median wall time of :func:`evaluate_detection` (parsing included) on :func:`synthetic_case`.

    The reference figure is the released evaluator's 2.0 s for ~9,000 proposals on a 2-vCPU machine.
    """
    ground_truth, predictions = synthetic_case(n_videos, preds_per_video, seed)
    evaluate_detection(ground_truth, predictions)  # warm-up
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        evaluate_detection(ground_truth, predictions)
        times.append(time.perf_counter() - tic)
    median = float(np.median(times))
    return {
        "proposals": n_videos * preds_per_video,
        "videos": n_videos,
        "median_s": median,
        "reference_s": REFERENCE_EVAL_S,
        "speedup": REFERENCE_EVAL_S / median,
    }
