"""Indicator registry: one package per SDG indicator, listed once in ``PACKAGES``.

A package's ``__init__`` defines ``INDICATOR`` from its parameters alone, so listing
and validating recipes imports neither numba, dask nor odc-stac; the science (its
``plan`` module) is imported only to run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.errors import SdgcubeError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from odc.geo.geobox import GeoBox

    from catalog.load import Cube
    from pipeline.engine import Step
    from pipeline.recipe import Recipe
    from pipeline.zones import Zones

PACKAGES = (
    "pipeline.indicators.sdg6_6_1",
    "pipeline.indicators.sdg11_3_1",
    "pipeline.indicators.sdg15_1_1",
    "pipeline.indicators.sdg15_2_1",
    "pipeline.indicators.sdg15_3_1",
    "pipeline.indicators.sdg15_4_2",
)


class DataError(SdgcubeError, ValueError):
    """Input data the recipe does not describe (a land-cover class missing from its legend table):
    the message names the values and the recipe key to fix."""


@dataclass(frozen=True)
class Context:
    """What an indicator plans with: the recipe, its loaded cubes (chunked on the grid), the grid, the zones."""

    recipe: Recipe
    cubes: Mapping[str, Cube]
    geobox: GeoBox
    zones: Zones | None = None


@dataclass(frozen=True)
class Legend:
    """How to draw a categorical layer: value -> (label, colour)."""

    layer: str
    classes: Mapping[int, tuple[str, str]]


Stats = Mapping[str, "xr.DataArray"]


@dataclass(frozen=True)
class Plan:
    """An indicator's steps for the engine, and what turns their statistics into the table.

    ``table(stats)`` gets the labelled statistics (dims period, zone, class...) and returns
    the long table; ``series`` are worth a trend chart; ``map_series`` is the series the
    report maps per zone (its last period).
    """

    steps: tuple[Step, ...]
    table: Callable[[Stats], pd.DataFrame]
    headline: Callable[[pd.DataFrame], str]
    legend: Legend
    series: tuple[str, ...] = field(default=())
    map_series: str | None = None


@dataclass(frozen=True)
class Indicator:
    """An SDG indicator: its parameters (a frozen dataclass), the inputs they need, its plan module."""

    code: str
    name: str
    Parameters: type
    required_inputs: Callable[[Any], Mapping[str, tuple[str, ...]]]
    module: str  # defines ``plan(ctx: Context) -> Plan``
    check: Callable[[Any], str | None] | None = None  # the whole recipe's consistency: a message, or None
    load_all_dates: bool = False  # its tasks read every date of a block at once: load them as one chunk
    margin_m: Callable[[Any], float] | None = None  # metres of grid beyond the AOI its neighbourhoods read

    def plan(self, ctx: Context) -> Plan:
        plan: Plan = importlib.import_module(self.module).plan(ctx)
        return plan


def band_nodata(ds: xr.Dataset, band: str) -> float | None:
    """The nodata value a loaded cube states for ``band`` (None: it has none)."""
    value = ds[band].attrs.get("nodata")
    return None if value is None else float(value)


def _registry() -> dict[str, Indicator]:
    found: dict[str, Indicator] = {}
    for name in PACKAGES:
        indicator = importlib.import_module(name).INDICATOR
        if indicator.code in found:
            raise ValueError(f"indicator {indicator.code} is defined by two packages")
        found[indicator.code] = indicator
    return found


def get_indicator(code: str) -> Indicator:
    registry = _registry()
    try:
        return registry[code]
    except KeyError:
        raise KeyError(f"no indicator registered for SDG {code!r}; available: {', '.join(sorted(registry))}") from None


def available() -> list[str]:
    return sorted(_registry())
