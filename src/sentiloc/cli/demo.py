"""``demo``: the whole workflow on simulated data."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import add_parser


def cmd_demo(args: argparse.Namespace) -> int:
    from sentiloc.apps.demo import run_demo
    from sentiloc.evaluation import format_table

    result = run_demo(Path(args.out), overwrite=args.overwrite, seed=args.seed)
    print(format_table(result.metrics))
    print(f"demo finished in {result.seconds:.0f} s: {result.out / 'metrics.json'}, {len(result.plots)} plots in "
          f"{result.out / 'plots'}")
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "demo", help="simulate -> train FSENet from clicks -> predict -> evaluate -> plots")
    p.add_argument("--out", default="sentiloc-demo", help="output folder (default ./sentiloc-demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated data (default 0)")
    p.add_argument("--overwrite", action="store_true", help="reuse a non-empty output folder")
    p.set_defaults(handler=cmd_demo)
