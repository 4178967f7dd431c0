"""The six SDG 15.3.1 input collections on the LD grid: COGs and Planetary Computer shaped items (synthetic)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
from shapely.geometry import box, mapping

from catalog.demo.cogs import write_cog
from catalog.demo.land_degradation import (
    CLIMATE_NODATA,
    COMPOSITE_DOYS,
    LC_NODATA,
    LC_YEARS,
    NDVI_NODATA,
    NDVI_YEARS,
    PARTS,
    RELIABILITY_NODATA,
    SOC_NODATA,
    SOIL_NODATA,
    LandDegradation,
    composite_dates,
)
from catalog.demo.layout import GEO_CRS, Grid
from catalog.demo.mountains import Mountains
from catalog.demo.stac import EXT, cog_asset, collection
from catalog.demo.truth_15_3_1 import NODATA, LandTruth

MODIS, CCI, SOC, SOIL, CLIMATE, LPD = ("modis-13Q1-061", "esa-cci-lc", "soilgrids-ocs", "soil-taxonomy-usda",
                                       "ipcc-climate-zones", "jrc-lpd")
DEM = "cop-dem-glo-30"
DEM_NODATA = None  # as the profile: the DEM has no nodata value
LD_COLLECTIONS = (MODIS, CCI, SOC, SOIL, CLIMATE, LPD, DEM)
MODIS_TILE = (12, 10)  # the real sinusoidal tile h12v10 holds this AOI
NDVI_KEY, RELIABILITY_KEY = "250m_16_days_NDVI", "250m_16_days_pixel_reliability"
STATIC_DATE = datetime(2000, 1, 1, tzinfo=UTC)  # the SOC reference year; also dates the other static layers
LPD_YEARS = {2015: "baseline", 2019: "2016-2019", 2023: "2020-2023"}  # item year -> truth period
LPD_WATER = 15  # the second no data value of JRC LPD: written over the lake
CCI_CLASSES = {0: "No data", 10: "Cropland, rainfed", 50: "Tree cover, broadleaved, evergreen, closed to open",
               130: "Grassland", 190: "Urban areas", 210: "Water bodies"}
LPD_CLASSES = {1: "Declining", 2: "Early signs of decline", 3: "Stable but stressed", 4: "Stable", 5: "Increasing"}
RELIABILITY_CLASSES = {-1: "Fill/No data", 0: "Good data", 1: "Marginal data", 2: "Snow/Ice", 3: "Cloudy"}
CLIMATE_CLASSES = {10: "Tropical moist", 12: "Tropical dry"}
SOIL_CLASSES = {1: "Soil unit 1 (west)", 2: "Soil unit 2 (east)"}


def _classes(table: dict[int, str]) -> dict:
    return {"classification:classes": [{"value": v, "description": d} for v, d in table.items()]}


class _Writer:
    """Writes the COGs of one collection and builds its items (hrefs under ``href_root``)."""

    def __init__(self, ld: LandDegradation, root: Path, href_root: str, coll: str, grid: Grid | None = None,
                 bounds: list[float] | None = None) -> None:
        self.ld, self.root, self.href_root, self.coll = ld, root, href_root, coll
        self.grid, self.bounds = grid or ld.grid, bounds or ld.bounds  # the LD grid unless the items lie wider

    def item(self, item_id: str, props: dict, assets: dict[str, tuple[np.ndarray, float | None, bool, str, dict]],
             extensions: tuple[str, ...] = ("raster", "proj"), when: datetime | None = None) -> pystac.Item:
        """``assets``: key -> (data, nodata, categorical, title, band and extra fields)."""
        bounds = self.bounds
        item = pystac.Item(item_id, mapping(box(*bounds)), list(bounds), when, {**props, "proj:code": GEO_CRS},
                           stac_extensions=[EXT[k] for k in extensions])
        for key, (data, nodata, categorical, title, extra) in assets.items():
            write_cog(self.root / self.coll / item_id / f"{key}.tif", data, self.grid, nodata, categorical)
            band = {"data_type": data.dtype.name, "nodata": nodata, **extra.pop("band", {})}
            item.add_asset(key, cog_asset(f"{self.href_root}/{self.coll}/{item_id}/{key}.tif", title, self.grid,
                                          band, ["data"], **extra))
        return item


def _year(year: int) -> dict:
    return {"start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z"}


def _modis_items(w: _Writer) -> list[pystac.Item]:
    h, v = MODIS_TILE
    items = []
    for year in NDVI_YEARS:
        for k, doy in enumerate(COMPOSITE_DOYS):
            ndvi, rel = w.ld.composite(year, k)
            start, end = composite_dates(year, k)
            props = {"start_datetime": start, "end_datetime": end, "platform": "terra", "instruments": ["modis"],
                     "modis:horizontal-tile": h, "modis:vertical-tile": v}
            items.append(w.item(f"MOD13Q1.A{year}{doy:03d}.h{h:02d}v{v:02d}.061", props, {
                NDVI_KEY: (ndvi, NDVI_NODATA, False, "250m 16 days NDVI", {"band": {"scale": 0.0001}}),
                RELIABILITY_KEY: (rel, RELIABILITY_NODATA, True, "250m 16 days pixel reliability",
                                  _classes(RELIABILITY_CLASSES)),
            }, ("raster", "proj", "classification")))
    return items


def _cci_items(w: _Writer, mountains: Mountains) -> list[pystac.Item]:
    """On the mountain grid (it holds the LD grid): 15.3.1 reads its window, 15.4.2 the rest too."""
    items = []
    for year in LC_YEARS:
        version = "v2.0.7cds" if year <= 2015 else "v2.1.1"
        prefix = "ESACCI" if year <= 2015 else "C3S"
        props = {**_year(year), "esa_cci_lc:version": version}
        items.append(w.item(f"{prefix}-LC-L4-LCCS-Map-300m-P1Y-{year}-{version}", props, {
            "lccs_class": (mountains.landcover(year), LC_NODATA, True, "Land cover class (LCCS)",
                           _classes(CCI_CLASSES))},
            ("raster", "proj", "classification")))
    return items


def _static_item(w: _Writer, item_id: str, key: str, data: np.ndarray, nodata: float | None, categorical: bool,
                 title: str, extra: dict) -> list[pystac.Item]:
    ext = ("raster", "proj", "classification") if "classification:classes" in extra else ("raster", "proj")
    return [w.item(item_id, {}, {key: (data, nodata, categorical, title, extra)}, ext, STATIC_DATE)]


def _lpd_items(w: _Writer, truth: LandTruth) -> list[pystac.Item]:
    """JRC-like LPD whose classes are the truth's LPD of each period (0 where it has no data, 15 on water)."""
    lake = np.isin(w.ld.parts, [i for i, p in enumerate(PARTS) if p.cci == 210])
    items = []
    for year, period in LPD_YEARS.items():
        lpd = truth.class_map(period, "lpd")
        assert (lpd[lake] == NODATA).all(), "the lake must have no LPD"
        data = np.where(lpd == NODATA, 0, lpd).astype(np.uint8)
        data[lake] = LPD_WATER
        items.append(w.item(f"jrc-lpd-{year}", _year(year), {
            "lpd": (data, 0, True, "Land productivity dynamics (5 classes; 0, 15 no data)",
                    _classes({**LPD_CLASSES, LPD_WATER: "No data (water)"}))},
            ("raster", "proj", "classification")))
    return items


