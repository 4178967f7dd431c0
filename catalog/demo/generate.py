"""The embedded demo catalog: a seeded, offline generator of a small Sentinel-2 L2A and
ESA WorldCover look-alike over Mato Grosso, Brazil, with a static STAC catalog and the
KNOWN TRUTH of SDG 15.1.1 (forest area) and SDG 6.6.1 (surface water extent).

Why it exists: the pipeline needs real-shaped STAC items (Earth Search v1 asset keys,
raster:bands scale/offset, processing baselines before/after 04.00, SCL masks, two
overlapping tiles, a nodata wedge) whose correct answer is known exactly. Every number
in truth.json comes from the design (rasterized shapes and exact cell areas), never
from running a classifier. Same seed -> byte-identical COGs and JSON.

``scale`` (``Layout``; ``python -m catalog.demo --scale 16 --out DIR``) grows the tiles and
the AOI to that many times the area, for memory and scaling benchmarks; scale 1 is the
embedded demo, unchanged byte for byte. The scaled AOI is ``truth.json["aoi"]["bbox"]``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
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
ZSTD_LEVEL = 6  # ~1 % larger than GDAL's default 9, ~30 % faster to write

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
DEFAULT_SCALE = 1  # area multiplier of the scene (benchmarks use 4, 16); 1 = the embedded demo

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
TEXTURE_AMPLITUDE, TEXTURE_SIGMA_PX = 0.03, 10.0  # relative; static smooth texture on land (10 m px)
LAND_NOISE_SD, WATER_NOISE_SD = 0.0001, 0.0001  # 1 DN: files must compress
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
    Piece("f13a", 10, (272, 370, 500, 700), clip_cols=(500, 540), cleared_year=2020, part_of="f13"),
    Piece("f13b", 10, (272, 370, 500, 700), clip_cols=(540, 700), part_of="f13"),  # ~100 ha block
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


@dataclass(frozen=True)
class Layout:
    """Where the two tiles lie. ``scale`` multiplies the area: every length measured from
    the south-west corner (tile edges, overlap, nodata wedge) grows by sqrt(scale), rounded
    to whole 20 m pixels. The lake keeps its place, the forest pieces and the town their
    offsets from the AOI's north-west corner: a scaled catalog is the demo with more land
    around it, and its truth.json is still exact (for memory/scaling benchmarks)."""

    scale: float = DEFAULT_SCALE

    def __post_init__(self) -> None:
        if not (isinstance(self.scale, (int, float)) and 1 <= self.scale <= 400):
            raise ValueError(f"demo catalog scale must be a number within 1..400 (area multiplier); got {self.scale!r}")

    def _grow(self, metres: float) -> float:
        """A length from the south-west corner at this scale (exactly ``metres`` at scale 1)."""
        return metres if self.scale == 1 else round(metres * math.sqrt(self.scale) / 20) * 20

    @property
    def tile_x(self) -> dict[str, tuple[float, float]]:
        x0 = UNION_X[0]
        return {tile: (x0 + self._grow(a - x0), x0 + self._grow(b - x0)) for tile, (a, b) in TILE_X.items()}

    @property
    def tile_y(self) -> tuple[float, float]:
        return TILE_Y[0], TILE_Y[0] + self._grow(TILE_Y[1] - TILE_Y[0])

    @property
    def union_x(self) -> tuple[float, float]:
        return UNION_X[0], UNION_X[0] + self._grow(UNION_X[1] - UNION_X[0])

    @property
    def overlap_x(self) -> tuple[float, float]:
        return tuple(UNION_X[0] + self._grow(v - UNION_X[0]) for v in OVERLAP_X)

    @property
    def wedge_top_width(self) -> float:
        return self._grow(WEDGE_TOP_WIDTH_M)


DEMO_LAYOUT = Layout()


def utm_grid(x0: float, x1: float, res: int, y: tuple[float, float] = TILE_Y) -> Grid:
    """The S2 grid of one resolution over [x0, x1] x ``y`` (default TILE_Y)."""
    return Grid(UTM_CRS, Affine(res, 0, x0, 0, -res, y[1]),
                int((x1 - x0) // res), int((y[1] - y[0]) // res))


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
    """Vertices only: over 4 km a UTM straight line bends by far less than a millimetre."""
    return shapely_transform(_to_geo().transform, poly)


@cache
def wedge_mask(res: int, layout: Layout = DEMO_LAYOUT) -> np.ndarray:
    """The swath-edge nodata wedge of NODATA_TILE in that tile's pixels at ``res``: decided
    on the 20 m grid (cell centres) so that 10 m and 20 m nodata coincide exactly."""
    (tx0, _), (ty0, ty1) = layout.tile_x[NODATA_TILE], layout.tile_y
    x, y = utm_grid(*layout.tile_x[NODATA_TILE], 20, layout.tile_y).centres()
    wedge = x < tx0 + layout.wedge_top_width * (y - ty0) / (ty1 - ty0)
    assert (x[wedge] + 10 < layout.overlap_x[1]).all(), "the nodata wedge must stay inside the tile overlap"
    return _upsample(wedge, 20 // res)


def valid_footprint(tile: str, layout: Layout = DEMO_LAYOUT) -> Polygon:
    """The tile's data footprint in UTM (the tile square minus its wedge)."""
    (x0, x1), (y0, y1) = layout.tile_x[tile], layout.tile_y
    if tile == NODATA_TILE:
        return Polygon([(x0, y0), (x0 + layout.wedge_top_width, y1), (x1, y1), (x1, y0)])
    return box(x0, y0, x1, y1)


