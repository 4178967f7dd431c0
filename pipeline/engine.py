"""The block engine: the one place that knows dask.

An indicator declares ``Step``s: which cubes and bands it reads, a halo, a per-block
function (NumPy/Numba in, arrays out), the layers it returns and the reductions it
wants. The engine builds one task per (period, spatial block); the AOI mask, the true
pixel areas and the zone labels are made inside that task, so memory is set by the
chunk and never by the AOI (a mask or area block shared by all periods would stay
resident for the whole run). Reductions are merged across blocks in a fixed order and
come back as labelled ``xarray`` objects (dims ``period``, ``zone``, ``class``...).

Reduce, then map: ``Quantiles`` are exact order statistics (NumPy's 'linear'
percentile of the float32 values) per label over the whole AOI, found by a radix
selection in three integer-count passes (11, 11 and 10 bits of a sortable key) that
are merged like any other reduction, so they are the same for every chunking. A
later step reads them from ``Block.broadcast``; they enter its graph once.

Keys are tokens of what a task depends on (step, period, grid, AOI, zones, input
names), never random: the same recipe on the same inputs builds the same graph.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from odc.geo.geobox import GeoBox
from shapely.geometry.base import BaseGeometry

import kernels
from pipeline.grid import area_of, inside_mask
from pipeline.zones import Zones

ALL, OUTSIDE_ZONES, AOI_NAME = "all", "outside zones", "AOI"
RADIX_BITS = (11, 11, 10)  # passes of the exact quantile selection, most significant first


@dataclass(frozen=True)
class Period:
    """What one task reads along time: the calendar years ``start..end``."""

    label: str
    start: int
    end: int

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(str(year), year, year)


@dataclass(frozen=True)
class Layer:
    """An output array a step writes into the product.

    Categorical layers give ``classes`` (value -> meaning) and an integer fill; continuous
    ones (float32 with NaN) give ``units`` and fill NaN. Pixels outside the AOI are set
    to ``fill_value`` by the engine.
    """

    name: str
    dtype: str
    long_name: str
    fill_value: float
    classes: Mapping[int, str] | None = None
    colours: Mapping[int, str] | None = None
    units: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Areas:
    """Area (m²) by zone x class of a uint8 class output."""

    name: str
    layer: str


@dataclass(frozen=True)
class ValueSums:
    """Count, sum, area and area-weighted sum of the non-NaN values of an output, by zone."""

    name: str
    layer: str


@dataclass(frozen=True)
class Histogram:
    """Counts of the values of an output in fixed bins by zone (below/above the range at the ends)."""

    name: str
    layer: str
    edges: tuple[float, ...]


@dataclass(frozen=True)
class Quantiles:
    """Exact q-th percentiles (NumPy 'linear') of a float32 output per label over the whole AOI.

    ``by``: an int32 output of labels 0..n_labels-1 (negative = none), or None for the zones.
    """

    name: str
    layer: str
    q: tuple[float, ...]
    by: str | None = None
    n_labels: int = 1


Reduction = Areas | ValueSums | Histogram | Quantiles


@dataclass(frozen=True)
class Block:
    """What a step's block function gets: its window (the block grown by the halo) and more.

    ``data[input][band]`` is the list of (k, y, x) arrays of the period's dates (never
    concatenated; ``stack`` does that when it is cheap); ``coords[input]`` the per-date
    coordinates (``time``, ``scale_<band>``, ...). ``inside`` and ``area`` cover the window,
    ``zones`` the inner block only (0 = in no zone, negative = outside the AOI).
    """

    period: Period | None
    box: GeoBox
    inner: tuple[slice, slice]
    inside: np.ndarray
    area: np.ndarray
    zones: np.ndarray
    data: Mapping[str, Mapping[str, list[np.ndarray]]]
    coords: Mapping[str, Mapping[str, np.ndarray]]
    broadcast: Mapping[str, Any]
    params: Any

    def stack(self, name: str, band: str) -> np.ndarray:
        blocks = self.data[name][band]
        return np.concatenate(blocks) if len(blocks) != 1 else blocks[0]

    def dates(self, name: str) -> int:
        return int(self.coords[name]["time"].shape[0])


BlockFunction = Callable[[Block], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Step:
    """One pass over the AOI: one task per (period, block); ``periods`` None = one pass, all dates."""

    name: str
    inputs: Mapping[str, tuple[str, ...]]
    block: BlockFunction
    layers: tuple[Layer, ...] = ()
    reductions: tuple[Reduction, ...] = ()
    periods: tuple[Period, ...] | None = None
    halo: int = 0  # pixels
    uses: tuple[str, ...] = ()  # reductions of earlier steps this step's blocks read
    params: Any = None  # shared by all its tasks; enters the graph once


@dataclass(frozen=True)
class Setting:
    """Where the steps run: the product grid, the AOI in its CRS, optional zones, the loaded cubes."""

    geobox: GeoBox
    aoi: BaseGeometry
    cubes: Mapping[str, xr.Dataset]
    zones: Zones | None = None
    chunk: int = 1024


@dataclass(frozen=True)
class Built:
    """The lazy product: layers on the grid and labelled statistics, computed in one pass."""

    layers: xr.Dataset
    stats: Mapping[str, Any]  # name -> dask.delayed of an xr.DataArray (or a DataArray already known)


def pixels_for(metres: float, geobox: GeoBox) -> int:
    """A halo of ``metres`` in whole pixels of the grid (at least the distance, never less)."""
    res = min(abs(geobox.resolution.x), abs(geobox.resolution.y))
    return math.ceil(metres / res) if metres > 0 else 0


def zone_coords(zones: Zones | None) -> list[str]:
    """The ``zone`` coordinate of every statistic: ``all``, then each zone id and ``outside zones``."""
    return [ALL] if zones is None else [ALL, *zones.ids, OUTSIDE_ZONES]


def zone_names(zones: Zones | None) -> list[str]:
    """Names along ``zone_coords``."""
    return [AOI_NAME] if zones is None else [AOI_NAME, *zones.names, OUTSIDE_ZONES]


def build(steps: Sequence[Step], setting: Setting, layer_wrapper: Callable[..., xr.DataArray]) -> Built:
    """Graph of every step; ``Quantiles`` (and what later steps use) are computed here, the rest stays lazy.

    ``layer_wrapper(data, periods, geobox, layer)`` turns a (period, y, x) or (y, x)
    dask array into the product's CF-described DataArray.
    """
    known: dict[str, Any] = {}
    layers: dict[str, xr.DataArray] = {}
    stats: dict[str, Any] = {}
    for step in steps:
        missing = [u for u in step.uses if u not in known]
        if missing:
            raise ValueError(f"step {step.name!r} uses {missing}, which no earlier step's Quantiles make")
        broadcast = {u: known[u] for u in step.uses}
        graph = _StepGraph(step, setting, broadcast)
        for q in (r for r in step.reductions if isinstance(r, Quantiles)):
            known[q.name] = graph.quantiles(q)
            stats[q.name] = _quantile_array(q, known[q.name], setting.zones)
        for layer in step.layers:
            layers[layer.name] = layer_wrapper(graph.layer(layer), step.periods, setting.geobox, layer)
        for r in step.reductions:
            if not isinstance(r, Quantiles):
                stats[r.name] = graph.reduction(r)
    if setting.zones is not None:
        layers["zone"] = layer_wrapper(_zone_layer(setting), None, setting.geobox, zone_layer_spec(setting.zones))
    return Built(layers=xr.Dataset(layers), stats=stats)


def compute(write: Any, stats: Mapping[str, Any], *, progress: bool) -> dict[str, Any]:
    """Run the write and the statistics in one pass; returns the computed statistics."""
    from dask.diagnostics import ProgressBar

    with ProgressBar(out=sys.stderr) if progress else contextlib.nullcontext(), _own_pool(write) as pool:
        _, out = dask.compute(write, dict(stats), **({"pool": pool} if pool is not None else {}))
    return out


@contextlib.contextmanager
def _own_pool(collection: Any) -> Iterator[Any]:
    """A private thread pool for dask's threaded scheduler, drained before an error leaves.

    When a task fails, dask raises at once while the tasks already running go on (a COG
    read retrying over HTTP, a chunk being written). With the shared pool they would write
    into the partial directory after it was removed; here they finish first (queued ones
    are cancelled). Other schedulers (distributed) are left alone.
    """
    import dask.base
    import dask.threaded

    if dask.base.get_scheduler(collections=[collection]) is not dask.threaded.get:
        yield None
        return
    executor = getattr(dask.threaded, "ContextAwareThreadPoolExecutor", ThreadPoolExecutor)
    pool = executor(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)


# ---------------------------------------------------------------- one step's graph


def _shared(name: str, value: Any, token: str) -> Any:
    """A value that enters the graph once, under a deterministic key."""
    return dask.delayed(_identity, pure=True)(value, dask_key_name=f"{name}-{token}")


def _identity(value: Any) -> Any:
    return value


def _grid_token(geobox: GeoBox) -> str:
    return tokenize(tuple(geobox.affine), str(geobox.crs), geobox.shape)


class _StepGraph:
    """Tasks of one step: one per (period, block), each returning its outputs and partials."""

    def __init__(self, step: Step, setting: Setting, broadcast: Mapping[str, Any]):
        self.step, self.setting = step, setting
        gb = setting.geobox
        if step.inputs:
            name = next(iter(step.inputs))
            self.chunks = setting.cubes[name][step.inputs[name][0]].data.chunks[1:]
        else:
            self.chunks = tuple(_regular(n, setting.chunk) for n in gb.shape)
        aoi_token = tokenize(setting.aoi.wkb)
        zones_token = setting.zones.token if setting.zones is not None else "none"
        self.aoi = _shared("aoi", setting.aoi, aoi_token)
        self.zones = _shared("zones", setting.zones, zones_token) if setting.zones is not None else None
        self.params = _shared(f"{step.name}-params", step.params, tokenize(repr(step.params)))
        self.broadcast_values = dict(broadcast)
        self.broadcast = _shared(f"{step.name}-broadcast", self.broadcast_values, tokenize(self.broadcast_values))
        self.n_labels = 1 if setting.zones is None else len(setting.zones.ids) + 1
        self.token = tokenize(step.name, repr(step.inputs), step.halo, repr(step.layers), repr(step.reductions),
                              step.periods, _grid_token(gb), aoi_token, zones_token, self._input_names(),
                              _fn_name(step.block))
        self.tasks = {key: self._tasks(key) for key in self._period_keys()}

    def _input_names(self) -> list[str]:
        return [self.setting.cubes[n][b].data.name for n, bands in self.step.inputs.items() for b in bands]

    def _period_keys(self) -> list[Period | None]:
        return list(self.step.periods) if self.step.periods is not None else [None]

    def _tasks(self, period: Period | None) -> dict[tuple[int, int], Any]:
        step, gb = self.step, self.setting.geobox
        ny, nx = gb.shape
        selections = {name: self._select(name, period) for name in step.inputs}
        tasks = {}
        p = self._period_keys().index(period)
        for i, j, rows, cols in _block_slices(self.chunks):
            h = step.halo
            grown = (slice(max(0, rows.start - h), min(ny, rows.stop + h)),
                     slice(max(0, cols.start - h), min(nx, cols.stop + h)))
            inner = (slice(rows.start - grown[0].start, rows.stop - grown[0].start),
                     slice(cols.start - grown[1].start, cols.stop - grown[1].start))
            data = {name: {band: self._window(arr, i, j, grown) for band, arr in sel[0].items()}
                    for name, sel in selections.items()}
            coords = {name: sel[1] for name, sel in selections.items()}
            tasks[i, j] = dask.delayed(_run_block, pure=True)(
                step.block, data, coords, gb[grown[0], grown[1]], inner, self.aoi, self.zones, period,
                self.broadcast, self.params, layers=step.layers,
                reductions=tuple(r for r in step.reductions if not isinstance(r, Quantiles)),
                n_labels=self.n_labels, dask_key_name=(f"{step.name}-{self.token}", p, i, j))
        return tasks

    def _select(self, name: str, period: Period | None) -> tuple[dict[str, da.Array | None], dict[str, np.ndarray]]:
        cube = self.setting.cubes[name]
        if period is None:
            idx = np.arange(cube.sizes["time"])
        else:
            years = cube["time"].dt.year.values
            idx = np.flatnonzero((years >= period.start) & (years <= period.end))
        sub = cube.isel(time=idx)
        coords = {"time": sub["time"].values}
        coords.update({str(k): np.asarray(v.values) for k, v in sub.coords.items()
                       if k not in ("time", "x", "y", "spatial_ref") and v.dims == ("time",)})
        arrays = {band: (sub[band].data if idx.size else None) for band in self.step.inputs[name]}
        return arrays, coords

    def _window(self, arr: da.Array | None, i: int, j: int, grown: tuple[slice, slice]) -> list[Any]:
        if arr is None:
            return []
        if self.step.halo == 0:
            return list(arr.to_delayed(optimize_graph=False)[:, i, j])
        window = arr[:, grown[0], grown[1]]
        window = window.rechunk((window.chunks[0], (window.shape[1],), (window.shape[2],)))
        return list(window.to_delayed(optimize_graph=False)[:, 0, 0])

    # -- outputs

    def layer(self, layer: Layer) -> da.Array:
        per = []
        for tasks in self.tasks.values():
            rows = []
            for i, h in enumerate(self.chunks[0]):
                rows.append([da.from_delayed(dask.delayed(operator.getitem, pure=True)(tasks[i, j], layer.name),
                                             shape=(h, w), dtype=layer.dtype, meta=np.array((), dtype=layer.dtype))
                             for j, w in enumerate(self.chunks[1])])
            per.append(da.block(rows))
        return da.stack(per) if self.step.periods is not None else per[0]

    def _merged(self, name: str, n_labels: int) -> list[Any]:
        """Per period: the delayed merge of every block's partial of ``name``, in block order."""
        merged = []
        for p, tasks in enumerate(self.tasks.values()):
            parts = [dask.delayed(_partial, pure=True)(t, name) for _, t in sorted(tasks.items())]
            merged.append(dask.delayed(_merge_partials, pure=True)(
                parts, n_labels, dask_key_name=f"merge-{name}-{self.token}-{p}"))
        return merged

    def reduction(self, r: Reduction) -> Any:
        zones = self.setting.zones
        return dask.delayed(_label, pure=True)(self._merged(r.name, self.n_labels), r, self.step.periods,
                                               self._labels_meta(), zone_names(zones),
                                               dask_key_name=f"stat-{r.name}-{self.token}")

    def _labels_meta(self) -> list[str]:
        zones = self.setting.zones
        return [ALL] if zones is None else [OUTSIDE_ZONES, *zones.ids]

    def quantiles(self, q: Quantiles) -> np.ndarray:
        """Exact percentiles (n_labels, len(q)) by radix selection: one compute per pass."""
        n_labels = q.n_labels if q.by is not None else self.n_labels

        def count(prefixes: np.ndarray, shift: int, bits: int) -> np.ndarray:
            spec = _RadixPass(q, shift, bits, prefixes, n_labels)
            graph = _StepGraph(_with_reduction(self.step, spec), self.setting, self.broadcast_values)
            return np.asarray(dask.compute(graph._merged(spec.name, n_labels))[0][0])

        return exact_quantiles(count, n_labels, q.q)


