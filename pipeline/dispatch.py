"""The one place where kernels meet dask: block-wise wrappers, no copies per backend.

Every wrapper maps a kernel over blocks whose memory is set by the chunk, never by
the AOI: time is concatenated only within a year, and connected components use a
halo just wide enough to make the minimum-mapping-unit filter exact.
"""

from __future__ import annotations

import math

import dask
import dask.array as da
import numpy as np
import xarray as xr

import kernels
from pipeline.grid import block_chunks

NODATA_U8 = kernels.NODATA_U8


def yearly_water_classes(first: xr.DataArray, second: xr.DataArray, years: list[int], *,
                         threshold: float, min_observations: int, permanent_fraction: float) -> da.Array:
    """(year, y, x) uint8 water classes from a normalized difference of two DN bands.

    One fused pass per block: index (float64 inside, float32 out), water test, yearly
    class; a year without any scene gives NO_OBSERVATION everywhere.
    """
    band_a, band_b = first.name, second.name
    year_of = first["time"].dt.year.values
    out = []
    for year in years:
        idx = np.flatnonzero(year_of == year)
        if idx.size == 0:
            out.append(da.zeros(first.shape[1:], dtype=np.uint8, chunks=first.data.chunks[1:]))
            continue
        a = first.isel(time=idx).data.rechunk({0: -1})
        b = second.isel(time=idx).data.rechunk({0: -1})
        coords = first.isel(time=idx).coords
        scales = (coords[f"scale_{band_a}"].values, coords[f"offset_{band_a}"].values,
                  coords[f"scale_{band_b}"].values, coords[f"offset_{band_b}"].values)
        nodata = int(first.attrs.get("nodata", 0))
        out.append(da.map_blocks(_water_block, a, b, scales=tuple(np.asarray(s, np.float64) for s in scales),
                                 nodata=nodata, threshold=threshold, min_observations=min_observations,
                                 permanent_fraction=permanent_fraction, drop_axis=0, dtype=np.uint8,
                                 meta=np.array((), dtype=np.uint8)))
    return da.stack(out)


def _water_block(a, b, *, scales, nodata, threshold, min_observations, permanent_fraction):
    a_scale, a_offset, b_scale, b_offset = scales
    index = np.empty(a.shape, dtype=np.float32)
    kernels.normalized_difference(np.ascontiguousarray(a), np.ascontiguousarray(b),
                                  a_scale, a_offset, b_scale, b_offset, nodata, index)
    water = np.empty(a.shape, dtype=np.uint8)
    kernels.classify_water(index, threshold, water)
    out = np.empty(a.shape[1:], dtype=np.uint8)
    kernels.yearly_water_class(water, min_observations, permanent_fraction, out)
    return out


def mmu_depth(min_area: float, smallest_pixel_area: float) -> int:
    """Halo (pixels) that makes block-wise MMU filtering exact.

    A component smaller than ``min_area`` has fewer than n = ceil(min_area / smallest
    pixel area) pixels, so it lies within n-1 pixels (Chebyshev) of any of its pixels
    and is seen whole in a block grown by n; a larger component reaching the halo edge
    shows >= n+1 pixels there and is kept. Either way the block decides correctly.
    """
    return max(1, math.ceil(min_area / smallest_pixel_area))


def mmu_filter(mask: da.Array, area: da.Array, *, min_area: float, eight_connected: bool,
               depth: int) -> da.Array:
    """Remove 1-components smaller than ``min_area`` m² from a (y, x) uint8 0/1/255 layer."""
    if mask.numblocks == (1, 1):
        depth = 0
    elif min(min(c) for c in mask.chunks) < depth:
        # only a short last chunk can be narrower than the halo: merge it into its neighbour
        chunks = tuple(block_chunks(sum(c), c[0], depth) for c in mask.chunks)
        mask, area = mask.rechunk(chunks), area.rechunk(chunks)
        if min(min(c) for c in mask.chunks) < depth:
            mask, area = mask.rechunk(-1), area.rechunk(-1)
            depth = 0
    return da.map_overlap(_mmu_block, mask, area, depth=depth, boundary="none", min_area=min_area,
                          eight_connected=eight_connected, dtype=np.uint8, meta=np.array((), dtype=np.uint8))


