"""The SDG 11.3.1 design: a GHS-BUILT-S-like built-up surface and WorldPop-like population on one 100 m
UTM grid, epochs 2015, 2020 and 2025, with each municipality's growth chosen (and so known).

Every town grows outward from a seed cell in a fixed order: the first ``built`` cells of a zone are
built-up (a fraction above the threshold), a fringe after them holds some built surface below it (never
counted), and the zone's people are spread over its town in whole persons. Towns keep 200 m inside the
AOI and 60 m from every zone border, so neither the AOI edge nor a border's exact line decides a number.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyproj
import shapely
from affine import Affine
from shapely.ops import transform as shapely_transform

from catalog.demo.layout import GEO_CRS, UTM_CRS, Grid
from catalog.demo.world import Design
from catalog.demo.zones import OUTSIDE, ZONES_CRS, Zones

URBAN_RES = 100  # metres: GHSL's and WorldPop's ~100 m
URBAN_MARGIN_M = 500  # the grid covers the AOI and this much more
EPOCHS = (2015, 2020, 2025)
BUILT_DN, FRINGE_DN, BUILT_NODATA = 7500, 3500, 65535  # m² of built surface per 10 000 m² cell
BUILT_SCALE = 1e-4  # DN -> built-up fraction of the cell
THRESHOLD = 0.5  # the recipe's built-up fraction
POP_NODATA = -99999.0
FRINGE_CELLS = 6
AOI_INSET_M, BORDER_GAP_M = 200.0, 60.0


@dataclass(frozen=True)
class Town:
    """A zone's built-up cells and people per epoch (the people live on the built cells and the fringe)."""

    zone: str
    built: tuple[int, ...]
    people: tuple[int, ...]
    story: str


TOWNS = (
    Town("5100102", (30, 45, 50), (6000, 6600, 7000), "land consumed faster than people grew"),
    Town("5100250", (40, 42, 44), (8000, 10000, 12000), "people grew faster than land was consumed"),
    Town("5100359", (20, 22, 22), (5000, 4500, 4500), "population fell, then held: a negative, then an "
                                                      "undefined ratio"),
)


