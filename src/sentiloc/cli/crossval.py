"""``crossval``: one config over every fold of a dataset (leave-one-subject-out for spotting), pooled."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sentiloc.cli._args import add_device_flag, add_parser, positive_int
from sentiloc.cli.train import CONFIG_HELP


def cmd_crossval(args: argparse.Namespace) -> int:
    from sentiloc.studies.crossval import run_crossval

    overrides = [*args.set, *([f"train.seed={args.seed}"] if args.seed is not None else []),
                 *([f"train.epochs={args.epochs}"] if args.epochs is not None else [])]
    result = run_crossval(args.config, Path(args.data), Path(args.out), overrides, overwrite=args.overwrite,
                          device=args.device)
    print(json.dumps(result.metrics, indent=2))
    print(f"wrote {result.out / 'predictions.json'}, {result.out / 'metrics.json'} and {result.out / 'folds.csv'}")
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "crossval", help="train and predict every fold (leave-one-subject-out for spotting), "
                   "score the pooled held-out predictions",
                   description="Each fold trains into OUT/folds/<fold>; rerun the same command to continue after an "
                   "interruption. OUT/predictions.json pools the held-out predictions, OUT/metrics.json scores them.")
    p.add_argument("--config", required=True, help=CONFIG_HELP + ", spotting/pfes_gim, spotting/pfes_hard")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="output folder (folds, pooled predictions, metrics)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config value "
                   "(repeatable)")
    p.add_argument("--epochs", type=positive_int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--overwrite", action="store_true", help="retrain every fold from scratch")
    add_device_flag(p)
    p.set_defaults(handler=cmd_crossval)
