"""``simulate`` and ``check-data``: datasets in, reports out."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import add_parser


def _modalities(text: str) -> tuple:
    from sentiloc.core.errors import SentilocError
    from sentiloc.data.dataset import ModalitySpec

    try:
        return tuple(ModalitySpec.parse(part) for part in text.split(",") if part.strip())
    except SentilocError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
                          click_jitter_s=args.click_jitter, max_duration_s=args.max_duration, clicks=args.clicks)
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


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "simulate", help="write a simulated dataset in the TSL-300 layout")
    p.add_argument("out", help="output folder")
    p.add_argument("--structure", type=Path, help="copy ids, durations, fps, segments and clicks from this TSL-300 folder")
    p.add_argument("--videos", type=int, help="number of videos (default: all of the structure, 300 built-in)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything simulated (default 0)")
    p.add_argument("--dims", type=_dims, help="feature dims, e.g. rgb=1024,logmfcc=768,img=1024")
    p.add_argument("--face-missing", type=float, help="fraction of snippets without a face (default 0.15)")
    p.add_argument("--clicks", default="inside", choices=["inside", "noisy", "real"],
                   help="inside (default): one click inside each training segment, as point supervision is "
                   "defined; noisy: 51%% of clicks aimed outside their segment, like the 41%% of real TSL-300 "
                   "clicks that miss every dense segment (a robustness setting: simulated evidence lies only "
                   "in the segments); real: the annotators' own files of --structure")
    p.add_argument("--click-jitter", type=float, default=0.0, help="jitter every click by up to this many seconds")
    p.add_argument("--max-duration", type=float, help="cap video durations (seconds) for small, fast datasets")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.set_defaults(handler=cmd_simulate)

    p = add_parser(verbs, "check-data", help="report every problem of a TSL-300-layout dataset")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--modalities", type=_modalities, default="rgb,logmfcc,img",
                   help="streams as NAME[:FRAMES_PER_SNIPPET], e.g. rgb:16,logmfcc,img (default rgb,logmfcc,img)")
    p.add_argument("--face", default="img", help="the face stream (all-zero rows = no face); '' for none")
    p.set_defaults(handler=cmd_check_data)
