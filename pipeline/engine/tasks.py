"""Inside one task: AOI mask, areas and zone labels of the block, the step's function, the partials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
import xarray as xr
from dask._task_spec import DataNode  # a literal value in a graph (a reader object is no task)
from dask.base import tokenize
from dask.core import get_dependencies
from odc.geo.geobox import GeoBox

import kernels
from kernels.threads import KernelThreads
from pipeline.engine.spec import (
    Areas,
    Block,
    BlockFunction,
    Distinct,
    Histogram,
    Layer,
    Period,
    Quantiles,
    ValueSums,
)
from pipeline.grid import area_of, inside_mask
from pipeline.zones import Zones

kernel_share: int | None = None
"""Threads the kernels of one block task use in this process: set around a compute on this process's threads
(``graph``: the cores over the tasks that run at once) and once in each worker process (``cluster``); None
leaves numba's default (every core, in every task)."""


def shared(name: str, value: Any, token: str) -> Any:
    """A value that enters the graph once, under a deterministic key."""
    return dask.delayed(_identity, pure=True)(value, dask_key_name=f"{name}-{token}")


def _identity(value: Any) -> Any:
    return value



@dataclass(frozen=True)
class RadixPass:
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
        return f"RadixPass({self.quantiles!r}, {self.shift}, {self.bits}, {tokenize(self.prefixes)})"


class Window:
    """The lazy dates of one block of an input band, read inside the block's task (``read_windows``).

    Not a dask collection to the graph (a plain holder): the reads are no tasks of their own.
    As tasks, dask ordered every block's reads before the blocks (they share odc-stac's grid and
    config keys), so memory grew with the AOI; inside the task a block reads its dates, computes
    and frees them, and a block saved by a killed run reads nothing. It holds only the read tasks
    of its own chunks (``ReadGraph.window``): what a task ships to a worker is set by the block,
    not by the AOI.
    """

    __slots__ = ("crop", "graph", "keys", "shared")

    def __init__(self, graph: dict, keys: list[list[list[Any]]], crop: tuple[slice, slice]):
        self.graph = graph  # the read tasks of these chunks and all they depend on (less ``shared``)
        self.keys = keys  # per time chunk: rows of chunk keys covering the block (and its halo)
        self.crop = crop  # the block within those chunks
        self.shared: list[Any] = []  # (key, index): what other blocks read too, its value passed in


