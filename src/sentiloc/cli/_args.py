"""Argument types and flag groups shared by several verbs."""

from __future__ import annotations

import argparse

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


def add_parser(verbs: argparse._SubParsersAction, name: str, **kwargs) -> argparse.ArgumentParser:
    """A sub-command parser that, like the top-level one, never abbreviates long options."""
    return verbs.add_parser(name, allow_abbrev=False, **kwargs)


def add_config_flags(p: argparse.ArgumentParser, default: str | None = None, help_: str = "") -> None:
    """``--config`` and ``--set``, as ``train`` reads them."""
    p.add_argument("--config", default=default, help=help_ or "YAML config path or shipped name (fsenet_point, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. train.lr=3e-4 (repeatable)")


def add_device_flag(p: argparse.ArgumentParser, help_: str | None = None) -> None:
    p.add_argument("--device", default="cpu", choices=DEVICES, help=help_)
