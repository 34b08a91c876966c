"""``benchmark eval|speed|extract``: speed and memory figures, each against its reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import (
    add_config_flags,
    add_parser,
    positive_float,
    positive_int,
)
from sentiloc.cli.video import add_extractor_flags, extract_settings


def cmd_eval(args: argparse.Namespace) -> int:
    from sentiloc.studies.speed import benchmark_evaluator

    result = benchmark_evaluator(repeats=args.repeats)
    print(
        f"evaluator: {result['proposals']} proposals on {result['videos']} videos in "
        f"{1000 * result['median_s']:.2f} ms (median of {args.repeats}); reference "
        f"{result['reference_s']:.1f} s -> {result['speedup']:.0f}x faster"
    )
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    from sentiloc.core.config import apply_overrides, load_config
    from sentiloc.studies.speed import benchmark_speed

    config = apply_overrides(load_config(args.config), args.set)
    report = benchmark_speed(config, Path(args.data), train_videos=args.train_videos, threads=args.threads,
                             infer_repeats=args.repeats)
    print(report.format())
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from sentiloc.studies.speed import benchmark_extract

    settings = extract_settings(args, "benchmark extract")
    print(benchmark_extract(duration_s=args.duration, repeats=args.repeats, settings=settings).format())
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "benchmark", help="speed and memory: the evaluator, training/inference, feature extraction")
    subs = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    s = add_parser(subs, "eval", help="the evaluator on ~9,000 proposals against the reference evaluator")
    s.add_argument("--repeats", type=positive_int, default=7, help="timed repetitions, the median is reported (default 7)")
    s.set_defaults(handler=cmd_eval)

    s = add_parser(subs, "speed", help="training, inference and memory of a config on a dataset")
    s.add_argument("--data", required=True, help="dataset folder (e.g. from `sentiloc simulate --structure`)")
    add_config_flags(s, default="fsenet_point", help_="config to time (default fsenet_point)")
    s.add_argument("--train-videos", type=positive_int, help="time this many training videos (default all)")
    s.add_argument("--threads", type=positive_int, default=2, help="torch threads (default 2, as the reference)")
    s.add_argument("--repeats", type=positive_int, default=3, help="inference passes over the test split (default 3)")
    s.set_defaults(handler=cmd_speed)

    s = add_parser(subs, "extract", help="feature extraction of a synthetic 320x240 clip against real time")
    s.add_argument("--duration", type=positive_float, default=60.0, help="clip length in seconds (default 60)")
    s.add_argument("--repeats", type=positive_int, default=3, help="timed repetitions (default 3)")
    add_extractor_flags(s)
    s.set_defaults(handler=cmd_extract)
