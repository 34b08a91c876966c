"""``extract``, ``build-dataset`` and ``localize``: the verbs that read raw video files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sentiloc.cli._args import add_device_flag, add_parser, positive_float, positive_int
from sentiloc.core.errors import SentilocError
from sentiloc.core.registry import Registry
from sentiloc.features.base import StreamExtractor
from sentiloc.features.executors import EXECUTORS
from sentiloc.features.streams import (
    AUDIO_CHOICES,
    AUDIO_EXTRACTORS,
    FACE_DETECTOR_CHOICES,
    FACE_DETECTORS,
    VISUAL_CHOICES,
    VISUAL_EXTRACTORS,
)


def add_extractor_flags(p: argparse.ArgumentParser) -> None:
    """What the extractors compute (shared by extract, build-dataset and benchmark extract)."""

    def described(registry: Registry[StreamExtractor]) -> str:
        return "; ".join(f"{name}: {entry.summary}" for name, entry in registry.items())

    p.add_argument("--visual", default="default", choices=VISUAL_CHOICES, help=described(VISUAL_EXTRACTORS))
    p.add_argument("--visual-weights", "--clip-weights", dest="visual_weights", type=Path, metavar="PATH",
                   help="the visual extractor's weights, never downloaded: for i3d a pytorch-i3d state dict "
                   "(rgb_imagenet.pt), for clip a local transformers CLIP folder (the two names are one flag)")
    p.add_argument("--audio", default="logmel", choices=AUDIO_CHOICES, help=described(AUDIO_EXTRACTORS))
    p.add_argument("--face-detector", default="haar", choices=FACE_DETECTOR_CHOICES,
                   help=described(FACE_DETECTORS) + " (default: %(default)s)")
    p.add_argument("--face-weights", type=Path, help="a face expression CNN (torch.export .pt2 or TorchScript .pt); "
                   "default: the weight-free descriptor of the aligned face")
    p.add_argument("--face-frames", type=positive_int, default=2, help="frames per snippet searched for a face (default 2)")
    p.add_argument("--short-side", type=int, default=256, help="decode frames with the shorter side at most this "
                   "many pixels (default 256)")


def _add_run_flags(p: argparse.ArgumentParser, overwrite_help: str) -> None:
    """How ``extract`` and ``build-dataset`` run (not what they compute): parallelism, clobbering, device."""
    p.add_argument("--workers", type=positive_int, default=1, help="videos extracted at once (default 1)")
    p.add_argument("--executor", choices=EXECUTORS.names(),
                   help="what runs the videos (default local for --workers 1, process for more; ray needs "
                   "pip install 'sentiloc[ray]', see docs/features.md)")
    p.add_argument("--ray-address", metavar="ADDRESS", help="join this running Ray cluster (ray://head:10001, "
                   "head:6379 or auto) instead of starting Ray on this machine; needs --executor ray")
    p.add_argument("--ray-gpus-per-video", type=positive_float, metavar="GPUS",
                   help="GPUs each video asks Ray for (default 1 with --device cuda, else 0; 0.25 puts four "
                   "videos on one GPU); needs --executor ray")
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)
    add_device_flag(p, help_="where I3D and CLIP run (default cpu)")


def executor_choice(args: argparse.Namespace) -> tuple[str | None, dict]:
    """``--executor`` and its options; the Ray flags are refused with another executor."""
    ray_options = {"address": args.ray_address, "gpus_per_job": args.ray_gpus_per_video}
    options = {name: value for name, value in ray_options.items() if value is not None}
    if options and args.executor != "ray":
        raise SentilocError("--ray-address and --ray-gpus-per-video need --executor ray; add it or drop them")
    if args.executor == "ray" and args.device == "cuda":
        options.setdefault("gpus_per_job", 1.0)  # Ray hides the GPUs from a task that asks for none
    return args.executor, options


def extract_settings(args: argparse.Namespace, verb: str):
    """The :class:`~sentiloc.features.settings.ExtractSettings` of the extractor flags."""
    from sentiloc.features import require_video_stack

    require_video_stack(f"sentiloc {verb}")
    from sentiloc.features.settings import ExtractSettings

    def absolute(path: Path | None) -> str | None:
        return str(Path(path).resolve()) if path else None

    return ExtractSettings(visual=args.visual, visual_weights=absolute(args.visual_weights), audio=args.audio,
                           face_detector=args.face_detector, face_weights=absolute(args.face_weights),
                           face_frames=args.face_frames, short_side=args.short_side)


def _device(name: str) -> str:
    from sentiloc.engine.device import resolve_device

    return str(resolve_device(name))


def cmd_extract(args: argparse.Namespace) -> int:
    from sentiloc.features.batch import extract_videos

    executor, options = executor_choice(args)
    report = extract_videos(args.videos, Path(args.out), extract_settings(args, "extract"), workers=args.workers,
                            overwrite=args.overwrite, device=_device(args.device), executor=executor,
                            executor_options=options)
    print(report.format())
    return 1 if report.failed else 0


def cmd_build_dataset(args: argparse.Namespace) -> int:
    from sentiloc.features.build import build_dataset

    executor, options = executor_choice(args)
    summary = build_dataset(args.videos, Path(args.annotations), Path(args.out), extract_settings(args, "build-dataset"),
                            test_fraction=args.test_fraction, seed=args.seed, workers=args.workers,
                            overwrite=args.overwrite, device=_device(args.device), executor=executor,
                            executor_options=options)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def cmd_localize(args: argparse.Namespace) -> int:
    from sentiloc.features import require_video_stack

    require_video_stack("sentiloc localize")
    from sentiloc.apps.localize import Localizer, localize_videos, refuse_clobbered_reports, video_files

    videos = video_files(args.videos)
    refuse_clobbered_reports(args.out, list(videos), args.overwrite)
    localizer = Localizer(args.checkpoint, args.device, args.visual_weights, args.face_weights)
    done, failed = localize_videos(localizer, videos, args.out, overwrite=args.overwrite, top=args.top,
                                   keep_going=True)
    for video_id, result in done.items():
        print(f"{video_id}: {len(result.segments)} segments; wrote {', '.join(str(p) for p in result.files.values())}")
        for seg in result.segments[: args.top]:
            print(f"  {seg.label}  {seg.start_s:8.2f} - {seg.end_s:8.2f} s  score {seg.score:.3f}")
    for video_id, message in failed.items():
        print(f"error: {video_id}: {message}", file=sys.stderr)
    if len(videos) > 1:
        print(f"localized {len(done)} of {len(videos)} videos into {args.out}")
    return 1 if failed else 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "extract", help="video files -> TSL-300 feature streams (rgb, logmfcc, img) + metadata",
                   description="Writes OUT/features/{rgb,logmfcc,img}/<video>.npy (one row per 16-frame "
                   "snippet) and OUT/meta/<video>.json. Finished videos are skipped on a rerun; a video "
                   "that fails is reported and the others go on (exit status 1 if any failed).")
    p.add_argument("videos", nargs="+", type=Path, help="video files or folders of videos")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    add_extractor_flags(p)
    _add_run_flags(p, overwrite_help="re-extract videos that are already done")
    p.set_defaults(handler=cmd_extract)

    p = add_parser(verbs, "build-dataset", help="videos + an annotation CSV (seconds) -> a TSL-300-layout dataset",
                   description="Annotation CSV columns: video,label (p|n) and start,end (a segment) and/or "
                   "time (a click), optionally split (train|test); times in seconds, video = file name "
                   "without extension. Example rows: 'clip1,p,12.5,19.0,,' and 'clip1,p,,,15.2,'.")
    p.add_argument("videos", nargs="+", type=Path, help="video files or folders of videos")
    p.add_argument("--annotations", required=True, type=Path, help="annotation CSV (see above)")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write (rerun to resume)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of videos put in the test split when the CSV has no split column (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of that split")
    add_extractor_flags(p)
    _add_run_flags(p, overwrite_help="rebuild a dataset built with other settings")
    p.set_defaults(handler=cmd_build_dataset)

    p = add_parser(verbs, "localize", help="video files -> sentiment segments (JSON, CSV), a timeline PNG and an HTML "
                   "page per video",
                   description="Writes OUT/<video>.{json,csv,png,html} for every video, and keeps the extracted "
                   "features in OUT/features and OUT/meta (a rerun reuses them). The extractors are built once "
                   "for all videos. A video that fails is reported and the others go on (exit status 1 if any "
                   "failed); existing outputs are refused unless --overwrite.")
    p.add_argument("videos", nargs="+", type=Path, help="video files or folders of videos")
    p.add_argument("--checkpoint", required=True, type=Path, help="RUN/best.pt of a model trained on a dataset "
                   "from `sentiloc build-dataset` (its extractor settings are reused)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--visual-weights", type=Path, help="the I3D weights file (or CLIP folder) the training features "
                   "were extracted with, when the recorded one moved; for a checkpoint without a record, this selects I3D")
    p.add_argument("--face-weights", type=Path, help="the face model (.pt2 / TorchScript) the training features "
                   "were extracted with, likewise")
    p.add_argument("--top", type=positive_int, default=10, help="segments shown per video, in the page and plot "
                   "(default 10; the JSON and CSV hold all)")
    add_device_flag(p, help_="where the model and I3D run (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace earlier outputs of these videos")
    p.set_defaults(handler=cmd_localize)