def _with_reduction(step: Step, r: Any) -> Step:
    return Step(name=f"{step.name}-radix{r.shift}", inputs=step.inputs, block=step.block, layers=(),
                reductions=(r,), periods=None, halo=step.halo, uses=step.uses, params=step.params)


@dataclass(frozen=True)
class _RadixPass:
    """One pass of a Quantiles selection (internal reduction)."""

    quantiles: Quantiles
    shift: int
    bits: int
    prefixes: np.ndarray
    n_labels: int

    @property
    def name(self) -> str:
        return f"{self.quantiles.name}-radix{self.shift}"

    def __repr__(self) -> str:  # tokens: the prefixes decide what the pass counts
        return f"_RadixPass({self.quantiles!r}, {self.shift}, {self.bits}, {tokenize(self.prefixes)})"


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
        shared = _shared("prefixes", prefixes, tokenize(prefixes))
        parts = [dask.delayed(_radix_partial, pure=True)(v, lab, shared, shift, bits, n_labels) for v, lab in pairs]
        return np.asarray(dask.compute(dask.delayed(_merge_partials, pure=True)(parts, n_labels))[0])

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


def _radix_partial(values: np.ndarray, labels: np.ndarray, prefixes: np.ndarray, shift: int, bits: int,
                   n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    present, local = _compact(np.ascontiguousarray(labels, np.int32), n_labels)
    out = np.zeros((present.size, prefixes.shape[1], 1 << bits), np.int64)
    kernels.float_key_histogram(np.ascontiguousarray(values, np.float32), local,
                                np.ascontiguousarray(prefixes[present]), shift, bits, out)
    return present, out


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


def _quantile_array(q: Quantiles, values: np.ndarray, zones: Zones | None) -> xr.DataArray:
    if q.by is None:
        labels = [ALL] if zones is None else [OUTSIDE_ZONES, *zones.ids]
        return xr.DataArray(values, dims=("zone", "q"), coords={"zone": labels, "q": list(q.q)}, name=q.name)
    return xr.DataArray(values, dims=("label", "q"), coords={"label": np.arange(q.n_labels), "q": list(q.q)},
                        name=q.name)


# ---------------------------------------------------------------- inside a task


def _run_block(fn: BlockFunction, data, coords, box: GeoBox, inner, aoi, zones: Zones | None, period,
               broadcast, params, *, layers: tuple[Layer, ...], reductions: tuple[Any, ...],
               n_labels: int) -> dict[str, Any]:
    inside = inside_mask(box, aoi)
    area = area_of(box)
    inner_inside = inside[inner]
    labels = np.zeros(inner_inside.shape, np.int32) if zones is None else zones.labels(box[inner[0], inner[1]])
    labels[~inner_inside] = -1
    block = Block(period=period, box=box, inner=inner, inside=inside, area=area, zones=labels, data=data,
                  coords=coords, broadcast=broadcast, params=params)
    outputs = dict(fn(block))
    window = inside.shape
    for name, value in outputs.items():
        if isinstance(value, np.ndarray) and value.shape == window and window != inner_inside.shape:
            outputs[name] = np.ascontiguousarray(value[inner])
    for layer in layers:
        value = outputs[layer.name]
        if value.dtype != np.dtype(layer.dtype) or value.shape != inner_inside.shape:
            raise TypeError(f"block function of layer {layer.name!r} returned {value.dtype} {value.shape}; "
                            f"expected {layer.dtype} {inner_inside.shape}")
        if not inner_inside.all():
            value = value.copy() if not value.flags.writeable else value
            value[~inner_inside] = layer.fill_value
            outputs[layer.name] = value
    inner_area = np.ascontiguousarray(area[inner])
    partials = {r.name: _block_partial(r, outputs, labels, inner_area, n_labels) for r in reductions}
    return {**{layer.name: outputs[layer.name] for layer in layers}, "_partials": partials}


def _compact(labels: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels present in the block, and the block's labels renumbered 0..m-1 (negative kept)."""
    valid = labels >= 0
    present = np.flatnonzero(np.bincount(labels[valid].ravel(), minlength=n_labels))
    remap = np.full(n_labels, -1, np.int32)
    remap[present] = np.arange(present.size, dtype=np.int32)
    local = np.where(valid, remap[np.where(valid, labels, 0)], -1).astype(np.int32)
    return present, local


def _block_partial(r: Any, outputs: Mapping[str, np.ndarray], zones: np.ndarray, area: np.ndarray,
                   n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels present, their partial) of one reduction over one block."""
    if isinstance(r, _RadixPass):
        q = r.quantiles
        labels = zones if q.by is None else np.where(zones >= 0, outputs[q.by], -1).astype(np.int32)
        return _radix_partial(outputs[q.layer], labels, r.prefixes, r.shift, r.bits, r.n_labels)
    present, local = _compact(zones, n_labels)
    values = np.ascontiguousarray(outputs[r.layer])
    if isinstance(r, Areas):
        out = np.zeros((present.size, 256), np.float64)
        kernels.zone_class_area_sums(values, local, area, out)
    elif isinstance(r, ValueSums):
        out = np.zeros((present.size, 4), np.float64)
        kernels.zone_value_sums(values, local, area, out)
    elif isinstance(r, Histogram):
        out = np.zeros((present.size, len(r.edges) + 1), np.int64)
        kernels.zone_histogram(values, local, np.asarray(r.edges, np.float64), out)
    else:
        raise TypeError(f"unknown reduction {r!r}")
    return present, out


def _partial(result: Mapping[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    return result["_partials"][name]


def _merge_partials(parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Dense (n, ...) sum of sparse block partials, added in the given (block) order."""
    shape = next((p[1].shape[1:] for p in parts), ())
    dtype = next((p[1].dtype for p in parts), np.float64)
    total = np.zeros((n, *shape), dtype)
    for present, values in parts:
        total[present] += values
    return total


def _label(merged: Sequence[np.ndarray], r: Any, periods: tuple[Period, ...] | None, labels: list[str],
           names: list[str]) -> xr.DataArray:
    """Labelled statistic: dims (period,) zone, then class / stat / bin; zone ``all`` = sum over zones."""
    n = len(labels)
    arrays = []
    for m in merged:
        full = np.zeros((n, *m.shape[1:]), m.dtype)
        full[: m.shape[0]] = m
        total = np.zeros(m.shape[1:], m.dtype)
        for row in full:  # fixed order: the AOI total is the same sum in every run
            total = total + row
        arrays.append(full if labels == [ALL] else np.concatenate([total[None], full[1:], full[:1]]))
    zone = labels if labels == [ALL] else [ALL, *labels[1:], OUTSIDE_ZONES]
    data = np.stack(arrays)
    if isinstance(r, Areas):
        tail, coords = "class", np.arange(256)
    elif isinstance(r, ValueSums):
        tail, coords = "stat", np.array(["count", "sum", "area", "area_weighted_sum"])
    else:
        tail, coords = "bin", np.r_[-np.inf, np.asarray(r.edges, np.float64)]
    dims: tuple[str, ...] = ("period", "zone", tail)
    coord = {"period": [p.label for p in periods] if periods is not None else ["all"], "zone": zone, tail: coords,
             "zone_name": ("zone", names)}
    out = xr.DataArray(data, dims=dims, coords=coord, name=r.name,
                       attrs={"units": "m2"} if isinstance(r, Areas) else {})
    return out if periods is not None else out.isel(period=0, drop=True)


def _block_slices(chunks: tuple[tuple[int, ...], ...]) -> Iterator[tuple[int, int, slice, slice]]:
    """(i, j, rows, cols) of every spatial block, row-major."""
    starts = [np.cumsum((0, *c)) for c in chunks]
    for i in range(len(chunks[0])):
        for j in range(len(chunks[1])):
            yield (i, j, slice(int(starts[0][i]), int(starts[0][i + 1])),
                   slice(int(starts[1][j]), int(starts[1][j + 1])))


def _regular(n: int, chunk: int) -> tuple[int, ...]:
    return tuple(min(chunk, n - s) for s in range(0, n, chunk))


def _fn_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"


# ---------------------------------------------------------------- zones layer


def zone_layer_spec(zones: Zones) -> Layer:
    """The zone-index layer: 0 = in no zone, i = the i-th zone of ``zone_ids``."""
    fill = float(np.iinfo(np.uint16).max)  # pipeline.zones refuses more zones than uint16 holds
    return Layer(name="zone", dtype="uint16", long_name=f"zone index ({zones.source})", fill_value=fill,
                 classes={0: OUTSIDE_ZONES, **{i + 1: z for i, z in enumerate(zones.ids)}},
                 attrs={"zone_ids": list(zones.ids), "zone_names": list(zones.names),
                        "comment": f"0 = AOI outside every zone; {int(fill)} = outside the AOI; pixel-centre "
                                   "membership"})


def _zone_layer(setting: Setting) -> da.Array:
    zones = setting.zones
    assert zones is not None
    spec = zone_layer_spec(zones)
    step = Step(name="zones", inputs={}, block=_zone_block, layers=(spec,))
    return _StepGraph(step, setting, {}).layer(spec)


def _zone_block(block: Block) -> dict[str, np.ndarray]:
    return {"zone": np.where(block.zones >= 0, block.zones, 0).astype(np.uint16)}
