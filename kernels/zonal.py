"""Per-label statistics of one block: the partials that the engine merges across blocks.

Labels are int32 (y, x) with values in 0..n_labels-1; a negative label is skipped
(outside the AOI). Every partial is summed in fixed 64-row chunks then added in chunk
order, so each block's result is bit-for-bit the same for any thread count, and
the engine merges blocks in a fixed order too.

``float_key_histogram`` is one pass of an exact radix selection: float32 values map
to uint32 keys that sort like the values, and each pass counts the next bits of the
keys of the values still in the running for a target rank. Counts are integers, so
the selected order statistics do not depend on how the AOI was cut into blocks.
"""

import numba
import numpy as np

_ROWS_PER_CHUNK = 64


@numba.njit(cache=True)
def _check_labels(labels, n_labels):
    ny, nx = labels.shape
    for y in range(ny):
        for x in range(nx):
            if labels[y, x] >= n_labels:
                return False
    return True


@numba.njit(cache=True)
def _add_chunks(partial, out):
    """out[z, k] += the chunks' partials, added in chunk order (the same bits for any thread count)."""
    n_chunks, n_labels, width = partial.shape
    for z in range(n_labels):
        for k in range(width):
            s = 0.0
            for c in range(n_chunks):
                s += partial[c, z, k]
            out[z, k] += s


