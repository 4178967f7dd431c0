"""Per-block science of 15.3.1: land units, mean productivity, and every sub-indicator of a period.

A block function gets all dates of its inputs within the period's years (static inputs:
their one date) and returns Trends.Earth-coded layers. Nothing here depends on the
block's place or size except through the land units' global percentiles, which the
engine computed over the whole AOI beforehand and passes in ``Block.broadcast``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.files import STATIC_YEAR
from kernels.degradation import (
    NODATA_I8,
    annual_means,
    critical_tables,
    lookup,
    productivity_state,
    productivity_trajectory,
    soc_stocks,
    valid_mean,
)
from pipeline.engine import Block
from pipeline.indicators import DataError
from pipeline.indicators.sdg15_3_1.legends import (
    CLIMATE_ZONE_FACTORS,
    PROD3,
    STATUS3,
    WATER,
    lpd_table,
    soc_factor_tables,
    status_table,
)
from pipeline.indicators.sdg15_3_1.parameters import Parameters, PeriodSpec

MAX_YEARS = 100  # critical values are tabulated up to this many years
LPD_NODATA = 0  # JRC LPD: 0 (and 15) are no data
STATUS_NODATA = 0


@dataclass(frozen=True)
class Rule:
    """What every task of 15.3.1 needs besides its data (enters the graph once)."""

    params: Parameters
    nodata: dict[str, float | None]  # input -> its fill value in the cube

    @property
    def periods(self) -> tuple[PeriodSpec, ...]:
        return self.params.periods


# ------------------------------------------------------------------ inputs of a block


def _years(block: Block, name: str) -> np.ndarray:
    return block.coords[name]["time"].astype("datetime64[Y]").astype(np.int64) + 1970


def _map_at(block: Block, name: str, band: str, year: int, *, exact: bool = False) -> np.ndarray | None:
    """The input's map of ``year``: its latest date in or before it (or exactly it), None if none."""
    years = _years(block, name)
    pick = np.flatnonzero(years == year) if exact else np.flatnonzero(years <= year)
    if not pick.size:
        return None
    return block.stack(name, band)[pick[-1]]


MISSING = 255  # a source class the legend table lacks


def legend_table(rule: Rule) -> tuple[np.ndarray, np.ndarray]:
    """(sorted source classes, their UNCCD class) of the recipe's table, the input's nodata as no data (0)."""
    table = dict(rule.params.table)
    nodata = rule.nodata.get("landcover")
    if nodata is not None and float(nodata).is_integer():
        table[int(nodata)] = 0
    keys = np.array(sorted(table), np.int64)
    return keys, np.array([table[k] for k in keys], np.uint8)


def to_unccd(lc: np.ndarray, rule: Rule, inside: np.ndarray) -> np.ndarray:
    """UNCCD classes of a source land-cover map of any integer legend; a class the table lacks is an error."""
    if lc.dtype.kind not in "iu":
        raise DataError(f"land cover must hold integer classes; got {lc.dtype}: give an integer raster or collection")
    keys, classes = legend_table(rule)
    if lc.dtype == np.uint8:  # a 256-entry table: one lookup per pixel
        lut = np.full(256, MISSING, np.uint8)
        fits = (keys >= 0) & (keys <= 255)
        lut[keys[fits]] = classes[fits]
        out = lut[lc]
    else:
        index = np.minimum(np.searchsorted(keys, lc), keys.size - 1)
        out = np.where(keys[index] == lc, classes[index], MISSING).astype(np.uint8)
    unknown = np.unique(lc[(out == MISSING) & inside])
    if unknown.size:
        raise DataError(f"land-cover classes {unknown.tolist()} are not in the legend table "
                        f"({rule.params.land_cover_legend}); add them to parameters.land_cover_table "
                        "(source class: UNCCD class 1..7, or 0 for no data)")
    out[out == MISSING] = 0
    return out


def legend_block(block: Block) -> dict[str, np.ndarray]:
    """Every land-cover class of every date (no data as -1): the engine collects the distinct ones."""
    rule: Rule = block.params
    lc = block.stack("landcover", "landcover").astype(np.int64)
    nodata = rule.nodata.get("landcover")
    return {"classes": np.where(lc == nodata, -1, lc) if nodata is not None else lc}


