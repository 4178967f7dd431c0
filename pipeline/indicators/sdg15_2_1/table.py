"""15.2.1's table: forest areas per year and FAO's compound annual change rates between years, per zone."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline import tables
from pipeline.indicators import Stats
from pipeline.indicators.sdg15_1_1.legend import FOREST
from pipeline.indicators.sdg15_2_1.parameters import Parameters

M2_PER_KM2 = 1e6
FORMULA = "FAO compound rate ((A_t2 / A_t1) ** (1 / (t2 - t1)) - 1) x 100; negative = loss"


def change_rate(start: float, end: float, years: int) -> float:
    """FAO's compound annual rate (% per year); NaN when the start area is 0 (or unknown): no rate exists."""
    if not (np.isfinite(start) and np.isfinite(end)) or start <= 0 or years <= 0:
        return math.nan
    return ((end / start) ** (1.0 / years) - 1.0) * 100.0


def direction(rate: float) -> float:
    """+1 gain, -1 loss, 0 no net change, NaN unknown (the sign FAO reports for the decade)."""
    return float(np.sign(rate)) if np.isfinite(rate) else math.nan


def table(stats: Stats, params: Parameters) -> pd.DataFrame:
    rows: list[dict] = []
    undefined: list[str] = []
    forest_by_zone = {z: f for z, _, f in tables.zones_of(stats["forest"] / M2_PER_KM2)}
    for zone, name, lc in tables.zones_of(stats["landcover"] / M2_PER_KM2):
        years = sorted(int(p) for p in lc.period.values)
        forest = {y: float(forest_by_zone[zone].sel({"period": str(y), "class": FOREST})) for y in years}
        at = {y: lc.sel(period=str(y)).values for y in years}
        land = {y: float(at[y].sum() - at[y][list(params.water_classes)].sum()) for y in years}
        rows += tables.yearly_rows("15.2.1", {
            "forest_area": (forest, "km2", f"classes {list(params.forest_classes)} in patches >= {params.mmu_ha:g} ha "
                                           "(the forest layer of 15.1.1)"),
            "land_area": (land, "km2", "AOI area less permanent inland water"),
        }, zone=zone, zone_name=name)
        where = dict(indicator="15.2.1", zone=zone, zone_name=name)
        rows += _rate_rows(where, forest, years[0], years[-1], "forest_change_rate", FORMULA)
        for a, b in itertools.pairwise(years):
            rows += _rate_rows(where, forest, a, b, "forest_change_rate_annual", f"{FORMULA}; consecutive years")
        rows += _decade_rows(where, forest, params)
        if forest[years[0]] <= 0:
            undefined.append(zone)
    if undefined:
        warnings.warn(f"SDG 15.2.1: zones {', '.join(undefined)} have no forest in the first year; their change "
                      "rates are NaN (a rate from zero forest does not exist)", stacklevel=2)
    return tables.frame(rows)


def _rate_rows(where: Mapping, forest: Mapping[int, float], first: int, last: int, series: str,
               note: str) -> list[dict]:
    rate = change_rate(forest[first], forest[last], last - first)
    if not np.isfinite(rate):
        note = f"no value: no forest in {first}, a rate from zero does not exist; {note}"
    return [dict(where, series=series, period=f"{first}-{last}", start_year=first, end_year=last, value=rate,
                 unit="percent per year", note=note)]


def _decade_rows(where: Mapping, forest: Mapping[int, float], params: Parameters) -> list[dict]:
    """The reporting decade's rate and direction, and its difference from the baseline decade's, when the
    years are there."""
    rows: list[dict] = []
    rep, base = params.reporting, params.baseline
    if not all(y in forest for y in rep):
        return rows
    r = change_rate(forest[rep[0]], forest[rep[1]], rep[1] - rep[0])
    label = f"{rep[0]}-{rep[1]}"
    rows += _rate_rows(where, forest, rep[0], rep[1], "forest_change_rate_reporting", FORMULA)
    rows.append(dict(where, series="forest_change_direction", period=label, start_year=rep[0], end_year=rep[1],
                     value=direction(r), unit="1", note="sign of the reporting decade's rate: 1 gain, -1 loss, 0 none"))
    if all(y in forest for y in base):
        b = change_rate(forest[base[0]], forest[base[1]], base[1] - base[0])
        rows += _rate_rows(where, forest, base[0], base[1], "forest_change_rate_baseline", FORMULA)
        rows.append(dict(where, series="forest_change_rate_vs_baseline", period=f"{label} vs {base[0]}-{base[1]}",
                         start_year=base[0], end_year=rep[1], value=r - b, unit="percentage points per year",
                         note="reporting decade's rate - baseline decade's rate (positive = loss slowed or gain "
                              "grew)"))
    return rows


def headline(table: pd.DataFrame) -> str:
    aoi = table[table.zone == tables.ALL]
    rate = aoi[aoi.series == "forest_change_rate"].iloc[0]
    area = aoi[aoi.series == "forest_area"].sort_values("end_year")
    return (f"forest area net change {rate.period}: {rate.value:+.3f} % per year "
            f"({area.value.iloc[0]:.3f} -> {area.value.iloc[-1]:.3f} km²)")
