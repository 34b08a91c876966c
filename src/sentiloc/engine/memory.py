"""Keeping a long CPU training run's resident memory flat.

Every video has its own length, so every step allocates activation buffers of new sizes. Two
caches then grow over an epoch although the live tensors stay at ~0.4 GiB (measured on the
TSL-300-structured simulation, docs/RESULTS.md):

* glibc's heap keeps freed chunks of all those sizes and hands little back to the OS;
  :func:`release_free_memory` returns the free pages after each optimiser step;
* oneDNN caches the JIT-compiled kernels of every matrix shape it has seen (1,024 by default);
  :func:`limit_kernel_cache` bounds that cache before the first kernel is built. Shapes rarely
  repeat across videos, so a small cache costs no measurable speed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import resource

KERNEL_CACHE_ENV = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
KERNEL_CACHE_CAPACITY = 32


def peak_rss_gib() -> float:
    """This process's peak resident memory so far, in GiB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def limit_kernel_cache(capacity: int = KERNEL_CACHE_CAPACITY) -> None:
    """Bound oneDNN's kernel cache unless the user chose a size (read when oneDNN starts)."""
    os.environ.setdefault(KERNEL_CACHE_ENV, str(capacity))


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    """glibc's ``malloc_trim``, or None on other C libraries (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Give the C heap's free pages back to the OS (no-op where glibc is not the allocator)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
