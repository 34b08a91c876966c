"""Run the sentiloc CLI until a chosen point, then stall there, so that a test can SIGKILL it exactly there.

    python stall.py step=N MARKER -- ARGS...       after the N-th optimiser step of this process
    python stall.py write=NAME:K MARKER -- ARGS... at the K-th write of a file named NAME, once its temp
                                                   file is complete and before it is renamed into place

At that point MARKER is created and the process sleeps. The hooks live here, in the test's own
wrapper process: the library has no test switch. Optimiser steps are seen through torch's global
step hook, writes through ``os.replace`` (the rename of every atomic write). Tests start it with
:func:`kill_when_stalled`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from sentiloc.cli import main


def kill_when_stalled(point: str, marker: Path, cli_args: list[str], log: Path | None = None,
                      timeout_s: float = 120) -> None:
    """Run the CLI with ``cli_args`` under this wrapper, stalling at ``point``, and SIGKILL it there.

    Fails if the run ends, or does not reach ``point`` within ``timeout_s``, before it stalls; its
    stderr goes to ``log`` (and into the failure message) when one is given.
    """
    with open(log or os.devnull, "w") as stderr:
        proc = subprocess.Popen([sys.executable, __file__, point, str(marker), "--", *cli_args],
                                stdout=subprocess.DEVNULL, stderr=stderr)
    def said() -> str:
        return log.read_text() if log else ""

    try:
        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            assert proc.poll() is None, f"the run ended before it stalled at {point}: {said()}"
            assert time.monotonic() < deadline, f"no stall at {point} within {timeout_s} s: {said()}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def stall(marker: Path) -> None:
    marker.touch()
    time.sleep(600)


def after_step(n: int, marker: Path) -> None:
    steps = [0]

    def hook(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        steps[0] += 1
        if steps[0] == n:
            stall(marker)

    register_optimizer_step_post_hook(hook)


def before_rename(name: str, k: int, marker: Path) -> None:
    real_replace = os.replace
    seen = [0]

    def replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
        if Path(dst).name == name:
            seen[0] += 1
            if seen[0] == k:
                stall(marker)
        real_replace(src, dst)

    os.replace = replace


if __name__ == "__main__":
    point, marker, separator, *args = sys.argv[1:]
    assert separator == "--", __doc__
    kind, _, value = point.partition("=")
    if kind == "step":
        after_step(int(value), Path(marker))
    else:
        name, _, k = value.rpartition(":")
        before_rename(name, int(k), Path(marker))
    raise SystemExit(main(args))
