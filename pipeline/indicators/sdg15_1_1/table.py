"""15.1.1's table (per zone and year) and headline from the labelled land-cover and forest areas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import tables
from pipeline.indicators import Stats
from pipeline.indicators.sdg15_1_1.legend import FOREST, LANDCOVER_NODATA
from pipeline.indicators.sdg15_1_1.parameters import Parameters

M2_PER_HA, M2_PER_KM2 = 1e4, 1e6
UNKNOWN = 255


def table(stats: Stats, params: Parameters) -> pd.DataFrame:
    rows: list[dict] = []
    empty = []
    forest_by_zone = {z: f for z, _, f in tables.zones_of(stats["forest"] / M2_PER_KM2)}
    for zone, name, lc in tables.zones_of(stats["landcover"] / M2_PER_KM2):
        forest = forest_by_zone[zone]
        years = [int(p) for p in lc.period.values]
        at = {y: lc.sel(period=str(y)).values for y in years}
        aoi = {y: float(at[y].sum()) for y in years}
        water = {y: float(at[y][list(params.water_classes)].sum()) for y in years}
        nodata = {y: float(at[y][LANDCOVER_NODATA] + at[y][UNKNOWN]) for y in years}
        land = {y: aoi[y] - water[y] for y in years}
        forest_km2 = {y: float(forest.sel({"period": str(y), "class": FOREST})) for y in years}
        pct = {y: forest_km2[y] / land[y] * 100 if land[y] else np.nan for y in years}
        if not all(land.values()):
            empty.append(zone)
        rows += tables.yearly_rows("15.1.1", {
            "forest_area_pct": (pct, "percent", "forest area / land area x 100 (NaN: no land)"),
            "forest_area": (forest_km2, "km2", f"classes {list(params.forest_classes)} in patches "
                            f">= {params.mmu_ha:g} ha"),
            "land_area": (land, "km2", "AOI area less permanent inland water (classes "
                          f"{list(params.water_classes)})"),
            "permanent_water_area": (water, "km2", "permanent inland water, excluded from land area"),
            "no_data_area": (nodata, "km2", "AOI area without land-cover data"),
            "aoi_area": (aoi, "km2", "true area of the AOI on the ellipsoid"),
        }, zone=zone, zone_name=name)
    tables.warn_empty("15.1.1", empty)
    return tables.frame(rows)


def headline(table: pd.DataFrame) -> str:
    pct = table[(table.series == "forest_area_pct") & (table.zone == tables.ALL)].sort_values("end_year")
    first, last = pct.iloc[0], pct.iloc[-1]
    return (f"forest area {last.period}: {last.value:.2f} % of land area "
            f"({first.period}: {first.value:.2f} %)")
