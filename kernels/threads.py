"""How many threads the ``parallel=True`` kernels of the calling thread use.

Numba's count is per calling thread, so two block tasks running side by side can each be
given their own share of the cores: tasks that already fill the cores run their kernels on one
thread each, instead of each starting a full OpenMP team (idle teams spin, taking CPU from
the other tasks and from other worker processes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba


def kernel_threads_limit() -> int:
    """The most threads a kernel can use in this process (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


@contextlib.contextmanager
def kernel_threads(n: int | None) -> Iterator[int]:
    """Within the block, this thread's kernels use ``n`` threads (clamped to 1..limit); None keeps numba's."""
    before = numba.get_num_threads()
    if n is None:
        yield before
        return
    n = max(1, min(int(n), kernel_threads_limit()))
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(before)
