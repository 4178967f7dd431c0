"""Indicator registry: one module per SDG indicator, registered by its code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
import pandas as pd
import xarray as xr

from catalog.load import Cube


@dataclass(frozen=True)
class Context:
    """What an indicator gets: the recipe, its loaded cubes (chunked on the recipe's grid), the grid."""

    recipe: Any
    cubes: Mapping[str, Cube]
    geobox: Any


@dataclass(frozen=True)
class Legend:
    """How to draw a categorical layer: value -> (label, colour)."""

    layer: str
    classes: Mapping[int, tuple[str, str]]


@dataclass(frozen=True)
class Plan:
    """A lazy product: layers to write, small statistics computed in the same pass, and
    functions that turn the computed statistics into the table and a one-line summary."""

    layers: xr.Dataset
    stats: Mapping[str, dask.delayed]
    table: Callable[[Mapping[str, Any]], pd.DataFrame]
    headline: Callable[[pd.DataFrame], str]
    legend: Legend
    series: tuple[str, ...] = field(default=())  # table series worth a trend chart


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    Parameters: type
    required_inputs: Callable[[Any], Mapping[str, tuple[str, ...]]]
    plan: Callable[[Context], Plan]


_REGISTRY: dict[str, Indicator] = {}


def register(indicator: Indicator) -> Indicator:
    if indicator.code in _REGISTRY:
        raise ValueError(f"indicator {indicator.code} registered twice")
    _REGISTRY[indicator.code] = indicator
    return indicator


def get_indicator(code: str) -> Indicator:
    _load_all()
    try:
        return _REGISTRY[code]
    except KeyError:
        raise KeyError(f"no indicator registered for SDG {code!r}; available: {', '.join(sorted(_REGISTRY))}") from None


def available() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def _load_all() -> None:
    from pipeline.indicators import sdg6_6_1, sdg15_1_1  # noqa: F401  (registration side effect)
