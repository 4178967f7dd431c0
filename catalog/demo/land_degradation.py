"""The SDG 15.3.1 design: the LD grid, land patches and their yearly NDVI composites and land-cover series.

Every pixel of a patch has the same series, so the known truth is evaluated once per patch (and soil and
climate part) instead of per pixel; patches sit at fixed offsets (in LD pixels) from the AOI's north-west
corner, so a scaled Layout is the same scene with more background around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from affine import Affine

from catalog.demo.layout import DEG_UNITS, GEO_CRS, LC_MARGIN_UNITS, Grid, geodesic_cell_area
from catalog.demo.world import Design, smooth_field

# ---------------------------------------------------------------- grid and time
LD_UNITS = 5  # WorldCover units (1/12000 deg) per LD pixel
LD_PER_DEG = DEG_UNITS // LD_UNITS  # 2400: pixel exactly 1/2400 deg (~46 m)
NDVI_YEARS = tuple(range(2001, 2024))
LC_YEARS = tuple(range(2000, 2024))
COMPOSITE_DOYS = (1, 97, 193, 289)  # four 16-day composites per year
SPREAD_DN = 500  # composites v - a, v + a, v, v: their mean is v exactly
GARBAGE_DN = 1000  # the NDVI under a cloudy composite: must be masked, never averaged
NDVI_NODATA, RELIABILITY_NODATA = -3000, -1
GOOD, MARGINAL, SNOW, CLOUDY = 0, 1, 2, 3
SOC_NODATA, SOIL_NODATA, CLIMATE_NODATA = -32768, 255, 0
SOC_RNG_STREAM = 31  # the smooth SOC reference field

# ---------------------------------------------------------------- land
FOREST, GRASS, CROP, BUILT, WATER, LC_NODATA = 50, 130, 10, 190, 210, 0  # ESA CCI LCCS codes
SPLIT_COL = 72  # LD columns from the AOI's west: soil 1 / climate 10 west of it, soil 2 / climate 12 east
WEST_SOIL, EAST_SOIL = 1, 2
WEST_CLIMATE, EAST_CLIMATE = 10, 12  # tropical moist (cropland factor 0.48), tropical dry (0.58)
GRASS_ROWS, GRASS_COLS = 38, 76  # the grassland background: south-east of this AOI-relative corner

# a wiggle (NDVI DN) around the stable backgrounds, ordered so that S is 0, 1 and 0 in the three periods;
# the slope stays far below 0.001/yr and the state's mean difference below 0.01
WIGGLE_DN = (0, -30, 30, -20, 20, -30, 10, 0, 30, -20, 20, 0, -10, -30, 20, -10, 20, -20, 10, 10, 30, -10, 0)


def _ramp(first: int, last: int) -> tuple[int, ...]:
    return tuple(round(first + (last - first) * i / (len(NDVI_YEARS) - 1)) for i in range(len(NDVI_YEARS)))


def _wiggle(level: int) -> tuple[int, ...]:
    return tuple(level + w for w in WIGGLE_DN)


# B: 2001-2012 mostly rising (their S cancels the 2013-2015 dip's), then lower: stable trajectory, state -1
_EARLY_DECLINE = (7600, 7800, 7700, 7900, 8000, 7850, 8100, 7750, 8200, 7950, 8300, 8050,
                  6900, 6950, 6850, 6880, 6930, 6870, 6920, 6860, 6910, 6890, 6940)


def ld_grid(bounds_ld: tuple[int, int, int, int]) -> Grid:
    """The 1/2400 degree grid of (W, S, E, N) in LD pixels."""
    w, s, e, n = bounds_ld
    return Grid(GEO_CRS, Affine(1 / LD_PER_DEG, 0, w / LD_PER_DEG, 0, -1 / LD_PER_DEG, n / LD_PER_DEG), e - w, n - s)


def ld_bounds_deg(bounds_ld: tuple[int, int, int, int]) -> list[float]:
    return [v / LD_PER_DEG for v in bounds_ld]


def ld_pixels_inside(bounds_ld: tuple[int, int, int, int], aoi_units: tuple[int, int, int, int],
                     grid: Grid) -> np.ndarray:
    """Pixels whose centre lies inside the AOI bbox, decided in integers (half WorldCover units):
    centres lie at odd half units and AOI edges on whole units, so none is ever on an edge."""
    w, s, e, n = aoi_units
    west, _, _, north = bounds_ld
    x2 = 2 * LD_UNITS * west + 2 * LD_UNITS * np.arange(grid.width) + LD_UNITS
    y2 = 2 * LD_UNITS * north - 2 * LD_UNITS * np.arange(grid.height) - LD_UNITS
    return ((y2 > 2 * s) & (y2 < 2 * n))[:, None] & ((x2 > 2 * w) & (x2 < 2 * e))[None, :]


def ld_row_area(bounds_ld: tuple[int, int, int, int], grid: Grid) -> np.ndarray:
    """Geodesic area (m^2) of one cell in each row."""
    north = (bounds_ld[3] - np.arange(grid.height)) / LD_PER_DEG
    return geodesic_cell_area(north - 1 / LD_PER_DEG, north, 1 / LD_PER_DEG)


@dataclass(frozen=True)
class Part:
    """A piece of land with one series: a background or a designed patch (``box``: row0, row1, col0,
    col1 in LD pixels from the AOI's north-west pixel, exclusive ends). ``intended``: period (or "*"
    for every period) -> layer -> code (None: no data), checked against the reference at build time."""

    id: str
    description: str
    ndvi: tuple[int, ...] | None  # annual DN per NDVI_YEARS; None: no valid composite ever
    cci: int
    box: tuple[int, int, int, int] | None = None
    cci_to: int | None = None
    transition_year: int | None = None  # first year mapped as cci_to
    cloudy_years: tuple[int, ...] = ()  # one composite cloudy (the other three still average v)
    missing_years: tuple[int, ...] = ()  # every composite cloudy or snowy: the year has no value
    soc_hole: bool = False
    intended: Intended = field(default_factory=dict)

    def cci_of(self, year: int) -> int:
        changed = self.transition_year is not None and year >= self.transition_year
        return self.cci_to if changed and self.cci_to is not None else self.cci

    def composites(self, year: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(NDVI DN, pixel reliability) of the four composites of ``year``."""
        if self.ndvi is None:  # fill values; one composite says 'good' but its NDVI is the nodata value
            return (NDVI_NODATA,) * 4, (-1, -1, GOOD if year % 2 else -1, -1)
        if year in self.missing_years:
            return (GARBAGE_DN,) * 4, (CLOUDY, CLOUDY, SNOW, CLOUDY)
        v = self.ndvi[year - NDVI_YEARS[0]]
        ndvi, rel = [v - SPREAD_DN, v + SPREAD_DN, v, v], [GOOD, MARGINAL, GOOD, GOOD]
        if year in self.cloudy_years:
            k = 2 + year % 2
            ndvi[k], rel[k] = GARBAGE_DN, SNOW if year % 3 == 0 else CLOUDY
        return tuple(ndvi), tuple(rel)


