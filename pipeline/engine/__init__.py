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

from pipeline.engine.graph import build, compute, task_count
from pipeline.engine.quantiles import (
    exact_quantiles,
    float_keys,
    key_values,
    ratio_to_zone_percentile,
    zonal_percentiles,
)
from pipeline.engine.spec import (
    ALL,
    AOI_NAME,
    OUTSIDE_ZONES,
    Areas,
    Block,
    BlockFunction,
    Built,
    Distinct,
    Histogram,
    Layer,
    Period,
    Quantiles,
    Reduction,
    Setting,
    Step,
    ValueSums,
    pixels_for,
    zone_coords,
    zone_layer_spec,
    zone_names,
)
from pipeline.engine.store import zarr_write

__all__ = [
    "ALL",
    "AOI_NAME",
    "OUTSIDE_ZONES",
    "Areas",
    "Block",
    "BlockFunction",
    "Built",
    "Distinct",
    "Histogram",
    "Layer",
    "Period",
    "Quantiles",
    "Reduction",
    "Setting",
    "Step",
    "ValueSums",
    "build",
    "compute",
    "exact_quantiles",
    "float_keys",
    "key_values",
    "pixels_for",
    "ratio_to_zone_percentile",
    "task_count",
    "zarr_write",
    "zonal_percentiles",
    "zone_coords",
    "zone_layer_spec",
    "zone_names",
]
