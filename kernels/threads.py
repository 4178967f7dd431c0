"""How many threads the ``parallel=True`` kernels of the calling thread use.

Numba's count is per calling thread, so two block tasks running side by side can each be
given their own share of the cores: tasks that already fill the cores run their kernels on one
thread each, instead of each starting a full OpenMP team (idle teams spin, taking CPU from
the other tasks and from other worker processes). Not a kernel: not exported by ``kernels``.
"""

import numba


def kernel_threads_limit() -> int:
    """The most threads a kernel can use in this process (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


class KernelThreads:
    """``with KernelThreads(n):`` this thread's kernels use ``n`` threads (clamped to 1..limit), then
    the count before; None keeps numba's."""

    def __init__(self, n: int | None):
        self.n = None if n is None else max(1, min(int(n), kernel_threads_limit()))
        self.before = 0

    def __enter__(self) -> int:
        self.before = numba.get_num_threads()
        if self.n is None:
            return self.before
        numba.set_num_threads(self.n)
        return self.n

    def __exit__(self, *exc: object) -> None:
        if self.n is not None:
            numba.set_num_threads(self.before)
