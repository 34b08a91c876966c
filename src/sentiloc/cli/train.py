"""``train``: a config and a dataset -> a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import add_config_flags, add_device_flag, add_parser
from sentiloc.core.errors import SentilocError


def cmd_train(args: argparse.Namespace) -> int:
    from sentiloc.apps.train import train
    from sentiloc.core.config import apply_overrides, load_config

    config = None
    if args.config:
        config = apply_overrides(load_config(args.config), args.set)
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


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "train", help="train a model on a TSL-300-layout dataset")
    add_config_flags(p, help_="YAML config path or shipped name (fsenet_point, fsenet_video, fsenet_full, "
                     "tslnet_point, mil_video, frame_full, ablations/..., ...)")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="run folder (checkpoints, config, TensorBoard)")
    p.add_argument("--epochs", type=int, help="override train.epochs (with --resume: extend the run)")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    p.add_argument("--overwrite", action="store_true", help="train into a non-empty run folder")
    p.add_argument("--stop-after", type=int, help="stop after this many epochs of this invocation (resume later)")
    add_device_flag(p)
    p.set_defaults(handler=cmd_train)
