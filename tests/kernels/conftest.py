"""Shared helpers for the kernel tests."""

import numba
import pytest


@pytest.fixture
def with_threads():
    """Call ``fn()`` under a given Numba thread count, restoring the old count after."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 Numba threads to compare thread counts")

    def run(n_threads, fn):
        old = numba.get_num_threads()
        numba.set_num_threads(n_threads)
        try:
            return fn()
        finally:
            numba.set_num_threads(old)

    return run
