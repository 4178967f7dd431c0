"""Per-pixel NaN-aware medians and percentiles over a (t, y, x) stack.

``np.nanmedian`` (what xarray's ``.median()`` calls) masks, partitions and
copies the whole cube; on a (20, 2048, 2048) block it was measured ~7x slower
than a sort-based median with identical output. Here each row gathers its
non-NaN values into one per-row buffer (allocated once per row, not per
pixel), sorts each pixel's few values in place and reads the order
statistics. The results follow NumPy's definitions exactly: the median is the
mean of the two middle values, computed in float64 as ``np.nanmedian`` of the
float64 values does; percentiles use NumPy's default 'linear' method
(Hyndman & Fan type 7) with the same index, weight and interpolation
arithmetic as ``np.nanpercentile``. The sort and percentile helpers are
shared with the time-series and land-cover kernels.
"""

import numba
import numpy as np

# At or below this many values insertion sort beats a general sort.
_INSERTION_SORT_MAX = 32


@numba.njit(cache=True)
def _sift_down(buf, root, end):
    """Restore the max-heap property of buf[root:end] below root."""
    v = buf[root]
    while True:
        child = 2 * root + 1
        if child >= end:
            break
        if child + 1 < end and buf[child] < buf[child + 1]:
            child += 1
        if not v < buf[child]:
            break
        buf[root] = buf[child]
        root = child
    buf[root] = v


@numba.njit(cache=True)
def _sort_prefix(buf, n):
    """Sort buf[:n] ascending in place (values must not be NaN).

    Insertion sort for the usual short series, heapsort (O(n log n), no
    recursion, no allocation, quick to compile) beyond that.
    """
    if n <= _INSERTION_SORT_MAX:
        for i in range(1, n):
            v = buf[i]
            j = i - 1
            while j >= 0 and buf[j] > v:
                buf[j + 1] = buf[j]
                j -= 1
            buf[j + 1] = v
        return
    for root in range(n // 2 - 1, -1, -1):
        _sift_down(buf, root, n)
    for end in range(n - 1, 0, -1):
        v = buf[0]
        buf[0] = buf[end]
        buf[end] = v
        _sift_down(buf, 0, end)


@numba.njit(cache=True)
def _sorted_median(s, n):
    """Median of the sorted s[:n] (n >= 1) in float64: the middle value or the mean of the two."""
    h = n // 2
    if n % 2 == 1:
        return np.float64(s[h])
    return (np.float64(s[h - 1]) + np.float64(s[h])) / 2.0


@numba.njit(cache=True)
def _sorted_percentile(s, n, q):
    """q-th percentile (0..100) of the sorted s[:n] (n >= 1), NumPy 'linear' method.

    Mirrors numpy's ``_quantile``: virtual index ``(n - 1) * (q / 100)``;
    at or beyond the last index both neighbours are the last value with weight
    ``v + 1`` (NumPy sets the previous index to -1); the interpolation is
    ``a + (b - a) * g`` for g < 0.5 and ``b - (b - a) * (1 - g)`` otherwise.
    """
    v = (n - 1) * (q / 100.0)
    if v >= n - 1:
        lo = n - 1
        hi = n - 1
        g = v + 1.0
    else:
        f = np.floor(v)
        lo = np.int64(f)
        hi = lo + 1
        g = v - f
    a = np.float64(s[lo])
    b = np.float64(s[hi])
    d = b - a
    if g >= 0.5:
        return b - d * (1.0 - g)
    return a + d * g


@numba.njit(cache=True)
def _check_percentiles(q):
    """True when every q is within [0, 100] (NaN fails)."""
    for i in range(q.shape[0]):
        if not (q[i] >= 0.0 and q[i] <= 100.0):
            return False
    return True


@numba.njit(cache=True)
def _gather_row(values, y, buf, count):
    """Copy the non-NaN values of row y into buf[x, :count[x]] in time order."""
    nt = values.shape[0]
    nx = values.shape[2]
    for x in range(nx):
        count[x] = 0
    for t in range(nt):
        for x in range(nx):
            v = values[t, y, x]
            if not np.isnan(v):
                buf[x, count[x]] = v
                count[x] += 1


@numba.njit(cache=True, parallel=True)
def nan_median(values, out):
    """Per-pixel median over t ignoring NaN, in place.

    values: float32 (or float64) (t, y, x); out: float32 (y, x).
    Equals ``np.nanmedian(values.astype(np.float64), axis=0)`` rounded to
    float32; an all-NaN pixel (or t == 0) gives NaN. Rows run in parallel,
    each with one (x, t) scratch buffer; pixels are independent, so results
    do not depend on the thread count.
    """
    nt, ny, nx = values.shape
    if out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("nan_median: out must have shape values.shape[1:]")
    for y in numba.prange(ny):
        buf = np.empty((nx, nt), values.dtype)
        count = np.empty(nx, np.int64)
        _gather_row(values, y, buf, count)
        for x in range(nx):
            n = count[x]
            if n == 0:
                out[y, x] = np.nan
            else:
                s = buf[x]
                _sort_prefix(s, n)
                out[y, x] = _sorted_median(s, n)


@numba.njit(cache=True, parallel=True)
def nan_percentiles(values, q, out):
    """Per-pixel percentiles over t ignoring NaN, in place.

    values: float32 (or float64) (t, y, x); q: float64 (k,) percentiles in
    [0, 100] (ValueError otherwise); out: float32 (k, y, x).
    out[i] equals ``np.nanpercentile(values.astype(np.float64), q[i], axis=0)``
    (default 'linear' method) rounded to float32; an all-NaN pixel (or t == 0)
    gives NaN. Each pixel is sorted once for all k percentiles. Rows run in
    parallel; pixels are independent.
    """
    nt, ny, nx = values.shape
    nq = q.shape[0]
    if out.shape[0] != nq or out.shape[1] != ny or out.shape[2] != nx:
        raise ValueError("nan_percentiles: out must have shape (len(q),) + values.shape[1:]")
    if not _check_percentiles(q):
        raise ValueError("nan_percentiles: percentiles must be within [0, 100]")
    for y in numba.prange(ny):
        buf = np.empty((nx, nt), values.dtype)
        count = np.empty(nx, np.int64)
        _gather_row(values, y, buf, count)
        for x in range(nx):
            n = count[x]
            if n == 0:
                for i in range(nq):
                    out[i, y, x] = np.nan
            else:
                s = buf[x]
                _sort_prefix(s, n)
                for i in range(nq):
                    out[i, y, x] = _sorted_percentile(s, n, q[i])
