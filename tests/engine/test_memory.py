"""Resident-memory helpers of the training engine."""

from __future__ import annotations

import os

import pytest

from sentiloc.engine import memory


def test_kernel_cache_limit_respects_the_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memory.KERNEL_CACHE_ENV, raising=False)
    memory.limit_kernel_cache(7)
    assert os.environ[memory.KERNEL_CACHE_ENV] == "7"
    monkeypatch.setenv(memory.KERNEL_CACHE_ENV, "512")
    memory.limit_kernel_cache()
    assert os.environ[memory.KERNEL_CACHE_ENV] == "512"


def test_release_free_memory_returns_pages_to_the_os() -> None:
    trim = memory._malloc_trim()
    if trim is None:
        pytest.skip("not glibc: release_free_memory is a no-op here")
    blocks = [bytearray(64 * 1024) for _ in range(4096)]  # 256 MiB of small heap chunks
    del blocks[::2]  # free half: holes the heap keeps unless trimmed
    before = _rss_bytes()
    memory.release_free_memory()
    assert _rss_bytes() < before - 32 * 2**20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_peak_rss_is_this_process_s_high_water_mark_in_gib() -> None:
    from sentiloc.engine.memory import peak_rss_gib

    before = peak_rss_gib()
    block = bytearray(64 * 2**20)  # touch 64 MiB
    block[:: 4096] = b"x" * len(block[:: 4096])
    assert 0.0 < before <= peak_rss_gib() < 1024.0
