"""No lost work: annotators click concurrently, the server is killed (SIGKILL), every acknowledged click is on disk.

The load is bounded: 8 annotators on loopback, each aiming at 20 clicks/s (a new click 50 ms after
the previous one was sent, or at once when its answer came later), for 5 s in the default suite
and 60 s in the slow one; the server is killed while they are still clicking.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

from sentiloc.apps.annotate.store import LabelStore, read_label_file
from sentiloc.features.build import read_annotation_csv
from tests.apps.annotate.conftest import DURATION_S, start_server

ANNOTATORS = 8
RATE_PER_S = 20.0


def annotate_until(url: str, annotator: str, stop: threading.Event, acked: list, latencies: list, seed: int) -> None:
    """Post clicks at ``RATE_PER_S`` until ``stop`` (or the server is gone); record the acknowledged ids."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json", "Origin": f"{parts.scheme}://{parts.netloc}"}
    rng = np.random.default_rng(seed)
    next_at = time.monotonic()
    while not stop.is_set():
        body = {"annotator": annotator, "video": int(rng.integers(3)), "label": "pn"[int(rng.integers(2))],
                "time_s": round(float(rng.uniform(0, DURATION_S)), 3)}
        sent = time.monotonic()
        try:
            connection.request("POST", "/api/marks", json.dumps(body), headers)
            answer = connection.getresponse()
            payload = answer.read()
        except (OSError, http.client.HTTPException):
            return  # the server was killed
        if answer.status == 201:
            acked.append(json.loads(payload)["mark"]["id"])
            latencies.append(time.monotonic() - sent)
        next_at = max(next_at + 1 / RATE_PER_S, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))


def load_then_kill(clips, tmp_path, seconds: float) -> dict:
    server = start_server(clips, tmp_path / "labels.csv", "--annotator", "a0")
    stop = threading.Event()
    acked: list[list[str]] = [[] for _ in range(ANNOTATORS)]
    latencies: list[float] = []
    threads = [threading.Thread(target=annotate_until, args=(server.url, f"a{k}", stop, acked[k], latencies, k))
               for k in range(ANNOTATORS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    server.kill()  # SIGKILL while the annotators are still clicking
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    marks, _ = read_label_file(server.out)  # parses, or the test fails here
    on_disk = {m.id: m for m in marks}
    every = [mark_id for ids in acked for mark_id in ids]
    missing = [mark_id for mark_id in every if mark_id not in on_disk]
    assert not missing, f"{len(missing)} acknowledged clicks are not on disk"
    for k, ids in enumerate(acked):
        assert all(on_disk[mark_id].annotator == f"a{k}" for mark_id in ids)
    assert sum(len(a.clicks) for a in read_annotation_csv(server.out).values()) == len(marks)
    LabelStore(server.out).close()  # the killed server's lock is gone with it: the file opens again
    stats = {"acknowledged": len(every), "on_disk": len(marks), "seconds": seconds,
             "acked_per_s": len(every) / seconds, "median_ack_ms": 1000 * float(np.median(latencies)),
             "p99_ack_ms": 1000 * float(np.quantile(latencies, 0.99))}
    print(f"\nload test: {stats}")
    return stats


def test_killed_server_loses_no_acknowledged_click(clips, tmp_path) -> None:
    stats = load_then_kill(clips, tmp_path, seconds=5.0)
    assert stats["acknowledged"] > 50, "the server must keep up with a modest load"


@pytest.mark.slow
def test_killed_server_loses_no_acknowledged_click_after_a_minute_of_load(clips, tmp_path) -> None:
    stats = load_then_kill(clips, tmp_path, seconds=60.0)
    assert stats["acknowledged"] > 1000
