"""SDG 15.3.1 sub-indicators per pixel, with Trends.Earth's codes (-1 degraded, 0 stable, 1 improved).

- ``annual_means``: a year's mean of its valid composites (16-day MOD13Q1 NDVI).
- ``productivity_trajectory``: least-squares slope sign, significance by the Mann-Kendall
  S against its exact critical values (``mann_kendall_critical``: the null distribution
  of S counted exactly, not the normal approximation), coded -3..3.
- ``productivity_state``: the recent years' mean against deciles of the baseline years.
- ``soc_stocks``: a reference stock moved by IPCC land-use factors, linearly over a
  horizon after each land-cover transition.
- Lookups (LPD table, transition matrix, one-out-all-out, status) on small arrays.

Trajectory and state read a (years, y, x) float32 stack with NaN for missing years and
work in float64; every pixel is independent, so results do not depend on threads.
"""

import numba
import numpy as np

NODATA_I8 = -128  # no data in every int8 layer (trajectory, state, performance, ... sdg)


_CRITICAL: dict[tuple[int, float], np.ndarray] = {}  # (n_max, alpha) -> table, computed once


def mann_kendall_critical(n_max: int, alpha: float) -> np.ndarray:
    """k[n] = the largest s with P(S >= s) > alpha under H0 (no ties), for n = 0..n_max; -1 below n = 4.

    A one-sided test rejects at ``alpha`` when S > k[n]. S = concordant - discordant
    pairs = n(n-1)/2 - 2 x the inversions of a random permutation, whose counts are the
    Mahonian numbers: built here with exact integers, one element at a time.
    """
    if (n_max, alpha) in _CRITICAL:
        return _CRITICAL[n_max, alpha]
    per_mille = round(alpha * 1000)  # compare tail / n! with alpha in integers: no rounding at the boundary
    out = np.full(n_max + 1, -1, np.int64)
    counts = [1]  # permutations of n elements by number of inversions
    for n in range(2, n_max + 1):
        prefix = [0]
        for c in counts:
            prefix.append(prefix[-1] + c)
        counts = [prefix[min(k + 1, len(counts))] - prefix[max(0, k - n + 1)] for k in range(len(counts) + n - 1)]
        if n < 4:
            continue
        total, tail = sum(counts), 0
        for inversions, c in enumerate(counts):  # S from its maximum downwards: the tail P(S >= s) grows
            tail += c
            if tail * 1000 > per_mille * total:
                out[n] = n * (n - 1) // 2 - 2 * inversions
                break
    out.flags.writeable = False  # cached: shared by every caller
    _CRITICAL[n_max, alpha] = out
    return out


