"""Per-pixel trend statistics and observation counts over a (t, y, x) stack with NaN gaps.

Trend tests for SDG 15.3.1 (productivity trajectory) run per pixel on short
series (tens of dates): a SciPy or pyMannKendall loop over pixels is ~300x
slower than doing the same arithmetic in Numba. Each row gathers its non-NaN
observations (and their real time coordinates, so a gap keeps its time step)
into per-row buffers; the statistics then follow the reference definitions
exactly:

- Mann-Kendall S, tie-corrected Var(S), Z with continuity correction and the
  two-sided normal p-value as ``pymannkendall.original_test``; Kendall's tau-b
  against time as ``scipy.stats.kendalltau``.
- Theil-Sen slope as the exact median of pairwise slopes (found by
  quickselect: the same value a full sort gives; a zero slope or intercept
  is +0.0), and the
  intercept ``median(y) - slope * median(t)``: the default
  ``method='separate'`` of ``scipy.stats.theilslopes``.
- Least-squares slope from centred float64 sums (decimal-year times are large
  and nearly equal, so raw sums of squares would cancel).

Every pixel is independent, so results do not depend on the thread count.

Where the time goes (20 dates, 30% NaN, ~91 pair slopes per pixel): the
median of the pair slopes dominates Theil-Sen, hence the selection
(``_select_median``) instead of a heapsort; Mann-Kendall gets S and the tie
groups from one branch-free pairwise pass (no sort) and reads p from a table
when a pixel has no ties.
"""

import math

import numba
import numpy as np

from kernels.composites import _gather_row, _sort_prefix, _sorted_median


@numba.njit(cache=True)
def _gather_row_times(values, times, y, vbuf, tbuf, count):
    """Copy row y's non-NaN values (float64) and their times into vbuf/tbuf[x, :count[x]]."""
    nt = values.shape[0]
    nx = values.shape[2]
    for x in range(nx):
        count[x] = 0
    for t in range(nt):
        tt = times[t]
        for x in range(nx):
            v = values[t, y, x]
            if not np.isnan(v):
                k = count[x]
                vbuf[x, k] = v
                tbuf[x, k] = tt
                count[x] = k + 1


@numba.njit(cache=True)
def _select_median(buf, other, m):
    """Median of buf[:m] (m >= 1, no NaN) in float64; buf and other[:m] are scratch.

    Exactly the value ``_sorted_median`` gives after a full sort (the middle
    order statistic, or the float64 mean of the two middle ones) but found by
    quickselect, expected O(m): a median-of-three pivot (always one of the
    values) and one branchless three-way pass per step that compacts the
    values below the pivot to the front of the source buffer and copies those
    above it to the other buffer (no read of a just-written slot, so no
    store-to-load stalls), counting the ties in between. A step that lands
    in the ties is done at once. For an even m the upper middle value is
    tracked on the way: it is the pivot whenever the search moves below one,
    else the smallest value of the part above. Insertion sort finishes a
    range of at most 8 values. On the t(t-1)/2 pair slopes of a 20-date
    series the heapsort this replaces took ~3/4 of the Theil-Sen time; an
    in-place Hoare partition was ~2x and an in-place branchless Lomuto ~1.2x
    slower than this.
    """
    h = m // 2
    k = h - 1 if m % 2 == 0 else h
    src = buf
    dst = other
    n = m
    upper = np.inf  # smallest value known to rank above src[:n]
    q = 0.0
    done = False
    while n > 8:
        a = src[0]
        b = src[n >> 1]
        c = src[n - 1]
        if a > b:
            a, b = b, a
        if b > c:
            b = c
        if a > b:
            b = a
        pivot = b
        below = 0
        above = 0
        for i in range(n):
            v = src[i]
            src[below] = v
            dst[above] = v
            below += v < pivot
            above += v > pivot
        ties = n - below - above  # >= 1: the pivot is one of the values
        if k < below:
            upper = pivot
            n = below
        elif k < below + ties:
            q = pivot
            if k + 1 < below + ties:
                upper = pivot
            else:
                for i in range(above):
                    if dst[i] < upper:
                        upper = dst[i]
            done = True
            break
        else:
            k -= below + ties
            n = above
            src, dst = dst, src
    if not done:
        _sort_prefix(src, n)  # n <= 8: an insertion sort
        q = src[k]
        if k + 1 < n:
            upper = src[k + 1]
    if m % 2 == 1:
        return np.float64(q)
    return (np.float64(q) + np.float64(upper)) / 2.0


