"""Per-observation water masks and JRC-style yearly water classes.

Codes follow the JRC Global Surface Water yearly history: 0 no observation,
1 not water, 2 seasonal water, 3 permanent water. Per-observation masks use
255 for "no observation" so a yearly count can tell missing from dry.
"""

import numba
import numpy as np

from kernels.indices import _dn_shift, _integer_shift_ok

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


@numba.njit(cache=True)
def _reflectance(dn, k, factor, add):
    """Reflectance of one DN in float64 (``(DN + k) * factor + add``, as indices._dn_shift gives), clipped to 0."""
    return max((np.float64(dn) + k) * factor + add, 0.0)


@numba.njit(cache=True, parallel=True)
def classify_water_bands(green, red, nir, swir16, swir22, scale, offset, nodata, mndwi_threshold, ndvi_max,
                         awei_threshold, snow_ndsi, snow_nir, snow_green, out):
    """Multi-band water test on raw DNs, one fused pass per pixel, in place.

    green, red, nir, swir16, swir22: integer DN arrays (t, y, x), any integer
    dtype and strides. scale, offset: float64 (5, t), one row per band in that
    order, one column per date (processing baselines differ within a series).
    nodata: int DN. mndwi_threshold, ndvi_max, awei_threshold: floats.
    snow_ndsi, snow_nir, snow_green: a snow test for data without a snow mask
    (NaN snow_ndsi: none). out: uint8 (t, y, x) with the codes of classify_water.

    Reflectance is computed per band in float64 as in
    indices.normalized_difference (offset folded into DN units, negative
    reflectance clipped to 0). A pixel is water (1) iff all three hold:
    MNDWI = (green - swir16) / (green + swir16) > mndwi_threshold;
    NOT (NDVI = (nir - red) / (nir + red) > ndvi_max) (an undefined NDVI,
    nir + red == 0, does not veto); and
    AWEI_nsh = 4 (green - swir16) - (0.25 nir + 2.75 swir22) > awei_threshold
    (Feyisa et al. 2014, on reflectance 0..1). Else 0 (observed dry).
    255 (no observation) where any band's DN equals nodata, MNDWI is
    undefined (green + swir16 == 0), or the pixel is snow: NDSI (= MNDWI) >
    snow_ndsi and nir > snow_nir and green > snow_green (the SNOMAP test of
    Hall et al. 1995, 0.4 / 0.11 / 0.10: bright in green and near infrared,
    dark in SWIR; water is dark in the near infrared). Comparisons are in float64, or, when all
    five bands of a date share one scale and a small integer DN shift (Sentinel-2),
    in exact DN units (``_water_row_shared_scale``). Rows (t, y) run in parallel;
    pixels are independent.
    """
    nt, ny, nx = out.shape
    if (green.shape != out.shape or red.shape != out.shape or nir.shape != out.shape
            or swir16.shape != out.shape or swir22.shape != out.shape):
        raise ValueError("classify_water_bands: every band and out must have the same (t, y, x) shape")
    if scale.shape[0] != 5 or offset.shape[0] != 5 or scale.shape[1] != nt or offset.shape[1] != nt:
        raise ValueError("classify_water_bands: scale and offset must have shape (5, t)")
    small = max(green.itemsize, red.itemsize, nir.itemsize, swir16.itemsize, swir22.itemsize) <= 2  # DN < 2**16
    for row in numba.prange(nt * ny):
        t = row // ny
        y = row - t * ny
        kg, fg, cg = _dn_shift(scale[0, t], offset[0, t])
        kr, fr, cr = _dn_shift(scale[1, t], offset[1, t])
        kn, fn, cn = _dn_shift(scale[2, t], offset[2, t])
        k1, f1, c1 = _dn_shift(scale[3, t], offset[3, t])
        k2, f2, c2 = _dn_shift(scale[4, t], offset[4, t])
        if (small and fg == fr and fg == fn and fg == f1 and fg == f2 and _small_shift(kg, fg, cg)
                and _small_shift(kr, fr, cr) and _small_shift(kn, fn, cn) and _small_shift(k1, f1, c1)
                and _small_shift(k2, f2, c2)):
            _water_row_shared_scale(green[t, y], red[t, y], nir[t, y], swir16[t, y], swir22[t, y],
                                    kg, kr, kn, k1, k2, fg, nodata, mndwi_threshold, ndvi_max, awei_threshold,
                                    snow_ndsi, snow_nir, snow_green, out[t, y])
            continue
        for x in range(nx):  # no branch and no division: the loop vectorises
            dg = green[t, y, x]
            dr = red[t, y, x]
            dn = nir[t, y, x]
            d1 = swir16[t, y, x]
            d2 = swir22[t, y, x]
            missing = (dg == nodata) | (dr == nodata) | (dn == nodata) | (d1 == nodata) | (d2 == nodata)
            g = _reflectance(dg, kg, fg, cg)
            r = _reflectance(dr, kr, fr, cr)
            n = _reflectance(dn, kn, fn, cn)
            s1 = _reflectance(d1, k1, f1, c1)
            s2 = _reflectance(d2, k2, f2, c2)
            den = g + s1
            # x / den > t as x > t * den (den > 0 here); an NDVI with n + r == 0 is 0 > 0: no veto
            water = ((g - s1 > mndwi_threshold * den) & ~(n - r > ndvi_max * (n + r))
                     & (4.0 * (g - s1) - (0.25 * n + 2.75 * s2) > awei_threshold))
            snow = (g - s1 > snow_ndsi * den) & (n > snow_nir) & (g > snow_green)  # all false for NaN snow_ndsi
            # not den > 0: 0 (undefined MNDWI) or NaN from a NaN scale/offset
            out[t, y, x] = NODATA_U8 if missing | ~(den > 0.0) | snow else np.uint8(water)


