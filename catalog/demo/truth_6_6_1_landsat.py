"""The known answer of SDG 6.6.1 from Landsat 5/7/8/9 and Sentinel-2 together (2000-2024, 30 m):
recipes/6.6.1-landsat-sentinel2.yaml. Per year the designed lake's areas and, per sensor, the dates
and clear observations a run must find; the change of the reporting mean against the baseline."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pystac

from catalog.demo.atmosphere import MAX_CLOUD_COVER, cloud_year
from catalog.demo.landsat import CLEAR, RES, LandsatDemo
from catalog.demo.landsat_scenes import LANDSAT_SCENES, LANDSAT_YEARS
from catalog.demo.layout import UTM_CRS, to_geo
from catalog.demo.scenes import SCENES, YEARS

RECIPE = "recipes/6.6.1-landsat-sentinel2.yaml"
BASELINE, REPORTING = (2000, 2004), (2020, 2024)  # the official 6.6.1 baseline; the last five years


def _cell_area30(landsat: LandsatDemo) -> np.ndarray:
    """True area (m^2) of every 30 m UTM cell: 900 m^2 / areal scale factor at its centre."""
    lon, lat = to_geo().transform(*landsat.grid.centres())
    return RES * RES / np.asarray(pyproj.Proj(UTM_CRS).get_factors(lon, lat).areal_scale)


def _mean(values: dict[int, float], span: tuple[int, int]) -> float:
    return math.fsum(values[y] for y in range(span[0], span[1] + 1)) / (span[1] - span[0] + 1)


def truth_6_6_1_landsat_sentinel2(landsat: LandsatDemo) -> dict:
    """Areas of the designed lake on the 30 m grid (pixel centres in the AOI, each showing the 20 m design
    cell under it), and the clear observations per sensor and year: Landsat scenes kept by the recipe's
    max cloud cover, each pixel clear where no cloud, dilated cloud, shadow, cirrus, snow or SLC-off
    wedge hides it; Sentinel-2 (2016-2024) clear where the 20 m atmosphere under the pixel is."""
    cell, aoi = _cell_area30(landsat), landsat.aoi
    rows, cols = landsat.cell20
    s2_sky = {}
    for year in YEARS:
        s2_sky.update(cloud_year(landsat.design, year))
    years: dict[str, dict] = {}
    for year in LANDSAT_YEARS:
        permanent, ring = landsat.lake(year)
        dates: dict[str, int] = {}
        observations: dict[str, int] = {}
        for scene in LANDSAT_SCENES:
            if scene.when.year != year or landsat.cloud_cover(scene) >= MAX_CLOUD_COVER:
                continue
            clear = landsat.atmospheres[scene.key] == CLEAR
            dates[scene.sensor] = dates.get(scene.sensor, 0) + 1
            observations[scene.sensor] = observations.get(scene.sensor, 0) + int(clear[aoi].sum())
        for s2 in SCENES:
            if s2.when.year != year or s2.heavy:  # heavy dates are exactly those above the cloud cover limit
                continue
            clear = s2_sky[s2.key][rows, cols] == 0
            dates["msi"] = dates.get("msi", 0) + 1
            observations["msi"] = observations.get("msi", 0) + int(clear[aoi].sum())
        years[str(year)] = {"aoi_area_km2": float(cell[aoi].sum()) / 1e6,
                            "permanent_km2": float(cell[permanent & aoi].sum()) / 1e6,
                            "seasonal_km2": float(cell[ring & aoi].sum()) / 1e6,
                            "dates": dates, "observations": observations}
    change = {}
    for key, series in (("permanent_km2", "permanent_water_area"), ("seasonal_km2", "seasonal_water_area")):
        values = {int(y): v[key] for y, v in years.items()}
        change[f"{series}_change"] = (_mean(values, REPORTING) / _mean(values, BASELINE) - 1) * 100
    total = {int(y): v["permanent_km2"] + v["seasonal_km2"] for y, v in years.items()}
    change["total_water_area_change"] = (_mean(total, REPORTING) / _mean(total, BASELINE) - 1) * 100
    return {"recipe": RECIPE, "grid": {"crs": UTM_CRS, "resolution": RES},
            "periods": {"baseline": list(BASELINE), "reporting": list(REPORTING)},
            "years": years, "change_pct": change}


def truth_landsat_items(items: list[pystac.Item]) -> dict:
    """Which Landsat items a max cloud cover of 60 keeps (exactly the heavily clouded extra scenes go)."""
    excluded = [it.id for it in items if it.properties["eo:cloud_cover"] >= MAX_CLOUD_COVER]
    heavy = [s.item_id for s in LANDSAT_SCENES if s.heavy]
    assert sorted(excluded) == sorted(heavy), "cloud cover does not separate the heavy Landsat scenes"
    return {"kept": [it.id for it in items if it.id not in excluded], "excluded_by_cloud_cover": excluded}
