"""Per-class area totals that callers accumulate block by block."""

import numba
import numpy as np

# Rows per partial sum. Fixed (not derived from the thread count) so the
# summation order, and therefore every bit of the result, never changes.
_ROWS_PER_CHUNK = 64


@numba.njit(cache=True, parallel=True)
def class_area_sums(classes, pixel_area, out):
    """ADD the area of every pixel to out[class]; out is not zeroed.

    classes: uint8 (y, x); pixel_area: float64 (y, x) in m^2; out: float64
    (256,), accumulated in place so callers can sum over blocks.
    Chunks of 64 rows are summed in parallel into private partials (raster
    order within a chunk), then the partials are added to out serially in
    chunk order: bit-for-bit identical for any thread count.
    """
    ny, nx = classes.shape
    if pixel_area.shape != classes.shape:
        raise ValueError("class_area_sums: classes and pixel_area must have the same (y, x) shape")
    if out.shape[0] != 256:
        raise ValueError("class_area_sums: out must have shape (256,)")
    n_chunks = (ny + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK
    partial = np.zeros((n_chunks, 256), np.float64)
    for c in numba.prange(n_chunks):
        y0 = c * _ROWS_PER_CHUNK
        y1 = min(y0 + _ROWS_PER_CHUNK, ny)
        for y in range(y0, y1):
            for x in range(nx):
                partial[c, classes[y, x]] += pixel_area[y, x]
    for k in range(256):
        s = 0.0
        for c in range(n_chunks):
            s += partial[c, k]
        out[k] += s
