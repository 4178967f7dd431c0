"""Per-pixel land-degradation (SDG 15.3.1) sub-indicators on a (y, x) block.

- Productivity state: a pixel's recent productivity binned against a
  baseline period's percentiles (``percentile_classes``). The caller computes
  the edges, so one kernel serves any number of classes.
- Productivity performance: a pixel's productivity relative to the q-th
  percentile of its land unit over the whole AOI is ``kernels.zonal``'s
  ``ratio_to_zone_value`` after the engine's exact quantile reduction
  (``pipeline.engine.ratio_to_zone_percentile``): a percentile taken inside
  one block would change with the chunking.
- Land-cover change: a (initial, final) -> code lookup through a 256 x 256
  table (``transition_lookup``), so any degradation matrix fits.
"""

import numba
import numpy as np

_NODATA_U8 = 255


@numba.njit(cache=True, parallel=True)
def percentile_classes(values, edges, out):
    """Class = number of edges <= value, per pixel, in place.

    values: float32 (y, x); edges: float64 (k,) non-decreasing, no NaN, k <=
    254 (ValueError otherwise); out: uint8 (y, x) in 0..k, 255 where value is
    NaN. Equals ``np.searchsorted(edges, values.astype(np.float64), 'right')``.
    A value equal to an edge falls in the class above it. Rows run in parallel.
    """
    ny, nx = values.shape
    k = edges.shape[0]
    if out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("percentile_classes: values and out must have the same (y, x) shape")
    if k > 254:
        raise ValueError("percentile_classes: at most 254 edges (255 is the NaN code)")
    for i in range(k):
        if np.isnan(edges[i]) or (i > 0 and edges[i] < edges[i - 1]):
            raise ValueError("percentile_classes: edges must be non-decreasing and not NaN")
    for y in numba.prange(ny):
        for x in range(nx):
            v = np.float64(values[y, x])
            if np.isnan(v):
                out[y, x] = _NODATA_U8
                continue
            # Binary search for the first edge > v.
            lo = 0
            hi = k
            while lo < hi:
                mid = (lo + hi) // 2
                if edges[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            out[y, x] = lo


@numba.njit(cache=True, parallel=True)
def transition_lookup(initial, final, matrix, out):
    """out = matrix[initial, final] per pixel, in place.

    initial, final: uint8 (y, x) class codes; matrix: uint8 (256, 256) lookup
    table (ValueError otherwise) mapping (initial, final) to a code, e.g. the
    UNCCD land-cover degradation matrix with nodata rows/columns filled by
    the caller; out: uint8 (y, x). Rows run in parallel.
    """
    ny, nx = initial.shape
    if final.shape[0] != ny or final.shape[1] != nx or out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("transition_lookup: initial, final and out must have the same (y, x) shape")
    if matrix.shape[0] != 256 or matrix.shape[1] != 256:
        raise ValueError("transition_lookup: matrix must have shape (256, 256)")
    for y in numba.prange(ny):
        for x in range(nx):
            out[y, x] = matrix[initial[y, x], final[y, x]]
