"""``train``: a config and a dataset -> a run folder."""

from __future__ import annotations

import argparse
import logging

from sentiloc.cli._args import add_device_flag, add_parser, positive_int

CONFIG_HELP = ("YAML config path or shipped name (fsenet_point, fsenet_video, fsenet_full, tslnet_point, mil_video, "
               "frame_full, ablations/..., ...)")


def cmd_train(args: argparse.Namespace) -> int:
    from sentiloc.apps.api import load_config, train
    from sentiloc.apps.train import resume_overrides
    from sentiloc.engine.distributed import world_from_env

    main_rank = world_from_env().is_main
    if not main_rank:  # under torchrun only rank 0 reports progress
        logging.getLogger("sentiloc").setLevel(logging.WARNING)
    epochs, seed = args.epochs, args.seed
    if args.resume and (args.set or seed is not None):
        overrides = [*args.set, *([f"train.seed={seed}"] if seed is not None else [])]
        asked = resume_overrides(args.out, overrides)
        epochs = epochs if epochs is not None else asked
        seed = None
    config = load_config(args.config, args.set) if args.config else None
    run = train(config, args.data, args.out, epochs=epochs, seed=seed, resume=args.resume,
                overwrite=args.overwrite, device=args.device, stop_after=args.stop_after)
    if not main_rank:
        return 0
    summary, best = run.summary, run.summary["best"]
    epochs = summary["epochs_done"]
    trained = f"trained {epochs} epoch{'s' if epochs != 1 else ''} into {run.folder}"
    if summary["metric"] in best:
        print(f"{trained}; best {summary['metric']} {best[summary['metric']]:.4f} at epoch {int(best['epoch'])}")
    else:
        print(f"{trained}; no validation split, so best.pt is the last epoch")
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "train", help="train a model on a TSL-300-layout dataset",
                   description="Start a run with --config, or continue one with --resume. Launched by "
                   "`torchrun --nproc_per_node N -m sentiloc train ...` it trains data-parallel "
                   "(docs/distributed.md).")
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--config", help=CONFIG_HELP)
    start.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt, with its "
                       "own config")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="run folder (checkpoints, config, TensorBoard)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. train.lr=3e-4 (repeatable; with --resume only train.epochs and "
                   "train.num_workers may change)")
    p.add_argument("--epochs", type=positive_int, help="override train.epochs (with --resume: extend the run)")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--overwrite", action="store_true", help="train into a non-empty run folder, deleting the "
                   "checkpoints, summary, config and TensorBoard logs of the run there")
    p.add_argument("--stop-after", type=positive_int, help="stop after this many epochs of this invocation (resume "
                   "later)")
    add_device_flag(p)
    p.set_defaults(handler=cmd_train)
