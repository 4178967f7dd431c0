"""The SDG 15.4.2 design: a DEM whose mountain classes are known by construction, and ESA CCI land cover
over it, on the LD grid (1/2400 deg) grown east and by a 7 km margin.

The mountain AOI is the demo AOI stretched east to 620 LD pixels (~28 km): the terrain varies with
longitude only, so the local elevation range within 7 km is the range along the pixel's row over the
columns within 7 km (the widest chord of the disc; every other chord spans fewer of the same columns),
and Horn's slope is the central difference across the row. From the west (AOI-relative columns):
a 250 m lowland (never mountain: below 300 m), 400 m foothills (class 6: within 7 km of the massif), a
ramp to a 5000 m summit and down to a 1100 m plateau (classes 1-5 on the way), the plateau (class 5 up
to 7 km from the ramp, beyond it low relief and not mountain although above 1000 m) with a 200 m knoll
whose steep flanks are class 5 by slope alone. The ramp lies across a chunk border of the recipe's
256-pixel chunks, so the plateau's class depends on another block's terrain. Land cover: ESA CCI's LD
window (the 15.3.1 design) where it lies, designed bands and changes east of it.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from catalog.demo.land_degradation import (
    LC_YEARS,
    LD_PER_DEG,
    LD_UNITS,
    LandDegradation,
    ld_bounds_deg,
    ld_grid,
    ld_pixels_inside,
    ld_row_area,
)
from catalog.demo.layout import GEO_CRS, WGS84_A, WGS84_E, Grid
from catalog.demo.zones import OUTSIDE, Zones

MOUNTAIN_COLS = 620  # the mountain AOI's width in LD pixels from the demo AOI's west edge
MARGIN_PX = 170  # > 7 km in LD pixels at this latitude, plus the slope's one pixel
RADIUS_M = 7000.0
# (AOI-relative column, elevation m): the terrain is the piecewise-linear profile through these knots
PROFILE = ((-400, 250.0), (4, 250.0), (5, 400.0), (20, 400.0), (50, 5000.0), (70, 5000.0), (100, 1100.0),
           (400, 1100.0), (405, 1300.0), (410, 1100.0), (1200, 1100.0))
BASELINE, REPORTING = (2000, 2015), (2018, 2021)
YEARS = (BASELINE[0], BASELINE[1], *REPORTING)
# east of the LD window: land cover by AOI-relative column band (LCCS codes), then changes
BANDS = ((-10_000, 120), (250, 130), (400, 50), (500, 150))  # shrub, grass, tree, sparse from these columns
CHANGES = (  # (rows r0, r1, cols c0, c1, first year, new class): AOI-relative, exclusive ends
    (10, 30, 270, 300, 2015, 200),  # grass -> bare on the low-relief plateau (not mountain)
    (40, 60, 395, 415, 2015, 10),   # grass/tree -> cropland on the knoll
    (5, 25, 200, 240, 2018, 130),   # shrub -> grass, reporting
    (50, 70, 160, 200, 2015, 50),   # shrub -> tree in the baseline ...
    (50, 70, 160, 200, 2021, 10),   # ... then tree -> cropland
    (20, 40, 520, 560, 2018, 130),  # sparse -> grass
    (60, 75, 215, 245, 2021, 150),  # shrub -> sparse: mountain green cover lost
)
# ESA CCI LCCS -> the 10 SEEA classes of the 2023 method (1 artificial .. 10 inland water); green = 2..6
CCI_SEEA = {190: 1, 10: 2, 11: 2, 12: 2, 20: 2, 30: 2, 40: 2, 110: 3, 130: 3, 50: 4, 60: 4, 61: 4, 62: 4, 70: 4,
            71: 4, 72: 4, 80: 4, 81: 4, 82: 4, 90: 4, 100: 4, 160: 4, 170: 4, 120: 5, 121: 5, 122: 5, 180: 6,
            140: 7, 150: 7, 151: 7, 152: 7, 153: 7, 200: 8, 201: 8, 202: 8, 220: 9, 210: 10}
GREEN = (2, 3, 4, 5, 6)
# FAO's transition impact between SEEA classes (row: from 1..10, column: to 1..10): D degradation,
# S stable, I improvement
IMPACT = ("SIIIIIIIII", "DSIIIIDDIS", "DDSIIIDDIS", "DDDSDSDDIS", "DDDISSDDIS", "DDDDDSDDIS", "DDIIIISDIS",
          "DIIIIIISIS", "DDDDDDDDSD", "DDDDDDDDIS")


class Mountains:
    """Grid, DEM, land cover and truth of the 15.4.2 demo."""

    def __init__(self, ld: LandDegradation, zones: Zones) -> None:
        self.ld, self.zones = ld, zones

    @cached_property
    def aoi_units(self) -> tuple[int, int, int, int]:
        w, s, _, n = self.ld.design.aoi_units
        return w, s, w + MOUNTAIN_COLS * LD_UNITS, n

    @property
    def aoi_bbox(self) -> list[float]:
        return [u / (LD_PER_DEG * LD_UNITS) for u in self.aoi_units]

    @cached_property
    def bounds_ld(self) -> tuple[int, int, int, int]:
        w, s, e, n = self.aoi_units
        return w // LD_UNITS - MARGIN_PX, s // LD_UNITS - MARGIN_PX, -(-e // LD_UNITS) + MARGIN_PX, \
            -(-n // LD_UNITS) + MARGIN_PX

    @cached_property
    def grid(self) -> Grid:
        return ld_grid(self.bounds_ld)

    @property
    def bounds(self) -> list[float]:
        return ld_bounds_deg(self.bounds_ld)

    @cached_property
    def inside(self) -> np.ndarray:
        return ld_pixels_inside(self.bounds_ld, self.aoi_units, self.grid)

    @cached_property
    def origin(self) -> tuple[int, int]:
        rows, cols = np.nonzero(self.inside)
        return int(rows.min()), int(cols.min())

    @cached_property
    def columns(self) -> np.ndarray:
        """AOI-relative column of every grid column."""
        return np.arange(self.grid.width) - self.origin[1]

    @cached_property
    def profile(self) -> np.ndarray:
        """float32 elevation per grid column."""
        knots = np.array(PROFILE)
        return np.interp(self.columns, knots[:, 0], knots[:, 1]).astype(np.float32)

    @cached_property
    def dem(self) -> np.ndarray:
        return np.broadcast_to(self.profile, self.grid.shape).copy()

    @cached_property
    def latitudes(self) -> np.ndarray:
        north = self.bounds_ld[3]
        return (north - np.arange(self.grid.height) - 0.5) / LD_PER_DEG

    @cached_property
    def dx_m(self) -> np.ndarray:
        """East-west ground length (m) of one pixel per row: the parallel's radius N cos(lat) x dlon."""
        phi = np.radians(self.latitudes)
        n = WGS84_A / np.sqrt(1 - WGS84_E**2 * np.sin(phi) ** 2)
        return n * np.cos(phi) * math.radians(1 / LD_PER_DEG)

    @cached_property
    def slope(self) -> np.ndarray:
        """Horn's slope (deg): the terrain is constant down each column, so only the row difference remains."""
        f = self.profile.astype(np.float64)
        diff = np.full(f.size, np.nan)
        diff[1:-1] = np.abs(f[2:] - f[:-2])
        return np.degrees(np.arctan(diff[None, :] / (2 * self.dx_m[:, None])))

    @cached_property
    def local_range(self) -> np.ndarray:
        """max - min over the columns within RADIUS_M of each pixel's column, per row."""
        f = self.profile.astype(np.float64)
        out = np.empty(self.grid.shape)
        for row, dx in enumerate(self.dx_m):
            w = math.floor(RADIUS_M / dx)
            assert abs(RADIUS_M / dx - round(RADIUS_M / dx)) > 1e-6, "a disc edge on a pixel centre"
            padded_max = np.pad(f, w, constant_values=-np.inf)
            padded_min = np.pad(f, w, constant_values=np.inf)
            windows = np.lib.stride_tricks.sliding_window_view
            out[row] = windows(padded_max, 2 * w + 1).max(axis=1) - windows(padded_min, 2 * w + 1).min(axis=1)
        return out

    @cached_property
    def classes(self) -> np.ndarray:
        """UNEP-WCMC (Kapos) mountain class 1..6 per pixel, 0 not mountain."""
        e, s, r = self.dem.astype(np.float64), self.slope, self.local_range
        rules = [e >= 4500, (e >= 3500) & (e < 4500), (e >= 2500) & (e < 3500), (e >= 1500) & (e < 2500) & (s >= 2),
                 (e >= 1000) & (e < 1500) & ((s >= 5) | (r > 300)), (e >= 300) & (e < 1000) & (r > 300)]
        return np.select(rules, [1, 2, 3, 4, 5, 6], 0).astype(np.uint8)

    @cached_property
    def area(self) -> np.ndarray:
        return np.broadcast_to(ld_row_area(self.bounds_ld, self.grid)[:, None], self.grid.shape)

    def _ld_window(self) -> tuple[slice, slice]:
        lw, _, le, ln = self.ld.bounds_ld
        mw, _, _, mn = self.bounds_ld
        rows = slice(mn - ln, mn - ln + self.ld.grid.height)
        return rows, slice(lw - mw, le - mw)

    def landcover(self, year: int) -> np.ndarray:
        """uint8 LCCS land cover of ``year``: the LD window's 15.3.1 land cover, designed east of it."""
        cols = self.columns
        band = np.zeros(cols.shape, np.uint8)
        for start, code in BANDS:
            band[cols >= start] = code
        lc = np.broadcast_to(band, self.grid.shape).copy()
        r0, c0 = self.origin
        for a, b, c, d, first, code in CHANGES:
            if year >= first:
                lc[r0 + a:r0 + b, c0 + c:c0 + d] = code
        rows, wcols = self._ld_window()
        window = lc[rows, wcols]
        assert not any(c0 + c < wcols.stop for *_, c, _, _, _ in CHANGES), "a change inside the LD window"
        window[...] = self.ld.landcover(year)
        return lc

    def seea(self, year: int) -> np.ndarray:
        lut = np.zeros(256, np.uint8)
        for code, cls in CCI_SEEA.items():
            lut[code] = cls
        return lut[self.landcover(year)]

    def truth(self) -> dict:
        """Mountain areas per class, MGCI per year and the degraded share per period, for the AOI and zones."""
        masks = {"all": self.inside, **self.zones.masks(self.grid, self.inside)}
        impact = np.zeros((11, 11), np.int8)
        for i, row in enumerate(IMPACT):
            impact[i + 1, 1:] = [{"D": -1, "S": 0, "I": 1}[c] for c in row]
        seea = {y: self.seea(y) for y in YEARS}
        unknown = {y: seea[y] == 0 for y in YEARS}  # no land cover: left out of MGCI and status (-9)
        base = np.where(unknown[BASELINE[0]] | unknown[BASELINE[1]], -9, impact[seea[BASELINE[0]], seea[BASELINE[1]]])
        status = {f"{BASELINE[0]}-{BASELINE[1]}": base}
        for y in REPORTING:
            step = impact[seea[BASELINE[1]], seea[y]]
            combined = np.where(step == -1, -1, np.where(base == -1, np.where(step == 1, 0, -1), step))
            status[f"{BASELINE[1]}-{y}"] = np.where((base == -9) | unknown[y], -9, combined)
        surface = self.area / np.cos(np.radians(np.nan_to_num(self.slope)))
        out: dict[str, dict] = {}
        for zone, mask in masks.items():
            mountain = mask & (self.classes > 0)
            by_class = {str(k): mask & (self.classes == k) for k in range(1, 7)}
            z: dict = {"mountain_km2": float(self.area[mountain].sum()) / 1e6,  # with or without land cover
                       "mountain_surface_km2": float(surface[mountain].sum()) / 1e6,
                       "class_km2": {k: float(self.area[m].sum()) / 1e6 for k, m in by_class.items()},
                       "mgci": {}, "mgci_class": {}, "degraded_pct": {}}
            for y in YEARS:
                green, known = np.isin(seea[y], GREEN), ~unknown[y]
                z["mgci"][str(y)] = _pct(self.area, mountain & green, mountain & known)
                z["mgci_class"][str(y)] = {k: _pct(self.area, m & green, m & known) for k, m in by_class.items()}
            for label, s in status.items():
                z["degraded_pct"][label] = _pct(self.area, mountain & (s == -1), mountain & (s != -9))
            out[zone] = z
        assert set(np.unique(self.classes[self.inside])) == set(range(7)), "every class must be in the AOI"
        flat = (self.dem >= 1000) & (self.classes == 0) & self.inside
        assert flat.any(), "a plateau above 1000 m that is not mountain"
        g = self.grid
        return {"grid": {"crs": GEO_CRS, "resolution_deg": g.transform.a, "transform": g.proj_transform(),
                         "shape": [g.height, g.width]},
                "aoi_bbox": self.aoi_bbox, "radius_m": RADIUS_M, "baseline": list(BASELINE),
                "reporting": list(REPORTING), "years": list(YEARS),
                "zones": {k: v for k, v in out.items() if k != "all"}, "all": out["all"]}


def _pct(area: np.ndarray, part: np.ndarray, whole: np.ndarray) -> float | None:
    total = float(area[whole].sum())
    return float(area[part].sum()) / total * 100 if total > 0 else None


assert set(YEARS) <= set(LC_YEARS)
assert OUTSIDE
