"""Part 7: the SDG 15.3.1 productivity sub-indicator on a MODIS-tile-sized cube, against xarray/NumPy.

The cube is synthetic annual NDVI, float32 (23 years, 4800, 4800) = 2.1 GB, the size of a
MODIS tile at 250 m (``--quick``: 23 x 600 x 600): smooth levels and trends, noise, ~8 %
missing years, and patches for the edge cases (few valid years, all-NaN pixels, no recent
or no baseline year, constant series, coarse NDVI steps with many ties, and baselines whose
mean sits exactly on their median decile), on a map of seven land units (one of them water
with NDVI < 0, so its p90 is negative) and a strip without a unit.

Ours (``productivity``) is what ``pipeline.indicators.sdg15_3_1.science.computed_productivity``
does, block by block over (23, 512, 512) blocks copied out of the cube (dask hands the
pipeline contiguous blocks): ``kernels.degradation.productivity_trajectory`` (3 classes:
<= -2 degraded, >= 2 improved), ``productivity_state`` (last 3 years against the baseline's
deciles), mean NDVI (``valid_mean``, as ``science._mean``), performance = mean / the 90th percentile
of the pixel's land unit over the whole tile (ratio <= 0.5 degraded), and the LPD 5-class
table (``legends.lpd_table`` via ``kernels.degradation.lookup``). The p90 per unit is exact
and computed once over the whole tile with ``pipeline.engine.zonal_percentiles`` (radix
selection, the pipeline's own route); it is checked against ``np.percentile`` per unit.

The reference (``reference``) is a plain xarray/NumPy implementation written from the rules
(Trends.Earth's order of assignments, not from the kernels): closed-form least squares over
the valid years, Mann-Kendall S as np.sign of pairwise differences summed, deciles of the
extended baseline by ``DataArray.quantile(skipna=True)`` (``np.nanquantile``, NumPy 'linear',
which loops over the pixels in Python as soon as any value is NaN) or, second variant, by a
vectorised sort with NumPy's interpolation rule at each pixel's own count, and the LPD table
by ``calc_prod5``'s assignments. It runs on a strided sample of the tile (400 x 400 pixels,
every 12th row and column, so every patch is in it) with the same critical values
(``critical_tables``) and the same p90 per unit, and every layer (trajectory -3..3, state,
its class change, performance, LPD, mean NDVI) must come out identical: the part fails if not.

``python -m tests.benchmarks.degradation --size N --report PATH`` runs ours once on a fresh
cube (what the peak-RSS case runs in a fresh process, under ``tests.benchmarks.peak``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numba
import numpy as np

from kernels.degradation import (
    NODATA_I8,
    annual_means,
    critical_tables,
    lookup,
    productivity_state,
    productivity_trajectory,
    valid_mean,
)
from pipeline.indicators.sdg15_3_1 import science
from pipeline.indicators.sdg15_3_1.legends import lpd_table
from pipeline.indicators.sdg15_3_1.parameters import Parameters

N_YEARS = 23
FIRST_YEAR = 2001
BLOCK = 512
TILE = 4800
TARGET_SPEEDUP = 20.0
PARAMS = Parameters()
RECENT = 3  # the state's recent years (the rest are its baseline)
LPD_NODATA = 0
WATER_UNIT = 707
UNIT_CODES = np.array([101, 102, 103, 201, 202, 203, WATER_UNIT], np.int32)  # soil x 100 + land cover, sorted


# ------------------------------------------------------------------ the synthetic tile


def synthetic_tile(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(annual NDVI float32 (23, size, size) with NaN gaps, land units int32 (size, size), -1 = none).

    Written a year at a time straight into the cube (contiguous planes: first-touch page
    faults are most of the cost on a VM), with ~5 planes of working memory besides it.
    """
    n = N_YEARS
    annual = np.empty((n, size, size), np.float32)
    v = ((np.arange(size, dtype=np.float32) + 0.5) / size)[:, None]
    u = v.T
    rng = np.random.default_rng([seed, 0])
    level = 0.45 + 0.25 * np.sin(6 * np.pi * u) * np.cos(4 * np.pi * v)
    slope = 0.003 * np.sin(2 * np.pi * (2 * u + 3 * v)) + 0.002 * rng.standard_normal((size, size), np.float32)
    units = 100 * (1 + (2 * v).astype(np.int32)) + 1 + np.minimum((3 * u).astype(np.int32), 2)
    water = (u - 0.7) ** 2 + (v - 0.3) ** 2 < 0.08 ** 2
    units = np.where(water, WATER_UNIT, units).astype(np.int32)
    units[v[:, 0] > 0.97] = -1  # no land unit (e.g. a class outside the legend)
    level[water] = -0.05
    empty = rng.random((size, size), np.float32) < 2e-4  # scattered all-NaN pixels
    ties = slice(0, size // 8)
    draw, trend = np.empty((size, size), np.float32), np.empty((size, size), np.float32)
    for k in range(n):  # NDVI = level + slope x (year - middle year) + noise, 8 % of the years missing
        plane = annual[k]
        rng = np.random.default_rng([seed, 1, k])
        rng.standard_normal(dtype=np.float32, out=plane)
        plane *= np.float32(0.04)
        np.multiply(slope, np.float32(k - (n - 1) / 2), out=trend)
        trend += level
        plane += trend
        rng.random(dtype=np.float32, out=draw)
        np.putmask(plane, draw < 0.08, np.nan)
        plane[empty] = np.nan
        np.round(plane[ties], 2, out=plane[ties])  # NDVI in steps of 0.01 in the top rows: ties in S
    _edge_patches(annual, np.random.default_rng([seed, 2]))
    return annual, units


def _patch(size: int, row: float, col: float) -> tuple[slice, slice]:
    side = max(8, size // 20)
    r, c = int(row * size), int(col * size)
    return slice(r, r + side), slice(c, c + side)


def _edge_patches(annual: np.ndarray, rng: np.random.Generator) -> None:
    n, size, _ = annual.shape
    nb = n - RECENT
    # few valid years: 0..6 per pixel (0: all NaN; < 4: no trajectory; 4, 5: the smallest tables)
    ys, xs = _patch(size, 0.3, 0.1)
    sub = annual[:, ys, xs]
    keep = rng.random(sub.shape).argsort(0).argsort(0) < rng.integers(0, 7, sub.shape[1:])[None]
    annual[:, ys, xs] = np.where(keep, sub, np.nan)
    ys, xs = _patch(size, 0.3, 0.25)
    annual[nb:, ys, xs] = np.nan  # no recent year: no state
    ys, xs = _patch(size, 0.3, 0.4)
    annual[:nb, ys, xs] = np.nan  # no baseline year: no state, 3 years: no trajectory
    ys, xs = _patch(size, 0.3, 0.55)  # constant series (NaN gaps kept): S = 0, deciles = the mean
    annual[:, ys, xs] = np.where(np.isnan(annual[:, ys, xs]), np.nan, np.float32(0.37))
    ys, xs = _patch(size, 0.3, 0.7)  # NDVI in steps of 0.05: many ties, means on deciles
    annual[:, ys, xs] = np.round(annual[:, ys, xs] * 20) / 20
    # baseline mean exactly on its p50: 0.5 +- k/64 (exact binary fractions, sums exact), shuffled in time;
    # recent +3/64 gives class 7 vs 5 (improved) only if the mean on p50 is class 5; -5/64 gives class 3
    ys, xs = _patch(size, 0.45, 0.1)
    h, w = annual[0, ys, xs].shape
    offsets = np.concatenate([-np.arange(10, 0, -1), np.arange(1, 11)]) / 64
    base = 0.5 + offsets[rng.random((nb, h, w)).argsort(0)]
    recent = np.where(np.arange(w)[None, :] < w // 2, 0.5 + 3 / 64, 0.5 - 5 / 64) * np.ones((RECENT, h, w))
    annual[:, ys, xs] = np.concatenate([base, recent]).astype(np.float32)
    ys, xs = _patch(size, 0.45, 0.25)  # a step in the recent years: state changes
    annual[nb:, ys, xs] += np.float32(0.1)
    ys, xs = _patch(size, 0.45, 0.4)
    annual[nb:, ys, xs] -= np.float32(0.1)


def unit_labels(units: np.ndarray) -> np.ndarray:
    """Index of each pixel's unit in UNIT_CODES (int32), -1 without one: science's own lookup."""
    return science.unit_index(UNIT_CODES, units.astype(np.int64)).astype(np.int32)


# ------------------------------------------------------------------ ours: the kernels, block by block

STAGES = ("block copy", "productivity_trajectory", "productivity_state", "mean NDVI + unit labels",
          "p90 per unit", "performance ratio", "trajectory recode + LPD lookup")


def productivity(annual: np.ndarray, units: np.ndarray, block: int = BLOCK,
                 p90: np.ndarray | None = None) -> tuple[dict, dict, np.ndarray]:
    """(layers of the whole tile, seconds per stage, p90 per unit) for the productivity sub-indicator.

    ``p90`` given: use it instead of computing the units' percentiles over ``annual``.
    """
    import dask.array as da

    from pipeline.engine import zonal_percentiles

    n, ny, nx = annual.shape
    years = np.arange(FIRST_YEAR, FIRST_YEAR + n, dtype=np.float64)
    k90, k95, k99 = critical_tables(100)
    seconds = dict.fromkeys(STAGES, 0.0)
    trajectory = np.empty((ny, nx), np.int8)
    state = np.empty((ny, nx), np.int8)
    change = np.empty((ny, nx), np.int8)
    mean = np.empty((ny, nx), np.float32)
    label = np.empty((ny, nx), np.int32)
    windows = [(slice(y, min(ny, y + block)), slice(x, min(nx, x + block)))
               for y in range(0, ny, block) for x in range(0, nx, block)]

    def timed(stage, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        seconds[stage] += time.perf_counter() - start
        return out

    for ys, xs in windows:
        blk = timed("block copy", np.ascontiguousarray, annual[:, ys, xs])
        shape = blk.shape[1:]
        code, slope = np.empty(shape, np.int8), np.empty(shape, np.float32)
        timed("productivity_trajectory", productivity_trajectory, blk, years, k90, k95, k99, PARAMS.stable_slope,
              code, slope)
        trajectory[ys, xs] = code
        s_code, s_change = np.empty(shape, np.int8), np.empty(shape, np.int8)
        timed("productivity_state", productivity_state, blk, n - RECENT, PARAMS.state_extension,
              PARAMS.state_stable_change, s_code, s_change)
        state[ys, xs], change[ys, xs] = s_code, s_change
        start = time.perf_counter()
        m = np.empty(shape, np.float32)
        valid_mean(blk, m)
        mean[ys, xs] = m
        label[ys, xs] = np.where(np.isnan(m), -1, unit_labels(units[ys, xs]))
        seconds["mean NDVI + unit labels"] += time.perf_counter() - start

    start = time.perf_counter()
    if p90 is None:
        p90 = zonal_percentiles(da.from_array(mean, chunks=block), da.from_array(label, chunks=block),
                                UNIT_CODES.size, [PARAMS.performance_percentile])[:, 0]
    seconds["p90 per unit"] = time.perf_counter() - start

    performance = np.empty((ny, nx), np.int8)
    lpd = np.empty((ny, nx), np.uint8)
    table = lpd_table()
    for ys, xs in windows:
        start = time.perf_counter()
        lab = label[ys, xs]
        reference = np.where(lab >= 0, p90[np.maximum(lab, 0)], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = mean[ys, xs] / reference
        ok = (lab >= 0) & ~np.isnan(ratio) & (reference > 0)
        perf = np.where(ok, np.where(ratio <= PARAMS.performance_ratio, -1, 0), NODATA_I8).astype(np.int8)
        performance[ys, xs] = perf
        mid = time.perf_counter()
        traj = trajectory[ys, xs]
        traj3 = np.where(traj == NODATA_I8, NODATA_I8, np.where(traj <= -2, -1, np.where(traj >= 2, 1, 0)))
        lpd[ys, xs] = lookup(table, (-1, -1, -1), traj3.astype(np.int8), state[ys, xs], perf, nodata=LPD_NODATA)
        end = time.perf_counter()
        seconds["performance ratio"] += mid - start
        seconds["trajectory recode + LPD lookup"] += end - mid
    layers = {"trajectory": trajectory, "state": state, "state_change": change, "performance": performance,
              "lpd": lpd, "mean": mean, "label": label}
    return layers, seconds, p90


# ------------------------------------------------------------------ the reference: xarray / NumPy


def reference(annual: np.ndarray, label: np.ndarray, p90: np.ndarray, deciles: str = "sorted") -> dict:
    """The same rules in plain xarray/NumPy over (n, h, w) ``annual``; ``label`` = unit index, -1 none.

    ``deciles``: "sorted" = vectorised, np.sort along time (NaN last) and NumPy's 'linear'
    interpolation at each pixel's own count; "quantile" = ``DataArray.quantile(skipna=True)``,
    i.e. ``np.nanquantile``, which loops over the pixels in Python once any is NaN.
    """
    import xarray as xr

    n = annual.shape[0]
    k90, k95, k99 = critical_tables(n)
    ndvi = xr.DataArray(annual.astype(np.float64), dims=("year", "y", "x"),
                        coords={"year": np.arange(FIRST_YEAR, FIRST_YEAR + n)})
    valid = ndvi.notnull()
    m = valid.sum("year")

    # trajectory: OLS slope over the valid years (closed form), Mann-Kendall S, critical values at m
    t = (ndvi.year - FIRST_YEAR).astype(np.float64).where(valid)
    dt = t - t.mean("year")
    slope = (dt * (ndvi - ndvi.mean("year"))).sum("year") / (dt ** 2).sum("year")
    v = ndvi.values
    s = np.zeros(v.shape[1:])
    for i in range(n - 1):  # pairs (i, j > i): NaN pairs drop out of the sum, ties count 0
        s += np.nansum(np.sign(v[i + 1:] - v[i]), axis=0)
    a, b, mm = np.abs(s), slope.values, m.values
    c90, c95, c99 = (k[np.minimum(mm, n)] for k in (k90, k95, k99))
    code = np.zeros(a.shape, np.int8)  # Trends.Earth's order: later assignments win
    for sign, side in ((1, b > 0), (-1, b < 0)):
        code[side & (a >= c90)] = sign
        code[side & (a >= c95)] = 2 * sign
        code[side & (a >= c99)] = 3 * sign
    code[a <= c90] = 0
    code[np.abs(b) <= PARAMS.stable_slope] = 0
    code[mm < 4] = NODATA_I8

    # state: the means of the baseline and recent years against the extended baseline's deciles
    nb = n - RECENT
    base, recent = ndvi.isel(year=slice(0, nb)), ndvi.isel(year=slice(nb, None))
    lo, hi = base.min("year"), base.max("year")
    margin = PARAMS.state_extension * (hi - lo)
    extended = xr.concat([base.drop_vars("year"), (lo - margin).expand_dims("year"),
                          (hi + margin).expand_dims("year")], dim="year")
    q = np.arange(1, 10) / 10
    if deciles == "quantile":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
            dec = extended.quantile(q, dim="year", skipna=True, method="linear")
    else:
        dec = xr.DataArray(_sorted_quantiles(extended.values, q), dims=("quantile", "y", "x"))
    base_mean, recent_mean = base.mean("year"), recent.mean("year")
    c_base = 1 + (dec < base_mean).sum("quantile")
    c_recent = 1 + (dec < recent_mean).sum("quantile")
    change = (c_recent - c_base).where(np.abs(recent_mean - base_mean) > PARAMS.state_stable_change, 0)
    missing = (base.count("year") == 0) | (recent.count("year") == 0)
    state = xr.where(change <= -2, -1, xr.where(change >= 2, 1, 0)).where(~missing, NODATA_I8).astype(np.int8)
    change = change.where(~missing, NODATA_I8).astype(np.int8)

    # performance: mean NDVI of all years / p90 of the pixel's unit
    mean = ndvi.mean("year").astype(np.float32).values
    unit_p90 = np.where(label >= 0, p90[np.maximum(label, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mean / unit_p90
    performance = np.where(ratio <= PARAMS.performance_ratio, -1, 0).astype(np.int8)
    performance[(label < 0) | np.isnan(ratio) | ~(unit_p90 > 0)] = NODATA_I8

    # LPD, in calc_prod5's order
    traj3 = np.select([code == NODATA_I8, code <= -2, code >= 2], [NODATA_I8, -1, 1], 0)
    st, pf = state.values, performance
    lpd = np.zeros(code.shape, np.uint8)
    lpd[traj3 == -1], lpd[traj3 == 0], lpd[traj3 == 1] = 1, 4, 5
    lpd[(traj3 == 0) & (st == 0) & (pf == -1)] = 3
    lpd[(traj3 == 1) & (st == -1) & (pf == -1)] = 2
    lpd[(traj3 == 0) & (st == -1) & (pf == 0)] = 2
    lpd[(traj3 == 0) & (st == -1) & (pf == -1)] = 1
    lpd[(traj3 == NODATA_I8) | (st == NODATA_I8) | (pf == NODATA_I8)] = LPD_NODATA
    return {"trajectory": code, "state": state.values, "state_change": change.values, "performance": performance,
            "lpd": lpd, "mean": mean, "slope": b}


def _sorted_quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """NumPy 'linear' quantiles along axis 0 ignoring NaN, vectorised: (len(q), ...), NaN where all NaN."""
    ordered = np.sort(values, axis=0)  # NaN last
    count = np.sum(~np.isnan(values), axis=0)
    virtual = (count - 1)[None] * q.reshape(-1, *([1] * count.ndim))  # NumPy: (n - 1) * q
    lower = np.floor(virtual)
    gamma = virtual - lower
    lo = np.clip(lower, 0, None).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0)[None])
    a, b = np.take_along_axis(ordered, lo, 0), np.take_along_axis(ordered, hi, 0)
    diff = b - a
    out = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)  # NumPy's _lerp
    return np.where(count[None] > 0, out, np.nan)


def compare(ours: dict, ref: dict, window: tuple[slice, slice]) -> dict[str, int]:
    """Pixels differing per layer between ours (whole tile, cut to the sample) and the reference."""
    out = {}
    for key in ("trajectory", "state", "state_change", "performance", "lpd", "mean"):
        a, b = ours[key][window], ref[key]
        out[key] = int(np.sum(~((a == b) | (np.isnan(a) & np.isnan(b)))) if a.dtype.kind == "f"
                       else np.sum(a != b))
    return out


# ------------------------------------------------------------------ the benchmark part


def _time(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up: compilation (or numba's cache), page faults
    runs, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return float(np.median(runs)), result


def fresh_process(size: int) -> dict:
    """Ours once in a fresh ``python`` (under tests.benchmarks.peak): peak RSS overall and while computing."""
    with tempfile.TemporaryDirectory() as tmp:
        report, peak = Path(tmp) / "report.json", Path(tmp) / "peak.json"
        cmd = [sys.executable, "-m", "tests.benchmarks.peak", str(peak), "-m", "tests.benchmarks.degradation",
               "--size", str(size), "--report", str(report)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode or not report.is_file():
            raise RuntimeError(f"degradation fresh process failed ({proc.returncode}): {proc.stdout[-2000:]}"
                               f"{proc.stderr[-2000:]}")
        out = json.loads(report.read_text())
        out["computing_peak_rss_mib"] = json.loads(peak.read_text())["peak_rss_mib"] if out["reset"] else None
    return out


def annual_means_rate(size: int, repeat: int) -> float:
    """Pixels/s of ``annual_means``: one year of 23 int16 16-day composites -> its mean (not in the total)."""
    rng = np.random.default_rng(5)
    dn = rng.integers(-2000, 10000, (23, size, size), dtype=np.int16)
    dn[rng.random(dn.shape) < 0.2] = -3000  # MOD13Q1 fill
    out = np.empty((1, size, size), np.float32)
    year = np.zeros(23, np.int64)
    scale, offset = np.full(23, 1e-4), np.zeros(23)
    seconds, _ = _time(lambda: annual_means(dn, year, scale, offset, -3000.0, out), repeat)
    return size * size / seconds


def productivity_part(quick: bool) -> list[dict]:
    """Rows of part 7 (see the module docstring); ~4 minutes on 2 cores, ~10 s with ``quick``."""
    size, side, repeat = (600, 200, 1) if quick else (TILE, 400, 3)
    threads = numba.get_num_threads()
    pixels = size * size
    fresh = fresh_process(size)  # before this process holds a cube of its own
    small, small_units = synthetic_tile(64)
    productivity(small, small_units, block=32)  # warm-up: numba's cache, dask imported
    annual, units = synthetic_tile(size)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        ours, stages, p90 = productivity(annual, units)
        runs.append((time.perf_counter() - start, stages))
    total = float(np.median([r[0] for r in runs]))
    stage_s = {k: float(np.median([r[1][k] for r in runs])) for k in STAGES}
    check = np.array([np.percentile(ours["mean"][ours["label"] == z], PARAMS.performance_percentile)
                      if np.any(ours["label"] == z) else np.nan for z in range(UNIT_CODES.size)])

    stride = size // side
    window = (slice(None, stride * side, stride), slice(None, stride * side, stride))
    sample = np.ascontiguousarray(annual[(slice(None), *window)])
    sample_units = np.ascontiguousarray(units[window])
    labels = unit_labels(sample_units)
    del annual
    n_sample = side * side
    ours_sample_s, (ours_sample, _, _) = _time(lambda: productivity(sample, sample_units, p90=p90), repeat)
    whole = (slice(None), slice(None))
    rows = [{"case": f"sdgcube productivity sub-indicator, {N_YEARS} x {size} x {size} in {BLOCK}² blocks, "
                     f"{threads} threads", "seconds": total, "pixels_per_s": pixels / total,
             "lpd_share_0_to_5": [round(float(x), 4) for x in np.bincount(ours["lpd"].ravel(), minlength=6) / pixels],
             "p90_max_abs_diff_vs_np_percentile": float(np.nanmax(np.abs(p90 - check)))},
            {"case": "same, once in a fresh process (peak RSS; the cube is built in it)", "seconds": fresh["seconds"],
             "pixels_per_s": pixels / fresh["seconds"], "peak_rss_mib": fresh["peak_rss_mib"],
             "computing_peak_rss_mib": fresh["computing_peak_rss_mib"], "cube_mib": fresh["cube_mib"]}]
    for stage in STAGES:
        rows.append({"case": f"  stage: {stage}", "seconds": stage_s[stage], "pixels_per_s": pixels / stage_s[stage],
                     "share_of_total": stage_s[stage] / sum(stage_s.values())})
    rows.append({"case": "  kernel annual_means (23 int16 composites -> 1 year; not in the total above)",
                 "pixels_per_s": annual_means_rate(256 if quick else 2048, 1 if quick else 3)})
    rows.append({"case": f"sdgcube on the {side} x {side} sample (rows and columns at stride {stride}; same p90)",
                 "seconds": ours_sample_s, "pixels_per_s": n_sample / ours_sample_s,
                 "identical": _identical(compare(ours, ours_sample, window))[0]})
    for deciles, name in (("quantile", "xarray/NumPy reference, deciles by DataArray.quantile (np.nanquantile)"),
                          ("sorted", "xarray/NumPy reference, deciles vectorised (np.sort, NumPy's 'linear' rule)")):
        seconds, ref = _time(lambda d=deciles: reference(sample, labels, p90, d), 1)
        diff = compare({k: v[window] for k, v in ours.items()}, ref, whole)
        identical, differing = _identical(diff)
        speedup = pixels / total / (n_sample / seconds)
        rows.append({"case": f"{name}, on the sample", "seconds": seconds, "pixels_per_s": n_sample / seconds,
                     "speedup": speedup, "speedup_same_sample": seconds / ours_sample_s,
                     "meets_target": speedup >= TARGET_SPEEDUP, "identical": identical}
                    | ({"differing_pixels": differing} if differing else {}))
    rows[-1]["sample_nodata_traj_state_perf"] = [int(np.sum(ref[k] == NODATA_I8))
                                                 for k in ("trajectory", "state", "performance")]
    wrong = [r for r in rows if r.get("identical") == "NO"]
    assert not wrong, f"productivity layers differ from the reference on the sample: {wrong}"
    return rows


def _identical(diff: dict[str, int]) -> tuple[str, dict[str, int]]:
    differing = {k: v for k, v in diff.items() if v}
    return ("yes" if not differing else "NO"), differing


NOTE = ("The productivity sub-indicator of 15.3.1 (trajectory, state, performance, LPD 5 classes) on a synthetic "
        "MODIS-tile-sized cube of annual NDVI (float32, 23 x 4800 x 4800; `--quick`: 600 x 600) with NaN gaps and "
        "edge-case patches; see tests/benchmarks/degradation.py. Ours: the kernels over (23, 512, 512) blocks copied "
        "out of the cube, the p90 per land unit exact over the whole tile (pipeline.engine.zonal_percentiles, "
        "checked against np.percentile); seconds = median of 3 runs (`--quick`: 1) after a warm-up on a small tile, "
        "pixels_per_s = tile pixels / s; the stage rows split that time (medians). The fresh-process row builds the "
        "cube and runs once (numba's cache warm): peak_rss_mib is its VmHWM, computing_peak_rss_mib the peak after "
        "the cube was built (VmHWM reset through /proc/self/clear_refs), cube_mib the cube itself. The references "
        "are plain xarray/NumPy implementations of the same rules on a strided sample of the tile, with the same "
        "critical values and p90: deciles by DataArray.quantile(skipna) (np.nanquantile: a Python loop over the "
        "pixels once any year is NaN), or by a vectorised sort. speedup = our tile px/s / the reference's px/s "
        f"(target >= {TARGET_SPEEDUP:g}); speedup_same_sample = against ours on that same sample; identical = every "
        "layer (trajectory -3..3, state and its class change, performance, LPD, mean) equal on the sample (the part "
        "fails otherwise).")


def _vm(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ours once on a fresh synthetic tile (peak-RSS case)")
    parser.add_argument("--size", type=int, default=TILE)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    small, small_units = synthetic_tile(64)
    productivity(small, small_units, block=32)  # numba's cache loaded, dask imported: not the tile's cost
    annual, units = synthetic_tile(args.size)
    built = _vm("VmHWM")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
        reset = True
    except OSError:
        reset = False
    start = time.perf_counter()
    productivity(annual, units)
    seconds = time.perf_counter() - start
    args.report.write_text(json.dumps({"seconds": seconds, "peak_rss_mib": max(built, _vm("VmHWM")),
                                       "peak_rss_building_mib": built, "cube_mib": annual.nbytes / 2**20,
                                       "reset": reset}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