@numba.njit(cache=True)
def _times_ok(values, times):
    """True when times has one finite entry per time step of values."""
    if times.shape[0] != values.shape[0]:
        return False
    for i in range(times.shape[0]):
        if not np.isfinite(times[i]):
            return False
    return True


@numba.njit(cache=True)
def _shape_is(out, ny, nx):
    return out.shape[0] == ny and out.shape[1] == nx


@numba.njit(cache=True)
def _mann_kendall_pixel(obs, n, sbuf, p_table):
    """(S, Var(S), Z, p, tau-b) of obs[:n] (n >= 1, no NaN, time order); sbuf: int64 scratch >= n.

    p_table: ``_no_tie_p_table`` output (or an empty (0, 0) array): without
    ties p depends on (n, |S|) only and is read from it instead of calling erfc.
    """
    # One pairwise pass gives S and, for each value, c = how many other values
    # equal it: a tie group of size u has u members with c = u - 1, so
    # sum_i c_i (2 c_i + 7) = sum_groups u(u-1)(2u+5) and sum_i c_i = 2 * tied
    # pairs. Integer arithmetic throughout, no sort, no branches in the inner loop.
    for i in range(n):
        sbuf[i] = 0
    s = np.int64(0)
    for i in range(n - 1):
        xi = obs[i]
        si = np.int64(0)
        ci = np.int64(0)
        later = obs[i + 1 : n]
        later_c = sbuf[i + 1 : n]
        for j in range(n - 1 - i):  # from 0: indices known >= 0, so the loop vectorises
            xj = later[j]
            si += np.int64(xj > xi) - np.int64(xj < xi)
            eq = np.int64(xj == xi)
            ci += eq
            later_c[j] += eq
        s += si
        sbuf[i] += ci
    tie_var = np.int64(0)
    tie_pairs2 = np.int64(0)
    for i in range(n):
        c = sbuf[i]
        tie_var += c * (2 * c + 7)
        tie_pairs2 += c
    tie_pairs = tie_pairs2 // 2
    nn = np.int64(n)
    var_s = (nn * (nn - 1) * (2 * nn + 5) - tie_var) / 18.0
    z = 0.0
    if s > 0:
        z = (s - 1) / np.sqrt(var_s)
    elif s < 0:
        z = (s + 1) / np.sqrt(var_s)
    if tie_var == 0 and n < p_table.shape[0]:
        p = p_table[n, abs(s)]
    else:
        p = math.erfc(abs(z) / math.sqrt(2.0))
    n0 = nn * (nn - 1) // 2
    tau = np.nan
    if n0 > 0 and tie_pairs < n0:
        # scipy.stats.kendalltau's order of operations, time having no ties.
        tau = s / np.sqrt(np.float64(n0)) / np.sqrt(np.float64(n0 - tie_pairs))
        tau = min(1.0, max(-1.0, tau))
    return np.float64(s), var_s, z, p, tau


