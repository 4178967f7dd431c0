"""What an indicator declares for the engine: periods, layers, reductions, steps, and the block a step sees."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from shapely.geometry.base import BaseGeometry

from pipeline.tables import ALL, AOI_NAME, OUTSIDE_ZONES
from pipeline.zones import Zones

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
    """Area (m²) by zone x class of a uint8 class output (``signed``: an int8 one, classes -128..127).

    ``weight``: a float output each pixel's area is multiplied by (1 / cos(slope) gives real-surface areas).
    """

    name: str
    layer: str
    signed: bool = False
    weight: str | None = None


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
    ``labels_from``: a ``Distinct`` of an earlier step whose values the labels index (then
    n_labels is their number, found when the graph is built). ``stack``: the outputs hold
    that many (y, x) layers along a first axis, layer s labelled s * n_labels + label.
    """

    name: str
    layer: str
    q: tuple[float, ...]
    by: str | None = None
    n_labels: int = 1
    labels_from: str | None = None
    stack: int = 1


@dataclass(frozen=True)
class Distinct:
    """The sorted distinct values >= 0 of an integer output over the AOI (a (y, x) or stacked
    (s, y, x) output): land units that exist only as pairs of classes found in the data.
    Computed when the graph is built, like ``Quantiles``; later steps read it via ``uses``."""

    name: str
    layer: str


Reduction = Areas | ValueSums | Histogram | Quantiles | Distinct


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
    static: tuple[str, ...] = ()  # inputs read whole in every period (a soil map, a reference stock)
    params: Any = None  # shared by all its tasks; enters the graph once


@dataclass(frozen=True)
class Setting:
    """Where the steps run: the product grid, the AOI in its CRS, optional zones, the loaded cubes."""

    geobox: GeoBox
    aoi: BaseGeometry
    cubes: Mapping[str, xr.Dataset]
    zones: Zones | None = None
    chunk: int = 1024
    checkpoints: Path | None = None  # a folder: finished blocks are saved there and a rerun loads them


@dataclass(frozen=True)
class Built:
    """The lazy product: layers on the grid and labelled statistics, computed in one pass."""

    layers: xr.Dataset
    stats: Mapping[str, Any]  # name -> dask.delayed of an xr.DataArray (or a DataArray already known)
    blocks: int = 0  # (period, block) tasks of every step: how many can run at once


def pixels_for(metres: float, geobox: GeoBox) -> int:
    """A halo of ``metres`` in whole pixels of the grid (at least the distance, never less)."""
    res = min(abs(geobox.resolution.x), abs(geobox.resolution.y))
    return math.ceil(metres / res) if metres > 0 else 0


def label_zones(zones: Zones | None) -> list[str]:
    """The zone each label value stands for: label 0 is the AOI in no zone (the whole AOI without zones)."""
    return [ALL] if zones is None else [OUTSIDE_ZONES, *zones.ids]


def zone_coords(zones: Zones | None) -> list[str]:
    """The ``zone`` coordinate of every statistic: ``all``, then each zone id and ``outside zones``."""
    return [ALL] if zones is None else [ALL, *zones.ids, OUTSIDE_ZONES]


def zone_names(zones: Zones | None) -> list[str]:
    """Names along ``zone_coords``."""
    return [AOI_NAME] if zones is None else [AOI_NAME, *zones.names, OUTSIDE_ZONES]


def zone_layer_spec(zones: Zones) -> Layer:
    """The zone-index layer: 0 = in no zone, i = the i-th zone of ``zone_ids``."""
    fill = float(np.iinfo(np.uint16).max)  # pipeline.zones refuses more zones than uint16 holds
    return Layer(name="zone", dtype="uint16", long_name=f"zone index ({zones.source})", fill_value=fill,
                 classes={0: OUTSIDE_ZONES, **{i + 1: z for i, z in enumerate(zones.ids)}},
                 attrs={"zone_ids": list(zones.ids), "zone_names": list(zones.names),
                        "comment": f"0 = AOI outside every zone; {int(fill)} = outside the AOI; pixel-centre "
                                   "membership"})
