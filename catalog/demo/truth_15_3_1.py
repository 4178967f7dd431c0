"""The known answer of SDG 15.3.1 (land degradation): the rules of ld_rules evaluated once per site
(a part of the design on one soil unit, climate zone and SOC reference), then mapped to the LD grid
and summed over exact cell areas for the AOI and each zone."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from catalog.demo import ld_rules as rules
from catalog.demo.land_degradation import (
    GOOD,
    LC_YEARS,
    MARGINAL,
    NDVI_NODATA,
    NDVI_YEARS,
    PARTS,
    SOC_NODATA,
    LandDegradation,
    Part,
)
from catalog.demo.layout import GEO_CRS
from catalog.demo.zones import Zones

BASELINE = "baseline"
PERIODS = {  # Trends.Earth's 2026 UNCCD preset
    BASELINE: {"productivity": (2001, 2015), "land_cover": (2000, 2015)},
    "2016-2019": {"productivity": (2004, 2019), "land_cover": (2015, 2019)},
    "2020-2023": {"productivity": (2008, 2023), "land_cover": (2015, 2023)},
}
LAYERS = ("trajectory", "state", "performance", "lpd", "productivity", "land_cover_degradation",
          "soc_degradation", "sdg")
STATUS_LAYERS = ("status", "status3")
NODATA = -32768  # in the class maps
NDVI_SCALE = 0.0001
MARGIN = 1e-6  # no site may lie this close to a threshold: the truth must not hang on rounding


def annual_ndvi(part: Part) -> dict[int, float | None]:
    """Mean NDVI of the valid composites (reliability good or marginal, NDVI not nodata) per year."""
    out: dict[int, float | None] = {}
    for year in NDVI_YEARS:
        ndvi, rel = part.composites(year)
        valid = [v for v, r in zip(ndvi, rel, strict=True) if r in (GOOD, MARGINAL) and v != NDVI_NODATA]
        out[year] = float(np.mean(valid)) * NDVI_SCALE if valid else None
    return out


def _periods(name: str) -> list[str]:
    return list(PERIODS) if name == "*" else [name]


class LandTruth:
    """Reference classes per site and period, the class maps on the LD grid, and the truth.json parts."""

    def __init__(self, ld: LandDegradation) -> None:
        self.ld = ld
        self.annual = [annual_ndvi(p) for p in PARTS]
        self.cci = [{y: p.cci_of(y) for y in LC_YEARS} for p in PARTS]

    # ---- sites: unique (part, soil, climate, soc) combinations
    @cached_property
    def _sites(self) -> tuple[np.ndarray, np.ndarray]:
        ld = self.ld
        key = ((ld.parts.astype(np.int64) * 256 + ld.soil) * 256 + ld.climate) * 65536 + (ld.soc.astype(np.int64)
                                                                                           - SOC_NODATA)
        keys, inverse = np.unique(key, return_inverse=True)
        return keys, inverse.reshape(ld.grid.shape)

    @cached_property
    def sites(self) -> list[tuple[int, int, int, int | None]]:
        """(part index, soil, climate, SOC reference or None) per site."""
        out = []
        for k in self._sites[0].tolist():
            soc = k % 65536 + SOC_NODATA
            out.append((k // 65536 // 65536, k // 65536 // 256 % 256, k // 65536 % 256, None if soc == SOC_NODATA
                        else soc))
        return out

    @property
    def site_map(self) -> np.ndarray:
        return self._sites[1]

    def site_area(self, mask: np.ndarray) -> np.ndarray:
        """Area (m^2) of each site's pixels within ``mask``."""
        return np.bincount(self.site_map[mask], weights=self.ld.cell_area[mask], minlength=len(self.sites))

    @cached_property
    def aoi_site_area(self) -> np.ndarray:
        return self.site_area(self.ld.aoi)

    # ---- the rules per site
    @cached_property
    def land_units_p90(self) -> dict[str, dict[tuple[int, int], float]]:
        """p90 of the mean NDVI per land unit (soil, CCI of the productivity's first year) over the AOI."""
        counts = np.bincount(self.site_map[self.ld.aoi], minlength=len(self.sites))
        out = {}
        for name, spec in PERIODS.items():
            a, b = spec["productivity"]
            values: dict[tuple[int, int], list[np.ndarray]] = {}
            for (part, soil, _, _), n in zip(self.sites, counts.tolist(), strict=True):
                m = rules.mean_ndvi(self.annual[part], a, b)
                cci = self.cci[part][a]
                if n and m is not None and rules.unccd(cci) is not None:
                    values.setdefault((soil, cci), []).append(np.full(n, m))
            out[name] = {unit: float(np.percentile(np.concatenate(v), 90)) for unit, v in sorted(values.items())}
        return out

    def _evaluate(self, site: tuple[int, int, int, int | None], name: str) -> tuple[dict, dict]:
        """(classes, values) of one site in one period; values are what the classes were decided on."""
        part, soil, climate, soc = site
        (a, b), (t0, t1) = PERIODS[name]["productivity"], PERIODS[name]["land_cover"]
        annual, cci = self.annual[part], self.cci[part]
        traj, st = rules.trajectory(annual, a, b), rules.state(annual, a, b)
        m = rules.mean_ndvi(annual, a, b)
        p90 = self.land_units_p90[name].get((soil, cci[a]))
        perf = rules.performance(m, p90)
        lpd = rules.lpd(traj, st, perf)
        pct = rules.soc_change_pct(soc, cci, climate, t0, t1)
        classes = {"trajectory": traj, "state": st, "performance": perf, "lpd": lpd,
                   "productivity": rules.productivity3(lpd), "land_cover_degradation":
                   rules.land_cover_degradation(cci[t0], cci[t1]), "soc_degradation": rules.soc_degradation(pct)}
        classes["sdg"] = rules.sdg(classes["productivity"], classes["land_cover_degradation"],
                                   classes["soc_degradation"])
        valid = [y for y in range(a, b + 1) if annual[y] is not None]
        series = rules.valid_values(annual, range(a, b + 1))
        values: dict[str, float | int | None] = {
            "valid_years": len(valid), "mann_kendall_s": None, "slope_per_year": None, "mean_ndvi": m,
            "performance_ratio": m / p90 if m is not None and p90 else None, "soc_change_pct": pct}
        if len(valid) >= 2:
            values["mann_kendall_s"] = rules.mann_kendall_s(series)
            values["slope_per_year"] = rules.ols_slope(valid, series)
        self._check_clearance(annual, a, b, values, site, name)
        return classes, values

    @staticmethod
    def _check_clearance(annual: dict, a: int, b: int, values: dict, site: tuple, name: str) -> None:
        """No class may change under a tiny nudge of its inputs (slope, recent mean, ratio, SOC change)."""
        where = (PARTS[site[0]].id, site, name)
        slope, ratio, pct = values["slope_per_year"], values["performance_ratio"], values["soc_change_pct"]
        assert slope is None or abs(abs(slope) - rules.STABLE_SLOPE) > MARGIN, where
        assert ratio is None or abs(ratio - rules.PERFORMANCE_RATIO) > MARGIN, where
        assert pct is None or abs(abs(pct) - rules.SOC_THRESHOLD_PCT) > MARGIN, where
        recent = range(b + 1 - rules.RECENT_YEARS, b + 1)
        for nudge in (-MARGIN, MARGIN):
            moved = {y: v + nudge if y in recent and v is not None else v for y, v in annual.items()}
            assert rules.state(moved, a, b) == rules.state(annual, a, b), where
            if slope is not None:
                stretched = {y: None if v is None else v + (y - a) * nudge * 1e-3 for y, v in annual.items()}
                assert rules.trajectory(stretched, a, b) == rules.trajectory(annual, a, b), where

    @cached_property
    def evaluated(self) -> dict[str, list[tuple[dict, dict]]]:
        """Period -> per site (classes, values), with the status of progress periods against the baseline."""
        out = {name: [self._evaluate(site, name) for site in self.sites] for name in PERIODS}
        for name in list(PERIODS)[1:]:
            for (classes, _), (base, _) in zip(out[name], out[BASELINE], strict=True):
                classes["status"] = rules.status(base["sdg"], classes["sdg"])
                classes["status3"] = rules.status3(classes["status"])
        return out

    def layers(self, name: str) -> tuple[str, ...]:
        return LAYERS if name == BASELINE else LAYERS + STATUS_LAYERS

    def class_map(self, name: str, layer: str) -> np.ndarray:
        """The layer's codes on the whole LD grid (NODATA where no data)."""
        lut = np.array([NODATA if c[layer] is None else c[layer] for c, _ in self.evaluated[name]], np.int16)
        return lut[self.site_map]

    # ---- areas
    def _water(self, name: str) -> np.ndarray:
        t0 = PERIODS[name]["land_cover"][0]
        return np.array([rules.unccd(self.cci[part][t0]) == rules.WATER_CLASS for part, *_ in self.sites])

    def summary(self, name: str, site_area: np.ndarray) -> dict:
        """Areas (km2) per layer and class of one period over sites weighted by ``site_area`` (m^2)."""
        km2 = site_area / 1e6
        aoi = math.fsum(km2)
        water = math.fsum(km2[self._water(name)])
        areas = {}
        for layer in self.layers(name):
            codes = [c[layer] for c, _ in self.evaluated[name]]
            keys = sorted({c for c in codes if c is not None}) + ([None] if None in codes else [])
            areas[layer] = {"nodata" if k is None else str(k): math.fsum(a for a, c in zip(km2, codes, strict=True)
                                                                         if c == k) for k in keys}
        degraded = areas["sdg"].get("-1", 0.0)
        land = aoi - water
        return {"aoi_area_km2": aoi, "water_area_km2": water, "land_area_km2": land,
                "degraded_pct": degraded / land * 100 if land > 0 else None,
                "te_degraded_pct": degraded / aoi * 100 if aoi > 0 else None, "areas_km2": areas}

    # ---- truth.json
    def patches(self, zones: dict[str, np.ndarray]) -> list[dict]:
        """Per part: where it is, what it was designed to be, and the classes (asserted to match)."""
        aoi_sites = self.aoi_site_area > 0
        out = []
        for index, part in enumerate(PARTS):
            mine = [s for s, site in enumerate(self.sites) if site[0] == index and aoi_sites[s]]
            classes, values = {}, {}
            for name in PERIODS:
                per_site = [self.evaluated[name][s][0] for s in mine]
                classes[name] = {layer: per_site[0][layer] for layer in self.layers(name)}
                assert all(c == classes[name] for c in per_site), f"{part.id}: sites differ in {name}"
                values[name] = self.evaluated[name][mine[0]][1]
            intended: dict[str, dict[str, int | None]] = {name: {} for name in PERIODS}
            for key, wanted in part.intended.items():
                for name in _periods(key):
                    intended[name].update(wanted)
            for name, wanted in intended.items():
                got = {layer: classes[name][layer] for layer in wanted}
                assert got == wanted, f"patch {part.id}, {name}: intended {wanted}, reference {got}"
            pixels = self.ld.parts == index
            out.append({"id": part.id, "description": part.description,
                        "box": list(part.box) if part.box else None,
                        "cci": [part.cci, part.cci_to if part.cci_to is not None else part.cci],
                        "transition_year": part.transition_year,
                        "pixels": int((pixels & self.ld.aoi).sum()),
                        "area_km2": float(self.ld.cell_area[pixels & self.ld.aoi].sum()) / 1e6,
                        "zones": {z: int((pixels & m).sum()) for z, m in zones.items() if (pixels & m).any()},
                        "intended": {k: v for k, v in intended.items() if v}, "classes": classes,
                        "values": values})
        return out

    def truth(self, zones: dict[str, np.ndarray]) -> dict:
        g = self.ld.grid
        return {"grid": {"crs": GEO_CRS, "resolution_deg": g.transform.a, "transform": g.proj_transform(),
                         "shape": list(g.shape)},
                "periods": {n: {k: list(v) for k, v in p.items()} for n, p in PERIODS.items()},
                "by_period": {name: self.summary(name, self.aoi_site_area) for name in PERIODS},
                "patches": self.patches(zones),
                "land_units_p90": {name: {f"{s},{c}": v for (s, c), v in units.items()}
                                   for name, units in self.land_units_p90.items()}}

    def zone_truth(self, zones: dict[str, np.ndarray], totals: dict) -> dict:
        """Per zone (and outside zones) and period the same summary; zones add up to ``totals``."""
        zoned = {z: {name: self.summary(name, self.site_area(mask)) for name in PERIODS} for z, mask in zones.items()}
        for name, total in totals.items():
            for key in ("aoi_area_km2", "water_area_km2", "land_area_km2"):
                summed = math.fsum(z[name][key] for z in zoned.values())
                assert math.isclose(summed, total[key], rel_tol=1e-9), (name, key, summed, total[key])
            for layer, classes in total["areas_km2"].items():
                for code, area in classes.items():
                    summed = math.fsum(z[name]["areas_km2"][layer].get(code, 0.0) for z in zoned.values())
                    assert math.isclose(summed, area, rel_tol=1e-9, abs_tol=1e-12), (name, layer, code)
        return zoned


def zone_masks(ld: LandDegradation, zones: Zones) -> dict[str, np.ndarray]:
    """Zone id (and "outside zones") -> AOI pixels of the LD grid whose centre lies in the zone."""
    return zones.masks(ld.grid, ld.aoi)