def check_legend(block: Block, rule: Rule) -> None:
    """Refuse, listing them all, the land-cover classes found anywhere in the AOI that the table lacks."""
    found = block.broadcast.get("landcover_classes")
    if found is None:
        return
    keys, _ = legend_table(rule)
    missing = np.setdiff1d(found, keys)
    if missing.size:
        raise DataError(f"inputs.landcover holds classes {missing.tolist()} that the legend table "
                        f"({rule.params.land_cover_legend}) lacks; add them to parameters.land_cover_table "
                        "(source class: UNCCD class 1..7, or 0 for no data)")


def landcover_year(block: Block, rule: Rule, year: int) -> np.ndarray:
    lc = _map_at(block, "landcover", "landcover", year)
    if lc is None:
        raise DataError(f"no land-cover map of {year} or earlier: add one to inputs.landcover (periods use "
                        f"{', '.join(f'{p.name} {list(p.land_cover)}' for p in rule.periods)})")
    return lc


# ------------------------------------------------------------------ land units and productivity


def _raw_units(block: Block, rule: Rule, spec: PeriodSpec) -> np.ndarray:
    """soil unit x 2**32 + source land-cover class at the productivity start, -1 where either is missing."""
    lc = landcover_year(block, rule, spec.productivity[0])
    soil = block.stack("soil_units", "soil_unit")[0].astype(np.int64)
    bad = np.zeros(lc.shape, bool)
    for name, value in (("soil_units", soil), ("landcover", lc)):
        nodata = rule.nodata.get(name)
        if nodata is not None:
            bad |= value == nodata
    bad |= to_unccd(lc, rule, block.inside) == 0
    return np.where(bad | (soil < 0) | (lc < 0), -1, soil * (1 << 32) + lc.astype(np.int64))


