"""What is on the ground: the Design (AOI, land-cover grid, forest pieces, town, lake) fixed by the seed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from affine import Affine
from scipy import ndimage
from shapely import contains_xy, segmentize
from shapely.geometry import Polygon, box
from shapely.ops import transform as shapely_transform

from catalog.demo.layout import (
    AOI_MARGIN_M,
    DEG_UNITS,
    DEMO_LAYOUT,
    GEO_CRS,
    LC_MARGIN_UNITS,
    Grid,
    Layout,
    geodesic_cell_area,
    to_geo,
    to_utm,
    upsample,
    utm_grid,
)
from catalog.demo.scenes import YEARS

# ---------------------------------------------------------------- the lake (UTM metres)
LAKE_CENTRE = (603_560.0, 8_614_020.0)  # spans the tile overlap, well inside the AOI
LAKE_SEMI_AXES = (1_000.0, 620.0)  # (x, y) at scale 1
DARK_WATER_SCALE = 0.45  # core of the lake: exact dark-water spectrum on every date
PERMANENT_SCALE = {2016: 1.00, 2017: 0.97, 2018: 0.94, 2019: 0.91, 2020: 0.88,
                   2021: 0.90, 2022: 0.92, 2023: 0.93, 2024: 0.94}
SEASONAL_SCALE = {2016: 1.18, 2017: 1.15, 2018: 1.14, 2019: 1.12, 2020: 1.10,  # outer edge
                  2021: 1.15, 2022: 1.19, 2023: 1.22, 2024: 1.20}

# ---------------------------------------------------------------- land cover
FOREST_CLASSES = (10, 95)
TOWN_BOX = (10, 90, 610, 720)  # (row0, row1, col0, col1) ellipse, AOI-relative LC pixels

# ---------------------------------------------------------------- surface kinds in the imagery
OPEN, FOREST, BUILT, WATER, DARK_WATER = range(5)
TEXTURE_SIGMA_PX = 10.0  # static smooth texture on land (10 m px)


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


def in_ellipse(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """True where (x, y) (UTM) is inside the lake ellipse scaled by ``scale``."""
    (cx, cy), (ax, ay) = LAKE_CENTRE, LAKE_SEMI_AXES
    return ((x - cx) / (ax * scale)) ** 2 + ((y - cy) / (ay * scale)) ** 2 <= 1.0


class Design:
    """Everything fixed by the constants and the seed: grids, AOI, land cover, lake, surfaces."""

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
        lon, lat = to_geo().transform([x0, x0, x1, x1], [y0, y1, y0, y1])
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
        return shapely_transform(to_utm().transform, geo)

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
        return to_utm().transform(lon, lat)

    def lc_index(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the land-cover pixel under each pixel centre of a UTM grid."""
        lon, lat = to_geo().transform(*grid.centres())
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
        mix = smooth_field(self.rng(1), shape, 25.0)
        rare = smooth_field(self.rng(2), shape, 6.0)
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
            wet_here = upsample(water20, factor)
            out.append(np.where(wet_here, upsample(water, factor), kind).astype(np.uint8))
        return out[0], out[1]

    @cached_property
    def texture10(self) -> np.ndarray:
        return np.clip(smooth_field(self.rng(3), self.world10.shape, TEXTURE_SIGMA_PX), -2.5, 2.5)

    @cached_property
    def texture20(self) -> np.ndarray:
        h, w = self.world20.shape
        return self.texture10.reshape(h, 2, w, 2).mean(axis=(1, 3))


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
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
