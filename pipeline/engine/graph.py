"""The dask graph of the steps: one task per (period, block), reductions merged in block order."""

from __future__ import annotations

import contextlib
import operator
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from odc.geo.geobox import GeoBox

from pipeline.engine import tasks as block_tasks
from pipeline.engine.checkpoints import saved_block
from pipeline.engine.quantiles import exact_quantiles, quantile_array
from pipeline.engine.spec import (
    Block,
    Built,
    Distinct,
    Layer,
    Period,
    Quantiles,
    Reduction,
    Setting,
    Step,
    zone_coords,
    zone_layer_spec,
    zone_names,
)
from pipeline.engine.tasks import RadixPass, ReadGraph, Window, labelled, merge_partials, partial_of, run_block, shared


def build(steps: Sequence[Step], setting: Setting, layer_wrapper: Callable[..., xr.DataArray]) -> Built:
    """Graph of every step; ``Quantiles`` (and what later steps use) are computed here, the rest stays lazy.

    ``layer_wrapper(data, periods, geobox, layer)`` turns a (period, y, x) or (y, x)
    dask array into the product's CF-described DataArray.
    """
    known: dict[str, Any] = {}
    layers: dict[str, xr.DataArray] = {}
    stats: dict[str, Any] = {}
    blocks = 0
    for step in steps:
        missing = [u for u in step.uses if u not in known]
        if missing:
            raise ValueError(f"step {step.name!r} uses {missing}, which no earlier step's Quantiles or Distinct make")
        broadcast = {u: known[u] for u in step.uses}
        graph = _StepGraph(step, setting, broadcast)
        blocks += graph.n_tasks
        for d in (r for r in step.reductions if isinstance(r, Distinct)):
            known[d.name] = graph.distinct(d)
            stats[d.name] = xr.DataArray(known[d.name], dims=("value",), name=d.name)
        for q in (r for r in step.reductions if isinstance(r, Quantiles)):
            if q.labels_from is not None:
                if q.labels_from not in known:
                    raise ValueError(f"Quantiles {q.name!r} labels from {q.labels_from!r}, which no Distinct made")
                q = replace(q, n_labels=max(1, len(known[q.labels_from])))
            known[q.name] = graph.quantiles(q)
            stats[q.name] = quantile_array(q, known[q.name], setting.zones)
        for layer in step.layers:
            layers[layer.name] = layer_wrapper(graph.layer(layer), step.periods, setting.geobox, layer)
        for r in step.reductions:
            if not isinstance(r, Quantiles | Distinct):
                stats[r.name] = graph.reduction(r)
    if setting.zones is not None:
        layers["zone"] = layer_wrapper(_zone_layer(setting), None, setting.geobox, zone_layer_spec(setting.zones))
    return Built(layers=xr.Dataset(layers), stats=stats, blocks=blocks)


def compute(write: Any, stats: Mapping[str, Any], *, progress: bool, blocks: int | None = None) -> dict[str, Any]:
    """Run the write and the statistics in one pass; returns the computed statistics.

    ``blocks`` (``Built.blocks``): the block tasks, which share the cores with their kernels' threads.

    The warning filters are put back as they were afterwards: libraries that wrap calls
    in ``warnings.catch_warnings`` (rasterio's rasterize and reproject do) are not
    thread-safe, and overlapping calls in worker threads can leave an "ignore all"
    filter behind, which would silence the run's own warnings after the compute.
    """
    from dask.diagnostics import ProgressBar

    global last_task_count
    last_task_count = task_count(write, stats)
    lazy = _collections(write, stats)
    with (warnings.catch_warnings(), ProgressBar(out=sys.stderr) if progress else contextlib.nullcontext(),
          _own_pool(lazy) as pool, _kernel_share(pool, blocks)):
        # optimize_graph=False: optimised apart (array and delayed collections are), the writes would fuse
        # renamed copies of the block tasks that the statistics read under their own keys (every block twice)
        _, out = dask.compute(write, dict(stats), optimize_graph=False,
                              **({"pool": pool} if pool is not None else {}))
    return out


last_task_count: int | None = None  # tasks of the last compute(): the footprint reports it