DESCRIPTIONS = {
    MODIS: ("MODIS Vegetation Indices 16-Day (250m) (synthetic demo)",
            "Synthetic MOD13Q1-like NDVI and pixel reliability, 4 composites a year 2001-2023 (DOY 001, 097, "
            "193, 289). The real Planetary Computer items are 250 m sinusoidal tiles; the demo lies on a 1/2400 "
            "degree EPSG:4326 grid (the LD grid) so that the small AOI has enough pixels. Designed so that SDG "
            "15.3.1 has a known answer."),
    CCI: ("ESA Climate Change Initiative Land Cover Maps (synthetic demo)",
          "Synthetic yearly ESA CCI land cover (LCCS classes) 2000-2023 on the demo's 1/2400 degree grid "
          "(the real maps are 300 m), over the 15.4.2 mountain AOI and its 7 km margin; the 15.3.1 AOI is its "
          "western part."),
    DEM: ("Copernicus DEM GLO-30 (synthetic demo)",
          "Synthetic digital surface model (m) over the 15.4.2 mountain AOI and a 7 km margin on the demo's 1/2400 "
          "degree grid (the real GLO-30 is 1 arc-second): terrain that varies with longitude only, so its UNEP-WCMC "
          "mountain classes are known by construction."),
    SOC: ("SoilGrids soil organic carbon stock 0-30 cm (synthetic demo)",
          "Synthetic SOC stock 0-30 cm in t/ha (integers), the reference stock of the year 2000, with a no-data "
          "hole, on the demo's LD grid."),
    SOIL: ("USDA soil taxonomy (synthetic demo)",
           "Synthetic soil units (1 west, 2 east) for the land units of the productivity performance."),
    CLIMATE: ("IPCC climate zones (synthetic demo)",
              "Synthetic IPCC climate zones in Trends.Earth's numbering: 10 tropical moist (west), 12 tropical dry "
              "(east); they pick the cropland SOC factor."),
    LPD: ("JRC Land Productivity Dynamics (synthetic demo)",
          "Synthetic 5-class LPD (1 declining .. 5 increasing; 0 and 15 no data), one map for each 15.3.1 "
          "period (2015 baseline, 2019, 2023): the demo truth's LPD, so given and computed LPD agree."),
}


