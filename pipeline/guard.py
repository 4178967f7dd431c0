"""How big a run is, said before it starts, and refused when it cannot fit.

Two limits, both in the recipe's ``grid`` (or on the command line): ``max_blocks``, the
number of spatial blocks (the task graph grows with it; a resolution typed in the wrong
unit gives billions), checked before anything is searched or loaded; and
``max_memory_gib``, what the tasks running at once may hold (default: half of this
machine's memory), estimated from the plan before anything is computed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from catalog.errors import SdgcubeError
from pipeline.engine import Step

GIB = 2**30
COPY_FACTOR = 2  # each task also holds a float64-sized working copy of what it reads, roughly


class RunTooLarge(SdgcubeError):
    """The grid or the tasks exceed the run's limits; the message gives the numbers and the fixes."""


@dataclass(frozen=True)
class Size:
    width: int
    height: int
    chunk: int
    tasks: int = 0
    task_bytes: int = 0
    workers: int = 1

    @property
    def blocks(self) -> int:
        return math.ceil(self.width / self.chunk) * math.ceil(self.height / self.chunk)

    def describe(self) -> str:
        text = (f"grid {self.width} x {self.height} px ({self.width * self.height / 1e6:.1f} Mpx) in {self.blocks} "
                f"block{'s' if self.blocks != 1 else ''} of {self.chunk} px")
        if self.tasks:
            text += (f"; {self.tasks} tasks, up to {_size(self.task_bytes)} each, {self.workers} at once "
                     f"(~{_size(self.workers * self.task_bytes)})")
        return text


def _size(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 2**20:.0f} MiB"


def machine_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def check_grid(geobox: GeoBox, chunk: int, max_blocks: int, aoi_extent: float | None = None) -> Size:
    """Refuse a grid of more blocks than ``max_blocks`` before any search or load, and one whose pixel is
    larger than the AOI itself (``aoi_extent``: its larger side in the grid's units)."""
    ny, nx = geobox.shape
    units = geobox.crs.units[0] if geobox.crs is not None else "units"
    res = abs(geobox.resolution.x)
    if aoi_extent is not None and res > 2 * aoi_extent:
        raise RunTooLarge(f"grid.resolution {res:g} {units} is larger than the AOI itself ({aoi_extent:.4g} {units} "
                          "across): the product would be one pixel", hint="give the pixel size in the CRS's units "
                          "(a unit typo?)")
    size = Size(width=nx, height=ny, chunk=chunk)
    if size.blocks > max_blocks:
        raise RunTooLarge(f"the grid is {nx} x {ny} px = {size.blocks:,} blocks of {chunk} px, above grid.max_blocks "
                          f"= {max_blocks:,}", hint=f"check grid.resolution ({res:g} {units}: a unit typo?), raise "
                          "grid.chunk, or raise grid.max_blocks if this is meant")
    return size


def estimate(steps: Sequence[Step], cubes: Mapping[str, xr.Dataset], size: Size, workers: int) -> Size:
    """Tasks and the largest task's memory: its window (block + halo) of every date and band it reads,
    with a working copy, and its layers."""
    tasks, largest = 0, 0
    for step in steps:
        periods = step.periods or (None,)
        window = (min(size.chunk, size.height) + 2 * step.halo) * (min(size.chunk, size.width) + 2 * step.halo)
        layer_bytes = sum(np.dtype(layer.dtype).itemsize for layer in step.layers) * window
        for period in periods:
            read = 0
            for name, bands in step.inputs.items():
                cube = cubes[name]
                dates = cube.sizes["time"]
                if period is not None and name not in step.static:
                    years = cube["time"].dt.year.values
                    dates = int(((years >= period.start) & (years <= period.end)).sum())
                read += sum(dates * window * cube[band].dtype.itemsize for band in bands)
            largest = max(largest, read * COPY_FACTOR + layer_bytes)
        tasks += len(periods) * size.blocks
    return Size(width=size.width, height=size.height, chunk=size.chunk, tasks=tasks, task_bytes=largest,
                workers=workers)


def check_memory(size: Size, max_memory_gib: float | None) -> None:
    limit = max_memory_gib * GIB if max_memory_gib is not None else machine_memory() / 2
    need = size.task_bytes * size.workers
    if need > limit:
        raise RunTooLarge(f"{size.workers} tasks at once would hold ~{_size(need)} ({_size(size.task_bytes)} each: "
                          f"block {size.chunk} px, every date it reads), above the limit of {_size(int(limit))}",
                          hint="lower grid.chunk (memory falls with its square), shorten "
                          "periods.years, or raise grid.max_memory_gib")