def task_count(write: Any, stats: Mapping[str, Any]) -> int:
    """Tasks in the graph of the product's one compute (reads, blocks, merges, writes): it grows with the
    number of blocks, not with their size."""
    from dask.base import collections_to_expr

    lazy = _collections(write, stats)
    return len(collections_to_expr(lazy, optimize_graph=False).__dask_graph__()) if lazy else 0


def _collections(write: Any, stats: Mapping[str, Any]) -> list[Any]:
    """The dask collections among the writes (one, or a list: ``zarr_write``) and the statistics
    (Quantiles are known already)."""
    writes = list(write) if isinstance(write, list | tuple) else [write]
    return [v for v in (*writes, *stats.values()) if dask.is_dask_collection(v)]


@contextlib.contextmanager
def _own_pool(collections: Sequence[Any]) -> Iterator[Any]:
    """A private thread pool for dask's threaded scheduler, drained before an error leaves.

    When a task fails, dask raises at once while the tasks already running go on (a COG
    read retrying over HTTP, a chunk being written). With the shared pool they would write
    into the partial directory after it was removed; here they finish first (queued ones
    are cancelled). Other schedulers (distributed) are left alone.
    """
    import dask.base
    import dask.threaded

    if dask.base.get_scheduler(collections=list(collections) or None) is not dask.threaded.get:
        yield None
        return
    executor = getattr(dask.threaded, "ContextAwareThreadPoolExecutor", ThreadPoolExecutor)
    pool = executor(_pool_size())
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)


def _pool_size() -> int:
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


