"""15.4.2's table: MGCI (a) per year and the degraded share of mountain land (b) per period, in total and
per mountain class (and bioclimatic belt), per zone."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline import tables
from pipeline.indicators import Stats
from pipeline.indicators.sdg15_4_2.legends import BELTS, GREEN, MOUNTAIN
from pipeline.indicators.sdg15_4_2.parameters import Parameters

M2_PER_KM2 = 1e6
CLASSES = range(1, 7)
SEEA_KNOWN = range(1, 11)


def _pct(part: float, whole: float) -> float:
    return part / whole * 100 if whole > 0 else math.nan


def table(stats: Stats, params: Parameters) -> pd.DataFrame:
    rows: list[dict] = []
    method = ("real-surface area (pixel area / cos(slope))" if params.area == "surface"
              else "planimetric area (true area on the ellipsoid)")
    b0, b1 = params.baseline
    status_by_zone = {z: s for z, _, s in tables.zones_of(stats["status"] / M2_PER_KM2)}
    belts_by_zone = ({z: s for z, _, s in tables.zones_of(stats["belt_cover"] / M2_PER_KM2)}
                     if "belt_cover" in stats else {})
    empty: list[str] = []
    for zone, name, cover in tables.zones_of(stats["cover"] / M2_PER_KM2):
        years = [int(p) for p in cover.period.values]
        series: dict[str, tuple[dict[int, float], str, str]] = {}
        at = {y: cover.sel(period=str(y)).values for y in years}
        known = {y: {k: float(at[y][[k * 16 + s for s in SEEA_KNOWN]].sum()) for k in CLASSES} for y in years}
        green = {y: {k: float(at[y][[k * 16 + s for s in GREEN]].sum()) for k in CLASSES} for y in years}
        total_known = {y: sum(known[y].values()) for y in years}
        series["mgci"] = ({y: _pct(sum(green[y].values()), total_known[y]) for y in years}, "percent",
                          f"MGCI: green mountain area / mountain area x 100 (SEEA classes 2-6 green); {method}")
        series["green_mountain_area"] = ({y: sum(green[y].values()) for y in years}, "km2", f"green cover; {method}")
        series["mountain_area"] = ({y: total_known[y] for y in years}, "km2",
                                   f"mountain classes 1-6 with land cover; {method}")
        series["mountain_no_land_cover_area"] = ({y: float(sum(at[y][k * 16] for k in CLASSES)) for y in years},
                                                 "km2", "mountain area without land cover (left out of the MGCI)")
        for k in CLASSES:
            series[f"mgci_class_{k}"] = ({y: _pct(green[y][k], known[y][k]) for y in years}, "percent",
                                         f"MGCI of mountain class {k} ({MOUNTAIN[k]})")
            series[f"mountain_area_class_{k}"] = ({y: known[y][k] for y in years}, "km2",
                                                  f"mountain class {k} ({MOUNTAIN[k]}); {method}")
        if zone in belts_by_zone:
            belt = belts_by_zone[zone]
            for b, label in BELTS.items():
                bv = {y: belt.sel(period=str(y)).values for y in years}
                g = {y: float(bv[y][[b * 16 + s for s in GREEN]].sum()) for y in years}
                m = {y: float(bv[y][[b * 16 + s for s in SEEA_KNOWN]].sum()) for y in years}
                series[f"mgci_belt_{label.replace(' ', '_')}"] = ({y: _pct(g[y], m[y]) for y in years}, "percent",
                                                                  f"MGCI of the {label} belt")
        if not any(total_known.values()):
            empty.append(zone)
        rows += tables.yearly_rows("15.4.2", series, zone=zone, zone_name=name)
        rows += _degradation_rows(status_by_zone[zone], zone, name, years, b0, b1, method)
    if empty:
        tables.warn_empty("15.4.2", empty)
    return tables.frame(rows)


def _degradation_rows(status, zone: str, name: str, years: list[int], b0: int, b1: int, method: str) -> list[dict]:
    rows = []
    for y in years:
        if y == b0:
            continue
        first = b0 if y == b1 else b1
        label = f"{first}-{y}"
        values = status.sel(period=str(y)).values
        where = dict(indicator="15.4.2", zone=zone, zone_name=name, period=label, start_year=first, end_year=y)
        note = ("degraded mountain area / mountain area x 100, FAO's transition matrix" +
                ("" if y == b1 else f"; from {b1}, combined with the baseline {b0}-{b1}") + f"; {method}")
        degraded = {k: float(values[k * 4]) for k in CLASSES}
        assessed = {k: float(values[k * 4:k * 4 + 3].sum()) for k in CLASSES}
        rows.append({**where, "series": "degraded_mountain_pct", "unit": "percent", "note": note,
                     "value": _pct(sum(degraded.values()), sum(assessed.values()))})
        rows.append({**where, "series": "degraded_mountain_area", "unit": "km2", "note": "degraded mountain area",
                     "value": sum(degraded.values())})
        for k in CLASSES:
            rows.append({**where, "series": f"degraded_mountain_pct_class_{k}", "unit": "percent",
                         "note": f"mountain class {k} ({MOUNTAIN[k]})", "value": _pct(degraded[k], assessed[k])})
    return rows


def headline(table: pd.DataFrame) -> str:
    aoi = table[table.zone == tables.ALL]
    mgci = aoi[aoi.series == "mgci"].sort_values("end_year")
    deg = aoi[aoi.series == "degraded_mountain_pct"].sort_values("end_year")
    first, last = mgci.iloc[0], mgci.iloc[-1]
    text = f"MGCI {last.period}: {last.value:.2f} % ({first.period}: {first.value:.2f} %)"
    if len(deg):
        text += f"; degraded mountain land {deg.iloc[-1].period}: {deg.iloc[-1].value:.2f} %"
    return text if np.isfinite(last.value) else text + " (no mountain land in the AOI)"
