"""6.6.1's table (per zone and year, and the period change) and headline from the labelled class areas."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import kernels
from pipeline import tables
from pipeline.indicators import Stats

M2_PER_KM2 = 1e6


def table(stats: Stats, periods) -> pd.DataFrame:
    rows: list[dict] = []
    empty = []
    for zone, name, km2 in tables.zones_of(stats["areas"] / M2_PER_KM2):
        years = [int(p) for p in km2.period.values]
        at = {y: km2.sel(period=str(y)).values for y in years}
        permanent, seasonal = _per_year(at, kernels.PERMANENT), _per_year(at, kernels.SEASONAL)
        aoi = {y: float(at[y].sum()) for y in years}
        blind = [y for y in years if aoi[y] > 0 and at[y][kernels.NO_OBSERVATION] >= aoi[y] * (1 - 1e-12)]
        for y in blind:  # nothing seen: the water area is unknown, not zero
            permanent[y] = seasonal[y] = np.nan
        if blind and zone == tables.ALL:
            warnings.warn(f"SDG 6.6.1: no clear observation anywhere in the AOI in {', '.join(map(str, blind))}: "
                          "its water areas are NaN (not 0) and the period means leave those years out", stacklevel=2)
        total = {y: permanent[y] + seasonal[y] for y in years}
        if not all(aoi.values()):
            empty.append(zone)
        rows += tables.yearly_rows("6.6.1", {
            "permanent_water_area": (permanent, "km2", "water on all clear observations of the year"),
            "seasonal_water_area": (seasonal, "km2", "water on some clear observations of the year"),
            "total_water_area": (total, "km2", "permanent + seasonal"),
            "permanent_water_pct": (_pct(permanent, aoi), "percent", "of the zone's total area (land + inland water)"),
            "seasonal_water_pct": (_pct(seasonal, aoi), "percent", "of the zone's total area (land + inland water)"),
            "no_observation_area": (_per_year(at, kernels.NO_OBSERVATION), "km2",
                                    "too few clear observations to class; excluded from water areas"),
            "aoi_area": (aoi, "km2", "true area of the AOI (or of its part in the zone) on the ellipsoid"),
        }, zone=zone, zone_name=name)
        if periods.baseline and periods.reporting:
            for series, values in (("permanent_water_area", permanent), ("seasonal_water_area", seasonal),
                                   ("total_water_area", total)):
                rows += tables.change_rows("6.6.1", series, values, "km2", periods.baseline, periods.reporting,
                                           zone=zone, zone_name=name)
    tables.warn_empty("6.6.1", empty)
    return tables.frame(rows)


def _per_year(at: dict[int, np.ndarray], cls: int) -> dict[int, float]:
    return {y: float(v[cls]) for y, v in at.items()}


def _pct(values: dict[int, float], aoi: dict[int, float]) -> dict[int, float]:
    """Share of the zone's area; NaN where the zone has no area in the AOI."""
    return {y: values[y] / aoi[y] * 100 if aoi[y] else np.nan for y in values}


def headline(table: pd.DataFrame) -> str:
    aoi = table[table.zone == tables.ALL]
    seen = aoi[(aoi.series == "permanent_water_area") & aoi.value.notna()].sort_values("end_year")
    if not len(seen):
        return "no clear observation in any year: no water area can be computed (see the warnings)"
    last = seen.iloc[-1]
    seasonal = tables.value(aoi, "seasonal_water_area", last.period)
    text = f"permanent water {last.period}: {last.value:.3f} km², seasonal {seasonal:.3f} km²"
    change = aoi[aoi.series == "permanent_water_area_change"]
    if len(change):
        text += f"; permanent change {change.period.iloc[0]}: {change.value.iloc[0]:+.2f} %"
    return text