def _mmu_block(mask, area, *, min_area, eight_connected):
    out = np.empty(mask.shape, dtype=np.uint8)
    kernels.mmu_filter(np.ascontiguousarray(mask), np.ascontiguousarray(area), float(min_area),
                       bool(eight_connected), out)
    return out


def class_areas(classes: da.Array, area: da.Array) -> dask.delayed:
    """Delayed (n, 256) float64 area (m²) per class value for each layer of (n, y, x).

    Blocks are summed in a fixed order so reruns give identical numbers.
    """
    area = area.rechunk(classes.chunks[1:])  # MMU may have merged a short edge chunk
    layers = []
    for layer in range(classes.shape[0]):
        parts = [dask.delayed(_block_areas)(c, a) for c, a in
                 zip(classes[layer].to_delayed().ravel(), area.to_delayed().ravel())]
        layers.append(dask.delayed(_sum_in_order)(parts))
    return dask.delayed(np.stack)(layers)


def _block_areas(classes: np.ndarray, area: np.ndarray) -> np.ndarray:
    out = np.zeros(256, dtype=np.float64)
    kernels.class_area_sums(np.ascontiguousarray(classes), np.ascontiguousarray(area), out)
    return out


def _sum_in_order(parts: list[np.ndarray]) -> np.ndarray:
    total = np.zeros(256, dtype=np.float64)
    for part in parts:
        total += part
    return total


def _over_time(values: da.Array, kernel_outputs, **kw) -> tuple[da.Array, ...]:
    """Map a per-pixel time-series kernel over (t, y, x) blocks holding the whole series.

    ``kernel_outputs(block, **kw)`` returns a tuple of (y, x) arrays; time is gathered
    into one chunk (memory = t x chunk), space stays chunked.
    """
    values = values.rechunk({0: -1})
    probe = kernel_outputs(np.zeros((values.shape[0], 1, 1), values.dtype), **kw)
    stacked = da.map_blocks(lambda block: np.stack(kernel_outputs(block, **kw)), values,
                            chunks=((len(probe),),) + values.chunks[1:],
                            dtype=np.result_type(*probe), meta=np.array((), dtype=np.result_type(*probe)))
    return tuple(stacked[i].astype(p.dtype) for i, p in enumerate(probe))


def trend(values: da.Array, times: np.ndarray, *, min_count: int) -> dict[str, da.Array]:
    """Theil-Sen slope/intercept, Mann-Kendall S/var/Z/p, Kendall's tau and OLS slope per pixel."""
    names = ("slope", "intercept", "s", "var_s", "z", "p", "tau", "ols_slope")
    arrays = _over_time(values, _trend_block, times=np.asarray(times, np.float64), min_count=min_count)
    return dict(zip(names, arrays))


def _trend_block(block, *, times, min_count):
    v = np.ascontiguousarray(block)
    outs = [np.empty(v.shape[1:], np.float64) for _ in range(8)]
    kernels.theil_sen(v, times, outs[0], outs[1], min_count)
    kernels.mann_kendall(v, outs[2], outs[3], outs[4], outs[5], outs[6], min_count)
    kernels.ols_slope(v, times, outs[7], min_count)
    return tuple(outs)


def median(values: da.Array) -> da.Array:
    """NaN-aware per-pixel median over time (cloud-free composite)."""
    return _over_time(values, _median_block)[0]


def _median_block(block):
    out = np.empty(block.shape[1:], np.float32)
    kernels.nan_median(np.ascontiguousarray(block, dtype=np.float32), out)
    return (out,)


def water_frequency(water: da.Array) -> da.Array:
    """Share of valid observations that saw water (NaN where none was valid)."""
    return _over_time(water, _frequency_block)[0]


def _frequency_block(block):
    out = np.empty(block.shape[1:], np.float32)
    kernels.water_frequency(np.ascontiguousarray(block), out)
    return (out,)
