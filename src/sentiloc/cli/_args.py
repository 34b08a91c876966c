"""Argument types and flag groups shared by several verbs."""

from __future__ import annotations

import argparse
import logging

DEVICES = ["cpu", "cuda"]


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def add_verbosity_flags(p: argparse.ArgumentParser, top_level: bool = False) -> None:
    """``-q``/``-v``: how much the library logs to stderr (results still go to stdout).

    On the top-level parser they set the default; on a verb's parser they are accepted after the
    verb too (``sentiloc train ... -q``) and leave the top-level choice alone when absent.
    """
    default = logging.INFO if top_level else argparse.SUPPRESS
    group = p.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="log_level", action="store_const", const=logging.WARNING, default=default,
                       help="only warnings and errors on stderr: no progress messages or bars")
    group.add_argument("-v", "--verbose", dest="log_level", action="store_const", const=logging.DEBUG, default=default,
                       help="also debug messages")


def add_parser(verbs: argparse._SubParsersAction, name: str, **kwargs) -> argparse.ArgumentParser:
    """A sub-command parser that, like the top-level one, never abbreviates long options and takes ``-q``/``-v``."""
    p = verbs.add_parser(name, allow_abbrev=False, **kwargs)
    add_verbosity_flags(p)
    return p


def add_config_flags(p: argparse.ArgumentParser, default: str | None = None, help_: str = "") -> None:
    """``--config`` and ``--set``, as ``train`` reads them."""
    p.add_argument("--config", default=default, help=help_ or "YAML config path or shipped name (fsenet_point, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. train.lr=3e-4 (repeatable)")


def add_device_flag(p: argparse.ArgumentParser, help_: str = "where the model runs (default cpu)") -> None:
    p.add_argument("--device", default="cpu", choices=DEVICES, help=help_)
