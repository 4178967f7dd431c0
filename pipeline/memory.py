"""glibc allocator settings that keep a run's peak RSS set by the chunk, not the AOI.

Both are no-ops off glibc (musl, macOS, Windows): other allocators keep their policy.
"""

from __future__ import annotations

import ctypes
import os
import sys

# Allocations at least this large get their own mmap and go back to the OS when freed.
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def bound_allocator() -> None:
    """Let freed chunk buffers go back to the OS.

    glibc raises its mmap threshold to the size of each large buffer freed (up to 32 MiB)
    and then serves chunk-sized arrays from per-thread heaps that it rarely returns:
    measured here, the 16x-area 6.6.1 run peaked 77 MiB higher than with a fixed 1 MiB
    threshold, for the same data in flight. A user's MALLOC_MMAP_THRESHOLD_ wins.
    """
    libc = _glibc()
    if libc is not None and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def return_freed_memory() -> None:
    """Give the heap a finished compute freed back to the OS (a few ms).

    After a large graph (tens of thousands of tasks at chunk 256) glibc keeps its freed
    small-object arenas mapped; what is drawn next (figures) would land on top of them
    and the run's peak would grow with the AOI after its compute was done.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
