"""``predict`` and ``evaluate``: a checkpoint over a split, and the metrics of a prediction file."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.cli._args import add_device_flag, add_parser, positive_int


def cmd_predict(args: argparse.Namespace) -> int:
    from sentiloc.apps.predict import predict_split

    results = predict_split(Path(args.checkpoint), Path(args.data), args.split, Path(args.out),
                            overwrite=args.overwrite, device=args.device,
                            face_missing=args.face_missing, face_seed=args.face_seed, postprocess=args.set)
    print(f"wrote the predictions for {len(results['results'])} videos to {args.out}")
    return 0


#: ``sentiloc evaluate`` flags that only some evaluators take: flag -> the option name of ``Evaluator.run``.
EVALUATOR_FLAGS = {"tiou": "tiou_spec", "iou": "iou"}
#: Evaluators whose metrics ``sentiloc evaluate --plot`` draws (:func:`sentiloc.viz.confusion.plot_confusion`).
PLOTTED_EVALUATORS = frozenset({"recognition"})
#: Evaluators whose prediction files ``sentiloc evaluate --relevance`` draws (:mod:`sentiloc.viz.relevance`).
RELEVANCE_EVALUATORS = frozenset({"recognition"})


def _relevance_rows(args: argparse.Namespace) -> tuple[list, str] | None:
    """The clips ``--relevance`` draws and how they were chosen, or None without ``--relevance``.

    Chosen before the metrics are computed, so a mistyped ``--clips`` id costs nothing.
    """
    from sentiloc.core.errors import SentilocError
    from sentiloc.evaluation.recognition import DEFAULT_SUBSET
    from sentiloc.viz.relevance import load_relevance

    if args.relevance is None:
        given = "--clips" if args.clips is not None else "--per-class" if args.per_class is not None else None
        if given:
            raise SentilocError(f"{given} chooses the clips of --relevance PNG; add --relevance or remove {given}")
        return None
    clips = None if args.clips is None else [c.strip() for c in args.clips.split(",") if c.strip()]
    subset = args.subset if args.subset is not None else DEFAULT_SUBSET
    options = {} if args.per_class is None else {"per_class": args.per_class}
    return load_relevance(args.gt, args.pred, subset, clips, **options)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sentiloc.core.errors import SentilocError
    from sentiloc.core.io import refuse_clobber
    from sentiloc.evaluation.registry import EVALUATORS
    from sentiloc.tasks import TASKS

    evaluator_name = TASKS.get(args.task).evaluator
    evaluator = EVALUATORS.get(evaluator_name)
    options = {name: getattr(args, flag) for flag, name in EVALUATOR_FLAGS.items() if getattr(args, flag) is not None}
    wrong = [f"--{flag}" for flag, name in EVALUATOR_FLAGS.items() if name in options and name not in evaluator.options]
    if args.plot is not None and evaluator_name not in PLOTTED_EVALUATORS:
        wrong.append("--plot")
    if args.relevance is not None and evaluator_name not in RELEVANCE_EVALUATORS:
        wrong.append("--relevance")
    if wrong:
        raise SentilocError(f"{wrong[0]} does not apply to --task {args.task}; remove it")
    for png in (args.plot, args.relevance):
        if png is not None:
            refuse_clobber(Path(png), args.overwrite)
    relevance = _relevance_rows(args)
    subset = {"subset": args.subset} if args.subset is not None else {}
    result = evaluator.run(args.gt, args.pred, json_out=args.json, overwrite=args.overwrite, **subset, **options)
    print(evaluator.format(result))
    if args.plot is not None:
        from sentiloc.viz.confusion import plot_confusion

        plot_confusion(result.to_json(), args.plot, title=Path(args.pred).name)
        print(f"wrote the confusion matrix to {args.plot}")
    if relevance is not None:
        from sentiloc.viz.relevance import plot_relevance

        rows, how = relevance
        plot_relevance(rows, args.relevance, title=Path(args.pred).name, subtitle=how)
        print(f"wrote the relevance maps of {len(rows)} clips to {args.relevance}")
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "predict", help="localize sentiment in every video of a dataset split")
    p.add_argument("--checkpoint", required=True, help="RUN/best.pt or RUN/last.pt")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", choices=["train", "test"], help="split to predict (default test)")
    p.add_argument("--out", required=True, help="predictions JSON (ActivityNet style)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_device_flag(p)
    p.add_argument("--face-missing", type=float, default=0.0, metavar="FRACTION",
                   help="robustness check: hide faces on seeded runs until at least this fraction of each "
                   "video's snippets is face-missing (default 0: the data as is)")
    p.add_argument("--face-seed", type=int, default=0, help="seed of the hidden runs of --face-missing")
    p.add_argument("--set", action="append", default=[], metavar="postprocess.KEY=VALUE",
                   help="change how outputs become segments, e.g. postprocess.class_threshold=null (repeatable)")
    p.set_defaults(handler=cmd_predict)

    p = add_parser(verbs, "evaluate", help="score a prediction file: detection mAP/Recall/Precision/F2 "
                   "(localization), MEGC P/R/F1 (spotting) or accuracy/UAR/WAR and keyframe mAP (recognition)")
    p.add_argument("--task", default="localization", help="localization (default), spotting or recognition")
    p.add_argument("--gt", required=True, help="ground truth: gt.json (localization) or the dataset folder "
                   "(spotting, recognition; for recognition also DATA/LABELS.csv to score against another labels file)")
    p.add_argument("--pred", required=True, help="predictions (ActivityNet-style JSON, or the spotting or recognition "
                   "predictions file of sentiloc predict)")
    p.add_argument("--subset", help="what to score: a gt.json subset (localization, default test); 'all' or a "
                   "subject (spotting, default all); all, train, test or fold:K (recognition, default test)")
    p.add_argument("--tiou", help="localization: tIoU thresholds: START:STOP:STEP with the stop included, "
                   "or a comma list such as 0.1,0.5 (default 0.1:0.3:0.05, i.e. 0.10, 0.15, ..., 0.30)")
    p.add_argument("--iou", choices=["continuous", "inclusive"], help="spotting: IoU convention, lengths end - start "
                   "(continuous, default, as the released code) or frames counted inclusively (as MEGC)")
    p.add_argument("--json", help="also write the metrics as JSON here")
    p.add_argument("--plot", metavar="PNG", help="recognition: also draw the row-normalised confusion matrix here")
    p.add_argument("--relevance", metavar="PNG", help="recognition: also draw per-clip relevance maps here: the "
                   "attention over each clip's segments, its ground-truth keyframes and predicted evidence")
    chosen = p.add_mutually_exclusive_group()
    chosen.add_argument("--clips", metavar="ID,ID,...", help="--relevance: draw these clips of the prediction file, "
                        "in this order (default: --per-class clips of each true class of --subset)")
    chosen.add_argument("--per-class", type=positive_int, metavar="N", help="--relevance: per true class, the N most "
                        "confident predictions, half right and half wrong where there are (default 2)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json, --plot or --relevance file")
    p.set_defaults(handler=cmd_evaluate)
