"""Resuming extraction: skip by content fingerprint, a file as ``--out``, and a run killed mid-way then rerun."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sentiloc.cli import main
from sentiloc.core.io import load_npy
from sentiloc.data.simulate.video import SyntheticVideo, write_video
from sentiloc.features.batch import extract_videos
from sentiloc.features.extract import FINGERPRINT_RULE, meta_path, source_fingerprint, stream_path
from sentiloc.features.settings import ExtractSettings

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


def padded(path: Path, size: int) -> Path:
    """Grow an MP4 to ``size`` bytes with a trailing ``free`` box (a box every demuxer skips)."""
    extra = size - path.stat().st_size
    assert extra >= 8
    with path.open("ab") as handle:
        handle.write(extra.to_bytes(4, "big") + b"free" + bytes(extra - 8))
    return path


def test_the_fingerprint_is_sha256_of_the_size_and_both_ends(tmp_path):
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    # size 3 as 8 little-endian bytes, then the first MiB ("abc"), then the last MiB ("abc" again)
    expected = hashlib.sha256(b"\x03\x00\x00\x00\x00\x00\x00\x00" + b"abc" + b"abc").hexdigest()
    assert source_fingerprint(small) == f"{FINGERPRINT_RULE}:{expected}"

    big = tmp_path / "big.bin"
    data = bytearray(np.random.default_rng(0).integers(0, 256, 3 * MiB, dtype=np.uint8).tobytes())
    big.write_bytes(data)
    ends = (3 * MiB).to_bytes(8, "little") + bytes(data[:MiB]) + bytes(data[-MiB:])
    assert source_fingerprint(big) == f"{FINGERPRINT_RULE}:{hashlib.sha256(ends).hexdigest()}"
    before = source_fingerprint(big)
    for position, changes in ((0, True), (3 * MiB - 1, True), (MiB + 5, False)):  # the middle MiB is not read
        changed = bytearray(data)
        changed[position] ^= 0xFF
        big.write_bytes(changed)
        assert (source_fingerprint(big) != before) is changes, position


def test_a_different_clip_of_the_same_size_is_extracted_again(tmp_path):
    first = write_video(tmp_path / "first.mp4", SyntheticVideo(duration_s=1.5, width=160, height=120, seed=1))
    second = write_video(tmp_path / "second.mp4", SyntheticVideo(duration_s=1.5, width=160, height=120, seed=2,
                                                                 face_windows=[(0.0, 1.5)]))
    size = max(first.stat().st_size, second.stat().st_size) + 64
    padded(first, size), padded(second, size)
    videos, out = tmp_path / "videos", tmp_path / "out"
    videos.mkdir()
    clip = videos / "clip.mp4"
    clip.write_bytes(first.read_bytes())
    assert extract_videos([clip], out, ExtractSettings(), progress=False).extracted == ["clip"]
    rgb_first = np.load(stream_path(out, "rgb", "clip"))

    clip.write_bytes(second.read_bytes())  # another clip, same name, same size
    stale = [stream_path(out, "rgb", "clip").parent / ".clip.npy.0123abcd.tmp", out / "meta" / ".clip.json.ab12.tmp"]
    for path in stale:  # what a run killed while writing would leave
        path.write_bytes(b"half")
    report = extract_videos([clip], out, ExtractSettings(), progress=False)
    assert report.extracted == ["clip"] and not report.skipped
    meta = json.loads(meta_path(out, "clip").read_text())
    assert meta["source_fingerprint"] == source_fingerprint(second) and meta["source_bytes"] == size
    assert not np.array_equal(np.load(stream_path(out, "rgb", "clip")), rgb_first)
    assert not any(path.exists() for path in stale)

    copy = tmp_path / "copy" / "clip.mp4"  # the same content elsewhere, with a new mtime: still done
    copy.parent.mkdir()
    copy.write_bytes(second.read_bytes())
    assert extract_videos([copy], out, ExtractSettings(), progress=False).skipped == ["clip"]


def test_an_out_that_is_a_file_fails_before_anything_runs(tmp_path, capsys):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"not decoded: the check comes first")
    blocker = tmp_path / "taken.txt"
    blocker.write_text("keep me")
    for out, where in ((blocker, "is"), (blocker / "sub" / "dir", f"lies inside {blocker}, which is")):
        assert main(["extract", str(video), "--out", str(out)]) == 1
        assert capsys.readouterr().err.splitlines() == [
            f"error: {out}: the output folder {where} a file, not a folder; choose another --out"]
    assert blocker.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "taken.txt"]


def leftovers(folder: Path) -> list[Path]:
    """Temp files of interrupted atomic writes (``.name.token.tmp``), anywhere under ``folder``."""
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.mark.slow  # ~20-30 s on 2 shared cores: a cold subprocess, then the rerun
def test_a_killed_run_resumes_without_redoing_finished_videos(tmp_path):
    videos, out = tmp_path / "videos", tmp_path / "out"
    for seed in range(4):
        write_video(videos / f"clip{seed}.mp4", SyntheticVideo(duration_s=3.0, width=160, height=120, seed=seed,
                                                               face_windows=[(1.0, 2.0)]))
    command = [sys.executable, "-m", "sentiloc", "extract", str(videos), "--out", str(out), "-q"]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((out / "meta").glob("*.json")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL  # killed, not finished
    finished = sorted(p.stem for p in (out / "meta").glob("*.json"))
    assert 1 <= len(finished) < 4
    kept = {p: p.stat().st_mtime_ns for v in finished for p in (meta_path(out, v), *(
        stream_path(out, s, v) for s in ("rgb", "logmfcc", "img")))}

    assert main(["extract", str(videos), "--out", str(out), "-q"]) == 0
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished videos were not redone
    assert sorted(p.stem for p in (out / "meta").glob("*.json")) == [f"clip{seed}" for seed in range(4)]
    assert leftovers(out) == []
    for video in range(4):
        n_snippets = json.loads(meta_path(out, f"clip{video}").read_text())["n_snippets"]
        assert all(load_npy(stream_path(out, s, f"clip{video}")).shape[0] == n_snippets
                   for s in ("rgb", "logmfcc", "img"))  # whole files, none truncated
