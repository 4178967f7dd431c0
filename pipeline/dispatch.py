"""The one place where kernels meet dask: block-wise wrappers, no copies per backend.

Every wrapper maps a kernel over blocks whose memory is set by the chunk, never by
the AOI: a water block reads only its own year's dates, and connected components use a
halo just wide enough to make the minimum-mapping-unit filter exact.

The indicator products (``water_class_products``, ``forest_products``) go further: one
task per (year, spatial block) makes the year's layer block AND its class areas, with
the AOI mask and pixel areas recomputed inside (a few ms). Nothing is then shared
between years or blocks, so no block waits in memory for a later consumer: dask runs
these graphs year after year across all blocks, and a mask or area block shared by all
years would stay resident for the whole run, growing with the AOI.
"""

from __future__ import annotations

import math
import operator
import uuid

import dask
import dask.array as da
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from shapely.geometry.base import BaseGeometry

import kernels
from pipeline.grid import aoi_in_crs, area_of, inside_mask

# Scratch of the water kernels per strip of rows: t x rows x width <= this many pixels.
STRIP_PIXELS = 1 << 20

NODATA_U8 = kernels.NODATA_U8


def _water_block(a_blocks, b_blocks, *, scales, nodata, threshold, min_observations, permanent_fraction):
    """Yearly classes of one spatial block from its dates' DN blocks (lists of (k, y, x)).

    The blocks are never concatenated, and the float32 index and water masks exist for
    one strip of rows at a time (<= STRIP_PIXELS), so the scratch stays small whatever
    the number of dates.
    """
    a_scale, a_offset, b_scale, b_offset = scales
    nt = sum(blk.shape[0] for blk in a_blocks)
    ny, nx = a_blocks[0].shape[1:]
    out = np.empty((ny, nx), dtype=np.uint8)
    rows = max(1, STRIP_PIXELS // max(1, nt * nx))
    for r0 in range(0, ny, rows):
        r1 = min(ny, r0 + rows)
        index = np.empty((nt, r1 - r0, nx), dtype=np.float32)
        t = 0
        for a, b in zip(a_blocks, b_blocks):
            k = a.shape[0]
            kernels.normalized_difference(np.ascontiguousarray(a[:, r0:r1]), np.ascontiguousarray(b[:, r0:r1]),
                                          a_scale[t:t + k], a_offset[t:t + k], b_scale[t:t + k],
                                          b_offset[t:t + k], nodata, index[t:t + k])
            t += k
        water = np.empty(index.shape, dtype=np.uint8)
        kernels.classify_water(index, threshold, water)
        kernels.yearly_water_class(water, min_observations, permanent_fraction, out[r0:r1])
    return out


def _block_slices(chunks: tuple[tuple[int, ...], tuple[int, ...]]):
    """(i, j, rows, cols) of every spatial block, row-major."""
    starts = [np.cumsum((0,) + c) for c in chunks]
    for i in range(len(chunks[0])):
        for j in range(len(chunks[1])):
            yield i, j, slice(int(starts[0][i]), int(starts[0][i + 1])), slice(int(starts[1][j]), int(starts[1][j + 1]))


def _assemble(tasks: dict[tuple[int, int], object], chunks, dtype, position: int = 0) -> da.Array:
    """A (y, x) dask array from item ``position`` of per-block delayed tuples."""
    rows = []
    for i, h in enumerate(chunks[0]):
        rows.append([da.from_delayed(dask.delayed(operator.getitem, pure=True)(tasks[i, j], position), shape=(h, w),
                                     dtype=dtype, meta=np.array((), dtype=dtype))
                     for j, w in enumerate(chunks[1])])
    return da.block(rows)


def _total(tasks: list, position: int) -> dask.delayed:
    parts = [dask.delayed(operator.getitem, pure=True)(t, position) for t in tasks]
    return dask.delayed(_sum_in_order, pure=True)(parts)


def water_class_products(first: xr.DataArray, second: xr.DataArray, years: list[int], *, geobox: GeoBox,
                         aoi: BaseGeometry, threshold: float, min_observations: int,
                         permanent_fraction: float) -> tuple[da.Array, dask.delayed]:
    """(year, y, x) uint8 water classes (255 outside the AOI) and delayed (year, 256) areas (m²).

    One fused pass per block: index (float64 inside, float32 out), water test, yearly
    class; a year without any scene gives NO_OBSERVATION everywhere. One task per year
    and spatial block takes that year's DN blocks (never concatenated) and returns the
    classes block and its class areas (summed over blocks in a fixed order, so reruns
    give identical numbers).
    """
    band_a, band_b = first.name, second.name
    year_of = first["time"].dt.year.values
    chunks = first.data.chunks[1:]
    geom = aoi_in_crs(aoi, geobox)
    nodata = int(first.attrs.get("nodata", 0))
    name = f"water-products-{uuid.uuid4().hex[:8]}"
    layers, stats = [], []
    for y, year in enumerate(years):
        idx = np.flatnonzero(year_of == year)
        coords = first.isel(time=idx).coords
        scales = tuple(np.asarray(coords[k].values, np.float64) for k in
                       (f"scale_{band_a}", f"offset_{band_a}", f"scale_{band_b}", f"offset_{band_b}"))
        a = first.isel(time=idx).data.to_delayed(optimize_graph=False) if idx.size else None
        b = second.isel(time=idx).data.to_delayed(optimize_graph=False) if idx.size else None
        tasks = {}
        for i, j, rows, cols in _block_slices(chunks):
            tasks[i, j] = dask.delayed(_water_products, pure=True)(
                list(a[:, i, j]) if a is not None else [], list(b[:, i, j]) if b is not None else [],
                geobox[rows, cols], geom, scales=scales, nodata=nodata, threshold=threshold,
                min_observations=min_observations, permanent_fraction=permanent_fraction,
                dask_key_name=(name, y, i, j))
        layers.append(_assemble(tasks, chunks, np.uint8))
        stats.append(_total(list(tasks.values()), 1))
    return da.stack(layers), dask.delayed(np.stack, pure=True)(stats)


def _water_products(a_blocks, b_blocks, box: GeoBox, geom, *, scales, nodata, threshold, min_observations,
                    permanent_fraction):
    if a_blocks:
        classes = _water_block(a_blocks, b_blocks, scales=scales, nodata=nodata, threshold=threshold,
                               min_observations=min_observations, permanent_fraction=permanent_fraction)
    else:  # a year without any scene
        classes = np.full(box.shape, kernels.NO_OBSERVATION, dtype=np.uint8)
    classes[~inside_mask(box, geom)] = NODATA_U8
    return classes, _block_areas(classes, area_of(box))


def forest_products(landcover: da.Array, *, geobox: GeoBox, aoi: BaseGeometry, forest_classes: list[int],
                    min_area: float, eight_connected: bool, depth: int, lc_nodata: int = 0,
                    ) -> tuple[da.Array, da.Array, dask.delayed, dask.delayed]:
    """Forest and land-cover layers and their class areas from a (year, y, x) land-cover cube.

    Returns (forest, landcover layer, delayed land-cover areas, delayed forest areas):
    forest is 1/0 with 255 where there is no land cover or outside the AOI, patches under
    ``min_area`` m² removed; the land-cover layer is the input with ``lc_nodata`` outside
    the AOI; land-cover areas count outside-AOI pixels as class 255. One task per year
    and spatial block reads its block grown by ``depth`` pixels (exact MMU, see
    ``mmu_depth``) and makes everything, the AOI mask and pixel areas included.
    """
    chunks = landcover.chunks[1:]
    ny, nx = landcover.shape[1:]
    geom = aoi_in_crs(aoi, geobox)
    name = f"forest-products-{uuid.uuid4().hex[:8]}"
    forest, layer, lc_stats, forest_stats = [], [], [], []
    for y in range(landcover.shape[0]):
        tasks = {}
        for i, j, rows, cols in _block_slices(chunks):
            grown = (slice(max(0, rows.start - depth), min(ny, rows.stop + depth)),
                     slice(max(0, cols.start - depth), min(nx, cols.stop + depth)))
            window = landcover[y, grown[0], grown[1]]
            window = window.rechunk(window.shape).to_delayed(optimize_graph=False).ravel()[0]
            inner = (slice(rows.start - grown[0].start, rows.stop - grown[0].start),
                     slice(cols.start - grown[1].start, cols.stop - grown[1].start))
            tasks[i, j] = dask.delayed(_forest_products, pure=True)(
                window, geobox[grown[0], grown[1]], geom, inner, forest_classes=tuple(forest_classes),
                min_area=min_area, eight_connected=eight_connected, lc_nodata=lc_nodata,
                dask_key_name=(name, y, i, j))
        forest.append(_assemble(tasks, chunks, np.uint8))
        layer.append(_assemble(tasks, chunks, np.uint8, position=1))
        lc_stats.append(_total(list(tasks.values()), 2))
        forest_stats.append(_total(list(tasks.values()), 3))
    return (da.stack(forest), da.stack(layer), dask.delayed(np.stack, pure=True)(lc_stats),
            dask.delayed(np.stack, pure=True)(forest_stats))


def _forest_products(window, box: GeoBox, geom, inner, *, forest_classes, min_area, eight_connected, lc_nodata):
    inside = inside_mask(box, geom)
    lc = np.where(inside, window, np.uint8(NODATA_U8))  # 255 = outside the AOI
    unknown = (lc == lc_nodata) | (lc == NODATA_U8)
    candidate = np.where(unknown, np.uint8(NODATA_U8), np.isin(lc, forest_classes).astype(np.uint8))
    area = area_of(box)
    if min_area:
        candidate = _mmu_block(candidate, area, min_area=min_area, eight_connected=eight_connected)
    forest, lc, area = candidate[inner], np.ascontiguousarray(lc[inner]), np.ascontiguousarray(area[inner])
    layer = np.where(inside[inner], lc, np.uint8(lc_nodata))
    return forest, layer, _block_areas(lc, area), _block_areas(np.ascontiguousarray(forest), area)


def mmu_depth(min_area: float, smallest_pixel_area: float) -> int:
    """Halo (pixels) that makes block-wise MMU filtering exact.

    A component smaller than ``min_area`` has fewer than n = ceil(min_area / smallest
    pixel area) pixels, so it lies within n-1 pixels (Chebyshev) of any of its pixels
    and is seen whole in a block grown by n; a larger component reaching the halo edge
    shows >= n+1 pixels there and is kept. Either way the block decides correctly.
    """
    return max(1, math.ceil(min_area / smallest_pixel_area))


def _mmu_block(mask, area, *, min_area, eight_connected):
    out = np.empty(mask.shape, dtype=np.uint8)
    kernels.mmu_filter(np.ascontiguousarray(mask), np.ascontiguousarray(area), float(min_area),
                       bool(eight_connected), out)
    return out


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
