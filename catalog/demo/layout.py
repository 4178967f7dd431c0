"""Where the demo lies: CRSs, the two S2 tiles and their nodata wedge, grids, and exact cell areas."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyproj
from affine import Affine
from shapely.geometry import Polygon, box
from shapely.ops import transform as shapely_transform

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
NODATA_TILE = "21LYH"  # its swath-edge wedge lies inside the overlap, where 21LXH has data
WEDGE_TOP_WIDTH_M = 900.0  # wedge: x < 603000 + 900 m * (y - south) / height
DEFAULT_SCALE = 1  # area multiplier of the scene (benchmarks use 4, 16); 1 = the embedded demo

# ---------------------------------------------------------------- WGS84 (exact cell areas)
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_E = math.sqrt(WGS84_F * (2 - WGS84_F))


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
        x0, x1 = (UNION_X[0] + self._grow(v - UNION_X[0]) for v in OVERLAP_X)
        return x0, x1

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


def to_geo() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(UTM_CRS, GEO_CRS, always_xy=True)


def to_utm() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(GEO_CRS, UTM_CRS, always_xy=True)


def utm_polygon_to_geo(poly: Polygon) -> Polygon:
    """Vertices only: over 4 km a UTM straight line bends by far less than a millimetre."""
    return shapely_transform(to_geo().transform, poly)


def upsample(a: np.ndarray, factor: int) -> np.ndarray:
    return a if factor == 1 else np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


@cache
def wedge_mask(res: int, layout: Layout = DEMO_LAYOUT) -> np.ndarray:
    """The swath-edge nodata wedge of NODATA_TILE in that tile's pixels at ``res``: decided
    on the 20 m grid (cell centres) so that 10 m and 20 m nodata coincide exactly."""
    (tx0, _), (ty0, ty1) = layout.tile_x[NODATA_TILE], layout.tile_y
    x, y = utm_grid(*layout.tile_x[NODATA_TILE], 20, layout.tile_y).centres()
    wedge = x < tx0 + layout.wedge_top_width * (y - ty0) / (ty1 - ty0)
    assert (x[wedge] + 10 < layout.overlap_x[1]).all(), "the nodata wedge must stay inside the tile overlap"
    return upsample(wedge, 20 // res)


def valid_footprint(tile: str, layout: Layout = DEMO_LAYOUT) -> Polygon:
    """The tile's data footprint in UTM (the tile square minus its wedge)."""
    (x0, x1), (y0, y1) = layout.tile_x[tile], layout.tile_y
    if tile == NODATA_TILE:
        return Polygon([(x0, y0), (x0 + layout.wedge_top_width, y1), (x1, y1), (x1, y0)])
    return box(x0, y0, x1, y1)