def unit_index(units: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Index of each raw land unit in the sorted ``units`` found over the AOI (int64), -1 where absent."""
    if not units.size:
        return np.full(raw.shape, -1, np.int64)
    index = np.minimum(np.searchsorted(units, raw), units.size - 1)
    return np.where((raw >= 0) & (units[index] == raw), index, -1)


def units_block(block: Block) -> dict[str, np.ndarray]:
    """Per period, the raw land unit of each pixel (the engine collects their distinct values)."""
    rule: Rule = block.params
    check_legend(block, rule)
    return {"units": np.stack([_raw_units(block, rule, p) for p in rule.periods])}


def _annual(block: Block, rule: Rule, first: int, last: int) -> np.ndarray:
    """Mean NDVI of each year first..last (float32 (n, y, x), NaN for a year without valid composites)."""
    years = _years(block, "ndvi")
    keep = np.flatnonzero((years >= first) & (years <= last))
    out = np.full((last - first + 1, *block.inside.shape), np.nan, np.float32)
    if not keep.size:
        return out
    dn = np.ascontiguousarray(block.stack("ndvi", "ndvi")[keep])
    coords = block.coords["ndvi"]
    nodata = rule.nodata.get("ndvi")
    missing = -np.inf if nodata is None or np.isnan(nodata) else float(nodata)
    if dn.dtype.kind == "f":  # NDVI given as float rasters (local files): NaN is missing too
        dn = np.where(np.isnan(dn), np.float32(missing), dn)
    scale = np.asarray(coords.get("scale_ndvi", np.ones(years.size)), np.float64)[keep]
    offset = np.asarray(coords.get("offset_ndvi", np.zeros(years.size)), np.float64)[keep]
    annual_means(dn, (years[keep] - first).astype(np.int64), scale, offset, np.float64(missing), out)
    return out


def _mean(annual: np.ndarray) -> np.ndarray:
    out = np.empty(annual.shape[1:], np.float32)
    valid_mean(np.ascontiguousarray(annual), out)
    return out


def performance_block(block: Block) -> dict[str, np.ndarray]:
    """Per period, mean NDVI and its land-unit label (period p x units + unit index) for the AOI's percentiles."""
    rule: Rule = block.params
    units = block.broadcast["units"]
    means, labels = [], []
    for p, spec in enumerate(rule.periods):
        mean = _mean(_annual(block, rule, *spec.productivity))
        index = unit_index(units, _raw_units(block, rule, spec))
        labels.append(np.where((index >= 0) & ~np.isnan(mean), p * units.size + index, -1).astype(np.int32))
        means.append(mean)
    return {"mean_ndvi": np.stack(means), "unit_label": np.stack(labels)}


@dataclass(frozen=True)
class Productivity:
    trajectory: np.ndarray | None
    state: np.ndarray | None
    performance: np.ndarray | None
    lpd: np.ndarray


def computed_productivity(block: Block, rule: Rule, p: int) -> Productivity:
    spec, params = rule.periods[p], rule.params
    first, last = spec.productivity
    annual = _annual(block, rule, first, last)
    shape = block.inside.shape
    k90, k95, k99 = critical_tables(MAX_YEARS)
    trajectory = np.empty(shape, np.int8)
    slope = np.empty(shape, np.float32)
    productivity_trajectory(annual, np.arange(first, last + 1, dtype=np.float64), k90, k95, k99,
                            params.stable_slope, trajectory, slope)
    state = np.empty(shape, np.int8)
    change = np.empty(shape, np.int8)
    productivity_state(annual, annual.shape[0] - 3, params.state_extension, params.state_stable_change, state,
                       change)
    mean = _mean(annual)
    units = block.broadcast["units"]
    p90 = block.broadcast["p90"][:, 0]
    index = unit_index(units, _raw_units(block, rule, spec))
    found = index >= 0
    reference = np.where(found, p90[p * units.size + np.maximum(index, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mean / reference
    ok = found & ~np.isnan(ratio) & (reference > 0)
    performance = np.where(ok, np.where(ratio <= params.performance_ratio, -1, 0), NODATA_I8).astype(np.int8)
    trajectory3 = np.where(trajectory == NODATA_I8, NODATA_I8,
                           np.where(trajectory <= -2, -1, np.where(trajectory >= 2, 1, 0))).astype(np.int8)
    lpd = lookup(lpd_table(), (-1, -1, -1), trajectory3, state, performance, nodata=LPD_NODATA)
    return Productivity(trajectory, state, performance, lpd)


def given_productivity(block: Block, rule: Rule, p: int) -> Productivity:
    first, last = rule.periods[p].productivity
    years = _years(block, "lpd")
    pick = np.flatnonzero((years >= first) & (years <= last) | (years == STATIC_YEAR))  # a file without a year
    if not pick.size:
        raise DataError(f"no LPD map dated within {first}-{last} (period {rule.periods[p].name!r}): add one to "
                        "inputs.lpd")
    lpd = block.stack("lpd", "lpd")[pick[-1]]
    lpd = np.where((lpd >= 1) & (lpd <= 5), lpd, LPD_NODATA).astype(np.uint8)
    return Productivity(None, None, None, lpd)


# ------------------------------------------------------------------ land cover and carbon


def _climate_factor(block: Block, rule: Rule) -> np.ndarray:
    if rule.params.factor is not None:
        return np.full(block.inside.shape, rule.params.factor, np.float32)
    zones = block.stack("climate", "climate_zone")[0]
    lut = np.full(256, np.nan, np.float32)
    for zone, factor in CLIMATE_ZONE_FACTORS.items():
        lut[zone] = factor
    return lut[np.clip(zones.astype(np.int64), 0, 255)]


def soc_change(block: Block, rule: Rule, spec: PeriodSpec, initial: np.ndarray) -> np.ndarray:
    """Percent change of the SOC stock over the period's land-cover years, float64 (NaN = no data)."""
    t0, t1 = spec.land_cover
    params = rule.params
    if params.soc == "reference":
        ref_year = params.soc_reference_year
        classes = np.stack([to_unccd(landcover_year(block, rule, y), rule, block.inside)
                            for y in range(ref_year, t1 + 1)])
        reference = block.stack("soc", "soc")[0].astype(np.float32)
        nodata = rule.nodata.get("soc")
        if nodata is not None:
            reference[reference == nodata] = np.nan
        stocks = np.empty((2, *classes.shape[1:]), np.float32)
        factors, kinds = soc_factor_tables()
        soc_stocks(np.ascontiguousarray(classes), reference, _climate_factor(block, rule), factors, kinds,
                   params.soc_horizon_years, np.array([t0 - ref_year, t1 - ref_year], np.int64), stocks)
        start, end = stocks
    else:
        maps = [_map_at(block, "soc_stock", "soc", y, exact=True) for y in (t0, t1)]
        if any(m is None for m in maps):
            raise DataError(f"inputs.soc_stock needs stocks of {t0} and {t1} (period {spec.name!r})")
        start, end = (np.asarray(m, np.float32) for m in maps)
        nodata = rule.nodata.get("soc_stock")
        if nodata is not None:
            start, end = (np.where(m == nodata, np.nan, m) for m in (start, end))
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = (end - start) / start * 100  # float64: -10 % exactly stays on its side of the threshold
    return np.where((start > 0) & (initial != WATER) & (initial != 0), pct, np.nan)


def land_cover_degradation(initial: np.ndarray, final: np.ndarray, matrix: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """The transition matrix's code [initial, final] of UNCCD classes 1..7; 0 in either is no data."""
    return lookup(np.array(matrix, np.int8), (1, 1), initial, final, nodata=NODATA_I8)


def productivity_classes(lpd: np.ndarray) -> np.ndarray:
    """LPD 1..5 -> -1 / 0 / 1 (1, 2 degraded; 3, 4 stable; 5 improved); anything else no data."""
    return _codes(lpd, PROD3, NODATA_I8)


def status_classes(baseline: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(7-class, 3-class) status of a progress period's SDG layer against the baseline's."""
    status = lookup(status_table(), (-1, -1), baseline, period, nodata=STATUS_NODATA)
    return status, _codes(status, STATUS3, NODATA_I8)


def soc_degradation(pct: np.ndarray, threshold: float) -> np.ndarray:
    out = np.where(pct <= -threshold, -1, np.where(pct >= threshold, 1, 0))
    return np.where(np.isnan(pct), NODATA_I8, out).astype(np.int8)


def one_out_all_out(*layers: np.ndarray) -> np.ndarray:
    """-1 if any is degraded, else 1 if any improved, else 0; no data in any gives no data."""
    stack = np.stack(layers)
    out = np.where((stack == -1).any(0), -1, np.where((stack == 1).any(0), 1, 0))
    return np.where((stack == NODATA_I8).any(0), NODATA_I8, out).astype(np.int8)


def _codes(values: np.ndarray, table: dict[int, int], nodata: int) -> np.ndarray:
    lut = np.full(256, nodata, np.int16)
    for k, v in table.items():
        lut[k] = v
    return lut[values.astype(np.int64) & 255].astype(np.int8)


def period_layers(block: Block, rule: Rule, p: int) -> dict[str, np.ndarray]:
    """Every sub-indicator of period ``p`` and the one-out-all-out SDG layer."""
    spec = rule.periods[p]
    t0, t1 = spec.land_cover
    inside = block.inside
    initial = to_unccd(landcover_year(block, rule, t0), rule, inside)
    final = to_unccd(landcover_year(block, rule, t1), rule, inside)
    lc_deg = land_cover_degradation(initial, final, rule.params.matrix)
    prod = (computed_productivity if rule.params.productivity == "computed" else given_productivity)(block, rule, p)
    productivity = productivity_classes(prod.lpd)
    pct = soc_change(block, rule, spec, initial)
    soc_deg = soc_degradation(pct, rule.params.soc_threshold_pct)
    out = {"lpd": prod.lpd, "productivity": productivity, "land_cover_initial": initial, "land_cover_final": final,
           "land_cover_degradation": lc_deg, "soc_change": pct.astype(np.float32), "soc_degradation": soc_deg,
           "sdg": one_out_all_out(productivity, lc_deg, soc_deg)}
    for name in ("trajectory", "state", "performance"):
        value = getattr(prod, name)
        if value is not None:
            out[name] = value
    return out


def degradation_block(block: Block) -> dict[str, np.ndarray]:
    """The period's layers; a progress period also gets its status against the baseline."""
    rule: Rule = block.params
    assert block.period is not None
    check_legend(block, rule)
    p = [s.name for s in rule.periods].index(block.period.label)
    out = period_layers(block, rule, p)
    if p == 0:
        out["status"] = np.full(block.inside.shape, STATUS_NODATA, np.uint8)
        out["status3"] = np.full(block.inside.shape, NODATA_I8, np.int8)
        return out
    out["status"], out["status3"] = status_classes(period_layers(block, rule, 0)["sdg"], out["sdg"])
    return out


