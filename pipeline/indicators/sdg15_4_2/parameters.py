"""The recipe's ``parameters`` for 15.4.2 (validated without importing the science)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.indicators.sdg15_4_2.legends import IMPACT, SEEA, SOURCE_LEGENDS


@dataclass(frozen=True)
class Parameters:
    """``land_cover_legend`` names a shipped table to the SEEA classes (or ``custom``); ``land_cover_table``
    adds to or overrides it (source class -> SEEA class 1..10). ``impact`` replaces FAO's transition matrix
    (10 rows of 10 letters D/S/I, from-class rows). ``baseline``: degradation from its first to its last year;
    each of ``reporting_years`` is assessed from the baseline's last year and combined with the baseline's
    status. ``area``: ``planimetric`` or ``surface`` (real surface: the pixel area / cos(slope))."""

    land_cover_legend: Literal["esa-cci", "esa-worldcover", "custom"] = "esa-cci"
    land_cover_table: Mapping[int, int] = field(default_factory=dict)
    impact: tuple[str, ...] = IMPACT
    baseline: tuple[int, int] = (2000, 2015)
    reporting_years: tuple[int, ...] = (2018, 2021)
    local_range_radius_m: float = 7000.0
    local_range_m: float = 300.0
    area: Literal["planimetric", "surface"] = "planimetric"
    belts: bool = False  # an input ``belts`` (band ``belt``: 1 nival, 2 alpine, 3 montane, 4 remaining) is given

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.land_cover_table.items() if v not in SEEA or not 0 <= k <= 65535}
        if bad:
            raise ValueError(f"land_cover_table maps land-cover classes 0..65535 to SEEA classes 1..10; got {bad}")
        if self.land_cover_legend == "custom" and not self.land_cover_table:
            raise ValueError("land_cover_legend: custom needs land_cover_table (class -> SEEA class 1..10)")
        if len(self.impact) != 10 or any(len(r) != 10 or set(r) - set("DSI") for r in self.impact):
            raise ValueError("impact must be 10 rows of 10 letters D (degradation), S (stable) or I (improvement)")
        first, last = self.baseline
        if not first < last:
            raise ValueError(f"baseline must be [first, last] with first < last; got {[first, last]}")
        if any(y <= last for y in self.reporting_years) or list(self.reporting_years) != sorted(set(
                self.reporting_years)):
            raise ValueError(f"reporting_years must be increasing years after the baseline's end {last}; got "
                             f"{list(self.reporting_years)}")
        if not (math.isfinite(self.local_range_radius_m) and 0 < self.local_range_radius_m <= 50_000):
            raise ValueError(f"local_range_radius_m must be within (0, 50000] m; got {self.local_range_radius_m}")

    @property
    def years(self) -> tuple[int, ...]:
        return (*self.baseline, *self.reporting_years)

    def legend(self) -> dict[int, int]:
        base = {} if self.land_cover_legend == "custom" else dict(SOURCE_LEGENDS[self.land_cover_legend])
        return {**base, **{int(k): int(v) for k, v in self.land_cover_table.items()}}


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    inputs: dict[str, tuple[str, ...]] = {"dem": ("elevation",), "landcover": ("landcover",)}
    return {**inputs, "belts": ("belt",)} if params.belts else inputs


def check_recipe(recipe: Any) -> str | None:
    params: Parameters = recipe.parameters
    first, last = recipe.periods.years
    outside = [y for y in params.years if not first <= y <= last]
    if outside:
        return (f"parameters.baseline/reporting_years read {outside} but periods.years is {[first, last]}; widen "
                f"periods.years to [{min(first, *params.years)}, {max(last, *params.years)}]")
    return None


def margin_m(params: Parameters) -> float:
    """The grid reaches this far beyond the AOI: the local elevation range looks that far."""
    return params.local_range_radius_m
