"""The Landsat Collection 2 Level-2 look-alike: 30 m scenes of the demo lake, 2000-2024, shaped like
the Planetary Computer's ``landsat-c2-l2`` (asset keys, raster:bands, QA_PIXEL bit flags).

What the ground is: every 30 m pixel shows the surface of the 20 m design cell under its centre
(``world``; the lake history of ``landsat_scenes`` before 2016), so a 30 m grid aligned with this one
sees Landsat and Sentinel-2 agree pixel for pixel. Its reflectance is the Sentinel-2 spectrum
harmonised to OLI with the HLS Sentinel-2A coefficients (``catalog/profiles/harmonisation.yaml``),
and TM / ETM+ record the OLI value moved back through Roy et al.'s fit: harmonised to OLI, every
sensor reads the same reflectance to within a DN. Surfaces are flat (no texture, no noise): 30 m
files at 2.75e-5 reflectance per DN would cost ~6x more with the Sentinel-2 texture, and the test of
the harmonisation is exact.

What hides it: clouds (QA_PIXEL cloud, bit 3) with a dilated rim (bit 1), their shadows (bit 4),
cirrus on OLI only (bit 2), snow (bit 5: bright in the visible, dark in SWIR, so MNDWI calls it
water unless it is masked), and from 2003-05-31 Landsat 7's SLC-off wedges of no data (DN 0,
QA_PIXEL fill). Clouds and snow are drawn within a per-pixel budget, after the wedges, so every
pixel keeps >= 3 clear observations a year, one wet and one dry among them.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path

import numpy as np
import pystac
from affine import Affine
from shapely.geometry import box, mapping

from catalog.demo.atmosphere import cloud_masks
from catalog.demo.cogs import write_cog
from catalog.demo.landsat_scenes import (
    INSTRUMENTS,
    LANDSAT_SCENES,
    LANDSAT_YEARS,
    WRS_PATH,
    WRS_ROW,
    LandsatScene,
    lake_scales,
)
from catalog.demo.layout import UTM_CRS, Grid, Layout, utm_polygon_to_geo
from catalog.demo.sentinel2 import SPECTRA
from catalog.demo.stac import EXT, cog_asset, collection
from catalog.demo.world import DARK_WATER, WATER, Design, _land_kind, in_ellipse, smooth_field

LANDSAT_COLLECTION = "landsat-c2-l2"
RES = 30
SR_BANDS = ("blue", "green", "red", "nir08", "swir16", "swir22")
QA_BAND = "qa_pixel"
SR_SCALE, SR_OFFSET = 2.75e-5, -0.2  # Collection 2 surface reflectance = DN * scale + offset
MIN_CLEAR_PER_YEAR = 3

# Harmonisation to OLI (slope, intercept) per band in SR_BANDS order, as in catalog/profiles/harmonisation.yaml:
# HLS Sentinel-2A MSI -> OLI (the ground's OLI reflectance) and Roy et al. 2016 ETM+ -> OLI (TM alike).
HLS_S2A = ((0.9778, -0.0040), (1.0053, -0.0009), (0.9765, 0.0009), (0.9983, -0.0001), (0.9987, -0.0011),
           (1.0030, -0.0012))
ROY_ETM = ((0.8474, 0.0003), (0.8483, 0.0088), (0.9047, 0.0061), (0.8462, 0.0412), (0.8937, 0.0254),
           (0.9071, 0.0172))
OLI_SPECTRA = SPECTRA * np.array([s for s, _ in HLS_S2A]) + np.array([i for _, i in HLS_S2A])

# ---------------------------------------------------------------- atmosphere (codes per 30 m pixel)
CLEAR, CLOUD, RIM, SHADOW, CIRRUS, SNOW, GAP = range(7)
CLOUD_FRACTION = {True: (0.12, 0.35), False: (0.0, 0.12)}  # wet season, dry season
HEAVY_FRACTION = 0.97
CLOUD_SIGMA_PX = 5.0
SHADOW_SHIFT_PX = (6, 4)  # rows south, cols east
SNOW_CHANCE, SNOW_FRACTION = 0.35, (0.01, 0.03)
CIRRUS_CHANCE, CIRRUS_FRACTION = 0.5, (0.02, 0.06)
CLOUD_REFLECTANCE = {CLOUD: 0.48, RIM: 0.38}
SNOW_SPECTRUM = np.array([0.80, 0.78, 0.76, 0.66, 0.12, 0.06])  # OLI; MNDWI ~ 0.73
CIRRUS_BASE, CIRRUS_TRANSMITTANCE, SHADOW_FACTOR = 0.15, 0.5, 0.5
# SLC-off wedges: stripes along the scan lines, tilted 8 degrees, widening west to east (4..9 px) with a
# 30 px period; the k-th SLC-off date of a season of one year is shifted by 10 k px, so within a season no
# pixel falls in two wedges.
GAP_PERIOD_PX, GAP_WIDTH_PX, GAP_TILT_DEG, GAP_PHASE_PX = 30, (4.0, 9.0), 8.0, 10

# ---------------------------------------------------------------- QA_PIXEL (Collection 2 Level-2)
FILL_BIT, DILATED_BIT, CIRRUS_BIT, CLOUD_BIT, SHADOW_BIT, SNOW_BIT, CLEAR_BIT, WATER_BIT = range(8)
CLOUD_CONF, SHADOW_CONF, SNOW_CONF, CIRRUS_CONF = 8, 10, 12, 14  # first bit of each 2-bit confidence
LOW, MEDIUM, HIGH = 1, 2, 3

SCENE_LETTER = {"tm": "T", "etm": "E", "oli": "C"}  # landsat:scene_id: LC8..., LE7..., LT5...
BAND_INFO = {  # common name: ({sensor: band id}, centre wavelength um, FWHM um)
    "blue": ({"tm": "SR_B1", "etm": "SR_B1", "oli": "SR_B2"}, 0.48, 0.07),
    "green": ({"tm": "SR_B2", "etm": "SR_B2", "oli": "SR_B3"}, 0.56, 0.08),
    "red": ({"tm": "SR_B3", "etm": "SR_B3", "oli": "SR_B4"}, 0.655, 0.06),
    "nir08": ({"tm": "SR_B4", "etm": "SR_B4", "oli": "SR_B5"}, 0.865, 0.03),
    "swir16": ({"tm": "SR_B5", "etm": "SR_B5", "oli": "SR_B6"}, 1.61, 0.09),
    "swir22": ({"tm": "SR_B7", "etm": "SR_B7", "oli": "SR_B7"}, 2.2, 0.19),
}


def landsat_grid(layout: Layout) -> Grid:
    """The 30 m scene grid: from the tiles' north-west corner, whole pixels inside the tile union (its
    edges on multiples of 30 m, as a recipe grid at 30 m has them)."""
    (x0, x1), (y0, y1) = layout.union_x, layout.tile_y
    return Grid(UTM_CRS, Affine(RES, 0, x0, 0, -RES, y1), int((x1 - x0) // RES), int((y1 - y0) // RES))


def sensor_reflectance(oli: np.ndarray, sensor: str) -> np.ndarray:
    """What ``sensor`` records for OLI reflectance ``oli`` (..., 6 bands): TM and ETM+ through the
    inverse of Roy et al.'s ETM+ -> OLI fit, OLI itself unchanged."""
    if sensor == "oli":
        return oli
    slope = np.array([s for s, _ in ROY_ETM])
    intercept = np.array([i for _, i in ROY_ETM])
    return (oli - intercept) / slope