@contextlib.contextmanager
def _kernel_share(pool: Any, blocks: int | None) -> Iterator[None]:
    """On this process's threads, the block tasks that run at once split the cores between their kernels:
    as many tasks as cores leave each kernel one thread (two OpenMP teams per core would spin against each
    other); a lone block keeps every core. Workers set theirs once (``cluster``); results do not depend on it."""
    if pool is None or blocks is None:
        yield
        return
    before = block_tasks.kernel_share
    block_tasks.kernel_share = max(1, (os.cpu_count() or 1) // max(1, min(_pool_size(), blocks)))
    try:
        yield
    finally:
        block_tasks.kernel_share = before


def _compute_blocks(parts: list[Any], blocks: int) -> Any:
    """``dask.compute(parts)[0]`` of delayed block partials, the kernels' threads shared as in ``compute``."""
    import dask.base
    import dask.threaded

    threaded = dask.base.get_scheduler(collections=parts) is dask.threaded.get
    with _kernel_share(True if threaded else None, blocks):
        return dask.compute(parts)[0]


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
        self.aoi = shared("aoi", setting.aoi, aoi_token)
        self.zones = shared("zones", setting.zones, zones_token) if setting.zones is not None else None
        params_token = tokenize(step.params)
        self.params = shared(f"{step.name}-params", step.params, params_token)
        self.broadcast_values = dict(broadcast)
        broadcast_token = tokenize(self.broadcast_values)
        self.broadcast = shared(f"{step.name}-broadcast", self.broadcast_values, broadcast_token)
        self.n_labels = 1 if setting.zones is None else len(setting.zones.ids) + 1
        # every task's key depends on all it reads: change the rule, an input or a broadcast value, get new keys
        self.token = tokenize(step.name, repr(step.inputs), repr(step.static), step.halo, repr(step.layers),
                              repr(step.reductions), step.periods, _grid_token(gb), aoi_token, zones_token,
                              self._input_names(), _fn_name(step.block), params_token, broadcast_token)
        self.reads = ReadGraph()
        self.tasks = {key: self._tasks(key) for key in self._period_keys()}
        del self.reads  # each block holds what it reads; the materialised whole is not kept
        self.n_tasks = sum(len(t) for t in self.tasks.values())

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
        blocks = []
        for i, j, rows, cols in _block_slices(self.chunks):
            h = step.halo
            grown = (slice(max(0, rows.start - h), min(ny, rows.stop + h)),
                     slice(max(0, cols.start - h), min(nx, cols.stop + h)))
            inner = (slice(rows.start - grown[0].start, rows.stop - grown[0].start),
                     slice(cols.start - grown[1].start, cols.stop - grown[1].start))
            data = {name: {band: self._window(arr, grown) for band, arr in sel[0].items()}
                    for name, sel in selections.items()}
            blocks.append((i, j, grown, inner, data))
        windows = [[w for bands in data.values() for w in bands.values() if isinstance(w, Window)]
                   for *_, data in blocks]
        shared = self.reads.share(windows, f"reads-{step.name}-{self.token}-{p}")
        coords = {name: sel[1] for name, sel in selections.items()}
        for i, j, grown, inner, data in blocks:
            key = (f"{step.name}-{self.token}", p, i, j)
            saved = () if self.setting.checkpoints is None else (str(self.setting.checkpoints), key)
            tasks[i, j] = dask.delayed(saved_block if saved else run_block, pure=True)(
                *saved, step.block, data, shared, coords, gb[grown[0], grown[1]], inner, self.aoi, self.zones,
                period, self.broadcast, self.params, layers=step.layers,
                reductions=tuple(r for r in step.reductions if not isinstance(r, Quantiles)),
                n_labels=self.n_labels, dask_key_name=key)
        return tasks

    def _select(self, name: str, period: Period | None) -> tuple[dict[str, da.Array | None], dict[str, np.ndarray]]:
        cube = self.setting.cubes[name]
        if period is None or name in self.step.static:
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

    def _window(self, arr: da.Array | None, grown: tuple[slice, slice]) -> Window | list[Any]:
        return [] if arr is None else self.reads.window(arr, grown[0], grown[1])

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
            parts = [dask.delayed(partial_of, pure=True)(t, name) for _, t in sorted(tasks.items())]
            merged.append(dask.delayed(merge_partials, pure=True)(
                parts, n_labels, dask_key_name=f"merge-{name}-{self.token}-{p}"))
        return merged

    def reduction(self, r: Reduction) -> Any:
        zones = self.setting.zones
        return dask.delayed(labelled, pure=True)(self._merged(r.name, self.n_labels), r, self.step.periods,
                                               zone_coords(zones), zone_names(zones),
                                               dask_key_name=f"stat-{r.name}-{self.token}")

    def distinct(self, d: Distinct) -> np.ndarray:
        """The sorted distinct values of ``d.layer`` inside the AOI: one pass, block sets merged."""
        graph = _StepGraph(_with_reduction(self.step, d), self.setting, self.broadcast_values)
        parts = [dask.delayed(partial_of, pure=True)(t, d.name) for key in graph.tasks
                 for _, t in sorted(graph.tasks[key].items())]
        found = _compute_blocks(parts, graph.n_tasks)
        return np.unique(np.concatenate([np.empty(0, np.int64), *found]))

    def quantiles(self, q: Quantiles) -> np.ndarray:
        """Exact percentiles (n_labels, len(q)) by radix selection: one compute per pass."""
        n_labels = q.stack * q.n_labels if q.by is not None else self.n_labels

        def count(prefixes: np.ndarray, shift: int, bits: int) -> np.ndarray:
            spec = RadixPass(q, shift, bits, prefixes, n_labels)
            graph = _StepGraph(_with_reduction(self.step, spec), self.setting, self.broadcast_values)
            return np.asarray(_compute_blocks(graph._merged(spec.name, n_labels), graph.n_tasks)[0])

        return exact_quantiles(count, n_labels, q.q)


def _with_reduction(step: Step, r: Any) -> Step:
    return Step(name=f"{step.name}-{r.name}", inputs=step.inputs, block=step.block, layers=(),
                reductions=(r,), periods=None, halo=step.halo, uses=step.uses, params=step.params,
                static=step.static)


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


def _zone_layer(setting: Setting) -> da.Array:
    zones = setting.zones
    assert zones is not None
    spec = zone_layer_spec(zones)
    step = Step(name="zones", inputs={}, block=_zone_block, layers=(spec,))
    return _StepGraph(step, setting, {}).layer(spec)


def _zone_block(block: Block) -> dict[str, np.ndarray]:
    return {"zone": np.where(block.zones >= 0, block.zones, 0).astype(np.uint16)}