@numba.njit(cache=True)
def _small_shift(k, factor, add):
    """``factor * (DN + k)`` with an integer |k| <= 2**16: with 16-bit DNs every AWEI term stays below 2**22."""
    return _integer_shift_ok(k, factor, add) and abs(k) <= 65536.0


@numba.njit(cache=True)
def _water_row_shared_scale(green, red, nir, swir16, swir22, kg, kr, kn, k1, k2, factor, nodata, mndwi_threshold,
                            ndvi_max, awei_threshold, snow_ndsi, snow_nir, snow_green, out):
    """One row of ``classify_water_bands`` when every band is ``factor * (DN + k)`` with integer k and DNs of at most
    16 bits (Sentinel-2): the rule in DN units, in float32, where every term is an exact integer (a DN + k below
    2**17; 4 AWEI_nsh / factor = 16 (G - S1) - N - 11 S2 below 2**22), so float32 loses nothing but the
    rounding of the MNDWI, NDVI and NDSI threshold products. AWEI and the snow test's reflectances: an integer m > c
    exactly when m > floor(c)."""
    zg, zr, zn, z1, z2 = np.float32(kg), np.float32(kr), np.float32(kn), np.float32(k1), np.float32(k2)
    tm, tv = np.float32(mndwi_threshold), np.float32(ndvi_max)
    ta = np.float32(np.floor(4.0 * awei_threshold / factor))
    ts = np.float32(snow_ndsi)  # NaN: no snow test
    tn, tg = np.float32(np.floor(snow_nir / factor)), np.float32(np.floor(snow_green / factor))
    zero = np.float32(0.0)
    for x in range(out.shape[0]):
        dg = green[x]
        dr = red[x]
        dn = nir[x]
        d1 = swir16[x]
        d2 = swir22[x]
        missing = (dg == nodata) | (dr == nodata) | (dn == nodata) | (d1 == nodata) | (d2 == nodata)
        g = max(np.float32(dg) + zg, zero)
        r = max(np.float32(dr) + zr, zero)
        n = max(np.float32(dn) + zn, zero)
        s1 = max(np.float32(d1) + z1, zero)
        s2 = max(np.float32(d2) + z2, zero)
        den = g + s1
        water = ((g - s1 > tm * den) & ~(n - r > tv * (n + r))
                 & (np.float32(16.0) * (g - s1) - n - np.float32(11.0) * s2 > ta))
        snow = (g - s1 > ts * den) & (n > tn) & (g > tg)
        out[x] = NODATA_U8 if missing | ~(den > zero) | snow else np.uint8(water)