@numba.njit(cache=True)
def _no_tie_p_table(nt, pixels):
    """p[n, |S|] for series without ties, n <= nt, by the same operations as the pixel code.

    Z = (|S| - 1) / sqrt(Var) (its sign does not change erfc(|Z| / sqrt(2)):
    IEEE division is sign-symmetric) with Var = n(n-1)(2n+5) / 18. Built
    only when it is small next to the number of pixels (erfc was ~15% of the
    Mann-Kendall time); otherwise an empty table, and every pixel calls erfc.
    """
    n0max = nt * (nt - 1) // 2
    if nt > 64 or (nt + 1) * (n0max + 1) > pixels // 4:
        return np.empty((0, 0), np.float64)
    table = np.empty((nt + 1, n0max + 1), np.float64)
    for n in range(1, nt + 1):
        nn = np.int64(n)
        tie_var = np.int64(0)
        var_s = (nn * (nn - 1) * (2 * nn + 5) - tie_var) / 18.0
        for a in range(n * (n - 1) // 2 + 1):
            s = np.int64(a)
            z = 0.0
            if s > 0:
                z = (s - 1) / np.sqrt(var_s)
            table[n, a] = math.erfc(abs(z) / math.sqrt(2.0))
    return table


@numba.njit(cache=True, parallel=True)
def mann_kendall(values, out_s, out_var, out_z, out_p, out_tau, min_count):
    """Mann-Kendall trend test per pixel over the non-NaN observations, in place.

    values: float32/float64 (t, y, x) in time order; out_s, out_var, out_z,
    out_p, out_tau: float64 (y, x); min_count: int.
    With the n non-NaN observations x_1..x_n of a pixel:
    S = sum_{i<j} sign(x_j - x_i); Var(S) = [n(n-1)(2n+5) - sum over tie
    groups of size u of u(u-1)(2u+5)] / 18; Z = (S - 1)/sqrt(Var) for S > 0,
    (S + 1)/sqrt(Var) for S < 0, else 0; p = erfc(|Z| / sqrt(2)) (two-sided);
    tau = S / sqrt(n0) / sqrt(n0 - n1) with n0 = n(n-1)/2 and n1 the tied
    value pairs (tau-b against time, clipped to [-1, 1]; NaN when n < 2 or
    all values are tied, as scipy.stats.kendalltau). n == 0 or n < min_count:
    all five outputs NaN. Rows run in parallel.
    """
    nt, ny, nx = values.shape
    if not (
        _shape_is(out_s, ny, nx)
        and _shape_is(out_var, ny, nx)
        and _shape_is(out_z, ny, nx)
        and _shape_is(out_p, ny, nx)
        and _shape_is(out_tau, ny, nx)
    ):
        raise ValueError("mann_kendall: every output must have shape values.shape[1:]")
    nan = np.nan
    p_table = _no_tie_p_table(nt, ny * nx)
    for y in numba.prange(ny):
        vbuf = np.empty((nx, nt), np.float64)
        count = np.empty(nx, np.int64)
        sbuf = np.empty(nt, np.int64)
        _gather_row(values, y, vbuf, count)
        for x in range(nx):
            n = count[x]
            if n == 0 or n < min_count:
                out_s[y, x] = nan
                out_var[y, x] = nan
                out_z[y, x] = nan
                out_p[y, x] = nan
                out_tau[y, x] = nan
                continue
            s, var_s, z, p, tau = _mann_kendall_pixel(vbuf[x], n, sbuf, p_table)
            out_s[y, x] = s
            out_var[y, x] = var_s
            out_z[y, x] = z
            out_p[y, x] = p
            out_tau[y, x] = tau


@numba.njit(cache=True, parallel=True, error_model="numpy")
def theil_sen(values, times, out_slope, out_intercept, min_count):
    """Theil-Sen slope and intercept per pixel against the real time coordinate, in place.

    values: float32/float64 (t, y, x); times: float64 (t,) finite (e.g.
    decimal years; any order, ValueError if not finite); out_slope,
    out_intercept: float64 (y, x); min_count: int.
    Over the n non-NaN observations (value x_k at time t_k): slope = exact
    median of (x_j - x_i) / (t_j - t_i) over pairs with t_j != t_i (even
    count -> mean of the two middle slopes); intercept = median(x) -
    slope * median(t), as ``scipy.stats.theilslopes`` (default method
    'separate'). n < min_count, or no pair with distinct times: both NaN.
    Rows run in parallel; each has two pair-slope buffers of t(t-1)/2 values.
    """
    nt, ny, nx = values.shape
    if out_slope.shape[0] != ny or out_slope.shape[1] != nx:
        raise ValueError("theil_sen: out_slope must have shape values.shape[1:]")
    if out_intercept.shape[0] != ny or out_intercept.shape[1] != nx:
        raise ValueError("theil_sen: out_intercept must have shape values.shape[1:]")
    if not _times_ok(values, times):
        raise ValueError("theil_sen: times must be finite with length values.shape[0]")
    nan = np.nan
    for y in numba.prange(ny):
        vbuf = np.empty((nx, nt), np.float64)
        tbuf = np.empty((nx, nt), np.float64)
        count = np.empty(nx, np.int64)
        slopes = np.empty(max(nt * (nt - 1) // 2, 1), np.float64)
        scratch = np.empty_like(slopes)
        _gather_row_times(values, times, y, vbuf, tbuf, count)
        for x in range(nx):
            n = count[x]
            if n == 0 or n < min_count:
                out_slope[y, x] = nan
                out_intercept[y, x] = nan
                continue
            xs = vbuf[x]
            ts = tbuf[x]
            increasing = True
            for i in range(n - 1):
                if not ts[i] < ts[i + 1]:
                    increasing = False
            m = 0
            if increasing:
                # Usual case, all times distinct: no pair is skipped, so the
                # inner loop has no branch and vectorises (error_model="numpy":
                # no ZeroDivisionError test per division; dt > 0 here anyway).
                for i in range(n - 1):
                    xi = xs[i]
                    ti = ts[i]
                    k = n - 1 - i
                    xv = xs[i + 1 : n]
                    tv = ts[i + 1 : n]
                    sv = slopes[m : m + k]
                    for j in range(k):
                        sv[j] = (xv[j] - xi) / (tv[j] - ti)
                    m += k
            else:
                for i in range(n - 1):
                    for j in range(i + 1, n):
                        dt = ts[j] - ts[i]
                        if dt != 0.0:
                            slopes[m] = (xs[j] - xs[i]) / dt
                            m += 1
            if m == 0:
                out_slope[y, x] = nan
                out_intercept[y, x] = nan
                continue
            # + 0.0 (here and on the intercept): a zero is +0.0 whichever of
            # tied -0.0/+0.0 values the selection meets; only a sign of zero could differ.
            slope = _select_median(slopes, scratch, m) + 0.0
            # The pair loops are done with xs and ts: reorder them in place.
            if not increasing:
                _sort_prefix(ts, n)
            out_slope[y, x] = slope
            out_intercept[y, x] = (_select_median(xs, scratch, n) - slope * _sorted_median(ts, n)) + 0.0


@numba.njit(cache=True, parallel=True)
def ols_slope(values, times, out_slope, min_count):
    """Least-squares slope of value against time per pixel, in place.

    values: float32/float64 (t, y, x); times: float64 (t,) finite; out_slope:
    float64 (y, x); min_count: int.
    Over the n non-NaN observations: slope = sum((t - mean t)(x - mean x)) /
    sum((t - mean t)^2), all in float64 with the means taken first (two
    passes) and times taken relative to the pixel's first observation.
    n == 0, n < min_count or all times equal: NaN. Rows run in parallel.
    """
    nt, ny, nx = values.shape
    if out_slope.shape[0] != ny or out_slope.shape[1] != nx:
        raise ValueError("ols_slope: out_slope must have shape values.shape[1:]")
    if not _times_ok(values, times):
        raise ValueError("ols_slope: times must be finite with length values.shape[0]")
    nan = np.nan
    for y in numba.prange(ny):
        vbuf = np.empty((nx, nt), np.float64)
        tbuf = np.empty((nx, nt), np.float64)
        count = np.empty(nx, np.int64)
        _gather_row_times(values, times, y, vbuf, tbuf, count)
        for x in range(nx):
            n = count[x]
            if n == 0 or n < min_count:
                out_slope[y, x] = nan
                continue
            xs = vbuf[x]
            ts = tbuf[x]
            # Times relative to the first observation: equal times give exactly
            # 0 spread (a mean of equal decimal years need not round back to them).
            t0 = ts[0]
            sx = 0.0
            st = 0.0
            for k in range(n):
                sx += xs[k]
                st += ts[k] - t0
            mx = sx / n
            mt = st / n
            sxy = 0.0
            stt = 0.0
            for k in range(n):
                dt = (ts[k] - t0) - mt
                sxy += dt * (xs[k] - mx)
                stt += dt * dt
            if stt == 0.0:
                out_slope[y, x] = nan
            else:
                out_slope[y, x] = sxy / stt


@numba.njit(cache=True, parallel=True)
def valid_count(values, out):
    """Number of non-NaN observations per pixel, in place.

    values: float (t, y, x); out: integer (y, x) (int32 or int64). Rows run in
    parallel.
    """
    nt, ny, nx = values.shape
    if out.shape[0] != ny or out.shape[1] != nx:
        raise ValueError("valid_count: out must have shape values.shape[1:]")
    for y in numba.prange(ny):
        n = np.zeros(nx, np.int64)
        for t in range(nt):
            for x in range(nx):
                if not np.isnan(values[t, y, x]):
                    n[x] += 1
        for x in range(nx):
            out[y, x] = n[x]