@numba.njit(cache=True, parallel=True)
def zone_class_area_sums(classes, labels, pixel_area, out):
    """ADD the area of every labelled pixel to out[label, class]; out is not zeroed.

    classes: uint8 (y, x); labels: int32 (y, x), negative = skipped; pixel_area:
    float64 (y, x) in m^2; out: float64 (n_labels, 256).
    """
    ny, nx = classes.shape
    n_labels = out.shape[0]
    if labels.shape != classes.shape or pixel_area.shape != classes.shape:
        raise ValueError("zone_class_area_sums: classes, labels and pixel_area must have the same (y, x) shape")
    if out.shape[1] != 256:
        raise ValueError("zone_class_area_sums: out must have shape (n_labels, 256)")
    if not _check_labels(labels, n_labels):
        raise ValueError("zone_class_area_sums: labels must be < out.shape[0]")
    n_chunks = (ny + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK
    partial = np.zeros((n_chunks, n_labels, 256), np.float64)
    for c in numba.prange(n_chunks):
        for y in range(c * _ROWS_PER_CHUNK, min((c + 1) * _ROWS_PER_CHUNK, ny)):
            for x in range(nx):
                z = labels[y, x]
                if z >= 0:
                    partial[c, z, classes[y, x]] += pixel_area[y, x]
    _add_chunks(partial, out)


@numba.njit(cache=True, parallel=True)
def zone_value_sums(values, labels, pixel_area, out):
    """ADD, per label, over the non-NaN values: count, sum, area and area x value.

    values: float32 or float64 (y, x); labels: int32 (y, x), negative = skipped;
    pixel_area: float64 (y, x); out: float64 (n_labels, 4) = (count, sum, area m^2,
    sum of area x value), so plain and area-weighted means merge across blocks.
    """
    ny, nx = values.shape
    n_labels = out.shape[0]
    if labels.shape != values.shape or pixel_area.shape != values.shape:
        raise ValueError("zone_value_sums: values, labels and pixel_area must have the same (y, x) shape")
    if out.shape[1] != 4:
        raise ValueError("zone_value_sums: out must have shape (n_labels, 4)")
    if not _check_labels(labels, n_labels):
        raise ValueError("zone_value_sums: labels must be < out.shape[0]")
    n_chunks = (ny + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK
    partial = np.zeros((n_chunks, n_labels, 4), np.float64)
    for c in numba.prange(n_chunks):
        for y in range(c * _ROWS_PER_CHUNK, min((c + 1) * _ROWS_PER_CHUNK, ny)):
            for x in range(nx):
                z = labels[y, x]
                v = np.float64(values[y, x])
                if z >= 0 and not np.isnan(v):
                    a = pixel_area[y, x]
                    partial[c, z, 0] += 1.0
                    partial[c, z, 1] += v
                    partial[c, z, 2] += a
                    partial[c, z, 3] += a * v
    _add_chunks(partial, out)


@numba.njit(cache=True)
def zone_histogram(values, labels, edges, out):
    """ADD per-label counts of non-NaN values in the bins of ``edges``; out is not zeroed.

    values: float32/float64 (y, x); labels: int32 (y, x), negative = skipped; edges:
    float64 (k + 1,) increasing; out: int64 (n_labels, k + 2): column 0 counts values
    below edges[0], column k + 1 values at or above edges[k], column i the bin
    [edges[i - 1], edges[i]). Integer counts: exact in any order.
    """
    ny, nx = values.shape
    n_labels = out.shape[0]
    k = edges.shape[0] - 1
    if labels.shape != values.shape:
        raise ValueError("zone_histogram: values and labels must have the same (y, x) shape")
    if k < 1 or out.shape[1] != k + 2:
        raise ValueError("zone_histogram: need >= 2 edges and out of shape (n_labels, len(edges) + 1)")
    for i in range(k):
        if not edges[i] < edges[i + 1]:
            raise ValueError("zone_histogram: edges must be increasing")
    if not _check_labels(labels, n_labels):
        raise ValueError("zone_histogram: labels must be < out.shape[0]")
    for y in range(ny):
        for x in range(nx):
            z = labels[y, x]
            v = np.float64(values[y, x])
            if z < 0 or np.isnan(v):
                continue
            lo = 0
            hi = k + 1
            while lo < hi:  # first edge > v
                mid = (lo + hi) // 2
                if edges[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            out[z, lo] += 1


@numba.njit(cache=True)
def _key_of_bits(bits):
    """uint64 key of a float32's bit pattern that sorts as the values do (-0.0 just below +0.0)."""
    b = np.uint64(bits)
    if b & np.uint64(0x80000000):
        return np.uint64(0xFFFFFFFF) - b
    return b | np.uint64(0x80000000)


@numba.njit(cache=True)
def float_key_histogram(values, labels, prefixes, shift, bits, out):
    """ADD counts of key bits [shift, shift + bits) of values whose higher bits match.

    values: float32 (y, x), NaN skipped (keys as ``pipeline.engine.float_keys``);
    labels: int32 (y, x), negative skipped;
    prefixes: uint64 (n_labels, r): for target r of a label, the key bits above
    shift + bits found by the earlier passes (0 on the first pass, where
    shift + bits = 32); out: int64 (n_labels, r, 2 ** bits).
    """
    ny, nx = values.shape
    n_labels = prefixes.shape[0]
    n_targets = prefixes.shape[1]
    if labels.shape != values.shape:
        raise ValueError("float_key_histogram: values and labels must have the same (y, x) shape")
    if out.shape[0] != n_labels or out.shape[1] != n_targets or out.shape[2] != (1 << bits):
        raise ValueError("float_key_histogram: out must have shape (n_labels, r, 2 ** bits)")
    if not _check_labels(labels, n_labels):
        raise ValueError("float_key_histogram: labels must be < prefixes.shape[0]")
    top = shift + bits
    mask = np.uint64((1 << bits) - 1)
    raw = np.ascontiguousarray(values).view(np.uint32)
    for y in range(ny):
        for x in range(nx):
            z = labels[y, x]
            if z < 0 or np.isnan(values[y, x]):
                continue
            key = _key_of_bits(raw[y, x])
            high = key >> np.uint64(top) if top < 64 else np.uint64(0)
            b = (key >> np.uint64(shift)) & mask
            for r in range(n_targets):
                if high == prefixes[z, r]:
                    out[z, r, b] += 1


@numba.njit(cache=True, parallel=True)
def ratio_to_zone_value(values, labels, zone_values, out):
    """out = value / zone_values[label], in place (float64 division, rounded to float32).

    values: float32 (y, x); labels: int32 (y, x); zone_values: float64 (n_labels,);
    NaN where the value is NaN, the label is negative, or the zone value is 0 or NaN.
    """
    ny, nx = values.shape
    n_labels = zone_values.shape[0]
    if labels.shape != values.shape or out.shape != values.shape:
        raise ValueError("ratio_to_zone_value: values, labels and out must have the same (y, x) shape")
    if not _check_labels(labels, n_labels):
        raise ValueError("ratio_to_zone_value: labels must be < len(zone_values)")
    for y in numba.prange(ny):
        for x in range(nx):
            z = labels[y, x]
            v = values[y, x]
            if z < 0 or np.isnan(v):
                out[y, x] = np.nan
                continue
            p = zone_values[z]
            if p == 0.0 or np.isnan(p):
                out[y, x] = np.nan
            else:
                out[y, x] = np.float64(v) / p
