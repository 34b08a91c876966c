"""Fixtures of the ``sentiloc annotate`` tests: three real encoded videos, a session, a running server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.features.videos import positive_video

pytest.importorskip("starlette", reason="the annotate extra (starlette, uvicorn) is not installed")
pytest.importorskip("uvicorn", reason="the annotate extra (starlette, uvicorn) is not installed")
pytest.importorskip("av", reason="the video extra (PyAV) is not installed")

#: Every video is this long (s); 25 fps, so one snippet of 16 frames is 0.64 s.
DURATION_S = 8.0
URL_LINE = re.compile(r"open (http://\S+/)")


@pytest.fixture(scope="session")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[float, float]]]:
    """clip0, clip1, clip2: 8 s at 25 fps, a face and a tone burst in a positive window (tests/features/videos.py).

    Returns their folder and ``{clip: (start_s, end_s)}`` of the windows.
    """
    folder = tmp_path_factory.mktemp("clips")
    windows = {}
    for seed in range(3):
        windows[f"clip{seed}"] = positive_video(folder / f"clip{seed}.mp4", seed=seed, duration_s=DURATION_S)[1]
    return folder, windows


@pytest.fixture(scope="session")
def clips(encoded) -> Path:
    return encoded[0]


@pytest.fixture
def session(clips: Path, tmp_path: Path) -> Iterator:
    from sentiloc.apps.annotate.session import open_session

    opened = open_session([clips], tmp_path / "labels.csv", "ana")
    yield opened
    opened.store.close()


@pytest.fixture
def client(session) -> Iterator:
    from starlette.testclient import TestClient

    from sentiloc.apps.annotate.server import create_app

    with TestClient(create_app(session), base_url="http://testserver") as test_client:
        yield test_client


@dataclass
class Server:
    """``sentiloc annotate`` running in a child process."""

    process: subprocess.Popen
    url: str
    out: Path

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_server(videos: Path, out: Path, *extra: str, timeout_s: float = 240.0) -> Server:
    """Start the verb on a free loopback port and wait for the URL it prints (it listens by then)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "sentiloc", "annotate", str(videos), "--out", str(out),
                                "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    deadline = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = URL_LINE.search(line)
        if match:
            return Server(process, match.group(1), out)
    process.kill()
    process.wait()
    raise AssertionError("the server did not start:\n" + "".join(lines))


@pytest.fixture
def server(clips: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(clips, tmp_path / "labels.csv", "--annotator", "ana")
    yield running
    running.kill()