def write_land_degradation(ld: LandDegradation, truth: LandTruth, mountains: Mountains, root: Path,
                           href_root: str) -> list[pystac.Collection]:
    """Every COG of the six collections and the DEM under ``root``, and the collections with their items
    (ESA CCI and the DEM on the mountain grid, the others on the LD grid)."""
    def writer(coll: str) -> _Writer:
        wide = coll in (CCI, DEM)
        return _Writer(ld, root, href_root, coll, mountains.grid if wide else None, mountains.bounds if wide else None)

    make: dict[str, Callable[[], list[pystac.Item]]] = {
        MODIS: lambda: _modis_items(writer(MODIS)),
        CCI: lambda: _cci_items(writer(CCI), mountains),
        DEM: lambda: _static_item(writer(DEM), "Copernicus_DSM_demo_mountains", "data", mountains.dem, DEM_NODATA,
                                  False, "Digital surface model (m)", {"band": {"unit": "m"}}),
        SOC: lambda: _static_item(writer(SOC), "soilgrids-ocs-0-30cm", "ocs", ld.soc, SOC_NODATA, False,
                                  "SOC stock 0-30 cm (t/ha)", {"band": {"unit": "t/ha"}}),
        SOIL: lambda: _static_item(writer(SOIL), "soil-taxonomy-usda", "taxousda", ld.soil, SOIL_NODATA, True,
                                   "USDA soil taxonomy unit", _classes(SOIL_CLASSES)),
        CLIMATE: lambda: _static_item(writer(CLIMATE), "ipcc-climate-zones", "climate_zone", ld.climate,
                                      CLIMATE_NODATA, True, "IPCC climate zone", _classes(CLIMATE_CLASSES)),
        LPD: lambda: _lpd_items(writer(LPD), truth),
    }
    out = []
    for coll in LD_COLLECTIONS:
        title, description = DESCRIPTIONS[coll]
        out.append(collection(coll, title, description, "CC-BY-4.0", make[coll](),
                              ["land degradation", "sdg 15.3.1", "synthetic"]))
    return out