class Urban:
    """Grid, rasters and truth of the 11.3.1 demo."""

    def __init__(self, design: Design, zones: Zones) -> None:
        self.design, self.zones = design, zones

    @cached_property
    def grid(self) -> Grid:
        west, south, east, north = self.design.aoi_utm.bounds
        r, m = URBAN_RES, URBAN_MARGIN_M
        x0, y1 = np.floor((west - m) / r) * r, np.ceil((north + m) / r) * r
        x1, y0 = np.ceil((east + m) / r) * r, np.floor((south - m) / r) * r
        return Grid(UTM_CRS, Affine(r, 0, x0, 0, -r, y1), int((x1 - x0) // r), int((y1 - y0) // r))

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        t, (ny, nx) = self.grid.transform, self.grid.shape
        lon, lat = pyproj.Transformer.from_crs(UTM_CRS, GEO_CRS, always_xy=True).transform(
            [t.c, t.c, t.c + nx * t.a, t.c + nx * t.a], [t.f, t.f + ny * t.e, t.f, t.f + ny * t.e])
        return min(lon), min(lat), max(lon), max(lat)

    @cached_property
    def inside(self) -> np.ndarray:
        """Cells whose centre lies in the AOI (pixel-centre rule)."""
        x, y = self.grid.centres()
        return shapely.contains_xy(self.design.aoi_utm, x, y)

    @cached_property
    def cell_area(self) -> np.ndarray:
        """True area (m²) of every cell: the geodesic area of its four corners on WGS84."""
        t, (ny, nx) = self.grid.transform, self.grid.shape
        xs = t.c + t.a * np.arange(nx + 1)
        ys = t.f + t.e * np.arange(ny + 1)
        xx, yy = np.meshgrid(xs, ys)
        lon, lat = pyproj.Transformer.from_crs(UTM_CRS, GEO_CRS, always_xy=True).transform(xx, yy)
        geod = pyproj.Geod(ellps="WGS84")
        area = np.empty((ny, nx))
        for i in range(ny):
            for j in range(nx):
                lons = [lon[i, j], lon[i + 1, j], lon[i + 1, j + 1], lon[i, j + 1]]
                lats = [lat[i, j], lat[i + 1, j], lat[i + 1, j + 1], lat[i, j + 1]]
                area[i, j] = abs(geod.polygon_area_perimeter(lons, lats)[0])
        return area

    @cached_property
    def masks(self) -> dict[str, np.ndarray]:
        return self.zones.masks(self.grid, self.inside)

    @cached_property
    def order(self) -> dict[str, np.ndarray]:
        """Per zone: the flat indices of its eligible cells, nearest to the zone's seed point first."""
        x, y = self.grid.centres()
        to_utm = pyproj.Transformer.from_crs(ZONES_CRS, UTM_CRS, always_xy=True).transform
        borders = shapely.union_all([shapely_transform(to_utm, g).boundary for g in self.zones.geometries.values()])
        far = shapely.distance(borders, shapely.points(x, y)) >= BORDER_GAP_M
        deep = shapely.contains_xy(self.design.aoi_utm.buffer(-AOI_INSET_M), x, y)
        out = {}
        for town in TOWNS:
            cells = np.flatnonzero((self.masks[town.zone] & far & deep).ravel())
            seed = shapely_transform(to_utm, self.zones.geometries[town.zone]).representative_point()
            dist = np.hypot(x.ravel()[cells] - seed.x, y.ravel()[cells] - seed.y)
            out[town.zone] = cells[np.lexsort((cells, dist))]
            assert out[town.zone].size >= max(town.built) + FRINGE_CELLS, town.zone
        return out

    def built_surface(self, epoch: int) -> np.ndarray:
        """uint16 m² of built surface per cell (BUILT_DN built-up, FRINGE_DN below the threshold)."""
        k = EPOCHS.index(epoch)
        dn = np.zeros(self.grid.shape, np.uint16).ravel()
        for town in TOWNS:
            cells = self.order[town.zone]
            n = town.built[k]
            dn[cells[:n]] = BUILT_DN
            dn[cells[n:n + FRINGE_CELLS]] = FRINGE_DN
        dn = dn.reshape(self.grid.shape)
        dn[:2, :2] = BUILT_NODATA  # a corner outside the AOI without data
        return dn

    def population(self, epoch: int) -> np.ndarray:
        """float32 people per cell, whole persons, spread over the built cells and the fringe."""
        k = EPOCHS.index(epoch)
        pop = np.zeros(self.grid.height * self.grid.width, np.float32)
        for town in TOWNS:
            cells = self.order[town.zone][:town.built[k] + FRINGE_CELLS]
            share, extra = divmod(town.people[k], cells.size)
            pop[cells] = share
            pop[cells[:extra]] += 1
        pop = pop.reshape(self.grid.shape)
        pop[:2, :2] = POP_NODATA
        return pop

    def truth(self) -> dict:
        """Per zone (and "all", and OUTSIDE): built-up km² and people per epoch, and the 11.3.1 series."""
        zones: dict[str, dict] = {}
        for zone, mask in {"all": self.inside, **self.masks}.items():
            built = {e: float(self.cell_area[mask & (self.built_surface(e) == BUILT_DN)].sum()) / 1e6
                     for e in EPOCHS}
            people = {e: float(self.population(e)[mask].astype(np.float64).sum()) for e in EPOCHS}
            zones[zone] = {"built_up_km2": {str(e): built[e] for e in EPOCHS},
                           "population": {str(e): people[e] for e in EPOCHS},
                           "built_up_per_capita_m2": {str(e): built[e] * 1e6 / people[e] if people[e] else None
                                                      for e in EPOCHS},
                           "pairs": {f"{a}-{b}": _ratios(built[a], built[b], people[a], people[b], b - a)
                                     for a, b in [*itertools.pairwise(EPOCHS),
                                                  (EPOCHS[0], EPOCHS[-1])]}}
        for e in EPOCHS:
            total = sum(zones[z]["population"][str(e)] for z in (*self.zones.ids, OUTSIDE))
            assert total == zones["all"]["population"][str(e)], "zones must add up to the AOI"
        return {"epochs": list(EPOCHS), "threshold": THRESHOLD, "towns": {t.zone: t.story for t in TOWNS},
                "all": zones.pop("all"), "zones": zones}


def _ratios(u1: float, u2: float, p1: float, p2: float, years: int) -> dict[str, float | None]:
    """LCR (UN-Habitat's current form and the log form), PGR and their ratios; None where undefined."""
    lcr = (u2 - u1) / u1 / years if u1 > 0 else None
    lcr_log = float(np.log(u2 / u1)) / years if u1 > 0 and u2 > 0 else None
    pgr = float(np.log(p2 / p1)) / years if p1 > 0 and p2 > 0 else None
    def over_pgr(rate: float | None) -> float | None:
        return rate / pgr if rate is not None and pgr else None  # pgr None or 0: undefined

    return {"lcr": lcr, "lcr_log": lcr_log, "pgr": pgr, "lcrpgr": over_pgr(lcr), "lcrpgr_log": over_pgr(lcr_log),
            "built_up_change_km2": u2 - u1}
