"""Spectral indices computed from raw digital numbers (DN).

Sentinel-2 L2A items from processing baseline 04.00 carry a -1000 DN offset
(reflectance = DN * 0.0001 - 0.1). Evaluated naively in float32, ``DN*scale +
offset`` cancels catastrophically near DN 1000 (errors up to 0.3 and spurious
NaN in the index). The kernel therefore folds the offset into DN units first:
``k = offset / scale``, snapped to the nearest integer when it is one up to
float64 noise, so ``DN + k`` is exact and only one rounding (``* scale``)
remains.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def _dn_shift(scale, offset):
    """Return (shift, factor, add) with reflectance == (DN + shift) * factor + add.

    Normally ``shift = offset / scale`` (snapped to an integer when within
    1e-9 * max(1, |shift|) of one), ``factor = scale`` and ``add = 0``. When
    the quotient is not finite (scale 0, inf or NaN inputs) it falls back to
    the direct form ``DN * scale + offset``.
    """
    k = offset / scale
    if not np.isfinite(k):
        return 0.0, scale, offset
    r = np.round(k)
    if abs(k - r) <= 1e-9 * max(1.0, abs(k)):
        k = r
    return k, scale, 0.0


@numba.njit(cache=True, parallel=True)
def normalized_difference(a, b, a_scale, a_offset, b_scale, b_offset, nodata, out):
    """out = (rho_a - rho_b) / (rho_a + rho_b) from raw DNs, without cancellation.

    a, b: integer arrays (t, y, x) of raw DNs (any integer dtype, any strides).
    a_scale, a_offset, b_scale, b_offset: float64 arrays (t,), one per time step
    (processing baselines differ within a series). nodata: int DN value.
    out: float32 (t, y, x), written in place; returns None.

    Rules: a DN equal to ``nodata`` in either band -> NaN. Reflectance is
    ``(DN + k) * scale`` in float64 with ``k = offset / scale`` (see module
    docstring). Negative reflectance (dark water once the -0.1 offset applies)
    is CLIPPED TO 0, so the index is always within [-1, 1]; if both
    reflectances are then 0 the index is undefined -> NaN. Rows (t, y) run in
    parallel; every pixel is independent, so results do not depend on the
    thread count.
    """
    nt, ny, nx = out.shape
    if a.shape != out.shape or b.shape != out.shape:
        raise ValueError("normalized_difference: a, b and out must have the same (t, y, x) shape")
    if (
        a_scale.shape[0] != nt
        or a_offset.shape[0] != nt
        or b_scale.shape[0] != nt
        or b_offset.shape[0] != nt
    ):
        raise ValueError("normalized_difference: scale/offset arrays must have length t")
    nan = np.float32(np.nan)
    for row in numba.prange(nt * ny):
        t = row // ny
        y = row - t * ny
        ka, fa, ca = _dn_shift(a_scale[t], a_offset[t])
        kb, fb, cb = _dn_shift(b_scale[t], b_offset[t])
        for x in range(nx):
            da = a[t, y, x]
            db = b[t, y, x]
            if da == nodata or db == nodata:
                out[t, y, x] = nan
                continue
            ra = (np.float64(da) + ka) * fa + ca
            rb = (np.float64(db) + kb) * fb + cb
            if ra < 0.0:
                ra = 0.0
            if rb < 0.0:
                rb = 0.0
            den = ra + rb
            if den == 0.0:
                out[t, y, x] = nan
            else:
                out[t, y, x] = np.float32((ra - rb) / den)
