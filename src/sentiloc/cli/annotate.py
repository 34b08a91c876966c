"""``annotate``: the point-label web app, its TSL-300 export and inter-annotator agreement."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from sentiloc.cli._args import add_device_flag, add_parser, positive_float
from sentiloc.core.errors import SentilocError


def _default_annotator() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "annotator"
    return "".join(ch for ch in name if ch.isalnum() or ch in "._-") or "annotator"


def cmd_agreement(args: argparse.Namespace) -> int:
    from sentiloc.apps.annotate.agreement import (
        agreement,
        format_report,
        plot_agreement,
        read_inputs,
    )
    from sentiloc.core.io import atomic_write_json

    report, pairs = agreement(read_inputs(args.agreement, args.fps), args.match_s)
    print(format_report(report))
    if args.json:
        atomic_write_json(args.json, report)
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {plot_agreement(args.plot, pairs, args.match_s)}")
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    if args.agreement:
        return cmd_agreement(args)
    if not args.videos or args.out is None:
        raise SentilocError("sentiloc annotate needs VIDEOS... and --out LABELS.csv (or --agreement FILES...)")
    from sentiloc.apps.annotate.server import require_web_stack
    from sentiloc.apps.annotate.session import open_session, parse_classes

    require_web_stack()
    if args.checkpoint is not None:
        from sentiloc.features import require_video_stack

        require_video_stack("sentiloc annotate --checkpoint")
    classes = parse_classes(args.classes) if args.classes else None
    annotator = args.annotator or _default_annotator()
    if args.export is not None:
        session = open_session(args.videos, args.out, annotator, classes)
        try:
            path, count = session.export(args.export, args.annotator)
        finally:
            session.store.close()
        print(f"wrote {count} clicks to {path}")
        return 0
    from sentiloc.apps.annotate.server import listen, serve, url_of

    session = open_session(args.videos, args.out, annotator, classes, args.checkpoint, args.threshold,
                           device=args.device)
    try:
        sock = listen(args.host, args.port)
        print(f"annotating {len(session.videos)} videos into {args.out} as {annotator}: open {url_of(sock)}",
              flush=True)
        serve(session, sock)
    finally:
        session.store.close()
    return 0


def register(verbs: argparse._SubParsersAction) -> None:
    p = add_parser(verbs, "annotate", help="click sentiment segments in the browser (point labels), with model "
                   "suggestions; export them; measure agreement",
                   description="Serves a page on this machine where each video is annotated with one click per "
                   "sentiment segment (keys P/N). Every click is saved at once to --out (the build-dataset CSV "
                   "with annotator, kind, id and timestamp columns). See docs/annotate.md.")
    p.add_argument("videos", nargs="*", type=Path, help="video files or folders of videos")
    p.add_argument("--out", type=Path, metavar="LABELS.csv", help="the label file (CSV) to create or continue")
    p.add_argument("--annotator", metavar="NAME", help="whose clicks (default: your user name); a page opened with "
                   "?annotator=NAME clicks as NAME; with --export, only NAME's clicks")
    p.add_argument("--checkpoint", type=Path, metavar="CKPT", help="a trained model (RUN/best.pt): CAS curves, suggested clicks "
                   "and the most uncertain videos first")
    p.add_argument("--threshold", type=float, default=0.5, metavar="CAS", help="level the checkpoint's CAS (its postprocess.cas_source track) must reach at a suggestion (default 0.5)")
    p.add_argument("--classes", metavar="p,n", help="class names in the page's order (default: the checkpoint's, else p,n)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    add_device_flag(p, help_="where the checkpoint and the extractors run (default cpu)")
    p.add_argument("--export", type=Path, metavar="DIR", help="write DIR/point_gaussian/point_labels.csv (TSL-300, "
                   "native frames) from --out and exit")
    p.add_argument("--agreement", nargs="+", metavar="FILE", help="inter-annotator agreement of label files and "
                   "[NAME=]point_labels.csv files (TSL-300, with --fps) instead of serving")
    p.add_argument("--fps", type=Path, metavar="FPS_JSON", help="fps_dict.json for TSL-300 point files given to --agreement")
    p.add_argument("--match-s", type=positive_float, default=5.0, metavar="S", help="clicks at most this far apart (s) can "
                   "match (default 5)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="with --agreement: write the distance ECDF and match counts as PNG")
    p.add_argument("--json", type=Path, metavar="OUT", help="with --agreement: write the full report (per video and pair)")
    p.set_defaults(handler=cmd_annotate)