Intended = dict[str, dict[str, int | None]]
STABLE: Intended = {"*": {"trajectory": 0, "state": 0, "performance": 0, "lpd": 4, "land_cover_degradation": 0,
                "soc_degradation": 0, "sdg": 0}}
BACKGROUNDS = (
    Part("forest", "background: stable tree cover", _wiggle(8000), FOREST, intended=STABLE),
    Part("grassland", "background: stable grassland (south-east)", _wiggle(5000), GRASS, intended=STABLE),
)
PATCHES = (
    Part("A", "declining forest", _ramp(8000, 5360), FOREST, (4, 18, 4, 20), cloudy_years=(2003, 2009, 2017, 2021),
         missing_years=(2012,), intended={"*": {"trajectory": -3, "lpd": 1, "productivity": -1}}),
    Part("B", "early signs of decline in the baseline", _EARLY_DECLINE, FOREST, (4, 18, 24, 40),
         intended={"baseline": {"trajectory": 0, "state": -1, "performance": 0, "lpd": 2, "productivity": -1}}),
    Part("C", "stressed forest: constantly low NDVI", (3500,) * len(NDVI_YEARS), FOREST, (4, 18, 44, 60),
         cloudy_years=(2002, 2007, 2014, 2019),
         intended={"*": {"trajectory": 0, "state": 0, "performance": -1, "lpd": 3, "productivity": 0}}),
    Part("D", "improving grassland", _ramp(4000, 6500), GRASS, (42, 56, 80, 96), cloudy_years=(2005, 2016, 2022),
         intended={"*": {"trajectory": 3, "lpd": 5, "productivity": 1, "sdg": 1}}),
    Part("E", "forest cleared for cropland in 2008 (tropical moist)", _wiggle(8000), FOREST, (30, 46, 6, 22),
         cci_to=CROP, transition_year=2008,
         intended={"baseline": {"land_cover_degradation": -1, "soc_degradation": -1, "sdg": -1}}),
    Part("F", "grassland to cropland in 2017 (tropical dry)", _wiggle(5000), GRASS, (42, 56, 100, 116),
         cci_to=CROP, transition_year=2017,
         intended={"baseline": {"sdg": 0},
                   "2016-2019": {"land_cover_degradation": 1, "soc_degradation": 0, "sdg": 1, "status": 6},
                   "2020-2023": {"land_cover_degradation": 1, "soc_degradation": -1, "sdg": -1, "status": 2,
                                 "status3": -1}}),
    Part("G", "grassland built up in 2010", _wiggle(5000), GRASS, (58, 70, 120, 136), cci_to=BUILT,
         transition_year=2010, intended={"baseline": {"land_cover_degradation": -1, "soc_degradation": -1,
                                                      "sdg": -1}}),
    Part("W", "a lake (negative NDVI)", (-500,) * len(NDVI_YEARS), WATER, (50, 64, 32, 52),
         intended={"*": {"soc_degradation": None, "sdg": None, "performance": None, "lpd": None}}),
    Part("no_ndvi", "no valid NDVI composite in any year", None, FOREST, (22, 28, 4, 14),
         intended={"*": {"trajectory": None, "state": None, "performance": None, "lpd": None, "sdg": None}}),
    Part("no_landcover", "land cover no data (CCI 0) in every year", _wiggle(8000), LC_NODATA, (22, 28, 24, 36),
         intended={"*": {"performance": None, "land_cover_degradation": None, "soc_degradation": None,
                         "sdg": None}}),
    Part("no_soc", "a hole in the SOC reference", _wiggle(8000), FOREST, (22, 28, 44, 56), soc_hole=True,
         intended={"*": {"soc_degradation": None, "sdg": None}}),
)
PARTS = BACKGROUNDS + PATCHES  # index in PARTS = the value of LandDegradation.parts


