"""The embedded demo catalog: a seeded, offline generator of a small Sentinel-2 L2A and
ESA WorldCover look-alike over Mato Grosso, Brazil, with a static STAC catalog and the
KNOWN TRUTH of SDG 15.1.1 (forest area) and SDG 6.6.1 (surface water extent).

Why it exists: the pipeline needs real-shaped STAC items (Earth Search v1 asset keys,
raster:bands scale/offset, processing baselines before/after 04.00, SCL masks, two
overlapping tiles, a nodata wedge) whose correct answer is known exactly. Every number
in truth.json comes from the design (rasterized shapes and exact cell areas), never
from running a classifier. Same seed -> byte-identical COGs and JSON.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pyproj
import pystac
import rasterio
from affine import Affine
from scipy import ndimage
from shapely import contains_xy, segmentize
from shapely.geometry import Polygon, box, mapping
from shapely.ops import transform as shapely_transform

# ---------------------------------------------------------------- identity and output
GENERATOR_VERSION = 1
DEFAULT_SEED = 2016
DEFAULT_DIR = Path(__file__).resolve().parent / "data"
CATALOG_ID = "sdgcube-demo"
S2_COLLECTION = "sentinel-2-l2a"
LC_COLLECTION = "esa-worldcover"
COG_BLOCKSIZE = 256  # 400 px rasters -> 2x2 tiles and one overview level

# ---------------------------------------------------------------- geometry
UTM_CRS = "EPSG:32721"  # UTM zone 21S, Mato Grosso
GEO_CRS = "EPSG:4326"
UTM_ZONE, LATITUDE_BAND = 21, "L"
TILE_X = {"21LXH": (600_000, 604_000), "21LYH": (603_000, 607_000)}  # 1 km overlap
TILE_Y = (8_612_000, 8_616_000)
OVERLAP_X = (603_000, 604_000)
UNION_X = (600_000, 607_000)
AOI_MARGIN_M = 200.0  # AOI stays this far inside the union of the two tiles
DEG_UNITS = 12_000  # WorldCover pixels per degree: pixel size exactly 1/12000 deg
LC_MARGIN_UNITS = 48  # land-cover grid = AOI + 0.004 deg on each side
WORLDCOVER_TILE = "S15W057"  # the real 3x3 deg WorldCover tile holding this AOI
NODATA_TILE = "21LYH"  # its swath-edge wedge lies inside the overlap, where 21LXH has data
WEDGE_TOP_WIDTH_M = 900.0  # wedge: x < 603000 + 900 m * (y - south) / height

# ---------------------------------------------------------------- time
YEARS = tuple(range(2016, 2025))
MONTHS = (1, 3, 5, 7, 9, 11)  # six kept dates per year
WET_MONTHS = frozenset({11, 12, 1, 2, 3, 4})  # Mato Grosso wet season: Nov-Apr
HEAVY_CLOUD_DATES = {2017: (2, 16), 2019: (12, 3), 2021: (4, 11), 2023: (10, 28)}
OVERPASS = time(14, 12, 9, 25_000)  # ~10:30 local solar time, both tiles
S2B_FIRST_DATE = date(2017, 7, 1)
BASELINES = (  # (first date, processing baseline); Earth Search v1 style
    (date(2016, 1, 1), "02.04"), (date(2017, 1, 1), "02.05"), (date(2018, 1, 1), "02.07"),
    (date(2019, 1, 1), "02.13"), (date(2020, 1, 1), "02.14"), (date(2021, 1, 1), "03.00"),
    (date(2021, 7, 1), "03.01"), (date(2022, 1, 25), "04.00"), (date(2023, 1, 1), "05.09"),
    (date(2024, 1, 1), "05.10"),
)
OFFSET_BASELINE = "04.00"  # from this baseline on: reflectance = DN * 0.0001 - 0.1
DN_SCALE, BOA_OFFSET = 0.0001, -0.1

# ---------------------------------------------------------------- clouds
MAX_CLOUD_COVER = 60.0  # recipes keep items with eo:cloud_cover below this
MIN_CLEAR_PER_YEAR = 3  # clear kept observations per 20 m pixel and year (asserted)
CLOUD_FRACTION = {1: (0.25, 0.45), 3: (0.10, 0.30), 5: (0.03, 0.15), 7: (0.0, 0.0),
                  9: (0.02, 0.12), 11: (0.20, 0.40)}
HEAVY_CLOUD_FRACTION = 0.97
CLOUD_SIGMA_PX = 7.0  # 20 m pixels
SHADOW_SHIFT_PX = (9, 6)  # (rows south, cols east) at 20 m
CIRRUS_FRACTION = (0.02, 0.08)
MAX_SATURATED_PX = 4
SCL_NODATA, SCL_SATURATED, SCL_SHADOW, SCL_VEGETATION = 0, 1, 3, 4
SCL_NOT_VEGETATED, SCL_WATER, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 5, 6, 8, 9, 10

# ---------------------------------------------------------------- spectra (reflectance)
BANDS_10M = ("blue", "green", "red", "nir")
BANDS_20M = ("swir16", "swir22")
BANDS = BANDS_10M + BANDS_20M
OPEN, FOREST, BUILT, WATER, DARK_WATER = range(5)  # surface kinds in the imagery
SPECTRA = np.array([  # blue, green, red, nir, swir16, swir22
    [0.060, 0.090, 0.100, 0.220, 0.260, 0.180],  # OPEN: cropland / grassland / shrubs
    [0.030, 0.060, 0.040, 0.300, 0.180, 0.090],  # FOREST: tree cover and mangroves
    [0.100, 0.120, 0.140, 0.200, 0.240, 0.210],  # BUILT
    [0.050, 0.045, 0.030, 0.015, 0.004, 0.002],  # WATER
    [0.045, 0.040, 0.025, 0.010, -0.004, -0.005],  # DARK_WATER: exact, noise-free
])
SURFACE_SCL = np.array([SCL_VEGETATION, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER, SCL_WATER],
                       np.uint8)
TEXTURE_AMPLITUDE = 0.05  # relative, static smooth texture on land
LAND_NOISE_SD, WATER_NOISE_SD = 0.0004, 0.0002
CLOUD_REFLECTANCE = {SCL_CLOUD_HIGH: 0.48, SCL_CLOUD_MEDIUM: 0.38}
CIRRUS_BASE, CIRRUS_TRANSMITTANCE, SHADOW_FACTOR = 0.15, 0.5, 0.5

# ---------------------------------------------------------------- the lake (UTM metres)
LAKE_CENTRE = (603_560.0, 8_614_020.0)  # spans the tile overlap, well inside the AOI
LAKE_SEMI_AXES = (1_000.0, 620.0)  # (x, y) at scale 1
DARK_WATER_SCALE = 0.45  # core of the lake: exact dark-water spectrum on every date
PERMANENT_SCALE = {2016: 1.00, 2017: 0.97, 2018: 0.94, 2019: 0.91, 2020: 0.88,
                   2021: 0.90, 2022: 0.92, 2023: 0.93, 2024: 0.94}
SEASONAL_SCALE = {2016: 1.18, 2017: 1.15, 2018: 1.14, 2019: 1.12, 2020: 1.10,  # outer edge
                  2021: 1.15, 2022: 1.19, 2023: 1.22, 2024: 1.20}

# ---------------------------------------------------------------- land cover
WORLDCOVER_CLASSES = {
    10: ("tree_cover", "Tree cover", "006400"), 20: ("shrubland", "Shrubland", "ffbb22"),
    30: ("grassland", "Grassland", "ffff4c"), 40: ("cropland", "Cropland", "f096ff"),
    50: ("built_up", "Built-up", "fa0000"), 60: ("bare", "Bare / sparse vegetation", "b4b4b4"),
    80: ("water", "Permanent water bodies", "0064c8"),
    90: ("herbaceous_wetland", "Herbaceous wetland", "0096a0"),
    95: ("mangroves", "Mangroves", "00cf75"),
}
FOREST_CLASSES = (10, 95)
MMU_HA = 0.5
MMU_EXCLUSION_HA = 0.1  # no forest component may come this close to the MMU
TOWN_BOX = (10, 90, 610, 720)  # (row0, row1, col0, col1) ellipse, AOI-relative LC pixels


@dataclass(frozen=True)
class Piece:
    """A designed forest piece on the land-cover grid (rows/cols relative to the AOI's
    north-west pixel). The shape is the ellipse inscribed in ``box`` (or the box itself),
    optionally clipped to ``clip_cols``; earlier pieces win where shapes overlap."""

    id: str
    cls: int
    box: tuple[int, int, int, int]  # row0, row1, col0, col1 (exclusive ends)
    ellipse: bool = True
    clip_cols: tuple[int, int] | None = None
    cleared_year: int | None = None  # first year it is no longer forest
    cleared_to: int = 40
    part_of: str | None = None


PIECES = (
    Piece("f1", 10, (50, 70, 40, 66)),  # ~3.4 ha, stays
    Piece("f2", 10, (60, 74, 140, 160), cleared_year=2019, cleared_to=30),  # ~1.8 ha
    Piece("f3", 10, (145, 151, 96, 104)),  # ~0.3 ha: never counts
    Piece("f4", 10, (160, 164, 200, 206)),  # ~0.15 ha: never counts
    Piece("f5", 10, (300, 305, 60, 68), ellipse=False, cleared_year=2021),  # ~0.33 ha
    Piece("f6", 10, (314, 326, 143, 157), cleared_year=2017),  # ~1.1 ha
    Piece("f7a", 10, (330, 342, 250, 290), clip_cols=(250, 256), part_of="f7"),  # remnant
    Piece("f7b", 10, (330, 342, 250, 290), clip_cols=(256, 259), cleared_year=2022,
          part_of="f7"),  # the strip whose clearing splits f7
    Piece("f7c", 10, (330, 342, 250, 290), clip_cols=(259, 290), part_of="f7"),
    Piece("m1", 95, (240, 254, 590, 610)),  # mangroves, ~1.8 ha
    Piece("f8", 10, (350, 356, 440, 447), ellipse=False, cleared_year=2023, part_of="fm"),
    Piece("m2", 95, (350, 356, 447, 453), ellipse=False, part_of="fm"),  # counts only with f8
    Piece("f9", 10, (40, 46, 300, 307), ellipse=False, part_of="fd"),  # diagonal touch:
    Piece("f10", 10, (46, 52, 307, 314), ellipse=False, part_of="fd"),  # one 8-component
    Piece("f11", 10, (25, 45, 450, 490)),  # ~5 ha, stays
    Piece("f12", 10, (180, 190, 60, 74), cleared_year=2024),  # ~0.9 ha
)

# ---------------------------------------------------------------- WGS84 (exact cell areas)
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_E = math.sqrt(WGS84_F * (2 - WGS84_F))

# ---------------------------------------------------------------- asset metadata
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
S2_BAND_INFO = {  # key: (S2 band name, centre wavelength, FWHM, gsd)
    "blue": ("B02", 0.49, 0.098, 10), "green": ("B03", 0.56, 0.045, 10),
    "red": ("B04", 0.665, 0.038, 10), "nir": ("B08", 0.842, 0.145, 10),
    "swir16": ("B11", 1.61, 0.143, 20), "swir22": ("B12", 2.19, 0.242, 20),
}
EXT = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "grid": "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "mgrs": "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "s2": "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
    "classification": "https://stac-extensions.github.io/classification/v2.0.0/schema.json",
}


# ================================================================= small geometry helpers
@dataclass(frozen=True)
class Grid:
    """A north-up raster grid."""

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of every pixel centre, each shaped like the grid."""
        cols = np.arange(self.width) + 0.5
        rows = np.arange(self.height) + 0.5
        t = self.transform
        return np.meshgrid(t.c + cols * t.a, t.f + rows * t.e)

    def proj_transform(self) -> list[float]:
        return [float(v) for v in self.transform][:6] + [0.0, 0.0, 1.0]


