"""Exact percentiles per label over the whole AOI: a radix selection in integer-count passes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dask
import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize

import kernels
from pipeline.engine.spec import RADIX_BITS, Quantiles, label_zones
from pipeline.engine.tasks import merge_partials, radix_partial, shared
from pipeline.zones import Zones


def exact_quantiles(count: Callable[[np.ndarray, int, int], np.ndarray], n_labels: int,
                    q: Sequence[float]) -> np.ndarray:
    """NumPy 'linear' percentiles (n_labels, len(q)) of float32 values, exactly, by radix selection.

    ``count(prefixes, shift, bits)`` returns the merged (n_labels, 2 len(q), 2**bits)
    counts of key bits [shift, shift + bits) of the values whose higher bits equal each
    target's prefix (``kernels.float_key_histogram`` summed over the blocks).
    """
    prefixes = np.zeros((n_labels, 2 * len(q)), np.uint64)
    shift = 32 - RADIX_BITS[0]
    hist = count(prefixes, shift, RADIX_BITS[0])
    counts = hist[:, 0, :].sum(axis=1)  # every target counts all values in the first pass
    prefixes, ranks = _descend(hist, prefixes, _target_ranks(counts, q), RADIX_BITS[0])
    for bits in RADIX_BITS[1:]:
        shift -= bits
        prefixes, ranks = _descend(count(prefixes, shift, bits), prefixes, ranks, bits)
    return _interpolate(prefixes, counts, q)


def zonal_percentiles(values: da.Array, labels: da.Array, n_labels: int, q: Sequence[float]) -> np.ndarray:
    """Exact percentiles (n_labels, len(q)) of (y, x) float32 ``values`` per int32 label, any chunking."""
    labels = labels.rechunk(values.chunks)
    pairs = list(zip(values.to_delayed(optimize_graph=False).ravel(), labels.to_delayed(optimize_graph=False).ravel(),
                     strict=True))

    def count(prefixes: np.ndarray, shift: int, bits: int) -> np.ndarray:
        key = shared("prefixes", prefixes, tokenize(prefixes))
        parts = [dask.delayed(radix_partial, pure=True)(v, lab, key, shift, bits, n_labels) for v, lab in pairs]
        return np.asarray(dask.compute(dask.delayed(merge_partials, pure=True)(parts, n_labels))[0])

    return exact_quantiles(count, n_labels, q)


def ratio_to_zone_percentile(values: da.Array, labels: da.Array, n_labels: int, q: float) -> da.Array:
    """value / (q-th percentile of its label's values over the whole array): the same for every chunking.

    The percentile is exact (``zonal_percentiles``); NaN where the value is NaN, the
    label negative, or the label's percentile 0 or NaN.
    """
    zone_q = zonal_percentiles(values, labels, n_labels, [q])[:, 0]
    return da.map_blocks(_ratio_block, values, labels.rechunk(values.chunks), zone_q, dtype=np.float32,
                         meta=np.array((), np.float32))


def _ratio_block(values: np.ndarray, labels: np.ndarray, zone_q: np.ndarray) -> np.ndarray:
    out = np.empty(values.shape, np.float32)
    kernels.ratio_to_zone_value(np.ascontiguousarray(values, np.float32), np.ascontiguousarray(labels, np.int32),
                                zone_q, out)
    return out


def _target_ranks(counts: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """0-based ranks (lower, upper) of each percentile, NumPy 'linear' (n_labels, 2 len(q)); -1 = none."""
    ranks = np.full((counts.shape[0], 2 * len(q)), -1, np.int64)
    for k, qk in enumerate(q):
        for z, n in enumerate(counts):
            if n == 0:
                continue
            v = (n - 1) * (qk / 100.0)
            lo = n - 1 if v >= n - 1 else int(np.floor(v))
            ranks[z, 2 * k] = lo
            ranks[z, 2 * k + 1] = min(lo + 1, n - 1)
    return ranks


def _descend(hist: np.ndarray, prefixes: np.ndarray, ranks: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Pick each target's bin from its counts; the rank left is counted within that bin."""
    prefixes, ranks = prefixes.copy(), ranks.copy()
    for z in range(hist.shape[0]):
        for r in range(hist.shape[1]):
            if ranks[z, r] < 0:
                continue
            cum = np.cumsum(hist[z, r])
            b = int(np.searchsorted(cum, ranks[z, r], side="right"))
            ranks[z, r] -= int(cum[b - 1]) if b else 0
            prefixes[z, r] = (prefixes[z, r] << np.uint64(bits)) | np.uint64(b)
    return prefixes, ranks


def float_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys of float32 values that sort as the values do (``kernels.zonal``'s order)."""
    bits = np.ascontiguousarray(values, np.float32).view(np.uint32).astype(np.uint64)
    negative = (bits & np.uint64(0x80000000)) != 0
    return np.where(negative, np.uint64(0xFFFFFFFF) - bits, bits | np.uint64(0x80000000))


def key_values(keys: np.ndarray) -> np.ndarray:
    """float32 values of ``float_keys`` keys."""
    keys = np.asarray(keys, np.uint64)
    positive = (keys & np.uint64(0x80000000)) != 0
    bits = np.where(positive, keys & np.uint64(0x7FFFFFFF), np.uint64(0xFFFFFFFF) - keys)
    return bits.astype(np.uint32).view(np.float32)


def _interpolate(prefixes: np.ndarray, counts: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """NumPy 'linear' percentile from the exact lower/upper order statistics (float64)."""
    values = key_values(prefixes).astype(np.float64)
    out = np.full((prefixes.shape[0], len(q)), np.nan)
    for k, qk in enumerate(q):
        for z, n in enumerate(counts):
            if n == 0:
                continue
            v = (n - 1) * (qk / 100.0)
            a, b = values[z, 2 * k], values[z, 2 * k + 1]
            g = v + 1.0 if v >= n - 1 else v - np.floor(v)
            d = b - a
            out[z, k] = b - d * (1.0 - g) if g >= 0.5 else a + d * g
    return out


def quantile_array(q: Quantiles, values: np.ndarray, zones: Zones | None) -> xr.DataArray:
    if q.by is None:
        return xr.DataArray(values, dims=("zone", "q"), coords={"zone": label_zones(zones), "q": list(q.q)},
                            name=q.name)
    return xr.DataArray(values, dims=("label", "q"), coords={"label": np.arange(values.shape[0]), "q": list(q.q)},
                        name=q.name)
