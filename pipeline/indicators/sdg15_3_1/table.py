"""15.3.1's table (per period and zone: the proportion degraded, km² per class of every layer) and headline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import tables
from pipeline.indicators import Stats
from pipeline.indicators.sdg15_3_1.legends import DEGRADATION, LPD, PERFORMANCE, STATUS, TRAJECTORY, UNCCD, WATER
from pipeline.indicators.sdg15_3_1.parameters import Parameters

M2_PER_KM2 = 1e6
LAYER_NAMES = {"trajectory": "productivity trajectory", "state": "productivity state",
               "performance": "productivity performance", "lpd": "land productivity dynamics",
               "productivity": "productivity sub-indicator", "land_cover_initial": "UNCCD land cover, initial year",
               "land_cover_final": "UNCCD land cover, final year",
               "land_cover_degradation": "land-cover sub-indicator",
               "soc_degradation": "SOC sub-indicator", "sdg": "SDG 15.3.1 (one out, all out)",
               "status": "status against the baseline (7 classes)",
               "status3": "status against the baseline (3 classes)"}
CLASSES = {"trajectory": TRAJECTORY, "state": DEGRADATION, "performance": PERFORMANCE, "lpd": LPD,
           "productivity": DEGRADATION, "land_cover_initial": UNCCD, "land_cover_final": UNCCD,
           "land_cover_degradation": DEGRADATION, "soc_degradation": DEGRADATION, "sdg": DEGRADATION,
           "status": STATUS, "status3": DEGRADATION}


def table(stats: Stats, params: Parameters) -> pd.DataFrame:
    rows: list[dict] = []
    empty: list[str] = []
    spans = {p.name: p.years for p in params.periods}
    reads = {p.name: f"period {p.name}: productivity {p.productivity[0]}-{p.productivity[1]}, land cover and SOC "
                     f"{p.land_cover[0]}-{p.land_cover[1]}" for p in params.periods}
    layers = [name for name in CLASSES if name in stats]
    for zone, name, sdg in tables.zones_of(stats["sdg"] / M2_PER_KM2):
        for period in sdg.period.values:
            period = str(period)
            first, last = spans[period]
            where = dict(indicator="15.3.1", zone=zone, zone_name=name, period=period, start_year=first,
                         end_year=last)
            initial = _areas(stats, "land_cover_initial", zone, period)
            aoi = float(sum(initial.values()))
            water = float(initial.get(WATER, 0.0))
            land = aoi - water
            areas = _areas(stats, "sdg", zone, period)
            degraded = float(areas.get(-1, 0.0))
            if land <= 0:
                empty.append(f"{zone} ({period})")
            rows += [
                {**where, "series": "degraded_pct", "value": degraded / land * 100 if land > 0 else np.nan,
                 "unit": "percent", "note": "SDG 15.3.1: degraded area / land area (AOI less water bodies at the "
                                            f"initial year) x 100; {reads[period]}"},
                {**where, "series": "te_degraded_pct", "value": degraded / aoi * 100 if aoi > 0 else np.nan,
                 "unit": "percent", "note": "degraded area / total area incl. water and no data (Trends.Earth's "
                                            "summary table)"},
                {**where, "series": "land_area", "value": land, "unit": "km2", "note": "AOI area less water bodies"},
                {**where, "series": "aoi_area", "value": aoi, "unit": "km2", "note": "true area on the ellipsoid"},
            ]
            for layer in layers:
                if layer.startswith("status") and period == params.baseline.name:
                    continue
                values = _areas(stats, layer, zone, period)
                known = CLASSES[layer]
                for code, label in known.items():
                    rows.append({**where, "series": f"{layer}_{label.replace(' ', '_').replace('%', 'pct')}_area",
                                 "value": float(values.get(code, 0.0)), "unit": "km2",
                                 "note": f"{LAYER_NAMES[layer]}: {label} (code {code})"})
                rows.append({**where, "series": f"{layer}_nodata_area",
                             "value": float(sum(v for c, v in values.items() if c not in known)), "unit": "km2",
                             "note": f"{LAYER_NAMES[layer]}: no data inside the AOI" +
                                     (" (water bodies are no data)" if layer in ("sdg", "soc_degradation") else "")})
    tables.warn_empty("15.3.1", sorted(set(empty)))
    return tables.frame(rows)


def _areas(stats: Stats, layer: str, zone: str, period: str) -> dict[int, float]:
    """km² per class value (non-zero areas only) of one layer, zone and period."""
    da = stats[layer].sel(zone=zone, period=period) / M2_PER_KM2
    values = da.values
    return {int(c): float(v) for c, v in zip(da["class"].values, values, strict=True) if v}


def headline(table: pd.DataFrame) -> str:
    aoi = table[(table.zone == tables.ALL) & (table.series == "degraded_pct")]
    parts = [f"{row.period}: {row.value:.2f} %" for row in aoi.itertuples()]
    return "land degraded (share of land area) " + "; ".join(parts)