def utm_grid(x0: float, x1: float, res: int) -> Grid:
    """The S2 grid of one resolution over [x0, x1] x TILE_Y."""
    return Grid(UTM_CRS, Affine(res, 0, x0, 0, -res, TILE_Y[1]),
                int((x1 - x0) // res), int((TILE_Y[1] - TILE_Y[0]) // res))


def geodesic_cell_area(south: np.ndarray | float, north: np.ndarray | float, dlon_deg: float) -> np.ndarray:
    """Exact WGS84 area (m^2) of a lat/lon cell: dlambda * b^2/2 * [q(north) - q(south)]."""
    def q(phi_deg):
        s = np.sin(np.radians(phi_deg))
        es = WGS84_E * s
        return s / (1 - es * es) + np.log((1 + es) / (1 - es)) / (2 * WGS84_E)

    return math.radians(dlon_deg) * WGS84_B ** 2 / 2 * (q(np.asarray(north)) - q(np.asarray(south)))


def in_ellipse(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """True where (x, y) (UTM) is inside the lake ellipse scaled by ``scale``."""
    (cx, cy), (ax, ay) = LAKE_CENTRE, LAKE_SEMI_AXES
    return ((x - cx) / (ax * scale)) ** 2 + ((y - cy) / (ay * scale)) ** 2 <= 1.0


def _to_geo() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(UTM_CRS, GEO_CRS, always_xy=True)


def _to_utm() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(GEO_CRS, UTM_CRS, always_xy=True)


def _utm_polygon_to_geo(poly: Polygon) -> Polygon:
    return shapely_transform(_to_geo().transform, segmentize(poly, 100.0))


@cache
def wedge_mask(res: int) -> np.ndarray:
    """The swath-edge nodata wedge of NODATA_TILE, in that tile's pixels at ``res``."""
    x, y = utm_grid(*TILE_X[NODATA_TILE], res).centres()
    wedge = x < TILE_X[NODATA_TILE][0] + WEDGE_TOP_WIDTH_M * (y - TILE_Y[0]) / (TILE_Y[1] - TILE_Y[0])
    assert (x[wedge] < OVERLAP_X[1]).all(), "the nodata wedge must stay inside the tile overlap"
    return wedge


def valid_footprint(tile: str) -> Polygon:
    """The tile's data footprint in UTM (the tile square minus its wedge)."""
    (x0, x1), (y0, y1) = TILE_X[tile], TILE_Y
    if tile == NODATA_TILE:
        return Polygon([(x0, y0), (x0 + WEDGE_TOP_WIDTH_M, y1), (x1, y1), (x1, y0)])
    return box(x0, y0, x1, y1)


# ================================================================= the design
class Design:
    """Everything fixed by the constants and the seed: grids, AOI, land cover, scenes."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.world10 = utm_grid(*UNION_X, 10)
        self.world20 = utm_grid(*UNION_X, 20)

    def rng(self, *stream: int) -> np.random.Generator:
        """An independent random stream per purpose, so results never depend on call order."""
        return np.random.default_rng([self.seed, *stream])

    # ---- AOI
    @cached_property
    def aoi_units(self) -> tuple[int, int, int, int]:
        """AOI (W, S, E, N) in 1/12000 degree: inscribed in the union minus the margin,
        edges snapped inward."""
        x0, x1 = UNION_X[0] + AOI_MARGIN_M, UNION_X[1] - AOI_MARGIN_M
        y0, y1 = TILE_Y[0] + AOI_MARGIN_M, TILE_Y[1] - AOI_MARGIN_M
        lon, lat = _to_geo().transform([x0, x0, x1, x1], [y0, y1, y0, y1])
        west, east = max(lon[0], lon[1]), min(lon[2], lon[3])
        south, north = max(lat[0], lat[2]), min(lat[1], lat[3])
        units = (math.ceil(west * DEG_UNITS), math.ceil(south * DEG_UNITS),
                 math.floor(east * DEG_UNITS), math.floor(north * DEG_UNITS))
        inner = box(x0, y0, x1, y1)
        assert inner.contains(self._aoi_utm(units)), "AOI is not inside the tile union minus the margin"
        return units

    @property
    def aoi_bbox(self) -> list[float]:
        return [u / DEG_UNITS for u in self.aoi_units]

    @staticmethod
    def _aoi_utm(units: tuple[int, ...]) -> Polygon:
        geo = segmentize(box(*[u / DEG_UNITS for u in units]), 1.0 / DEG_UNITS)
        return shapely_transform(_to_utm().transform, geo)

    @cached_property
    def aoi_utm(self) -> Polygon:
        """The AOI rectangle in UTM, edges densified to one WorldCover pixel."""
        return self._aoi_utm(self.aoi_units)

    @cached_property
    def aoi20(self) -> np.ndarray:
        """20 m cells whose centre lies inside the AOI polygon."""
        x, y = self.world20.centres()
        return contains_xy(self.aoi_utm, x, y)

    # ---- land-cover grid
    @cached_property
    def lc_grid(self) -> Grid:
        w, s, e, n = self.aoi_units
        m = LC_MARGIN_UNITS
        return Grid(GEO_CRS, Affine(1 / DEG_UNITS, 0, (w - m) / DEG_UNITS, 0, -1 / DEG_UNITS, (n + m) / DEG_UNITS),
                    e - w + 2 * m, n - s + 2 * m)

    @property
    def lc_aoi_window(self) -> tuple[slice, slice]:
        w, s, e, n = self.aoi_units
        m = LC_MARGIN_UNITS
        return slice(m, m + n - s), slice(m, m + e - w)

    @cached_property
    def lc_row_area(self) -> np.ndarray:
        """Geodesic area (m^2) of one land-cover cell in each row."""
        north = (self.aoi_units[3] + LC_MARGIN_UNITS - np.arange(self.lc_grid.height)) / DEG_UNITS
        return geodesic_cell_area(north - 1 / DEG_UNITS, north, 1 / DEG_UNITS)

    @cached_property
    def lc_centres_utm(self) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.lc_grid.centres()
        return _to_utm().transform(lon, lat)

    def lc_index(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the land-cover pixel under each pixel centre of a UTM grid."""
        lon, lat = _to_geo().transform(*grid.centres())
        t = self.lc_grid.transform
        rows = np.floor((lat - t.f) / t.e).astype(np.int64)
        cols = np.floor((lon - t.c) / t.a).astype(np.int64)
        assert rows.min() >= 0 and cols.min() >= 0, "land-cover grid does not cover the S2 grid"
        assert rows.max() < self.lc_grid.height and cols.max() < self.lc_grid.width
        return rows, cols

    @cached_property
    def base_landcover(self) -> np.ndarray:
        """Static classes: cropland/grassland mix, some shrubs and bare ground, a town, and
        grassland wherever the lake ever reaches."""
        shape = self.lc_grid.shape
        mix = _smooth_field(self.rng(1), shape, 25.0)
        rare = _smooth_field(self.rng(2), shape, 6.0)
        lc = np.where(mix < -0.3, 30, 40).astype(np.uint8)
        lc[rare > 2.2] = 20
        lc[rare < -2.4] = 60
        lc[_aoi_relative_mask(shape, TOWN_BOX, ellipse=True)] = 50
        lc[in_ellipse(*self.lc_centres_utm, max(SEASONAL_SCALE.values()))] = 30
        return lc

    @cached_property
    def piece_masks(self) -> dict[str, np.ndarray]:
        taken = np.zeros(self.lc_grid.shape, bool)
        masks = {}
        for piece in PIECES:
            mask = _aoi_relative_mask(self.lc_grid.shape, piece.box, piece.ellipse, piece.clip_cols) & ~taken
            assert mask.any(), piece.id
            masks[piece.id] = mask
            taken |= mask
        return masks

    def landcover(self, year: int) -> np.ndarray:
        """The land-cover map of ``year``: base, forest pieces (cleared ones as their new
        class), permanent water (80) and the seasonal ring as herbaceous wetland (90)."""
        lc = self.base_landcover.copy()
        for piece in PIECES:
            cleared = piece.cleared_year is not None and year >= piece.cleared_year
            lc[self.piece_masks[piece.id]] = piece.cleared_to if cleared else piece.cls
        x, y = self.lc_centres_utm
        permanent = in_ellipse(x, y, PERMANENT_SCALE[year])
        lc[in_ellipse(x, y, SEASONAL_SCALE[year]) & ~permanent] = 90
        lc[permanent] = 80
        return lc

    # ---- imagery surfaces
    @cached_property
    def lc_index10(self) -> tuple[np.ndarray, np.ndarray]:
        return self.lc_index(self.world10)

    @cached_property
    def lc_index20(self) -> tuple[np.ndarray, np.ndarray]:
        return self.lc_index(self.world20)

    def lake20(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        """(permanent, seasonal ring) on the 20 m grid: cell centres inside the ellipses."""
        x, y = self.world20.centres()
        permanent = in_ellipse(x, y, PERMANENT_SCALE[year])
        return permanent, in_ellipse(x, y, SEASONAL_SCALE[year]) & ~permanent

    @cached_property
    def dark20(self) -> np.ndarray:
        return in_ellipse(*self.world20.centres(), DARK_WATER_SCALE)

    def surfaces(self, year: int, wet: bool) -> tuple[np.ndarray, np.ndarray]:
        """Surface kind at 10 m and 20 m. Water is decided on the 20 m grid and inherited
        by the four 10 m pixels of each cell, so any resampling recovers it exactly."""
        lc = self.landcover(year)
        permanent, ring = self.lake20(year)
        water20 = permanent | (ring if wet else False)
        water = np.where(self.dark20, DARK_WATER, WATER)
        out = []
        for (rows, cols), factor in ((self.lc_index10, 2), (self.lc_index20, 1)):
            kind = _land_kind(lc[rows, cols])
            wet_here = _upsample(water20, factor)
            out.append(np.where(wet_here, _upsample(water, factor), kind).astype(np.uint8))
        return out[0], out[1]

    @cached_property
    def texture10(self) -> np.ndarray:
        return np.clip(_smooth_field(self.rng(3), self.world10.shape, 3.0), -2.5, 2.5)

    @cached_property
    def texture20(self) -> np.ndarray:
        h, w = self.world20.shape
        return self.texture10.reshape(h, 2, w, 2).mean(axis=(1, 3))

    # ---- scenes
    @cached_property
    def scenes(self) -> list[Scene]:
        found = [Scene(datetime.combine(date(y, m, _day_of_month(y, m)), OVERPASS, timezone.utc), heavy=False)
                 for y in YEARS for m in MONTHS]
        found += [Scene(datetime.combine(date(y, m, d), OVERPASS, timezone.utc), heavy=True)
                  for y, (m, d) in HEAVY_CLOUD_DATES.items()]
        return sorted(found, key=lambda s: s.when)


@dataclass(frozen=True)
class Scene:
    """One acquisition date (both tiles, same datetime)."""

    when: datetime
    heavy: bool

    @property
    def wet(self) -> bool:
        return self.when.month in WET_MONTHS

    @property
    def key(self) -> tuple[int, int, int]:
        return self.when.year, self.when.month, self.when.day

    @property
    def platform(self) -> str:
        return "S2A" if self.when.date() < S2B_FIRST_DATE or self.when.month in (1, 5, 9) else "S2B"

    @property
    def baseline(self) -> str:
        return [b for start, b in BASELINES if start <= self.when.date()][-1]

    @property
    def offset(self) -> float:
        return BOA_OFFSET if self.baseline >= OFFSET_BASELINE else 0.0

    def item_id(self, tile: str) -> str:
        return f"{self.platform}_{tile}_{self.when:%Y%m%d}_0_L2A"


def _day_of_month(year: int, month: int) -> int:
    """A fixed, irregular-looking day (4..24); 2022-01 falls before the 04.00 switch."""
    return 4 + (7 * year + 5 * month) % 21


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise, standardised to mean 0 and sd 1."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / field.std()


def _aoi_relative_mask(shape: tuple[int, int], bbox: tuple[int, int, int, int], ellipse: bool,
                       clip_cols: tuple[int, int] | None = None) -> np.ndarray:
    """A box or its inscribed ellipse on the land-cover grid, in AOI-relative pixels."""
    r0, r1, c0, c1 = (v + LC_MARGIN_UNITS for v in bbox)
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    mask = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
    if ellipse:
        cr, cc, rr, rc = (r0 + r1) / 2, (c0 + c1) / 2, (r1 - r0) / 2, (c1 - c0) / 2
        mask &= ((rows + 0.5 - cr) / rr) ** 2 + ((cols + 0.5 - cc) / rc) ** 2 <= 1.0
    if clip_cols is not None:
        mask &= (cols >= clip_cols[0] + LC_MARGIN_UNITS) & (cols < clip_cols[1] + LC_MARGIN_UNITS)
    return mask


def _land_kind(lc: np.ndarray) -> np.ndarray:
    kind = np.full(lc.shape, OPEN, np.uint8)
    kind[np.isin(lc, FOREST_CLASSES)] = FOREST
    kind[lc == 50] = BUILT
    return kind


def _upsample(a: np.ndarray, factor: int) -> np.ndarray:
    return a if factor == 1 else np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


# ================================================================= clouds (20 m, per year)
def cloud_year(design: Design, year: int) -> dict[tuple[int, int, int], np.ndarray]:
    """Atmosphere code per 20 m pixel (0 clear, else the SCL class) for each scene of a year.

    Kept dates draw clouds within a per-pixel budget, so every pixel keeps at least
    MIN_CLEAR_PER_YEAR clear observations, one of them wet and one dry."""
    shape = design.world20.shape
    unclear_total = np.zeros(shape, np.int8)
    unclear_wet = np.zeros(shape, np.int8)
    unclear_dry = np.zeros(shape, np.int8)
    kept = [s for s in design.scenes if s.when.year == year and not s.heavy]
    wet_count = sum(s.wet for s in kept)
    out = {}
    for scene in (s for s in design.scenes if s.when.year == year):
        rng = design.rng(10, *scene.key)
        if scene.heavy:
            out[scene.key] = _draw_atmosphere(rng, shape, HEAVY_CLOUD_FRACTION, cirrus=False)
            continue
        same = unclear_wet if scene.wet else unclear_dry
        same_size = wet_count if scene.wet else len(kept) - wet_count
        allowed = (unclear_total < len(kept) - MIN_CLEAR_PER_YEAR) & (same < same_size - 1)
        atm = _draw_atmosphere(rng, shape, rng.uniform(*CLOUD_FRACTION[scene.when.month]), cirrus=True)
        atm[~allowed] = 0
        unclear_total += atm > 0
        same += atm > 0
        out[scene.key] = atm
    return out


def _draw_atmosphere(rng: np.random.Generator, shape: tuple[int, int], fraction: float, cirrus: bool) -> np.ndarray:
    """Clouds (core 9, rim 8), their shadows (3), some cirrus (10) and saturated pixels (1)."""
    atm = np.zeros(shape, np.uint8)
    if fraction > 0:
        field = _smooth_field(rng, shape, CLOUD_SIGMA_PX)
        rim, core = np.quantile(field, [1 - fraction, 1 - 0.6 * fraction])
        cloud = field > rim
        shadow = np.roll(cloud, SHADOW_SHIFT_PX, axis=(0, 1)) & ~cloud
        atm[shadow] = SCL_SHADOW
        atm[cloud] = SCL_CLOUD_MEDIUM
        atm[field > core] = SCL_CLOUD_HIGH
    if cirrus and rng.random() < 0.5:
        haze = _smooth_field(rng, shape, 2 * CLOUD_SIGMA_PX)
        thin = (haze > np.quantile(haze, 1 - rng.uniform(*CIRRUS_FRACTION))) & (atm == 0)
        atm[thin] = SCL_CIRRUS
    n_sat = int(rng.integers(0, MAX_SATURATED_PX + 1))
    atm.flat[rng.choice(atm.size, n_sat, replace=False)] = SCL_SATURATED
    return atm


def check_clear_guarantees(design: Design, atmospheres: dict[tuple[int, int, int], np.ndarray]) -> None:
    """Assert, per year and AOI pixel on the 20 m grid, among kept dates: >= 3 clear
    observations; and >= 1 clear wet and >= 1 clear dry on seasonal-ring pixels."""
    for year in YEARS:
        kept = [s for s in design.scenes if s.when.year == year and not s.heavy]
        clear = np.stack([atmospheres[s.key] == 0 for s in kept])
        wet = np.array([s.wet for s in kept])
        aoi = design.aoi20
        assert (clear.sum(0)[aoi] >= MIN_CLEAR_PER_YEAR).all(), f"{year}: too few clear observations"
        ring = design.lake20(year)[1] & aoi
        assert (clear[wet].any(0)[ring]).all(), f"{year}: a seasonal pixel has no clear wet date"
        assert (clear[~wet].any(0)[ring]).all(), f"{year}: a seasonal pixel has no clear dry date"


# ================================================================= rendering
def render_scene(design: Design, scene: Scene, atm: np.ndarray) -> dict[str, np.ndarray]:
    """DN arrays (uint16) of all bands and the SCL (uint8) on the world grids."""
    kind10, kind20 = design.surfaces(scene.when.year, scene.wet)
    rng = design.rng(20, *scene.key)
    out = {}
    for band_index, band in enumerate(BANDS):
        fine = band in BANDS_10M
        kind, texture = (kind10, design.texture10) if fine else (kind20, design.texture20)
        code = _upsample(atm, 2) if fine else atm
        rho = _clear_reflectance(rng, kind, texture, band_index)
        rho = _apply_atmosphere(rng, rho, code)
        out[band] = _encode(rho, scene.offset, code == SCL_SATURATED)
    out["scl"] = np.where(atm > 0, atm, SURFACE_SCL[kind20]).astype(np.uint8)
    return out


def _clear_reflectance(rng: np.random.Generator, kind: np.ndarray, texture: np.ndarray, band: int) -> np.ndarray:
    base = SPECTRA[kind, band]
    land = kind < WATER
    rho = np.where(land, base * (1 + TEXTURE_AMPLITUDE * texture), base)
    noise_sd = np.where(land, LAND_NOISE_SD, np.where(kind == WATER, WATER_NOISE_SD, 0.0))
    return rho + noise_sd * rng.standard_normal(kind.shape)


def _apply_atmosphere(rng: np.random.Generator, rho: np.ndarray, code: np.ndarray) -> np.ndarray:
    out = rho.copy()
    for scl, level in CLOUD_REFLECTANCE.items():
        hit = code == scl
        out[hit] = level + 0.01 * rng.standard_normal(int(hit.sum()))
    cirrus = code == SCL_CIRRUS
    out[cirrus] = CIRRUS_BASE + CIRRUS_TRANSMITTANCE * rho[cirrus]
    shadow = code == SCL_SHADOW
    out[shadow] = SHADOW_FACTOR * rho[shadow]
    return out


def _encode(rho: np.ndarray, offset: float, saturated: np.ndarray) -> np.ndarray:
    """Reflectance -> DN = round((rho - offset) / scale), valid range [1, 65535]."""
    dn = np.clip(np.rint((rho - offset) / DN_SCALE), 1, 65535).astype(np.uint16)
    dn[saturated] = 65535
    return dn


def cut_tile(world: dict[str, np.ndarray], tile: str) -> dict[str, np.ndarray]:
    """One tile's arrays from the world arrays (blanking the wedge on NODATA_TILE)."""
    out = {}
    for key, data in world.items():
        res = 10 if key in BANDS_10M else 20
        c0 = int((TILE_X[tile][0] - UNION_X[0]) // res)
        part = data[:, c0:c0 + int((TILE_X[tile][1] - TILE_X[tile][0]) // res)].copy()
        if tile == NODATA_TILE:
            part[wedge_mask(res)] = 0
        out[key] = part
    return out