def critical_tables(n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k90, k95, k99) for n = 0..n_max, as the trajectory kernel takes them."""
    return tuple(mann_kendall_critical(n_max, a) for a in (0.10, 0.05, 0.01))  # type: ignore[return-value]


@numba.njit(cache=True, parallel=True)
def annual_means(dn, year_of_date, scale, offset, nodata, out):
    """out[k] = mean over the dates with year_of_date == k of dn * scale + offset, skipping ``nodata``.

    dn: int16 (t, y, x); year_of_date: int64 (t,) in 0..n_years-1; scale, offset:
    float64 (t,); out: float32 (n_years, y, x), NaN for a year without a valid date.
    """
    nt, ny, nx = dn.shape
    n_years = out.shape[0]
    for t in range(nt):
        if year_of_date[t] < 0 or year_of_date[t] >= n_years:
            raise ValueError("annual_means: year_of_date must lie within 0..out.shape[0]-1")
    for y in numba.prange(ny):
        total = np.zeros((n_years, nx), np.float64)
        count = np.zeros((n_years, nx), np.int64)
        for t in range(nt):
            k = year_of_date[t]
            for x in range(nx):
                v = dn[t, y, x]
                if v != nodata:
                    total[k, x] += v * scale[t] + offset[t]
                    count[k, x] += 1
        for k in range(n_years):
            for x in range(nx):
                out[k, y, x] = total[k, x] / count[k, x] if count[k, x] else np.nan


@numba.njit(cache=True, parallel=True)
def valid_mean(values, out):
    """Mean of the non-NaN values along the first axis, summed in order in float64, per pixel.

    values: float32 (n, y, x); out: float32 (y, x), NaN where every value is NaN.
    """
    n, ny, nx = values.shape
    for y in numba.prange(ny):
        total = np.zeros(nx, np.float64)
        count = np.zeros(nx, np.int64)
        for k in range(n):
            for x in range(nx):
                a = values[k, y, x]
                if not np.isnan(a):
                    total[x] += a
                    count[x] += 1
        for x in range(nx):
            out[y, x] = total[x] / count[x] if count[x] else np.nan


@numba.njit(cache=True, parallel=True)
def productivity_trajectory(annual, years, k90, k95, k99, stable_slope, out_code, out_slope):
    """Trends.Earth's trajectory code per pixel over its valid (non-NaN) years.

    annual: float32 (n, y, x); years: float64 (n,); k90/k95/k99: int64 critical values
    indexed by the number of valid years (``critical_tables``); out_code: int8 (y, x);
    out_slope: float32 (y, x), NDVI per year. With S the Mann-Kendall statistic and b the
    least-squares slope: 0 unless |S| > k90; then sign(b) x (1, 2 if |S| >= k95, 3 if
    |S| >= k99); 0 again where |b| <= stable_slope. Fewer than 4 valid years: NODATA_I8, NaN.
    """
    n, ny, nx = annual.shape
    if k90.shape[0] < n + 1 or k95.shape[0] < n + 1 or k99.shape[0] < n + 1:
        raise ValueError("productivity_trajectory: critical tables must cover n = 0..annual.shape[0]")
    # A row at a time, pixels innermost (vectorised): a pair with a missing year compares false both
    # ways and adds 0 to S, so S over all pairs is S over the valid years; the means and sums run
    # over the years in order, as they would per pixel.
    for y in numba.prange(ny):
        s = np.zeros(nx, np.int32)
        count = np.zeros(nx, np.int64)
        mt = np.zeros(nx, np.float64)
        mv = np.zeros(nx, np.float64)
        for i in range(n - 1):
            for j in range(i + 1, n):
                for x in range(nx):
                    a = annual[i, y, x]
                    b = annual[j, y, x]
                    s[x] += np.int32(b > a) - np.int32(b < a)
        for k in range(n):
            t = years[k] - years[0]
            for x in range(nx):
                a = annual[k, y, x]
                if not np.isnan(a):
                    count[x] += 1
                    mt[x] += t
                    mv[x] += a
        for x in range(nx):
            if count[x] >= 4:
                mt[x] /= count[x]
                mv[x] /= count[x]
        sxy = np.zeros(nx, np.float64)
        sxx = np.zeros(nx, np.float64)
        for k in range(n):
            t = years[k] - years[0]
            for x in range(nx):
                a = annual[k, y, x]
                if not np.isnan(a):
                    dt = t - mt[x]
                    sxy[x] += dt * (np.float64(a) - mv[x])
                    sxx[x] += dt * dt
        for x in range(nx):
            m = count[x]
            if m < 4:
                out_code[y, x] = NODATA_I8
                out_slope[y, x] = np.nan
                continue
            slope = sxy[x] / sxx[x]
            out_slope[y, x] = slope
            strength = abs(s[x])
            code = 0
            if strength > k90[m] and abs(slope) > stable_slope:
                code = 1
                if strength >= k95[m]:
                    code = 2
                if strength >= k99[m]:
                    code = 3
                if slope < 0:
                    code = -code
            out_code[y, x] = code


@numba.njit(cache=True)
def _percentile_column(sorted_rows, x, m, q):
    """NumPy's 'linear' percentile of sorted_rows[:m, x], with its own interpolation formula."""
    index = q / 100.0 * (m - 1)
    lo = int(np.floor(index))
    hi = min(lo + 1, m - 1)
    frac = index - lo
    a = sorted_rows[lo, x]
    b = sorted_rows[hi, x]
    diff = b - a
    if frac >= 0.5:
        return b - diff * (1.0 - frac)
    return a + diff * frac


