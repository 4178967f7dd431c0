"""Per-observation water masks and JRC-style yearly water classes.

Codes follow the JRC Global Surface Water yearly history: 0 no observation,
1 not water, 2 seasonal water, 3 permanent water. Per-observation masks use
255 for "no observation" so a yearly count can tell missing from dry.
"""

import numba
import numpy as np

NO_OBSERVATION = 0
NOT_WATER = 1
SEASONAL = 2
PERMANENT = 3
NODATA_U8 = 255


@numba.njit(cache=True, parallel=True)
def classify_water(index, threshold, out):
    """Threshold a water index stack into a uint8 mask, in place.

    index: float32 (t, y, x); threshold: float; out: uint8 (t, y, x).
    NaN -> 255 (no observation), index > threshold -> 1 (water), else 0.
    The threshold is first rounded to the index dtype, as NumPy's
    ``index > threshold`` does, so an index equal to float32(0.1) is not
    above a threshold of 0.1. Rows (t, y) run in parallel; pixels are
    independent.
    """
    nt, ny, nx = out.shape
    if index.shape != out.shape:
        raise ValueError("classify_water: index and out must have the same (t, y, x) shape")
    as_index_dtype = np.empty(1, index.dtype)
    as_index_dtype[0] = threshold
    limit = as_index_dtype[0]
    for row in numba.prange(nt * ny):
        t = row // ny
        y = row - t * ny
        for x in range(nx):
            v = index[t, y, x]
            if np.isnan(v):
                out[t, y, x] = NODATA_U8
            elif v > limit:
                out[t, y, x] = 1
            else:
                out[t, y, x] = 0


@numba.njit(cache=True, parallel=True)
def yearly_water_class(water, min_observations, permanent_fraction, out):
    """Collapse a year of water masks (t, y, x) into one class per pixel, in place.

    water: uint8 (t, y, x) from classify_water (255 = no observation, 1 = water,
    anything else = observed dry); min_observations: int; permanent_fraction:
    float; out: uint8 (y, x).
    With n valid observations and w of them water:
    n == 0 or n < min_observations -> NO_OBSERVATION (0); w == 0 -> NOT_WATER (1);
    w >= permanent_fraction * n (1e-12 tolerance, so 0.75 * 4 counts 3 as
    permanent despite rounding) -> PERMANENT (3); else SEASONAL (2).
    Rows y run in parallel, each streaming through t with per-row counters.
    """
    _nt, ny, nx = water.shape
    if out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("yearly_water_class: out must have shape water.shape[1:]")
    for y in numba.prange(ny):
        n = np.zeros(nx, np.int64)
        w = np.zeros(nx, np.int64)
        _count_row(water, y, n, w)
        for x in range(nx):
            n_obs = n[x]
            if n_obs == 0 or n_obs < min_observations:
                out[y, x] = NO_OBSERVATION
            elif w[x] == 0:
                out[y, x] = NOT_WATER
            elif w[x] * 1.0 >= permanent_fraction * n_obs - 1e-12:
                out[y, x] = PERMANENT
            else:
                out[y, x] = SEASONAL


@numba.njit(cache=True)
def _count_row(water, y, n, w):
    """Add each pixel's valid (n) and water (w) observation counts along t for row y."""
    for t in range(water.shape[0]):
        for x in range(water.shape[2]):
            v = water[t, y, x]
            if v != NODATA_U8:
                n[x] += 1
                if v == 1:
                    w[x] += 1


@numba.njit(cache=True, parallel=True)
def water_frequency(water, out):
    """Fraction of valid observations that saw water, per pixel, in place.

    water: uint8 (t, y, x) with 1 water, 255 no observation, anything else
    observed dry (as classify_water writes); out: float32 (y, x) =
    water count / valid count (divided in float64, then rounded), NaN where
    no valid observation. Rows run in parallel.
    """
    _nt, ny, nx = water.shape
    if out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("water_frequency: out must have shape water.shape[1:]")
    for y in numba.prange(ny):
        n = np.zeros(nx, np.int64)
        w = np.zeros(nx, np.int64)
        _count_row(water, y, n, w)
        for x in range(nx):
            if n[x] == 0:
                out[y, x] = np.nan
            else:
                out[y, x] = np.float64(w[x]) / np.float64(n[x])