# ================================================================= the design
class Design:
    """Everything fixed by the constants and the seed: grids, AOI, land cover, scenes."""

    def __init__(self, seed: int, layout: Layout = DEMO_LAYOUT) -> None:
        self.seed = seed
        self.layout = layout
        self.world10 = utm_grid(*layout.union_x, 10, layout.tile_y)
        self.world20 = utm_grid(*layout.union_x, 20, layout.tile_y)

    def rng(self, *stream: int) -> np.random.Generator:
        """An independent random stream per purpose, so results never depend on call order."""
        return np.random.default_rng([self.seed, *stream])

    # ---- AOI
    @cached_property
    def aoi_units(self) -> tuple[int, int, int, int]:
        """AOI (W, S, E, N) in 1/12000 degree: inscribed in the union minus the margin,
        edges snapped inward."""
        (ux0, ux1), (ty0, ty1) = self.layout.union_x, self.layout.tile_y
        x0, x1 = ux0 + AOI_MARGIN_M, ux1 - AOI_MARGIN_M
        y0, y1 = ty0 + AOI_MARGIN_M, ty1 - AOI_MARGIN_M
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
        """WorldCover-like grid: 1/12000 degree pixels, the AOI plus LC_MARGIN_UNITS around."""
        west, _, _, north = self.lc_bounds
        w, s, e, n = self.aoi_units
        return Grid(GEO_CRS, Affine(1 / DEG_UNITS, 0, west, 0, -1 / DEG_UNITS, north),
                    e - w + 2 * LC_MARGIN_UNITS, n - s + 2 * LC_MARGIN_UNITS)

    @property
    def lc_bounds(self) -> list[float]:
        """(W, S, E, N) of the land-cover grid in degrees, exact multiples of 1/12000."""
        w, s, e, n = self.aoi_units
        m = LC_MARGIN_UNITS
        return [(w - m) / DEG_UNITS, (s - m) / DEG_UNITS, (e + m) / DEG_UNITS, (n + m) / DEG_UNITS]

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

    @cached_property
    def landcovers(self) -> dict[int, np.ndarray]:
        return {year: self._landcover(year) for year in YEARS}

    def _landcover(self, year: int) -> np.ndarray:
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
        lc = self.landcovers[year]
        permanent, ring = self.lake20(year)
        water20 = permanent | (ring & wet)
        water = np.where(self.dark20, DARK_WATER, WATER)
        out = []
        for (rows, cols), factor in ((self.lc_index10, 2), (self.lc_index20, 1)):
            kind = _land_kind(lc[rows, cols])
            wet_here = _upsample(water20, factor)
            out.append(np.where(wet_here, _upsample(water, factor), kind).astype(np.uint8))
        return out[0], out[1]

    @cached_property
    def texture10(self) -> np.ndarray:
        return np.clip(_smooth_field(self.rng(3), self.world10.shape, TEXTURE_SIGMA_PX), -2.5, 2.5)

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
    kept = [s for s in design.scenes if s.when.year == year and not s.heavy]
    dates_in = {wet: sum(s.wet == wet for s in kept) for wet in (True, False)}
    unclear_in = {wet: np.zeros(shape, np.int8) for wet in (True, False)}
    unclear = np.zeros(shape, np.int8)
    out = {}
    for scene in (s for s in design.scenes if s.when.year == year):
        rng = design.rng(10, *scene.key)
        if scene.heavy:
            out[scene.key] = _draw_atmosphere(rng, shape, HEAVY_CLOUD_FRACTION, cirrus=False)
            continue
        allowed = (unclear < len(kept) - MIN_CLEAR_PER_YEAR) & (unclear_in[scene.wet] < dates_in[scene.wet] - 1)
        atm = _draw_atmosphere(rng, shape, rng.uniform(*CLOUD_FRACTION[scene.when.month]), cirrus=True)
        atm[~allowed] = 0
        unclear += atm > 0
        unclear_in[scene.wet] += atm > 0
        out[scene.key] = atm
    return out