class ReadGraph:
    """The read graphs of a step's input arrays, materialised once, from which every block takes
    only the tasks it reads (culling an array's graph per block costs time in proportion to the
    whole graph; walking the block's own dependencies here costs in proportion to the block)."""

    def __init__(self) -> None:
        self.tasks: dict[Any, Any] = {}
        self._layers: set[str] = set()

    def _add(self, arr: Any) -> None:
        graph = arr.__dask_graph__()
        for name, layer in getattr(graph, "layers", {arr.name: graph}).items():
            if name not in self._layers:
                self.tasks.update(layer)
                self._layers.add(name)

    def window(self, arr: Any, rows: slice, cols: slice) -> Window:
        """The (time, rows, cols) window of a (time, y, x) dask array, one entry per time chunk."""
        self._add(arr)
        y0 = np.cumsum((0, *arr.chunks[1]))
        x0 = np.cumsum((0, *arr.chunks[2]))
        ia, ib = int(np.searchsorted(y0, rows.start, "right")) - 1, int(np.searchsorted(y0, rows.stop, "left"))
        ja, jb = int(np.searchsorted(x0, cols.start, "right")) - 1, int(np.searchsorted(x0, cols.stop, "left"))
        keys = [[[(arr.name, t, i, j) for j in range(ja, jb)] for i in range(ia, ib)]
                for t in range(arr.numblocks[0])]
        crop = (slice(rows.start - int(y0[ia]), rows.stop - int(y0[ia])),
                slice(cols.start - int(x0[ja]), cols.stop - int(x0[ja])))
        return Window(self._culled([k for date in keys for row in date for k in row]), keys, crop)

    def share(self, blocks: Sequence[Sequence[Window]], name: str) -> Any:
        """Tasks that several blocks read (odc-loader's per-date ``open`` tasks, its load context)
        become one task of the graph, computed once, instead of travelling with every block; returns
        it (a delayed list of their values; None when nothing is shared). ``blocks``: the windows of
        each block. What is shared is closed under dependencies (a task in two culled windows has its
        dependencies in both); what the windows of one block share (the mask band's chunks) stays
        inside that block's task. One task, not one per key: a block then waits on one dependency."""
        from dask.delayed import Delayed
        from dask.highlevelgraph import HighLevelGraph

        seen: dict[Any, int] = {}
        for windows in blocks:
            for key in {key for w in windows for key in w.graph}:
                seen[key] = seen.get(key, 0) + 1
        order = [key for key, n in seen.items() if n > 1]
        if not order:
            return None
        index = {key: i for i, key in enumerate(order)}
        for w in (w for windows in blocks for w in windows):
            w.shared = [(key, index[key]) for key in w.graph if key in index]
            w.graph = {key: task for key, task in w.graph.items() if key not in index}
        graph = HighLevelGraph({name: {key: self.tasks[key] for key in order}}, {name: set()})
        values = [Delayed(key, graph, layer=name) for key in order]
        return dask.delayed(_listed, pure=True)(*values, dask_key_name=f"{name}-values")

    def _culled(self, keys: list[Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        stack = list(keys)
        while stack:
            key = stack.pop()
            if key not in out:
                out[key] = self.tasks[key]
                stack.extend(get_dependencies(self.tasks, key))
        return out


def _listed(*values: Any) -> list[Any]:
    return list(values)


def read_windows(windows: Sequence[Window], shared: Sequence[Any] | None = None) -> list[list[np.ndarray]]:
    """The windows' dates, read in one pass: what they share (the mask band every masked band of a
    collection is masked by) is read once, not once per band. ``shared``: the values of what the
    windows share with other blocks (``ReadGraph.share``)."""
    graph: dict[Any, Any] = {}
    for w in windows:
        graph.update(w.graph)
        graph.update((key, DataNode(key, shared[i])) for key, i in w.shared if shared is not None)
    wanted = list(dict.fromkeys(k for w in windows for date in w.keys for row in date for k in row))
    values = dict(zip(wanted, dask.get(graph, wanted), strict=True)) if wanted else {}
    return [[_assembled([[values[k] for k in row] for row in date], w.crop) for date in w.keys] for w in windows]


def _assembled(chunks: list[list[np.ndarray]], crop: tuple[slice, slice]) -> np.ndarray:
    """One time chunk of a window from the chunks covering it (a halo spans several)."""
    whole = chunks[0][0] if len(chunks) == 1 and len(chunks[0]) == 1 else np.block(chunks)
    if (crop[0].start, crop[1].start) == (0, 0) and whole.shape[1:] == (crop[0].stop, crop[1].stop):
        return whole
    return np.ascontiguousarray(whole[:, crop[0], crop[1]])


def run_block(fn: BlockFunction, data, shared, coords, box: GeoBox, inner, aoi, zones: Zones | None, period,
               broadcast, params, *, layers: tuple[Layer, ...], reductions: tuple[Any, ...],
               n_labels: int) -> dict[str, Any]:
    windows = [value for bands in data.values() for value in bands.values() if isinstance(value, Window)]
    read = iter(read_windows(windows, shared))
    data = {name: {band: next(read) if isinstance(value, Window) else value for band, value in bands.items()}
            for name, bands in data.items()}
    inside = inside_mask(box, aoi)
    area = area_of(box)
    inner_inside = inside[inner]
    labels = np.zeros(inner_inside.shape, np.int32) if zones is None else zones.labels(box[inner[0], inner[1]])
    labels[~inner_inside] = -1
    block = Block(period=period, box=box, inner=inner, inside=inside, area=area, zones=labels, data=data,
                  coords=coords, broadcast=broadcast, params=params)
    with KernelThreads(kernel_share):  # the block function's kernels and the partials' alike
        outputs = _outputs(fn(block), inside.shape, inner, inner_inside, layers)
        inner_area = np.ascontiguousarray(area[inner])
        partials = {r.name: _block_partial(r, outputs, labels, inner_area, n_labels) for r in reductions}
    return {**{layer.name: outputs[layer.name] for layer in layers}, "_partials": partials}


def _outputs(returned: Mapping[str, Any], window: tuple[int, ...], inner, inner_inside: np.ndarray,
             layers: tuple[Layer, ...]) -> dict[str, Any]:
    """The block function's outputs cut to the block (without its halo), layers checked and filled
    outside the AOI."""
    outputs = dict(returned)
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
    return outputs


DENSE_LABELS = 64  # up to this many labels a block's partial holds them all (no renumbering pass)


def compact(labels: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels present in the block, and the block's labels renumbered 0..m-1 (negative kept).

    With few labels every label is kept as it is: the partial is small and the block is
    not passed over three more times. Many labels (a country's municipalities) are
    renumbered, so a block's partial holds only the zones it touches.
    """
    if n_labels <= DENSE_LABELS:
        return np.arange(n_labels), np.ascontiguousarray(labels, np.int32)
    valid = labels >= 0
    present = np.flatnonzero(np.bincount(labels[valid].ravel(), minlength=n_labels))
    remap = np.full(n_labels, -1, np.int32)
    remap[present] = np.arange(present.size, dtype=np.int32)
    local = np.where(valid, remap[np.where(valid, labels, 0)], -1).astype(np.int32)
    return present, local


def _block_partial(r: Any, outputs: Mapping[str, np.ndarray], zones: np.ndarray, area: np.ndarray,
                   n_labels: int) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """(labels present, their partial) of one reduction over one block (a Distinct's: its values)."""
    if isinstance(r, RadixPass):
        q = r.quantiles
        if q.by is None:
            return radix_partial(outputs[q.layer], zones, r.prefixes, r.shift, r.bits, r.n_labels)
        labels = _flat(np.where(zones >= 0, outputs[q.by], -1).astype(np.int32))
        return radix_partial(_flat(outputs[q.layer]), labels, r.prefixes, r.shift, r.bits, r.n_labels)
    if isinstance(r, Distinct):
        values = outputs[r.layer]
        return np.unique(values[(zones >= 0) & (values >= 0)]).astype(np.int64)
    present, local = compact(zones, n_labels)
    values = np.ascontiguousarray(outputs[r.layer])
    if isinstance(r, Areas):
        out = np.zeros((present.size, 256), np.float64)
        weighted = area if r.weight is None else np.ascontiguousarray(area * outputs[r.weight], np.float64)
        kernels.zone_class_area_sums(values.view(np.uint8) if r.signed else values, local, weighted, out)
    elif isinstance(r, ValueSums):
        out = np.zeros((present.size, 4), np.float64)
        kernels.zone_value_sums(values, local, area, out)
    elif isinstance(r, Histogram):
        out = np.zeros((present.size, len(r.edges) + 1), np.int64)
        kernels.zone_histogram(values, local, np.asarray(r.edges, np.float64), out)
    else:
        raise TypeError(f"unknown reduction {r!r}")
    return present, out


def _flat(a: np.ndarray) -> np.ndarray:
    """A stacked (s, y, x) output as one (s*y, x) image (the label offsets tell its layers apart)."""
    return np.ascontiguousarray(a.reshape(-1, a.shape[-1]))


def partial_of(result: Mapping[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    return result["_partials"][name]


def merge_partials(parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Dense (n, ...) sum of sparse block partials, added in the given (block) order."""
    shape = next((p[1].shape[1:] for p in parts), ())
    dtype = next((p[1].dtype for p in parts), np.float64)
    total = np.zeros((n, *shape), dtype)
    for present, values in parts:
        total[present] += values
    return total


def labelled(merged: Sequence[np.ndarray], r: Any, periods: tuple[Period, ...] | None, zone: list[str],
             names: list[str]) -> xr.DataArray:
    """Labelled statistic: dims (period,) zone, then class / stat / bin; zone ``all`` = sum over zones.

    ``zone`` and ``names`` are ``spec.zone_coords``/``zone_names``: label 0 (the AOI in no zone)
    goes last as ``outside zones``; without zones the only label is the AOI itself.
    """
    single = len(zone) == 1  # no zones: the one label is the AOI itself
    n = 1 if single else len(zone) - 1
    arrays = []
    for m in merged:
        full = np.zeros((n, *m.shape[1:]), m.dtype)
        full[: m.shape[0]] = m
        total = np.zeros(m.shape[1:], m.dtype)
        for row in full:  # fixed order: the AOI total is the same sum in every run
            total = total + row
        arrays.append(full if single else np.concatenate([total[None], full[1:], full[:1]]))
    data = np.stack(arrays)
    if isinstance(r, Areas) and r.signed:  # int8 classes were counted as their uint8 bit patterns
        tail, coords = "class", np.arange(-128, 128)
        data = data[..., coords % 256]
    elif isinstance(r, Areas):
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


def radix_partial(values: np.ndarray, labels: np.ndarray, prefixes: np.ndarray, shift: int, bits: int,
                   n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    present, local = compact(np.ascontiguousarray(labels, np.int32), n_labels)
    out = np.zeros((present.size, prefixes.shape[1], 1 << bits), np.int64)
    kernels.float_key_histogram(np.ascontiguousarray(values, np.float32), local,
                                np.ascontiguousarray(prefixes[present]), shift, bits, out)
    return present, out
