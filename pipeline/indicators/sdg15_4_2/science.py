"""Per-block science of 15.4.2: mountain classes from the terrain, SEEA land cover, green cover and the
transition status, and the codes their areas are summed by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import focal_range, slope_degrees
from kernels.terrain import disc_half_widths
from pipeline.engine import Block
from pipeline.indicators import DataError
from pipeline.indicators.sdg15_4_2.legends import DEGRADED, GREEN, IMPROVED, NO_LAND_COVER, NO_STATUS, UNKNOWN

CODE_UNKNOWN = 255  # an area code for pixels of unknown mountain class (and outside the AOI)


@dataclass(frozen=True)
class MountainRule:
    """Everything the tasks share. ``dx_rows`` is the east-west pixel length of every row of the whole grid
    (indexed by global row, so no block computes its own), ``dy_m`` the north-south one."""

    dy_m: float
    dx_rows: np.ndarray
    grid_top: float  # the grid's top edge and row step, to find a window's first global row
    grid_step: float
    radius_m: float
    range_m: float
    dem_nodata: float | None
    lc_lut: np.ndarray  # source class -> SEEA class (0: not in the table)
    lc_nodata: float | None
    impact: np.ndarray  # int8 (11, 11): [from, to] -> -1/0/1
    baseline: tuple[int, int]
    surface: bool


def kapos_classes(elevation: np.ndarray, slope: np.ndarray, local_range: np.ndarray,
                  range_m: float = 300.0) -> np.ndarray:
    """UNEP-WCMC mountain class 1..6 (0 not mountain, 255 unknown): a NaN slope or range that a class
    needs makes the pixel unknown, never mountain or not."""
    e = elevation
    steep2, steep5, rugged = slope >= 2, slope >= 5, local_range > range_m
    rules = [(e >= 4500, None), ((e >= 3500) & (e < 4500), None), ((e >= 2500) & (e < 3500), None),
             ((e >= 1500) & (e < 2500), steep2), ((e >= 1000) & (e < 1500), steep5 | rugged),
             ((e >= 300) & (e < 1000), rugged)]
    out = np.zeros(e.shape, np.uint8)
    for k, (band, test) in enumerate(rules, start=1):
        if test is None:
            out[band] = k
        else:
            out[band & test] = k
    needs = ((e >= 1500) & (e < 2500) & np.isnan(slope)) | ((e >= 1000) & (e < 1500) & np.isnan(slope) & ~rugged)
    needs |= (e >= 300) & (e < 1500) & np.isnan(local_range) & (out == 0)
    out[np.isnan(e) | needs] = UNKNOWN
    return out


def terrain(block: Block) -> dict[str, np.ndarray]:
    """Elevation, slope, local range and the mountain class on the inner block."""
    rule: MountainRule = block.params
    dem = block.stack("dem", "elevation")[0].astype(np.float32)
    if rule.dem_nodata is not None:
        dem = np.where(dem == rule.dem_nodata, np.float32(np.nan), dem)
    first = round((block.box.affine.f - rule.grid_top) / rule.grid_step)
    dx = np.ascontiguousarray(rule.dx_rows[first:first + dem.shape[0]], np.float64)
    slope = np.empty(dem.shape, np.float32)
    slope_degrees(np.ascontiguousarray(dem), float(rule.dy_m), dx, slope)
    rows, cols = block.inner
    widths = disc_half_widths(rule.radius_m, rule.dy_m, dx[rows])
    local = np.empty((rows.stop - rows.start, cols.stop - cols.start), np.float32)
    focal_range(np.ascontiguousarray(dem), widths, rows.start, cols.start, local)
    inner_slope = slope[rows, cols]
    elevation = dem[rows, cols]
    mountain = kapos_classes(elevation, inner_slope, local, rule.range_m)
    return {"elevation": elevation, "slope": inner_slope, "local_range": local, "mountain": mountain}


def mountain_block(block: Block) -> dict[str, np.ndarray]:
    t = terrain(block)
    return {"mountain": t["mountain"], "slope": t["slope"], "local_range": t["local_range"]}


def _seea(block: Block, year: int) -> np.ndarray:
    """SEEA class (0: no land cover) of the first land-cover date of ``year`` on the inner block."""
    rule: MountainRule = block.params
    years = block.coords["landcover"]["time"].astype("datetime64[Y]").astype(int) + 1970
    hits = np.flatnonzero(years == year)
    if not hits.size:
        raise ValueError(f"no land cover for {year}")  # plan() keeps only years with items
    lc = block.data["landcover"]["landcover"]
    date = int(hits[0])
    at = 0
    for arr in lc:  # the period's dates, possibly in several chunks along time
        if date < at + arr.shape[0]:
            classes = arr[date - at]
            break
        at += arr.shape[0]
    rows, cols = block.inner
    classes = classes[rows, cols]
    seea = rule.lc_lut[np.clip(classes.astype(np.int64), 0, rule.lc_lut.size - 1)]
    if rule.lc_nodata is not None:
        seea = np.where(classes == rule.lc_nodata, np.uint8(NO_LAND_COVER), seea)
    return seea.astype(np.uint8)


def cover_block(block: Block) -> dict[str, np.ndarray]:
    """One year: SEEA class, green cover, the transition status (baseline: from its first year; later
    years: from the baseline's last year, combined with the baseline's status) and the area codes."""
    rule: MountainRule = block.params
    year = block.period.end if block.period is not None else rule.baseline[0]
    check_legend(block)
    ground = terrain(block)
    mountain = ground["mountain"]
    seea = _seea(block, year)
    known = seea != NO_LAND_COVER
    green = np.where(known, np.isin(seea, GREEN).astype(np.uint8), np.uint8(UNKNOWN))
    b0, b1 = rule.baseline
    if year == b0:
        status = np.full(seea.shape, NO_STATUS, np.int8)
    else:
        first = _seea(block, b0 if year == b1 else b1)
        status = rule.impact[first, seea]
        missing = (first == NO_LAND_COVER) | ~known
        if year != b1:
            start = _seea(block, b0)
            base = rule.impact[start, first]
            status = combine(base, status)
            missing |= start == NO_LAND_COVER
        status = np.where(missing, np.int8(NO_STATUS), status).astype(np.int8)
    is_known = mountain != UNKNOWN
    cover_code = np.where(is_known, mountain.astype(np.int32) * 16 + seea, CODE_UNKNOWN).astype(np.uint8)
    status_slot = np.where(status == NO_STATUS, 3, status.astype(np.int32) + 1)
    status_code = np.where(is_known, mountain.astype(np.int32) * 4 + status_slot, CODE_UNKNOWN).astype(np.uint8)
    out = {"land_cover_seea": seea, "green": green, "degradation": status, "cover_code": cover_code,
           "status_code": status_code}
    if "belts" in block.data:
        belt = block.stack("belts", "belt")[0][block.inner].astype(np.int32)
        ok = is_known & (mountain > 0) & (belt >= 1) & (belt <= 4)
        out["belt_code"] = np.where(ok, belt * 16 + seea, CODE_UNKNOWN).astype(np.uint8)
    if rule.surface:  # real-surface area: a slope unknown at the grid's edge counts as flat
        out["surface"] = 1.0 / np.cos(np.radians(np.nan_to_num(ground["slope"].astype(np.float64))))
    return out


def combine(base: np.ndarray, step: np.ndarray) -> np.ndarray:
    """A reporting period's status given the baseline's: degradation now is degradation; a degraded baseline
    stays degraded unless it improved (then stable); otherwise the period's own status."""
    return np.where(step == DEGRADED, DEGRADED,
                    np.where(base == DEGRADED, np.where(step == IMPROVED, 0, DEGRADED), step)).astype(np.int8)


def legend_block(block: Block) -> dict[str, np.ndarray]:
    """Every land-cover class of every date (no data as -1): the engine collects the distinct ones."""
    rule: MountainRule = block.params
    lc = block.stack("landcover", "landcover").astype(np.int64)
    return {"classes": np.where(lc == rule.lc_nodata, -1, lc) if rule.lc_nodata is not None else lc}


def check_legend(block: Block) -> None:
    """Refuse, listing them all, the land-cover classes found in the AOI that the SEEA table lacks."""
    rule: MountainRule = block.params
    found = block.broadcast.get("landcover_classes")
    if found is None:
        return
    inside = found[found < rule.lc_lut.size]
    missing = sorted({int(c) for c in inside if rule.lc_lut[c] == NO_LAND_COVER} |
                     {int(c) for c in found if c >= rule.lc_lut.size})
    if missing:
        raise DataError(f"inputs.landcover holds classes {missing} that the SEEA table lacks; add them to "
                        "parameters.land_cover_table (source class: SEEA class 1..10)")
