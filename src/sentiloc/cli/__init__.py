"""The ``sentiloc`` command line: verbs only, no logic.

Each verb module registers its parser(s) and hands over to one function of the package that
does the work. Results go to stdout; the library's log messages and progress bars go to stderr,
at the level ``-q``/``-v`` choose. User errors (:class:`SentilocError`) are printed as one line
and exit with status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sentiloc import __version__
from sentiloc.cli import (
    annotate,
    benchmark,
    crossval,
    data,
    demo,
    predict,
    study,
    train,
    video,
)
from sentiloc.cli._args import add_verbosity_flags
from sentiloc.core.errors import SentilocError
from sentiloc.core.progress import configure_logging

#: Verb modules in the order ``--help`` lists them: the workflow first, then research tools.
VERB_MODULES = (data, train, crossval, predict, video, annotate, demo, benchmark, study)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentiloc", allow_abbrev=False,
                                     description="Temporal sentiment localization in untrimmed videos.")
    parser.add_argument("--version", action="version", version=f"sentiloc {__version__}")
    add_verbosity_flags(parser, top_level=True)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in VERB_MODULES:
        module.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return args.handler(args)
    except SentilocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