@numba.njit(cache=True, parallel=True)
def productivity_state(annual, n_baseline, extend, stable_change, out_code, out_change):
    """Trends.Earth's state per pixel: recent mean vs deciles of the (extended) baseline years.

    annual: float32 (n, y, x), years in order; the first ``n_baseline`` are the baseline,
    the rest the recent years. Baseline values plus min - extend x range and max +
    extend x range give deciles p10..p90 (NumPy 'linear'); a mean's class is 1 + the
    number of deciles below it. change = class(recent mean) - class(baseline mean),
    0 where the means differ by <= stable_change. out_code int8: -1 if change <= -2,
    1 if >= 2, else 0; NODATA_I8 without a valid baseline or recent year. out_change
    int8: the class change (NODATA_I8 likewise).
    """
    n, ny, nx = annual.shape
    if not 0 < n_baseline < n:
        raise ValueError("productivity_state: need 0 < n_baseline < annual.shape[0]")
    rows = n_baseline + 2
    # A row at a time, pixels innermost: each pixel's baseline values (missing = +inf, sorted last)
    # and its two extension values are sorted by an odd-even transposition network, min/max
    # across the row (vectorised, no branches); the same sorted values a per-pixel sort gives.
    for y in numba.prange(ny):
        buf = np.empty((rows, nx), np.float64)
        m = np.zeros(nx, np.int64)
        total = np.zeros(nx, np.float64)
        lo = np.full(nx, np.inf)
        hi = np.full(nx, -np.inf)
        for k in range(n_baseline):
            for x in range(nx):
                a = annual[k, y, x]
                if np.isnan(a):
                    buf[k, x] = np.inf
                else:
                    v = np.float64(a)
                    buf[k, x] = v
                    m[x] += 1
                    total[x] += v
                    lo[x] = min(lo[x], v)
                    hi[x] = max(hi[x], v)
        recent = np.zeros(nx, np.float64)
        r = np.zeros(nx, np.int64)
        for k in range(n_baseline, n):
            for x in range(nx):
                a = annual[k, y, x]
                if not np.isnan(a):
                    recent[x] += a
                    r[x] += 1
        for x in range(nx):
            if m[x]:
                buf[n_baseline, x] = lo[x] - extend * (hi[x] - lo[x])
                buf[n_baseline + 1, x] = hi[x] + extend * (hi[x] - lo[x])
            else:
                buf[n_baseline, x] = np.inf
                buf[n_baseline + 1, x] = np.inf
        for sweep in range(rows):
            for i in range(sweep % 2, rows - 1, 2):
                for x in range(nx):
                    a = buf[i, x]
                    b = buf[i + 1, x]
                    buf[i, x] = min(a, b)
                    buf[i + 1, x] = max(a, b)
        for x in range(nx):
            if m[x] == 0 or r[x] == 0:
                out_code[y, x] = NODATA_I8
                out_change[y, x] = NODATA_I8
                continue
            base_mean = total[x] / m[x]
            recent_mean = recent[x] / r[x]
            c_base = 1
            c_recent = 1
            for d in range(9):
                decile = _percentile_column(buf, x, m[x] + 2, 10.0 * (d + 1))
                c_base += decile < base_mean
                c_recent += decile < recent_mean
            change = c_recent - c_base
            if abs(recent_mean - base_mean) <= stable_change:
                change = 0
            out_change[y, x] = change
            out_code[y, x] = -1 if change <= -2 else (1 if change >= 2 else 0)


@numba.njit(cache=True, parallel=True)
def soc_stocks(classes, reference, cropland_factor, factors, kinds, horizon, at, out):
    """Stocks at the years ``at`` from a reference stock and yearly classes, per pixel.

    classes: uint8 (n, y, x), the 7-class land cover of n consecutive years from the
    reference year (0 = no data); reference, cropland_factor: float32 (y, x); factors:
    float64 (8, 8) land-use factor [from, to]; kinds: int8 (8, 8): 0 = the factor as
    given, 1 = the cropland factor, -1 = its inverse. At each transition the stock
    moves by stock x (1 - factor) / horizon a year for ``horizon`` years (a later
    transition restarts from the stock then). at: int64 (k,) year indices; out: float32
    (k, y, x), NaN where the reference, the factor or a class up to max(at) is missing.
    Classes above 7 raise ValueError.
    """
    n, ny, nx = classes.shape
    k_out = at.shape[0]
    last = 0
    for i in range(k_out):
        if at[i] < 0 or at[i] >= n:
            raise ValueError("soc_stocks: 'at' must index the years of 'classes'")
        last = max(last, at[i])
    for t in range(last + 1):  # checked first: a raise inside the parallel loop would serialise it
        for y in range(ny):
            for x in range(nx):
                if classes[t, y, x] > 7:
                    raise ValueError("soc_stocks: classes must be UNCCD 0..7")
    for y in numba.prange(ny):
        for x in range(nx):
            ref = reference[y, x]
            fl = cropland_factor[y, x]
            ok = not (np.isnan(ref) or np.isnan(fl))
            for t in range(last + 1):
                ok = ok and classes[t, y, x] != 0
            if not ok:
                for i in range(k_out):
                    out[i, y, x] = np.nan
                continue
            stock = np.float64(ref)
            rate = 0.0
            remaining = 0
            for i in range(k_out):
                if at[i] == 0:
                    out[i, y, x] = stock
            for t in range(last):
                a = classes[t, y, x]
                b = classes[t + 1, y, x]
                if a != b:
                    f = factors[a, b]
                    if kinds[a, b] == 1:
                        f = fl
                    elif kinds[a, b] == -1:
                        f = 1.0 / fl
                    rate = stock * (1.0 - f) / horizon
                    remaining = horizon
                if remaining > 0:
                    stock -= rate
                    remaining -= 1
                for i in range(k_out):
                    if at[i] == t + 1:
                        out[i, y, x] = stock


def lookup(table: np.ndarray, origins: tuple[int, ...], *codes: np.ndarray, nodata: int) -> np.ndarray:
    """table[code_1 - origin_1, ..., code_k - origin_k] per pixel; ``nodata`` where a code falls outside.

    ``origins`` are the smallest code of each axis (-1 for Trends.Earth's -1/0/1 axes).
    """
    valid = np.ones(codes[0].shape, bool)
    index = []
    for axis, code in enumerate(codes):
        i = code.astype(np.int64) - origins[axis]
        valid &= (i >= 0) & (i < table.shape[axis])
        index.append(i)
    index = [np.where(valid, i, 0) for i in index]
    return np.where(valid, table[tuple(index)], nodata).astype(table.dtype)