def qa_word(code: np.ndarray, water: np.ndarray, sensor: str) -> np.ndarray:
    """QA_PIXEL words (uint16) from atmosphere codes and the clear surface's water mask: bit flags
    0-7 and the 2-bit confidences of cloud, shadow, snow and (OLI only) cirrus, as USGS sets them."""
    cloud_conf = np.where(code == CLOUD, HIGH, np.where(code == RIM, MEDIUM, LOW))
    word = (cloud_conf << CLOUD_CONF) | (np.where(code == SHADOW, HIGH, LOW) << SHADOW_CONF)
    word |= np.where(code == SNOW, HIGH, LOW) << SNOW_CONF
    if sensor == "oli":
        word |= np.where(code == CIRRUS, HIGH, LOW) << CIRRUS_CONF
    for flag, bit in ((RIM, DILATED_BIT), (CIRRUS, CIRRUS_BIT), (CLOUD, CLOUD_BIT), (SHADOW, SHADOW_BIT),
                      (SNOW, SNOW_BIT)):
        word |= np.where(code == flag, 1 << bit, 0)
    word |= np.where((code != CLOUD) & (code != RIM), 1 << CLEAR_BIT, 0)  # clear: neither cloud nor dilated
    word |= np.where(water & (code != CLOUD) & (code != RIM), 1 << WATER_BIT, 0)
    word = np.where(code == GAP, 1 << FILL_BIT, word)  # fill: bit 0 alone
    return word.astype(np.uint16)