def _draw_atmosphere(rng: np.random.Generator, shape: tuple[int, int], fraction: float, cirrus: bool) -> np.ndarray:
    """Clouds (core 9, rim 8), their shadows (3), some cirrus (10) and saturated pixels (1)."""
    atm = np.zeros(shape, np.uint8)
    if fraction > 0:
        field = _smooth_field(rng, shape, CLOUD_SIGMA_PX)
        rim, core = np.quantile(field, [1 - fraction, 1 - 0.6 * fraction])
        cloud = field > rim
        (dr, dc), shadow = SHADOW_SHIFT_PX, np.zeros_like(cloud)
        shadow[dr:, dc:] = cloud[:-dr, :-dc]
        shadow &= ~cloud
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
        rho = _apply_atmosphere(rho, code, texture)
        out[band] = _encode(rho, scene.offset, code == SCL_SATURATED)
    out["scl"] = np.where(atm > 0, atm, SURFACE_SCL[kind20]).astype(np.uint8)
    return out


def _clear_reflectance(rng: np.random.Generator, kind: np.ndarray, texture: np.ndarray, band: int) -> np.ndarray:
    base = SPECTRA[kind, band]
    land = kind < WATER
    rho = np.where(land, base * (1 + TEXTURE_AMPLITUDE * texture), base)
    noise_sd = np.where(land, LAND_NOISE_SD, np.where(kind == WATER, WATER_NOISE_SD, 0.0))
    return rho + noise_sd * rng.standard_normal(kind.shape)


