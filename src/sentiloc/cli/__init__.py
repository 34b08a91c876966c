"""The ``sentiloc`` command line: verbs only, no logic.

Each verb parses its flags and hands over to one function of the package that does the work.
User errors (:class:`SentilocError`) are printed as one line and exit with status 1; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sentiloc import __version__
from sentiloc.core.errors import SentilocError
from sentiloc.features.base import AUDIO_CHOICES, FACE_DETECTOR_CHOICES, VISUAL_CHOICES

Handler = Callable[[argparse.Namespace], int]

MATRIX_HELP = """\
accuracy: train, predict (best.pt) and evaluate (gt.json, test) every config x seed; writes
OUT/results.csv (one row per run), OUT/table.md (mean ± sample std over seeds, in %, and the mean
training minutes) and OUT/runs/<config>_s<seed>/. Default configs: fsenet_point fsenet_video
fsenet_full tslnet_point mil_video frame_full and ablations/*, those this install ships. Repeat a
killed command to continue it: finished runs are read back, unfinished ones resume from last.pt.

The default matrix is sized to finish in about an hour on 2 CPU cores:

  sentiloc simulate data/tsl300matrix --structure shared/data/tsl300 --videos 90 --max-duration 120
  sentiloc benchmark accuracy --data data/tsl300matrix --out bench/accuracy

90 videos of the real TSL-300 structure (60 train, 6 of them for validation, and 30 test), capped
at 120 s, hold ~19k snippets, ~12k trained on per epoch: at the 1.1-1.6 s per 1,000 training
snippets that `benchmark speed` measures on 2 AVX-512 cores that is 15-20 s per epoch, so a run
(6 epochs, then test prediction) takes 1.5-2 min, and 12 distinct configs x 3 seeds = 36 runs
(ablations/bspg is fsenet_point and reuses its runs) about an hour; on a CPU without AVX-512 or
bf16 units (e.g. a first-generation EPYC) matrix products are ~3x slower and so is the matrix;
pass --seeds 1 first and rerun with --seeds 3 later (finished runs are kept). Each progress line gives the
minutes of its run, so the first one tells how long the matrix will take on another machine.
6 epochs (~84 optimiser steps) is a short, equal schedule for every method: it compares them, it
does not reach their final accuracy.

sensitivity: one study of --config (default fsenet_point) on the same data and schedule; writes
OUT/<study>.csv (one row per run) and OUT/<study>.png:
  bspg    BSPG window w in 3,5,7,9,11 x beta in 0.4,0.6,0.8: heatmap (45 runs, ~75 min)
  face    0, 25, 50, 75 % face-missing test snippets (a floor per video), trained with
          train.face_dropout 0 and 0.5: two lines (6 trainings, 24 predictions, ~12 min)
  jitter  training clicks moved by up to 0, 1, 2, 4 s (12 runs, ~20 min)

--quick: 1 seed, 1 epoch, and fsenet_point only (accuracy) or 2 points of the study
(sensitivity): a smoke test of the pipeline, not a measurement.
"""


def _modalities(text: str) -> tuple:
    from sentiloc.data.dataset import ModalitySpec

    return tuple(ModalitySpec.parse(part) for part in text.split(",") if part.strip())


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def _dims(text: str) -> dict[str, int]:
    dims = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"--dims {text!r}: expected NAME=DIM,..., e.g. rgb=1024,logmfcc=768,img=1024")
        dims[name.strip()] = int(value)
    return dims


def cmd_simulate(args: argparse.Namespace) -> int:
    from sentiloc.data.simulate.tsl300 import SimulationSpec, simulate_dataset

    spec = SimulationSpec(n_videos=args.videos, seed=args.seed, face_missing=args.face_missing,
                          click_jitter_s=args.click_jitter, max_duration_s=args.max_duration)
    if args.dims:
        spec.dims = args.dims
    summary = simulate_dataset(Path(args.out), spec, structure=args.structure, overwrite=args.overwrite)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_check_data(args: argparse.Namespace) -> int:
    from sentiloc.data.dataset import DataConfig
    from sentiloc.data.validate import check_dataset

    cfg = DataConfig(modalities=args.modalities, face=args.face or None)
    report = check_dataset(Path(args.data), cfg)
    print(report.format())
    return 0 if report.ok else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sentiloc.evaluation import run_evaluate

    run_evaluate(args.gt, args.pred, subset=args.subset, tiou_spec=args.tiou, json_out=args.json, overwrite=args.overwrite)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sentiloc.core.config import apply_overrides, load_config
    from sentiloc.engine.trainer import train

    config = None
    if args.config:
        config = apply_overrides(load_config(args.config), args.set or [])
        if args.seed is not None:
            config.setdefault("train", {})["seed"] = args.seed
    elif not args.resume:
        raise SentilocError("train: --config is required (a YAML path or a shipped name such as fsenet_point)")
    summary = train(config, Path(args.data), Path(args.out), resume=args.resume, overwrite=args.overwrite,
                    device=args.device, epochs=args.epochs, stop_after=args.stop_after)
    best = summary["best"]
    print(f"trained {summary['epochs_done']} epochs into {args.out}; best {summary['metric']} "
          f"{best.get(summary['metric'], float('nan')):.4f} at epoch {int(best.get('epoch', 0))}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from sentiloc.apps.predict import predict_split

    results = predict_split(Path(args.checkpoint), Path(args.data), args.split, Path(args.out),
                            overwrite=args.overwrite, device=args.device,
                            face_missing=args.face_missing, face_seed=args.face_seed)
    n = sum(len(v) for v in results["results"].values())
    print(f"wrote {n} segments for {len(results['results'])} videos to {args.out}")
    return 0


def cmd_benchmark_runs(args: argparse.Namespace) -> int:
    """``benchmark accuracy`` and ``benchmark sensitivity``: --quick only fills what was not given."""
    from sentiloc.studies.matrix import MATRIX_EPOCHS, parse_seeds, run_accuracy
    from sentiloc.studies.sensitivity import run_sensitivity

    if not args.data:
        raise SentilocError(f"benchmark {args.what}: --data DATA is required (see `sentiloc benchmark --help`)")
    seeds = parse_seeds(args.seeds) if args.seeds else [1] if args.quick else [1, 2, 3]
    epochs = args.epochs if args.epochs is not None else 1 if args.quick else MATRIX_EPOCHS
    out = Path(args.out or f"sentiloc-{args.what}")
    if args.what == "accuracy":
        configs = args.configs or (["fsenet_point"] if args.quick else None)
        table = run_accuracy(Path(args.data), out, configs, seeds, epochs, args.set or [], args.overwrite)
    else:
        if not args.study:
            raise SentilocError("benchmark sensitivity: --study bspg|face|jitter is required")
        table = run_sensitivity(args.study, Path(args.data), out, args.config, seeds, epochs, args.set or [],
                                quick=args.quick, overwrite=args.overwrite)
    print(table)
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    if args.what in ("accuracy", "sensitivity"):
        return cmd_benchmark_runs(args)
    if args.what == "extract":
        from sentiloc.studies.speed import benchmark_extract

        settings = _extract_settings(args)
        print(benchmark_extract(duration_s=args.duration, repeats=args.repeats or 3, settings=settings).format())
        return 0
    if args.what == "attention":
        from sentiloc.studies.attention import probe_attention

        if not (args.checkpoint and args.data):
            raise SentilocError("benchmark attention: --checkpoint CKPT and --data DATA are required")
        print(probe_attention(Path(args.checkpoint), Path(args.data), args.split).format())
        return 0
    if args.what == "eval":
        from sentiloc.evaluation import benchmark_evaluator

        repeats = args.repeats or 7
        result = benchmark_evaluator(repeats=repeats)
        print(
            f"evaluator: {result['proposals']} proposals on {result['videos']} videos in "
            f"{1000 * result['median_s']:.2f} ms (median of {repeats}); reference "
            f"{result['reference_s']:.1f} s -> {result['speedup']:.0f}x faster"
        )
        return 0
    from sentiloc.core.config import apply_overrides, load_config
    from sentiloc.studies.speed import benchmark_speed

    if not args.data:
        raise SentilocError("benchmark speed: --data DATA is required (e.g. a `sentiloc simulate --structure` folder)")
    config = apply_overrides(load_config(args.config), args.set or [])
    report = benchmark_speed(
        config, Path(args.data), train_videos=args.train_videos, threads=args.threads, infer_repeats=args.repeats or 3
    )
    print(report.format())
    return 0


def _extract_settings(args: argparse.Namespace):
    from sentiloc.features import require_video_stack

    require_video_stack(f"sentiloc {args.verb}{' extract' if args.verb == 'benchmark' else ''}")
    from sentiloc.features.extract import ExtractSettings

    def absolute(path: Path | None) -> str | None:
        return str(Path(path).resolve()) if path else None

    return ExtractSettings(visual=args.visual, visual_weights=absolute(args.visual_weights), audio=args.audio,
                           face_detector=args.face_detector, face_weights=absolute(args.face_weights),
                           face_frames=args.face_frames, short_side=args.short_side)


def _device(name: str) -> str:
    from sentiloc.engine.trainer import resolve_device

    return str(resolve_device(name))


def cmd_extract(args: argparse.Namespace) -> int:
    from sentiloc.features.extract import extract_videos

    report = extract_videos(args.videos, Path(args.out), _extract_settings(args), workers=args.workers,
                            overwrite=args.overwrite, device=_device(args.device))
    print(report.format())
    return 1 if report.failed else 0


def cmd_build_dataset(args: argparse.Namespace) -> int:
    from sentiloc.features.build import build_dataset

    summary = build_dataset(args.videos, Path(args.annotations), Path(args.out), _extract_settings(args),
                            test_fraction=args.test_fraction, seed=args.seed, workers=args.workers,
                            overwrite=args.overwrite, device=_device(args.device))
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_localize(args: argparse.Namespace) -> int:
    from sentiloc.features import require_video_stack

    require_video_stack("sentiloc localize")
    from sentiloc.apps.localize import localize

    result = localize(Path(args.video), Path(args.checkpoint), Path(args.out), overwrite=args.overwrite,
                      device=args.device, visual_weights=args.visual_weights, face_weights=args.face_weights,
                      top=args.top)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for seg in result.segments[: args.top]:
        print(f"{seg['label']}  {seg['segment'][0]:8.2f} - {seg['segment'][1]:8.2f} s  score {seg['score']:.3f}")
    print(f"{len(result.segments)} segments; wrote " + ", ".join(str(p) for p in result.files.values()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sentiloc.apps.demo import run_demo

    run_demo(Path(args.out), overwrite=args.overwrite, seed=args.seed)
    return 0


def _add_extractor_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--visual", default="default", choices=VISUAL_CHOICES,
                   help="default: the weight-free colour-motion descriptor; i3d: Inception-I3D RGB (1024-d, the "
                   "TSL-300 convention), needs --visual-weights")
    p.add_argument("--visual-weights", type=Path, help="pytorch-i3d state dict, e.g. rgb_imagenet.pt (never downloaded)")
    p.add_argument("--audio", default="logmel", choices=AUDIO_CHOICES,
                   help="logmel: 32x60 log-mel blocks per snippet (the TSL-300 convention); egemaps: the 88 eGeMAPS "
                   "affect functionals per snippet (needs `pip install opensmile`)")
    p.add_argument("--face-detector", default="haar", choices=FACE_DETECTOR_CHOICES,
                   help="haar: OpenCV's cascade (default); mediapipe: MediaPipe face detection + 468-point face mesh, "
                   "whose geometry is the default descriptor (needs `pip install mediapipe==0.10.14`)")
    p.add_argument("--face-weights", type=Path, help="a face expression CNN (torch.export .pt2 or TorchScript .pt); "
                   "default: the weight-free descriptor of the aligned face")
    p.add_argument("--face-frames", type=_positive_int, default=2, help="frames per snippet searched for a face (default 2)")
    p.add_argument("--short-side", type=int, default=256, help="decode frames with the shorter side at most this "
                   "many pixels (default 256)")


def _add_extraction_run_flags(p: argparse.ArgumentParser, overwrite_help: str) -> None:
    """How ``extract`` and ``build-dataset`` run (not what they compute): parallelism, clobbering, device."""
    p.add_argument("--workers", type=_positive_int, default=1, help="videos extracted in parallel processes (default 1)")
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where I3D runs (default cpu)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentiloc", description="Temporal sentiment localization in untrimmed videos.")
    parser.add_argument("--version", action="version", version=f"sentiloc {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("simulate", help="write a simulated dataset in the TSL-300 layout")
    p.add_argument("out", help="output folder")
    p.add_argument("--structure", type=Path, help="copy ids, durations, fps, segments and clicks from this TSL-300 folder")
    p.add_argument("--videos", type=int, help="number of videos (default: all of the structure, 300 built-in)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dims", type=_dims, help="feature dims, e.g. rgb=1024,logmfcc=768,img=1024")
    p.add_argument("--face-missing", type=float, help="fraction of snippets without a face (default 0.15)")
    p.add_argument("--click-jitter", type=float, default=0.0, help="jitter every click by up to this many seconds")
    p.add_argument("--max-duration", type=float, help="cap video durations (seconds) for small, fast datasets")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.set_defaults(handler=cmd_simulate)

    p = verbs.add_parser("check-data", help="report every problem of a TSL-300-layout dataset")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--modalities", type=_modalities, default="rgb,logmfcc,img",
                   help="streams as NAME[:FRAMES_PER_SNIPPET], e.g. rgb:16,logmfcc,img (default rgb,logmfcc,img)")
    p.add_argument("--face", default="img", help="the face stream (all-zero rows = no face); '' for none")
    p.set_defaults(handler=cmd_check_data)

    p = verbs.add_parser("evaluate", help="detection mAP, Recall, Precision and F2 of a prediction file")
    p.add_argument("--gt", required=True, help="ground truth (gt.json)")
    p.add_argument("--pred", required=True, help="predictions (ActivityNet-style JSON)")
    p.add_argument("--subset", default="test")
    p.add_argument("--tiou", default="0.1:0.3:0.05", help="START:STOP:STEP or a comma list (default 0.1:0.3:0.05)")
    p.add_argument("--json", help="also write the metrics as JSON here")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(handler=cmd_evaluate)

    p = verbs.add_parser("train", help="train a model on a TSL-300-layout dataset")
    p.add_argument("--config", help="YAML config path or shipped name (fsenet_point, fsenet_video, fsenet_full, tslnet_point, mil_video, frame_full, ablations/..., ...)")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="run folder (checkpoints, config, TensorBoard)")
    p.add_argument("--epochs", type=int, help="override train.epochs (with --resume: extend the run)")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any config value, e.g. train.lr=3e-4")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    p.add_argument("--overwrite", action="store_true", help="train into a non-empty run folder")
    p.add_argument("--stop-after", type=int, help="stop after this many epochs of this invocation (resume later)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.set_defaults(handler=cmd_train)

    p = verbs.add_parser("predict", help="localize sentiment in every video of a dataset split")
    p.add_argument("--checkpoint", required=True, help="RUN/best.pt or RUN/last.pt")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--out", required=True, help="predictions JSON (ActivityNet style)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--face-missing", type=float, default=0.0, metavar="FRACTION",
                   help="robustness check: hide faces on seeded runs until at least this fraction of each "
                   "video's snippets is face-missing (default 0: the data as is)")
    p.add_argument("--face-seed", type=int, default=0, help="seed of the hidden runs of --face-missing")
    p.set_defaults(handler=cmd_predict)

    p = verbs.add_parser("benchmark", help="speed against the reference; the accuracy matrix; robustness studies",
                         epilog=MATRIX_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["eval", "speed", "accuracy", "sensitivity", "extract", "attention"],
                   help="eval: the evaluator on ~9,000 proposals; speed: training, inference and memory of a "
                   "config on a dataset; extract: feature extraction of a synthetic 320x240 clip against real "
                   "time; attention: where a trained model's attention layers look, against the ground truth "
                   "of --data; accuracy, sensitivity: see below")
    p.add_argument("--repeats", type=_positive_int, help="timed repetitions, the median is reported "
                   "(eval: default 7; speed: inference passes over the test split, default 3)")
    p.add_argument("--data", help="speed, accuracy, sensitivity, attention: dataset folder")
    p.add_argument("--checkpoint", help="attention: a trained checkpoint (best.pt)")
    p.add_argument("--split", default="test", choices=["train", "test"], help="attention: split to probe (default test)")
    p.add_argument("--config", default="fsenet_point",
                   help="speed: config to time; sensitivity: the config studied (default fsenet_point)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config overrides (every config of a matrix)")
    p.add_argument("--configs", nargs="+", metavar="NAME_OR_PATH", help="accuracy: configs (default: see below)")
    p.add_argument("--seeds", help="accuracy, sensitivity: N for seeds 1..N (default 3), or a list such as 4,7")
    p.add_argument("--epochs", type=int, help="accuracy, sensitivity: epochs per run (default 6)")
    p.add_argument("--study", choices=["bspg", "face", "jitter"], help="sensitivity: which study")
    p.add_argument("--out", help="accuracy, sensitivity: output folder (default ./sentiloc-accuracy, ./sentiloc-sensitivity)")
    p.add_argument("--quick", action="store_true", help="accuracy, sensitivity: 1 seed, 1 epoch, smallest grid")
    p.add_argument("--overwrite", action="store_true", help="accuracy, sensitivity: retrain finished runs")
    p.add_argument("--train-videos", type=int, help="speed: time this many training videos (default all)")
    p.add_argument("--threads", type=int, default=2, help="speed: torch threads (default 2, as the reference)")
    p.add_argument("--duration", type=_positive_float, default=60.0, help="extract: clip length in seconds (default 60)")
    _add_extractor_flags(p)
    p.set_defaults(handler=cmd_benchmark)

    p = verbs.add_parser("extract", help="video files -> TSL-300 feature streams (rgb, logmfcc, img) + metadata",
                         description="Writes OUT/features/{rgb,logmfcc,img}/<video>.npy (one row per 16-frame "
                         "snippet) and OUT/meta/<video>.json. Finished videos are skipped on a rerun; a video "
                         "that fails is reported and the others go on (exit status 1 if any failed).")
    p.add_argument("videos", nargs="+", type=Path, help="video files or folders of videos")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    _add_extractor_flags(p)
    _add_extraction_run_flags(p, overwrite_help="re-extract videos that are already done")
    p.set_defaults(handler=cmd_extract)

    p = verbs.add_parser("build-dataset", help="videos + an annotation CSV (seconds) -> a TSL-300-layout dataset",
                         description="Annotation CSV columns: video,label (p|n) and start,end (a segment) and/or "
                         "time (a click), optionally split (train|test); times in seconds, video = file name "
                         "without extension. Example rows: 'clip1,p,12.5,19.0,,' and 'clip1,p,,,15.2,'.")
    p.add_argument("videos", nargs="+", type=Path, help="video files or folders of videos")
    p.add_argument("--annotations", required=True, type=Path, help="annotation CSV (see above)")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write (rerun to resume)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of videos put in the test split when the CSV has no split column (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of that split")
    _add_extractor_flags(p)
    _add_extraction_run_flags(p, overwrite_help="rebuild a dataset built with other settings")
    p.set_defaults(handler=cmd_build_dataset)

    p = verbs.add_parser("localize", help="one video file -> sentiment segments (JSON, CSV), a timeline PNG and "
                         "an HTML page")
    p.add_argument("video", type=Path, help="the video file")
    p.add_argument("--checkpoint", required=True, type=Path, help="RUN/best.pt of a model trained on a dataset "
                   "from `sentiloc build-dataset` (its extractor settings are reused)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--visual-weights", type=Path, help="I3D weights, when the recorded file moved (or for a "
                   "checkpoint without a record)")
    p.add_argument("--face-weights", type=Path, help="the face model (.pt2 / TorchScript), likewise")
    p.add_argument("--top", type=_positive_int, default=10, help="segments shown in the page and plot (default 10; "
                   "the JSON and CSV hold all)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--overwrite", action="store_true", help="replace earlier outputs for this video")
    p.set_defaults(handler=cmd_localize)

    p = verbs.add_parser("demo", help="simulate -> train FSENet from clicks -> predict -> evaluate -> plots")
    p.add_argument("--out", default="sentiloc-demo", help="output folder (default ./sentiloc-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="reuse a non-empty output folder")
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SentilocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
