"""The known answer of SDG 6.6.1 (permanent and seasonal surface water) from the designed lake, per AOI and zone."""

from __future__ import annotations

import numpy as np
import pyproj

from catalog.demo.layout import UTM_CRS, to_geo
from catalog.demo.scenes import YEARS
from catalog.demo.world import Design
from catalog.demo.zones import Zones, check_sums, per_zone

AREA_KEYS = ("aoi_area_km2", "permanent_km2", "seasonal_km2")  # additive over zones


def _cell_area20(design: Design) -> np.ndarray:
    """True area (m^2) of every 20 m UTM cell: 400 m^2 / areal scale factor at its centre."""
    lon, lat = to_geo().transform(*design.world20.centres())
    return 20.0 * 20.0 / np.asarray(pyproj.Proj(UTM_CRS).get_factors(lon, lat).areal_scale)


def truth_6_6_1(design: Design) -> dict:
    """The designed lake per year on the 20 m UTM grid (cell centres inside), within the
    AOI, times the true cell area (400 m^2 / areal scale factor)."""
    cell = _cell_area20(design)
    aoi = design.aoi20
    years = {}
    for year in YEARS:
        permanent, ring = design.lake20(year)
        years[str(year)] = {"aoi_area_km2": float(cell[aoi].sum()) / 1e6,
                            "permanent_km2": float(cell[permanent & aoi].sum()) / 1e6,
                            "seasonal_km2": float(cell[ring & aoi].sum()) / 1e6}
    return {"grid": {"crs": UTM_CRS, "resolution": 20}, "years": years}


def zone_truth_6_6_1(design: Design, zones: Zones, totals: dict) -> dict:
    """The same per zone (and outside zones): AOI cells whose centre lies in the zone. ``totals``:
    truth_6_6_1's years, which zones plus outside must add up to."""
    cell = _cell_area20(design)
    lakes = {year: design.lake20(year) for year in YEARS}

    def measure(year: int, zone: np.ndarray) -> dict[str, float]:
        permanent, ring = lakes[year]
        return {"aoi_area_km2": float(cell[zone].sum()) / 1e6,
                "permanent_km2": float(cell[permanent & zone].sum()) / 1e6,
                "seasonal_km2": float(cell[ring & zone].sum()) / 1e6}

    zoned = per_zone(zones.masks20, YEARS, measure)
    check_sums(zoned, totals, AREA_KEYS)
    return zoned