class LandDegradation:
    """The LD grid of a Design and what lies on it: which part each pixel shows, soil units, climate
    zones, the SOC reference; the collections and the truth are derived from these."""

    def __init__(self, design: Design) -> None:
        self.design = design

    @cached_property
    def bounds_ld(self) -> tuple[int, int, int, int]:
        """(W, S, E, N) in LD pixels (1/2400 deg): the land-cover bounds rounded outward."""
        w, s, e, n = self.design.aoi_units
        m = LC_MARGIN_UNITS
        return ((w - m) // LD_UNITS, (s - m) // LD_UNITS, -(-(e + m) // LD_UNITS), -(-(n + m) // LD_UNITS))

    @cached_property
    def grid(self) -> Grid:
        return ld_grid(self.bounds_ld)

    @property
    def bounds(self) -> list[float]:
        return ld_bounds_deg(self.bounds_ld)

    @cached_property
    def aoi(self) -> np.ndarray:
        return ld_pixels_inside(self.bounds_ld, self.design.aoi_units, self.grid)

    @cached_property
    def aoi_origin(self) -> tuple[int, int]:
        """(row, col) of the AOI's north-west pixel: patch boxes are offsets from it."""
        rows, cols = np.nonzero(self.aoi)
        return int(rows.min()), int(cols.min())

    @cached_property
    def row_area(self) -> np.ndarray:
        return ld_row_area(self.bounds_ld, self.grid)

    @cached_property
    def cell_area(self) -> np.ndarray:
        return np.broadcast_to(self.row_area[:, None], self.grid.shape)

    def _relative(self) -> tuple[np.ndarray, np.ndarray]:
        r0, c0 = self.aoi_origin
        rows, cols = np.ogrid[:self.grid.height, :self.grid.width]
        return rows - r0, cols - c0

    @cached_property
    def parts(self) -> np.ndarray:
        """Index into PARTS per pixel: forest, the grassland corner, then the patches."""
        rows, cols = self._relative()
        out = np.where((rows >= GRASS_ROWS) & (cols >= GRASS_COLS), 1, 0).astype(np.uint8)
        for index, part in enumerate(PARTS):
            if part.box is None:
                continue
            r0, r1, c0, c1 = part.box
            inside = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
            assert (self.aoi[inside]).all() and inside.sum() == (r1 - r0) * (c1 - c0), f"{part.id} leaves the AOI"
            near = (rows >= r0 - 2) & (rows < r1 + 2) & (cols >= c0 - 2) & (cols < c1 + 2)
            assert (out[near] == out[inside].flat[0]).all() and out[inside].flat[0] < len(BACKGROUNDS), \
                f"{part.id} is not >= 2 px inside one background"
            out[inside] = index
        return out

    @cached_property
    def west(self) -> np.ndarray:
        return np.broadcast_to(self._relative()[1] < SPLIT_COL, self.grid.shape)

    @cached_property
    def soil(self) -> np.ndarray:
        return np.where(self.west, WEST_SOIL, EAST_SOIL).astype(np.uint8)

    @cached_property
    def climate(self) -> np.ndarray:
        return np.where(self.west, WEST_CLIMATE, EAST_CLIMATE).astype(np.uint8)

    @cached_property
    def soc(self) -> np.ndarray:
        """SOC stock 0-30 cm (t/ha), integers 40..80 from a smooth field; the SOC hole is nodata."""
        z = smooth_field(self.design.rng(SOC_RNG_STREAM), self.grid.shape, 8.0)
        soc = np.clip(np.round(60 + 8 * z), 40, 80).astype(np.int16)
        holes = np.isin(self.parts, [i for i, p in enumerate(PARTS) if p.soc_hole])
        soc[holes] = SOC_NODATA
        return soc

    def landcover(self, year: int) -> np.ndarray:
        return np.array([p.cci_of(year) for p in PARTS], np.uint8)[self.parts]

    def composite(self, year: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(NDVI int16, reliability int8) of composite ``k`` of ``year``."""
        table = [p.composites(year) for p in PARTS]
        ndvi = np.array([t[0][k] for t in table], np.int16)
        rel = np.array([t[1][k] for t in table], np.int8)
        return ndvi[self.parts], rel[self.parts]


def composite_dates(year: int, k: int) -> tuple[str, str]:
    """(start, end) ISO datetimes of the 16 days of composite ``k``."""
    start = np.datetime64(f"{year}-01-01") + np.timedelta64(COMPOSITE_DOYS[k] - 1, "D")
    end = start + np.timedelta64(15, "D")
    return f"{start}T00:00:00Z", f"{end}T23:59:59Z"