def _apply_atmosphere(rho: np.ndarray, code: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """Clouds replace the surface (smoothly textured), cirrus veils it, shadows darken it."""
    out = rho.copy()
    for scl, level in CLOUD_REFLECTANCE.items():
        hit = code == scl
        out[hit] = level * (1 + TEXTURE_AMPLITUDE * texture[hit])
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


def cut_tile(world: dict[str, np.ndarray], tile: str, layout: Layout = DEMO_LAYOUT) -> dict[str, np.ndarray]:
    """One tile's arrays from the world arrays (blanking the wedge on NODATA_TILE)."""
    out = {}
    (x0, x1), ux0 = layout.tile_x[tile], layout.union_x[0]
    for key, data in world.items():
        res = 10 if key in BANDS_10M else 20
        c0 = int((x0 - ux0) // res)
        part = data[:, c0:c0 + int((x1 - x0) // res)].copy()
        if tile == NODATA_TILE:
            part[wedge_mask(res, layout)] = 0
        out[key] = part
    return out


# ================================================================= files
def write_cog(path: Path, data: np.ndarray, grid: Grid, nodata: int, categorical: bool) -> None:
    """One band as a ZSTD COG: predictor 2 and average overviews for reflectance,
    nearest overviews for class maps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"compress": "ZSTD", "level": ZSTD_LEVEL, "blocksize": COG_BLOCKSIZE,
               "overview_resampling": "nearest" if categorical else "average"}
    if not categorical:
        options["predictor"] = 2
    with rasterio.open(path, "w", driver="COG", width=grid.width, height=grid.height, count=1,
                       dtype=data.dtype.name, crs=grid.crs, transform=grid.transform, nodata=nodata,
                       **options) as dst:
        dst.write(data, 1)


def _asset(href: str, title: str, grid: Grid, band: dict, roles: list[str], **fields) -> pystac.Asset:
    """A COG asset with its grid (proj:shape/transform) and one raster band (nodata 0)."""
    fields.update({"proj:shape": [grid.height, grid.width], "proj:transform": grid.proj_transform(),
                   "raster:bands": [{"nodata": 0, **band}]})
    return pystac.Asset(href, title=title, media_type=COG_MEDIA_TYPE, roles=roles, extra_fields=fields)


def _band_fields(key: str) -> dict:
    name, wavelength, fwhm, gsd = S2_BAND_INFO[key]
    return {"gsd": gsd, "eo:bands": [{"name": key, "common_name": key, "description": f"{key} ({name})",
                                      "center_wavelength": wavelength, "full_width_half_max": fwhm}]}


def _percentage(mask: np.ndarray, valid: np.ndarray) -> float:
    return round(100.0 * float(mask[valid].mean()), 2)


def s2_item(scene: Scene, tile: str, arrays: dict[str, np.ndarray], href_root: str,
            layout: Layout = DEMO_LAYOUT) -> pystac.Item:
    """An Earth Search v1 shaped Sentinel-2 L2A item for one tile and date."""
    item_id = scene.item_id(tile)
    scl = arrays["scl"]
    valid = scl != SCL_NODATA
    footprint = _utm_polygon_to_geo(valid_footprint(tile, layout))
    tile_grid = lambda res: utm_grid(*layout.tile_x[tile], res, layout.tile_y)  # noqa: E731
    props = {
        "platform": f"sentinel-{scene.platform[1:].lower()}", "constellation": "sentinel-2",
        "instruments": ["msi"], "gsd": 10,
        "eo:cloud_cover": _percentage(np.isin(scl, [SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS]), valid),
        "proj:code": UTM_CRS,
        "mgrs:utm_zone": UTM_ZONE, "mgrs:latitude_band": LATITUDE_BAND, "mgrs:grid_square": tile[3:],
        "grid:code": f"MGRS-{tile}",
        "s2:processing_baseline": scene.baseline, "s2:product_type": "S2MSI2A",
        "s2:nodata_pixel_percentage": round(100.0 * float((~valid).mean()), 2),
        "s2:saturated_defective_pixel_percentage": _percentage(scl == SCL_SATURATED, valid),
        "s2:cloud_shadow_percentage": _percentage(scl == SCL_SHADOW, valid),
        "s2:water_percentage": _percentage(scl == SCL_WATER, valid),
        "earthsearch:boa_offset_applied": False,
    }
    item = pystac.Item(item_id, mapping(footprint), list(footprint.bounds), scene.when, props,
                       stac_extensions=[EXT[k] for k in ("eo", "raster", "proj", "grid", "mgrs", "s2")])
    base = f"{href_root}/{S2_COLLECTION}/{item_id}"
    for key in BANDS:
        res = S2_BAND_INFO[key][3]
        band = {"data_type": "uint16", "bits_per_sample": 15, "spatial_resolution": res,
                "scale": DN_SCALE, "offset": scene.offset}
        item.add_asset(key, _asset(f"{base}/{key}.tif", f"{key} ({S2_BAND_INFO[key][0]}) - {res}m",
                                   tile_grid(res), band, ["data", "reflectance"], **_band_fields(key)))
    item.add_asset("scl", _asset(f"{base}/scl.tif", "Scene classification map (SCL)", tile_grid(20),
                                 {"data_type": "uint8", "spatial_resolution": 20}, ["data"], gsd=20))
    return item


def worldcover_item(design: Design, year: int, href_root: str) -> pystac.Item:
    """A Planetary Computer shaped ESA WorldCover item (synthetic) for one year."""
    version = "v100" if year <= 2020 else "v200"
    item_id = f"ESA_WorldCover_10m_{year}_{version}_{WORLDCOVER_TILE}"
    bounds = design.lc_bounds
    props = {
        "start_datetime": f"{year}-01-01T00:00:00Z", "end_datetime": f"{year}-12-31T23:59:59Z",
        "proj:code": GEO_CRS, "esa_worldcover:product_tile": WORLDCOVER_TILE,
        "esa_worldcover:product_version": f"{version[1]}.0.0", "mission": "sentinel-1, sentinel-2",
        "instruments": ["c-sar", "msi"],
    }
    item = pystac.Item(item_id, mapping(box(*bounds)), list(bounds), None, props,
                       stac_extensions=[EXT[k] for k in ("raster", "proj", "classification")])
    classes = [{"value": v, "name": name, "description": title, "color_hint": color}
               for v, (name, title, color) in WORLDCOVER_CLASSES.items()]
    item.add_asset("map", _asset(f"{href_root}/{LC_COLLECTION}/{item_id}/map.tif", "Land cover classes", design.lc_grid,
                                 {"data_type": "uint8", "spatial_resolution": 10}, ["data"],
                                 **{"classification:classes": classes}))
    return item


# ================================================================= collections
def _collection(coll_id: str, title: str, description: str, license_: str, items: list[pystac.Item],
                keywords: list[str]) -> pystac.Collection:
    times = [t for it in items for t in (it.datetime, it.common_metadata.start_datetime,
                                         it.common_metadata.end_datetime) if t is not None]
    bounds = np.array([it.bbox for it in items])
    bbox = [*bounds[:, :2].min(0).tolist(), *bounds[:, 2:].max(0).tolist()]
    extent = pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[min(times), max(times)]]))
    coll = pystac.Collection(coll_id, description, extent, title=title, license=license_, keywords=keywords,
                             stac_extensions=sorted({e for it in items for e in it.stac_extensions}))
    coll.item_assets = {key: _item_asset_definition(asset) for key, asset in items[0].assets.items()}
    coll.add_items(items)
    return coll


def _item_asset_definition(asset: pystac.Asset) -> pystac.ItemAssetDefinition:
    """The asset minus what changes per item (href, shape/transform, offset)."""
    extra = {k: v for k, v in asset.extra_fields.items() if k not in ("proj:shape", "proj:transform")}
    extra["raster:bands"] = [{k: v for k, v in b.items() if k != "offset"} for b in extra["raster:bands"]]
    return pystac.ItemAssetDefinition.create(asset.title, None, asset.media_type, asset.roles, extra)


def s2_collection(items: list[pystac.Item]) -> pystac.Collection:
    coll = _collection(
        S2_COLLECTION, "Sentinel-2 Level-2A (synthetic demo)",
        "Synthetic Sentinel-2 L2A tiles shaped like Earth Search v1: uint16 DN with raster:bands "
        "scale 0.0001 and offset -0.1 from processing baseline 04.00 (2022-01-25) on, 0 before; "
        "SCL as uint8. Two overlapping MGRS-like tiles in UTM 21S (Mato Grosso).",
        "proprietary", items, ["sentinel", "copernicus", "reflectance", "synthetic"])
    coll.add_link(pystac.Link("license", "https://sentinel.esa.int/documents/247904/690755/"
                              "Sentinel_Data_Legal_Notice", title="Copernicus Sentinel data terms"))
    coll.providers = [pystac.Provider("sdgcube demo generator", roles=[pystac.ProviderRole.PRODUCER])]
    return coll


def worldcover_collection(items: list[pystac.Item]) -> pystac.Collection:
    coll = _collection(
        LC_COLLECTION, "ESA WorldCover (synthetic demo)",
        "Synthetic land cover with ESA WorldCover classes and grid (1/12000 degree, EPSG:4326). "
        "The real ESA WorldCover exists only for 2020 (v100) and 2021 (v200); every map here, one "
        "per year 2016-2024, is synthetic and designed so that SDG 15.1.1 has a known answer.",
        "CC-BY-4.0", items, ["land cover", "worldcover", "synthetic"])
    coll.providers = [pystac.Provider("sdgcube demo generator", roles=[pystac.ProviderRole.PRODUCER])]
    return coll


# ================================================================= truth
def truth_15_1_1(design: Design) -> dict:
    """Forest area per year on the native land-cover grid over the AOI: components of
    classes 10/95 (8-connectivity) whose geodesic area reaches the MMU."""
    rows, cols = design.lc_aoi_window
    cell = np.broadcast_to(design.lc_row_area[rows, None], (rows.stop - rows.start, cols.stop - cols.start))
    years = {}
    for year, lc in design.landcovers.items():
        forest = np.isin(lc, FOREST_CLASSES)
        aoi_forest = forest[rows, cols]
        assert aoi_forest.sum() == forest.sum(), "forest must lie inside the AOI"
        labels, n = ndimage.label(aoi_forest, structure=np.ones((3, 3), int))
        comp_ha = np.bincount(labels.ravel(), weights=cell.ravel(), minlength=n + 1)[1:] / 1e4
        assert not (np.abs(comp_ha - MMU_HA) < MMU_EXCLUSION_HA).any(), f"{year}: a patch is near the MMU"
        aoi_km2 = float(cell.sum()) / 1e6
        water_km2 = float(cell[lc[rows, cols] == 80].sum()) / 1e6
        forest_km2 = float(comp_ha[comp_ha >= MMU_HA].sum()) / 100
        land_km2 = aoi_km2 - water_km2
        years[str(year)] = {"aoi_area_km2": aoi_km2, "permanent_water_km2": water_km2, "land_area_km2": land_km2,
                            "forest_area_km2": forest_km2, "forest_pct": forest_km2 / land_km2 * 100}
    area = design.lc_row_area[:, None]
    patches = [{"id": p.id, "class": p.cls,
                "area_ha": float(np.broadcast_to(area, design.lc_grid.shape)[design.piece_masks[p.id]].sum()) / 1e4,
                "cleared_year": p.cleared_year, "part_of": p.part_of} for p in PIECES]
    return {"forest_classes": list(FOREST_CLASSES), "mmu_ha": MMU_HA, "connectivity": 8,
            "years": years, "patches": patches}


def truth_6_6_1(design: Design) -> dict:
    """The designed lake per year on the 20 m UTM grid (cell centres inside), within the
    AOI, times the true cell area (400 m^2 / areal scale factor)."""
    lon, lat = _to_geo().transform(*design.world20.centres())
    cell = 20.0 * 20.0 / pyproj.Proj(UTM_CRS).get_factors(lon, lat).areal_scale
    aoi = design.aoi20
    years = {}
    for year in YEARS:
        permanent, ring = design.lake20(year)
        years[str(year)] = {"aoi_area_km2": float(cell[aoi].sum()) / 1e6,
                            "permanent_km2": float(cell[permanent & aoi].sum()) / 1e6,
                            "seasonal_km2": float(cell[ring & aoi].sum()) / 1e6}
    return {"grid": {"crs": UTM_CRS, "resolution": 20}, "years": years}


def truth_items(design: Design, items: list[pystac.Item]) -> dict:
    """Which S2 items a recipe with max cloud cover 60 keeps (exactly the non-heavy dates)."""
    excluded = [it.id for it in items if it.properties["eo:cloud_cover"] >= MAX_CLOUD_COVER]
    heavy = [s.item_id(t) for s in design.scenes if s.heavy for t in TILE_X]
    assert sorted(excluded) == sorted(heavy), "cloud cover does not separate the heavy dates"
    assert all(it.properties["eo:cloud_cover"] >= 90 for it in items if it.id in excluded)
    return {"kept": [it.id for it in items if it.id not in excluded], "excluded_by_cloud_cover": excluded}


# ================================================================= build
def _write_landcover(design: Design, root: Path, href_root: str) -> list[pystac.Item]:
    items = []
    for year, landcover in design.landcovers.items():
        item = worldcover_item(design, year, href_root)
        write_cog(root / LC_COLLECTION / item.id / "map.tif", landcover, design.lc_grid, 0, categorical=True)
        items.append(item)
    return items


def _write_sentinel2(design: Design, root: Path, href_root: str) -> list[pystac.Item]:
    atmospheres = {}
    for year in YEARS:
        atmospheres.update(cloud_year(design, year))
    check_clear_guarantees(design, atmospheres)
    items = []
    for scene in design.scenes:
        world = render_scene(design, scene, atmospheres[scene.key])
        layout = design.layout
        for tile in layout.tile_x:
            arrays = cut_tile(world, tile, layout)
            item = s2_item(scene, tile, arrays, href_root, layout)
            for key, data in arrays.items():
                res = 10 if key in BANDS_10M else 20
                write_cog(root / S2_COLLECTION / item.id / f"{key}.tif", data,
                          utm_grid(*layout.tile_x[tile], res, layout.tile_y), 0,
                          categorical=key == "scl")
            items.append(item)
    return items


def _write_catalog(design: Design, root: Path, final_dir: Path) -> None:
    """All COGs, the STAC catalog and truth.json under ``root``; hrefs point at ``final_dir``."""
    href_root = final_dir.as_uri()
    lc_items = _write_landcover(design, root, href_root)
    s2_items = _write_sentinel2(design, root, href_root)
    catalog = pystac.Catalog(CATALOG_ID, "Embedded sdgcube demo catalog: synthetic Sentinel-2 L2A and "
                             "ESA WorldCover look-alikes over Mato Grosso with a known truth (truth.json).",
                             title="sdgcube demo catalog")
    catalog.add_children([s2_collection(s2_items), worldcover_collection(lc_items)])
    catalog.normalize_hrefs(root.as_posix() + "/")  # trailing slash: a directory, whatever its name
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    truth = {"generator": _generator_id(design.seed, design.layout.scale),
             "aoi": {"bbox": design.aoi_bbox, "crs": GEO_CRS},
             "sdg_15_1_1": truth_15_1_1(design),
             "sdg_6_6_1": truth_6_6_1(design),
             "items": truth_items(design, s2_items)}
    (root / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


def _generator_id(seed: int, scale: float) -> dict:
    """What identifies a build in truth.json (scale only when not 1: the demo stays byte-identical)."""
    ident = {"seed": seed, "version": GENERATOR_VERSION}
    if scale != DEFAULT_SCALE:
        ident["scale"] = scale
    return ident


def build_demo_catalog(out_dir: Path = DEFAULT_DIR, seed: int = DEFAULT_SEED, force: bool = False,
                       scale: float = DEFAULT_SCALE) -> Path:
    """Build the demo catalog into ``out_dir`` atomically (a temporary sibling renamed into
    place), so readers never see a half-written catalog. Returns the catalog.json path.

    ``scale`` multiplies the area (tiles and AOI; see ``Layout``): the scaled AOI bbox is
    ``truth.json["aoi"]["bbox"]`` (also ``aoi_bbox(scale)``). Scaled catalogs are for
    benchmarks and never go to the embedded ``DEFAULT_DIR``.
    """
    out_dir = Path(out_dir).resolve()
    layout = Layout(scale)
    if scale != DEFAULT_SCALE and out_dir == DEFAULT_DIR.resolve():
        raise ValueError(f"a demo catalog at scale {scale} must not replace the embedded one in {out_dir}: "
                         "give another directory (e.g. outputs/bench/demo-x4)")
    if out_dir.exists() and not force:
        raise FileExistsError(f"{out_dir} exists: pass force=True (--force) to rebuild it")
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write_catalog(Design(seed, layout), tmp, out_dir)
        if out_dir.exists():
            if not force:  # another process published one while this one was building
                raise FileExistsError(f"{out_dir} appeared during the build")
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "catalog.json"


def is_current(out_dir: Path, seed: int = DEFAULT_SEED, scale: float = DEFAULT_SCALE) -> bool:
    """True if ``out_dir`` holds a complete catalog made by this generator version, seed and scale."""
    truth = Path(out_dir) / "truth.json"
    if not ((Path(out_dir) / "catalog.json").is_file() and truth.is_file()):
        return False
    return json.loads(truth.read_text()).get("generator") == _generator_id(seed, scale)


def ensure_demo_catalog(out_dir: Path = DEFAULT_DIR, seed: int = DEFAULT_SEED,
                        scale: float = DEFAULT_SCALE) -> Path:
    """The catalog.json path, building the catalog first only if it is missing, incomplete,
    or from another generator version, seed or scale (cheap to call from every test or demo)."""
    out_dir = Path(out_dir).resolve()
    if not is_current(out_dir, seed, scale):
        try:
            build_demo_catalog(out_dir, seed, force=out_dir.exists(), scale=scale)
        except FileExistsError:  # a concurrent caller published it first
            if not is_current(out_dir, seed, scale):
                raise
    return out_dir / "catalog.json"


def load_truth(out_dir: Path = DEFAULT_DIR) -> dict:
    """The known truth beside catalog.json: AOI, per-year SDG 15.1.1 and 6.6.1 values and
    which items a max cloud cover of 60 keeps. Pipeline tests compare against it."""
    return json.loads((Path(out_dir) / "truth.json").read_text())


def aoi_bbox(scale: float = DEFAULT_SCALE, seed: int = DEFAULT_SEED) -> list[float]:
    """The AOI (W, S, E, N, WGS84) of a catalog built at ``scale``, without building it:
    give it to ``Recipe.with_bbox`` to run a recipe on a scaled catalog."""
    return Design(seed, Layout(scale)).aoi_bbox