class LandsatDemo:
    """The Landsat scenes of a Design: the grid, the ground and the sky of every scene, items and files."""

    def __init__(self, design: Design) -> None:
        self.design = design
        self.grid = landsat_grid(design.layout)

    # ---- where each 30 m pixel looks on the 20 m design
    @cached_property
    def cell20(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the 20 m design cell under each 30 m pixel centre."""
        x, y = self.grid.centres()
        t = self.design.world20.transform
        return np.floor((y - t.f) / t.e).astype(np.int64), np.floor((x - t.c) / t.a).astype(np.int64)

    def lake(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """(permanent, seasonal ring) of ``year`` on this grid: the design cell's centre inside the ellipses."""
        permanent_scale, seasonal_scale = lake_scales(year)
        rows, cols = self.cell20
        x, y = (c[rows, cols] for c in self.design.world20.centres())
        permanent = in_ellipse(x, y, permanent_scale)
        return permanent, in_ellipse(x, y, seasonal_scale) & ~permanent

    @cached_property
    def aoi(self) -> np.ndarray:
        """30 m pixels whose centre lies inside the AOI (how the pipeline's AOI mask decides)."""
        from shapely import contains_xy

        return contains_xy(self.design.aoi_utm, *self.grid.centres())

    def surface(self, year: int, wet: bool) -> np.ndarray:
        """Surface kind (world.OPEN ... DARK_WATER) per 30 m pixel: land from the year's land cover
        (2016's before 2016), water from the lake of the year and season."""
        rows, cols = self.cell20
        lc_rows, lc_cols = self.design.lc_index20
        landcover = self.design.landcovers[max(year, min(self.design.landcovers))]
        land = _land_kind(landcover[lc_rows[rows, cols], lc_cols[rows, cols]])
        permanent, ring = self.lake(year)
        dark = self.design.dark20[rows, cols]
        return np.where(permanent | (ring & wet), np.where(dark, DARK_WATER, WATER), land).astype(np.uint8)

    # ---- the sky
    def gaps(self, scene: LandsatScene, k: int) -> np.ndarray:
        """Landsat 7 SLC-off wedges of the k-th SLC-off date of its season and year (none before 2003-05-31)."""
        shape = self.grid.shape
        if not scene.slc_off:
            return np.zeros(shape, bool)
        rows, cols = np.indices(shape, dtype=np.float64)
        width = GAP_WIDTH_PX[0] + (GAP_WIDTH_PX[1] - GAP_WIDTH_PX[0]) * cols / max(1, shape[1] - 1)
        along = rows + cols * math.tan(math.radians(GAP_TILT_DEG)) + k * GAP_PHASE_PX
        return np.mod(along, GAP_PERIOD_PX) < width

    @cached_property
    def atmospheres(self) -> dict[tuple[int, int, int, int], np.ndarray]:
        """Atmosphere code per 30 m pixel for every scene (``LandsatScene.key``)."""
        out: dict[tuple[int, int, int, int], np.ndarray] = {}
        for year in LANDSAT_YEARS:
            out.update(self._year(year))
        return out

    def _year(self, year: int) -> dict[tuple[int, int, int, int], np.ndarray]:
        scenes = [s for s in LANDSAT_SCENES if s.when.year == year]
        kept = [s for s in scenes if not s.heavy]
        shape = self.grid.shape
        seen = {True: 0, False: 0}
        gaps = {}
        for scene in kept:  # the wedges are forced: the budget is what they leave
            gaps[scene.key] = self.gaps(scene, seen[scene.wet] if scene.slc_off else 0)
            seen[scene.wet] += scene.slc_off
        forced = sum((g.astype(np.int16) for g in gaps.values()), np.zeros(shape, np.int16))
        forced_in = {wet: sum((gaps[s.key].astype(np.int16) for s in kept if s.wet == wet), np.zeros(shape, np.int16))
                     for wet in (True, False)}
        dates_in = {wet: sum(s.wet == wet for s in kept) for wet in (True, False)}
        budget = len(kept) - MIN_CLEAR_PER_YEAR - forced
        budget_in = {wet: dates_in[wet] - 1 - forced_in[wet] for wet in (True, False)}
        assert (budget >= 0).all() and all((b >= 0).all() for b in budget_in.values()), f"{year}: wedges too wide"
        unclear = np.zeros(shape, np.int16)
        unclear_in = {wet: np.zeros(shape, np.int16) for wet in (True, False)}
        out = {}
        for scene in scenes:
            rng = self.design.rng(40, *scene.key)
            if scene.heavy:
                out[scene.key] = self._draw(rng, HEAVY_FRACTION, scene, extras=False)
                continue
            atm = self._draw(rng, rng.uniform(*CLOUD_FRACTION[scene.wet]), scene, extras=True)
            atm[(atm == SNOW) & (self.surface(year, scene.wet) >= WATER)] = CLEAR  # snow lies on land
            allowed = (unclear < budget) & (unclear_in[scene.wet] < budget_in[scene.wet])
            atm[~allowed] = CLEAR
            unclear += atm != CLEAR
            unclear_in[scene.wet] += atm != CLEAR
            atm[gaps[scene.key]] = GAP
            out[scene.key] = atm
        return out

    def _draw(self, rng: np.random.Generator, fraction: float, scene: LandsatScene, extras: bool) -> np.ndarray:
        """Clouds (core, dilated rim), their shadows, and (``extras``) cirrus on OLI and a few snow patches."""
        shape = self.grid.shape
        atm = np.full(shape, CLEAR, np.uint8)
        if fraction > 0:
            shadow, cloud, core = cloud_masks(rng, shape, fraction, CLOUD_SIGMA_PX, SHADOW_SHIFT_PX)
            atm[shadow] = SHADOW
            atm[cloud] = RIM
            atm[core] = CLOUD
        if extras and scene.sensor == "oli" and rng.random() < CIRRUS_CHANCE:
            haze = smooth_field(rng, shape, 2 * CLOUD_SIGMA_PX)
            atm[(haze > np.quantile(haze, 1 - rng.uniform(*CIRRUS_FRACTION))) & (atm == CLEAR)] = CIRRUS
        if extras and rng.random() < SNOW_CHANCE:
            patches = smooth_field(rng, shape, 2.0)
            atm[(patches > np.quantile(patches, 1 - rng.uniform(*SNOW_FRACTION))) & (atm == CLEAR)] = SNOW
        return atm

    # ---- the image
    def render(self, scene: LandsatScene) -> dict[str, np.ndarray]:
        """DN arrays (uint16) of the six reflectance bands and QA_PIXEL."""
        atm = self.atmospheres[scene.key]
        kind = self.surface(scene.when.year, scene.wet)
        oli = OLI_SPECTRA[kind]  # (y, x, 6)
        clear = oli.copy()
        for code, level in CLOUD_REFLECTANCE.items():
            oli[atm == code] = level
        oli[atm == SHADOW] = SHADOW_FACTOR * clear[atm == SHADOW]
        oli[atm == CIRRUS] = CIRRUS_BASE + CIRRUS_TRANSMITTANCE * clear[atm == CIRRUS]
        oli[atm == SNOW] = SNOW_SPECTRUM
        rho = sensor_reflectance(oli, scene.sensor)
        dn = np.clip(np.rint((rho - SR_OFFSET) / SR_SCALE), 1, 65535).astype(np.uint16)
        dn[atm == GAP] = 0
        out = {band: np.ascontiguousarray(dn[..., i]) for i, band in enumerate(SR_BANDS)}
        out[QA_BAND] = qa_word(atm, kind >= WATER, scene.sensor)
        return out

    def cloud_cover(self, scene: LandsatScene) -> float:
        """Percentage of cloud, dilated cloud and cirrus among the scene's pixels with data."""
        atm = self.atmospheres[scene.key]
        valid = atm != GAP
        return round(100.0 * float(np.isin(atm, [CLOUD, RIM, CIRRUS])[valid].mean()), 2)

    # ---- STAC and files
    def item(self, scene: LandsatScene, href_root: str) -> pystac.Item:
        """A Planetary Computer shaped landsat-c2-l2 item (proj:code and per-asset grids as the demo's others)."""
        t = self.grid.transform
        footprint = utm_polygon_to_geo(box(t.c, t.f + t.e * self.grid.height, t.c + t.a * self.grid.width, t.f))
        cover = self.cloud_cover(scene)
        number = scene.platform[-1]
        props = {
            "platform": scene.platform, "instruments": INSTRUMENTS[scene.platform], "gsd": RES,
            "description": "Landsat Collection 2 Level-2 (synthetic demo)",
            "eo:cloud_cover": cover, "landsat:cloud_cover_land": cover,
            "landsat:wrs_type": "2", "landsat:wrs_path": WRS_PATH, "landsat:wrs_row": WRS_ROW,
            "landsat:collection_category": "T1", "landsat:collection_number": "02", "landsat:correction": "L2SP",
            "landsat:scene_id": f"L{SCENE_LETTER[scene.sensor]}{number}{WRS_PATH}{WRS_ROW}{scene.when:%Y}"
                                f"{scene.when.timetuple().tm_yday:03d}LGN00",
            "proj:code": UTM_CRS, "view:off_nadir": 0,
        }
        item = pystac.Item(scene.item_id, mapping(footprint), list(footprint.bounds), scene.when, props,
                           stac_extensions=[EXT[k] for k in ("eo", "raster", "proj", "view", "landsat")])
        base = f"{href_root}/{LANDSAT_COLLECTION}/{scene.item_id}"
        for key in SR_BANDS:
            ids, wavelength, fwhm = BAND_INFO[key]
            band = {"data_type": "uint16", "nodata": 0, "scale": SR_SCALE, "offset": SR_OFFSET,
                    "unit": "reflectance", "spatial_resolution": RES}
            item.add_asset(key, cog_asset(
                f"{base}/{key}.tif", f"{key} ({ids[scene.sensor]}) - surface reflectance", self.grid, band,
                ["data", "reflectance"], gsd=RES,
                **{"eo:bands": [{"name": ids[scene.sensor], "common_name": key, "description": key,
                                 "center_wavelength": wavelength, "full_width_half_max": fwhm}]}))
        qa = {"data_type": "uint16", "nodata": 1, "unit": "bit index", "spatial_resolution": RES}
        item.add_asset(QA_BAND, cog_asset(f"{base}/{QA_BAND}.tif", "Pixel Quality Assessment Band (QA_PIXEL)",
                                          self.grid, qa, ["cloud", "cloud-shadow", "snow-ice", "water-mask"],
                                          gsd=RES))
        return item

    def write(self, root: Path, href_root: str) -> list[pystac.Item]:
        """Every scene's seven COGs under ``root`` and their items, in time order."""
        items = []
        for scene in LANDSAT_SCENES:
            item = self.item(scene, href_root)
            for key, data in self.render(scene).items():
                write_cog(root / LANDSAT_COLLECTION / item.id / f"{key}.tif", data, self.grid,
                          1 if key == QA_BAND else 0, categorical=key == QA_BAND, predictor=True)
            items.append(item)
        return items


def landsat_collection(items: list[pystac.Item]) -> pystac.Collection:
    coll = collection(
        LANDSAT_COLLECTION, "Landsat Collection 2 Level-2 (synthetic demo)",
        "Synthetic Landsat 5 TM, 7 ETM+ (SLC-off wedges of no data from 2003-05-31), 8 OLI and 9 OLI-2 "
        "surface reflectance shaped like the Planetary Computer's landsat-c2-l2: uint16 DN with raster:bands "
        "scale 0.0000275 and offset -0.2, QA_PIXEL bit flags (fill, dilated cloud, cirrus, cloud, cloud shadow, "
        "snow, clear, water). One 30 m scene (WRS-2 227/069) over the demo lake, 2000-2024.",
        "proprietary", items, ["landsat", "usgs", "reflectance", "synthetic"])
    coll.add_link(pystac.Link("license", "https://www.usgs.gov/core-science-systems/hdds/data-policy",
                              title="Public Domain"))
    return coll
