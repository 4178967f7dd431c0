"""Admin units to report per: three made-up municipalities (zones.gpkg, EPSG:4674) and their pixels."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
from affine import Affine
from shapely import contains_xy
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from catalog.demo.layout import GEO_CRS, Grid
from catalog.demo.world import Design

ZONES_FILE, ZONES_LAYER = "zones.gpkg", "municipalities"
ZONES_CRS = "EPSG:4674"  # SIRGAS 2000, geographic: how IBGE publishes municipalities
ID_FIELD, NAME_FIELD = "code", "name"
OUTSIDE = "outside zones"  # AOI pixels in no zone
FILE_DATE = "2024-12-31T00:00:00.000Z"  # the GeoPackage's last_change: fixed, so the file is byte-stable

# Shared vertices as AOI fractions (fx west -> east, fy south -> north; the AOI is [0, 1] x [0, 1]),
# so zones follow the AOI at every scale. Common edges use the same named vertices (no gaps, no
# overlaps, no vertex of one zone on an edge of another); every border inside the AOI is slanted.
# At scale 1: A/B and B/C cut the lake, A/C cuts forest f12, B/C the forest block f13, the
# hole's west edge mangrove m1, and the outside edge S0-K3-W0 forest f6 (the south-west corner of
# the AOI lies in no zone). Positions were nudged (by tens of metres) so that every pixel centre of the
# 10 m and 20 m UTM grids of the recipes lies >= 0.12 m from a border, more than the <= 7 cm by
# which an edge straight in degrees and one straight in UTM differ: zones in either CRS select the
# same pixels. Land-cover pixel centres lie >= 0.002 pixel (2 cm) from a border.
VERTICES = {
    "NW": (-0.04, 1.07), "N1": (0.5698, 1.0688), "NE": (1.09, 1.07), "SE": (1.09, -0.06),
    "S1": (0.9006, -0.0605), "S0": (0.4051, -0.0601), "W0": (-0.0424, 0.4679), "W1": (-0.0386, 0.5596),
    "M1": (0.5463, 0.7804), "M2": (0.6598, 0.3282), "M3": (0.1986, 0.4883),
    "T": (0.4887, 0.4366),  # where A, B and C meet, in the lake
    "K1": (0.5779, 0.3844), "K2": (0.3435, 0.4548), "K3": (0.1858, 0.207),  # kinks of T-M2, M3-T, S0-W0
    "H1": (0.833, 0.3099), "H2": (0.905, 0.335), "H3": (0.931, 0.4685), "H4": (0.8148, 0.458),  # B's hole, C's exclave
}


@dataclass(frozen=True)
class Zone:
    """A municipality: its parts as (shell, holes) rings of VERTICES names."""

    code: str
    name: str
    parts: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], ...]


HOLE = ("H1", "H2", "H3", "H4")
ZONES = (  # A: north-west; B: east, with a hole; C: south-west, a MultiPolygon (its exclave fills B's hole)
    Zone("5100102", "Nova Aurora do Cerrado", ((("NW", "N1", "M1", "T", "K2", "M3", "W1"), ()),)),
    Zone("5100250", "Ribeirão das Araras", ((("N1", "NE", "SE", "S1", "M2", "K1", "T", "M1"), (HOLE,)),)),
    Zone("5100359", "Santa Luzia do Buriti",
         ((("W1", "M3", "K2", "T", "K1", "M2", "S1", "S0", "K3", "W0"), ()), (HOLE, ()))),
)


class Zones:
    """The zones of a Design: polygons in ZONES_CRS and which pixels of a grid lie in each
    (pixel-centre membership; the zone not containing a centre does not get the pixel)."""

    def __init__(self, design: Design) -> None:
        self.design = design

    @property
    def ids(self) -> list[str]:
        return [z.code for z in ZONES]

    @cached_property
    def geometries(self) -> dict[str, BaseGeometry]:
        """Zone id -> Polygon or MultiPolygon (exterior rings counter-clockwise) in ZONES_CRS."""
        w, s, e, n = self.design.aoi_bbox
        to_zones = pyproj.Transformer.from_crs(GEO_CRS, ZONES_CRS, always_xy=True)
        points = {k: to_zones.transform(w + fx * (e - w), s + fy * (n - s)) for k, (fx, fy) in VERTICES.items()}
        out = {}
        for zone in ZONES:
            parts = [orient(Polygon([points[v] for v in shell], [[points[v] for v in h] for h in holes]))
                     for shell, holes in zone.parts]
            out[zone.code] = parts[0] if len(parts) == 1 else MultiPolygon(parts)
            assert out[zone.code].is_valid, zone.code
        return out

    def masks(self, grid: Grid, inside: np.ndarray) -> dict[str, np.ndarray]:
        """Zone id (and OUTSIDE) -> pixels of ``grid`` within ``inside`` whose centre lies in the zone."""
        x, y = grid.centres()
        lon, lat = pyproj.Transformer.from_crs(grid.crs, ZONES_CRS, always_xy=True).transform(x, y)
        masks = {code: contains_xy(geom, lon, lat) & inside for code, geom in self.geometries.items()}
        count = sum(m.astype(np.int8) for m in masks.values())
        assert count.max() <= 1, "a pixel centre lies in two zones"
        masks[OUTSIDE] = inside & (count == 0)
        return masks

    @cached_property
    def lc_masks(self) -> dict[str, np.ndarray]:
        """Masks on the land-cover AOI window (the grid of the 15.1.1 truth)."""
        rows, cols = self.design.lc_aoi_window
        t = self.design.lc_grid.transform
        window = Grid(self.design.lc_grid.crs, t * Affine.translation(cols.start, rows.start),
                      cols.stop - cols.start, rows.stop - rows.start)
        return self.masks(window, np.ones(window.shape, bool))

    @cached_property
    def masks20(self) -> dict[str, np.ndarray]:
        """Masks on the 20 m UTM grid within the AOI (the grid of the 6.6.1 truth)."""
        return self.masks(self.design.world20, self.design.aoi20)

    def metadata(self) -> dict:
        """What truth.json says about the file (per-indicator zone truth is added beside)."""
        return {"path": ZONES_FILE, "layer": ZONES_LAYER, "crs": ZONES_CRS, "id_field": ID_FIELD,
                "name_field": NAME_FIELD, "ids": self.ids, "names": {z.code: z.name for z in ZONES}}

    def write(self, root: Path) -> None:
        """zones.gpkg under ``root``: layer ZONES_LAYER, fields code and name, byte-stable."""
        frame = gpd.GeoDataFrame({ID_FIELD: self.ids, NAME_FIELD: [z.name for z in ZONES]},
                                 geometry=[self.geometries[c] for c in self.ids], crs=ZONES_CRS)
        with _gdal_config(OGR_CURRENT_DATE=FILE_DATE):
            frame.to_file(root / ZONES_FILE, layer=ZONES_LAYER, driver="GPKG", engine="pyogrio",
                          promote_to_multi=False)


def per_zone(masks: dict[str, np.ndarray], years: tuple[int, ...],
             measure: Callable[[int, np.ndarray], dict]) -> dict[str, dict[str, dict]]:
    """{zone id or OUTSIDE: {year: measure(year, zone mask)}}."""
    return {zone: {str(year): measure(year, mask) for year in years} for zone, mask in masks.items()}


def check_sums(zoned: dict[str, dict[str, dict]], totals: dict[str, dict[str, float]],
               keys: tuple[str, ...], rel: float = 1e-9) -> None:
    """Assert that zones plus OUTSIDE add up to the AOI totals, per year and key."""
    for year, total in totals.items():
        for key in keys:
            summed = math.fsum(z[year][key] for z in zoned.values())
            assert math.isclose(summed, total[key], rel_tol=rel, abs_tol=1e-15), (year, key, summed, total[key])


@contextmanager
def _gdal_config(**options: str) -> Iterator[None]:
    """GDAL config options (of pyogrio's GDAL) for the block, restored after."""
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)
