"""Per-pixel land-degradation (SDG 15.3.1) sub-indicators on a (y, x) block.

- Productivity state: a pixel's recent productivity binned against a
  baseline period's percentiles (``percentile_classes``). The caller computes
  the edges, so one kernel serves any number of classes.
- Productivity performance: a pixel's productivity relative to the q-th
  percentile of its land unit (``ratio_to_zone_percentile``). Zone
  percentiles use NumPy's default 'linear' definition exactly; each zone's
  values are grouped by a counting sort (one float64 buffer, 8 B per valid
  pixel) and sorted in place, zones in parallel.
- Land-cover change: a (initial, final) -> code lookup through a 256 x 256
  table (``transition_lookup``), so any degradation matrix fits.
"""

import numba
import numpy as np

from kernels.composites import _sort_prefix, _sorted_percentile

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
def ratio_to_zone_percentile(values, zones, n_zones, q, out):
    """out = value / (q-th percentile of the value's zone), in place.

    values: float32 (y, x); zones: int32 (y, x), negative = no zone, otherwise
    < n_zones (ValueError if not); n_zones: int; q: float in [0, 100];
    out: float32 (y, x).
    The zone percentile is ``np.percentile`` ('linear') of the zone's non-NaN
    values in float64; the ratio is divided in float64 and rounded to float32.
    NaN where the value is NaN, the zone is negative, or the zone percentile
    is 0 or NaN (a zone without valid values).
    Pass 1 (serial, raster order) counts valid values per zone; pass 2
    scatters them into one buffer grouped by zone; zones are then sorted in
    parallel, and rows divided in parallel. Deterministic for any thread count.
    """
    ny, nx = values.shape
    if zones.shape[0] != ny or zones.shape[1] != nx or out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("ratio_to_zone_percentile: values, zones and out must have the same (y, x) shape")
    if n_zones < 0:
        raise ValueError("ratio_to_zone_percentile: n_zones must be >= 0")
    if not (q >= 0.0 and q <= 100.0):
        raise ValueError("ratio_to_zone_percentile: q must be within [0, 100]")
    start = np.zeros(n_zones + 1, np.int64)
    bad_zone = False
    for y in range(ny):
        for x in range(nx):
            z = zones[y, x]
            if z >= n_zones:
                bad_zone = True
            elif z >= 0 and not np.isnan(values[y, x]):
                start[z + 1] += 1
    if bad_zone:
        raise ValueError("ratio_to_zone_percentile: zone ids must be < n_zones")
    for z in range(n_zones):
        start[z + 1] += start[z]
    fill = start[:n_zones].copy()
    grouped = np.empty(start[n_zones], np.float64)
    for y in range(ny):
        for x in range(nx):
            z = zones[y, x]
            v = values[y, x]
            if z >= 0 and not np.isnan(v):
                grouped[fill[z]] = v
                fill[z] += 1
    zone_q = np.empty(n_zones, np.float64)
    for z in numba.prange(n_zones):
        n = start[z + 1] - start[z]
        if n == 0:
            zone_q[z] = np.nan
        else:
            seg = grouped[start[z] : start[z + 1]]
            _sort_prefix(seg, n)
            zone_q[z] = _sorted_percentile(seg, n, q)
    for y in numba.prange(ny):
        for x in range(nx):
            z = zones[y, x]
            v = values[y, x]
            if z < 0 or np.isnan(v):
                out[y, x] = np.nan
                continue
            p = zone_q[z]
            if p == 0.0 or np.isnan(p):
                out[y, x] = np.nan
            else:
                out[y, x] = np.float64(v) / p


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
