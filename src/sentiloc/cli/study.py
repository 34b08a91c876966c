"""``study accuracy|sensitivity|attention``: accuracy matrices, robustness grids and probes of trained models."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import add_config_flags, add_device_flag, add_parser

ACCURACY_HELP = """\
accuracy: train, predict (best.pt) and evaluate (gt.json, test) every config x seed; writes
OUT/results.csv (one row per run), OUT/table.md (mean ± sample std over seeds, in %, and the mean
training minutes) and OUT/runs/<config>_s<seed>/. Default configs: fsenet_point fsenet_video
fsenet_full tslnet_point mil_video frame_full and ablations/*, those this install ships. Repeat a
killed command to continue it: finished runs are read back, unfinished ones resume from last.pt.

The default matrix is sized to finish in about an hour on 2 CPU cores:

  sentiloc simulate data/tsl300matrix --structure TSL300/dataset/VideoSenti --videos 90 --max-duration 120
  sentiloc study accuracy --data data/tsl300matrix --out bench/accuracy

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


def _seeds_and_epochs(args: argparse.Namespace) -> tuple[list[int], int]:
    """--quick fills only what was not given: 1 seed, 1 epoch."""
    from sentiloc.studies.matrix import MATRIX_EPOCHS, parse_seeds

    seeds = parse_seeds(args.seeds) if args.seeds else [1] if args.quick else [1, 2, 3]
    epochs = args.epochs if args.epochs is not None else 1 if args.quick else MATRIX_EPOCHS
    return seeds, epochs


def cmd_accuracy(args: argparse.Namespace) -> int:
    from sentiloc.studies.matrix import run_accuracy

    seeds, epochs = _seeds_and_epochs(args)
    configs = args.configs or (["fsenet_point"] if args.quick else None)
    run_accuracy(Path(args.data), Path(args.out), configs, seeds, epochs, args.set, args.overwrite)
    print((Path(args.out) / "table.md").read_text(encoding="utf-8"))
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from sentiloc.studies.sensitivity import run_sensitivity

    seeds, epochs = _seeds_and_epochs(args)
    print(run_sensitivity(args.study, Path(args.data), Path(args.out), args.config, seeds, epochs, args.set,
                          quick=args.quick, overwrite=args.overwrite))
    return 0


def cmd_clicks(args: argparse.Namespace) -> int:
    from sentiloc.data.simulate.tsl300 import SimulationSpec
    from sentiloc.studies.clicks import run_click_study

    seeds, epochs = _seeds_and_epochs(args)
    spec = SimulationSpec(n_videos=args.videos, seed=args.seed, max_duration_s=args.max_duration)
    print(run_click_study(Path(args.out), spec, args.structure, args.configs, seeds=seeds, epochs=epochs,
                          overrides=args.set, overwrite=args.overwrite))
    return 0


def cmd_annotation(args: argparse.Namespace) -> int:
    from sentiloc.studies.annotation import StudyPlan, run_annotation_study
    from sentiloc.studies.matrix import resolve_config

    seeds, epochs = _seeds_and_epochs(args)
    strategies = tuple(dict.fromkeys(name.strip() for name in args.strategies.split(",")))
    plan = StudyPlan(rounds=args.rounds, per_round=args.per_round, threshold=args.threshold, strategies=strategies,
                     seeds=tuple(seeds), device=args.device, overwrite=args.overwrite)
    run_annotation_study(Path(args.data), Path(args.out), resolve_config(args.config, args.set, epochs), plan)
    print((Path(args.out) / "table.md").read_text(encoding="utf-8"))
    return 0


def cmd_shuffle(args: argparse.Namespace) -> int:
    from sentiloc.studies.shuffle import probe_shuffle

    print(probe_shuffle(Path(args.checkpoint), Path(args.data), args.split, args.seed).format())
    return 0


def cmd_attention(args: argparse.Namespace) -> int:
    from sentiloc.studies.attention import probe_attention

    print(probe_attention(Path(args.checkpoint), Path(args.data), args.split).format())
    return 0


def _add_run_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--out", default=f"sentiloc-{what}", help=f"output folder (default ./sentiloc-{what})")
    p.add_argument("--seeds", help="N for seeds 1..N (default 3), or a list such as 4,7")
    p.add_argument("--epochs", type=int, help="epochs per run (default 6)")
    p.add_argument("--quick", action="store_true", help="1 seed, 1 epoch, smallest grid: a smoke test, not a measurement")
    p.add_argument("--overwrite", action="store_true", help="retrain finished runs")


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "study", help="accuracy matrix, sensitivity/robustness grids, attention probe",
                   epilog=ACCURACY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    subs = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    s = add_parser(subs, "accuracy", help="train, predict and evaluate every config x seed (resumable)",
                   epilog=ACCURACY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_flags(s, "accuracy")
    s.add_argument("--configs", nargs="+", metavar="NAME_OR_PATH", help="configs (default: see below)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="overrides for every config")
    s.set_defaults(handler=cmd_accuracy)

    s = add_parser(subs, "sensitivity", help="one robustness or sensitivity study of a config",
                   epilog=ACCURACY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_flags(s, "sensitivity")
    s.add_argument("--study", required=True, choices=["bspg", "face", "jitter"], help="which study")
    add_config_flags(s, default="fsenet_point", help_="the config studied (default fsenet_point)")
    s.set_defaults(handler=cmd_sensitivity)

    s = add_parser(subs, "clicks", help="point supervision under each click model: inside / noisy / real clicks",
                   description="Simulates one dataset per click model of `sentiloc simulate --clicks` (the same "
                   "videos, segments and features; only the click files differ) and trains and tests every "
                   "config x seed on each; writes OUT/clicks.md and OUT/clicks.csv.")
    s.add_argument("--out", default="sentiloc-clicks", help="output folder (default ./sentiloc-clicks)")
    s.add_argument("--structure", type=Path, help="a real TSL-300 folder: copy its structure and add the real clicks")
    s.add_argument("--videos", type=int, default=90, help="videos to simulate (default 90)")
    s.add_argument("--max-duration", type=float, default=120.0, help="cap video durations, s (default 120)")
    s.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    s.add_argument("--configs", nargs="+", default=["fsenet_point"], metavar="NAME_OR_PATH",
                   help="configs (default fsenet_point)")
    s.add_argument("--seeds", help="N for seeds 1..N (default 3), or a list such as 4,7")
    s.add_argument("--epochs", type=int, help="epochs per run (default 6)")
    s.add_argument("--quick", action="store_true", help="1 seed, 1 epoch: a smoke test, not a measurement")
    s.add_argument("--overwrite", action="store_true", help="retrain finished runs")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="overrides for every config")
    s.set_defaults(handler=cmd_clicks)

    s = add_parser(subs, "annotation", help="does the annotate loop pay? a simulated annotator, clicks against mAP",
                   description="A simulated annotator clicks the true segments of a simulated dataset's training "
                   "videos, round by round, in order or with the last round's model suggesting clicks and/or ordering "
                   "the videos by uncertainty; a model is trained after every round. Writes OUT/results.csv, "
                   "OUT/table.md and OUT/curve.png (docs/annotate.md). A rerun reads back the finished rounds.")
    _add_run_flags(s, "annotation")
    add_config_flags(s, default="fsenet_point", help_="the config trained each round (default fsenet_point)")
    s.add_argument("--rounds", type=int, default=4, help="rounds of annotation and training (default 4)")
    s.add_argument("--per-round", type=int, default=6, help="videos annotated per round (default 6)")
    s.add_argument("--threshold", type=float, default=0.5, help="CAS level of a suggestion (default 0.5)")
    s.add_argument("--strategies", default="in_order,uncertain_order,suggest_in_order,suggest",
                   help="comma-separated strategies to run (default all four: in_order, uncertain_order, "
                   "suggest_in_order, suggest)")
    add_device_flag(s)
    s.set_defaults(handler=cmd_annotation)

    s = add_parser(subs, "shuffle", help="how much the CAS and mAP change when each stream is shuffled over time")
    s.add_argument("--checkpoint", required=True, help="a trained checkpoint (best.pt)")
    s.add_argument("--data", required=True, help="dataset folder with the ground truth")
    s.add_argument("--split", default="test", choices=["train", "test"], help="split to probe (default test)")
    s.add_argument("--seed", type=int, default=0, help="seed of the per-video permutations (default 0)")
    s.set_defaults(handler=cmd_shuffle)

    s = add_parser(subs, "attention", help="where a trained model's FCI attention looks, against the ground truth")
    s.add_argument("--checkpoint", required=True, help="a trained checkpoint (best.pt)")
    s.add_argument("--data", required=True, help="dataset folder with the ground truth")
    s.add_argument("--split", default="test", choices=["train", "test"], help="split to probe (default test)")
    s.set_defaults(handler=cmd_attention)
