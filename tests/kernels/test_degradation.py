"""SDG 15.3.1 kernels (kernels/degradation.py) against straightforward NumPy/Python references.

The references follow Trends.Earth's rules as written (te_algorithms gee/productivity.py,
gee/stats.py, gee/soc.py): the trajectory code in its order of overwriting rules, the
state classes with np.percentile(method='linear'), the SOC stock as a plain year loop.
"""

import functools
import itertools
import math

import numpy as np
import pytest

from kernels.degradation import (
    NODATA_I8,
    annual_means,
    critical_tables,
    lookup,
    mann_kendall_critical,
    productivity_state,
    productivity_trajectory,
    soc_stocks,
)

# Trends.Earth's get_kendall_coef lists (te_algorithms gee/stats.py), n = 4..60. Its 99 %
# list is not used here: it skips n = 7's value (15) and is shifted by one row from n = 7 on.
TE_K90 = [4, 6, 7, 9, 10, 12, 15, 17, 18, 22, 23, 27, 28, 32, 35, 37, 40, 42, 45, 49, 52, 56, 59, 61, 66, 68, 73, 75,
          80, 84, 87, 91, 94, 98, 103, 107, 110, 114, 119, 123, 128, 132, 135, 141, 144, 150, 153, 159, 162, 168, 173,
          177, 182, 186, 191, 197, 202]  # fmt: skip
TE_K95 = [4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 31, 33, 36, 40, 43, 47, 50, 54, 59, 63, 66, 70, 75, 79, 84, 88, 93, 97,
          102, 106, 111, 115, 120, 126, 131, 137, 142, 146, 151, 157, 162, 168, 173, 179, 186, 190, 197, 203, 208, 214,
          221, 227, 232, 240, 245, 251, 258]  # fmt: skip


def assert_close(got, want, rtol=1e-6, atol=0.0):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def pixels(shape):
    return itertools.product(range(shape[0]), range(shape[1]))


# --- Mann-Kendall critical values ----------------------------------------------------


@functools.cache
def all_permutations(n):
    """Every permutation of 0..n-1 (rows) and its Mann-Kendall S (concordant - discordant pairs)."""
    perms = np.array(list(itertools.permutations(range(n))), np.int8)
    s = np.zeros(len(perms), np.int64)
    for i in range(n - 1):
        for j in range(i + 1, n):
            s += np.sign(perms[:, j] - perms[:, i])
    return perms, s


def largest_s_with_tail_above(s_values, percent):
    """max s with P(S >= s) > percent / 100, in integers."""
    total = s_values.size
    return max(s for s in np.unique(s_values) if (s_values >= s).sum() * 100 > percent * total)


def mahonian(n):
    """Permutations of n elements by number of inversions: product of (1 + x + ... + x^(k-1)), k = 1..n."""
    poly = [1]
    for k in range(1, n + 1):
        poly = np.convolve(np.array(poly, dtype=object), np.ones(k, dtype=object)).tolist()
    return poly


@pytest.mark.parametrize("n", range(4, 10))
def test_critical_values_match_brute_force_over_permutations(n):
    s_values = all_permutations(n)[1]
    assert s_values.size == math.factorial(n)
    for alpha, percent in ((0.10, 10), (0.05, 5), (0.01, 1)):
        k = mann_kendall_critical(9, alpha)
        assert k[n] == largest_s_with_tail_above(s_values, percent), (n, alpha)


def test_critical_values_from_the_generating_function_up_to_60():
    """A second exact count (polynomial product) for every n the tables serve."""
    k90, k95, k99 = critical_tables(60)
    for n in range(4, 61):
        counts = mahonian(n)
        total = math.factorial(n)
        assert sum(counts) == total
        for k, percent in ((k90, 10), (k95, 5), (k99, 1)):
            tail, want = 0, None
            for inversions, c in enumerate(counts):
                tail += c
                if tail * 100 > percent * total:
                    want = n * (n - 1) // 2 - 2 * inversions
                    break
            assert k[n] == want, (n, percent)


def test_critical_values_shape_order_and_facts():
    k90, k95, k99 = critical_tables(60)
    assert k90.shape == k95.shape == k99.shape == (61,)
    assert (k90[:4] == -1).all() and (k95[:4] == -1).all() and (k99[:4] == -1).all()
    n = np.arange(10, 61)
    for k in (k90, k95, k99):
        assert (np.diff(k[10:]) >= 0).all()  # non-decreasing in n
        assert ((k[n] - n * (n - 1) // 2) % 2 == 0).all()  # S has the parity of n(n-1)/2
        assert (k[n] < n * (n - 1) // 2).all()
    assert (k99[4:] >= k95[4:]).all() and (k95[4:] >= k90[4:]).all()
    # Published values: Hollander & Wolfe's 0.05 column (n = 10, 20); Trends.Earth's lists (n = 4..6, all 90/95 %).
    assert (k95[10], k95[20]) == (19, 50)
    assert (k90[4], k95[4], k99[4]) == (4, 4, 6)
    assert (k90[5], k95[5], k99[5]) == (6, 6, 8)
    assert (k90[6], k95[6], k99[6]) == (7, 9, 11)
    assert k99[7] == 15  # Trends.Earth's 99 % list lacks this entry (its n = 7 slot holds 18)
    np.testing.assert_array_equal(k90[4:], TE_K90)
    np.testing.assert_array_equal(k95[4:], TE_K95)
    # Small tables and the cache return equal arrays.
    np.testing.assert_array_equal(mann_kendall_critical(3, 0.05), [-1, -1, -1, -1])
    np.testing.assert_array_equal(mann_kendall_critical(9, 0.05), k95[:10])


# --- annual means -----------------------------------------------------------------------


def means(dn, year_of_date, scale, offset, nodata, n_years):
    out = np.full((n_years,) + dn.shape[1:], 7.0, np.float32)  # garbage: every cell must be written
    annual_means(dn, np.asarray(year_of_date, np.int64), np.asarray(scale, np.float64),
                 np.asarray(offset, np.float64), nodata, out)  # fmt: skip
    return out


def reference_means(dn, year_of_date, scale, offset, nodata, n_years):
    out = np.empty((n_years,) + dn.shape[1:], np.float32)
    for y, x in pixels(dn.shape[1:]):
        for k in range(n_years):
            values = [float(dn[t, y, x]) * float(scale[t]) + float(offset[t])
                      for t in range(dn.shape[0]) if year_of_date[t] == k and dn[t, y, x] != nodata]  # fmt: skip
            total = 0.0
            for v in values:  # in date order, in float64
                total += v
            out[k, y, x] = total / len(values) if values else np.nan
    return out


def test_annual_means_match_reference():
    rng = np.random.default_rng(1)
    n_dates = 40
    year_of_date = np.sort(rng.integers(0, 5, n_dates))
    year_of_date[year_of_date == 3] = 2  # year 3 has no date at all
    scale = rng.choice([1e-4, 2e-4, 1e-3], n_dates)
    offset = rng.choice([0.0, -0.1, 0.05], n_dates)
    dn = rng.integers(-2000, 10000, (n_dates, 9, 11)).astype(np.int16)
    dn[rng.random(dn.shape) < 0.3] = -3000
    dn[year_of_date == 4, 0, 0] = -3000  # a year whose dates are all nodata
    got = means(dn, year_of_date, scale, offset, -3000, 5)
    want = reference_means(dn, year_of_date, scale, offset, -3000, 5)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[3]).all() and np.isnan(got[4, 0, 0])
    assert np.isfinite(got[:3]).all()
    # Accumulating in float32 would not give these bits everywhere: the test tells them apart.
    f32 = np.full_like(want, np.nan)
    for k in (0, 1, 2):
        sel = year_of_date == k
        v = dn[sel].astype(np.float32) * scale[sel, None, None].astype(np.float32) + offset[sel, None, None].astype(
            np.float32
        )
        ok = dn[sel] != -3000
        f32[k] = np.where(ok, v, 0).sum(0, dtype=np.float32) / ok.sum(0)
    assert (f32[:3] != want[:3]).any()


def test_annual_means_hand_made_and_float64_scale():
    dn = np.array([10000, -3000, 3, 5, 32767, 32767], np.int16)[:, None, None]
    year_of_date = [0, 0, 1, 1, 2, 2]
    scale = [1e-4, 1e-4, 1.0, 0.5, 1e-4, 1e-4]
    offset = [0.0, 0.0, 0.0, 1.0, 0.1, 0.2]
    got = means(dn, year_of_date, scale, offset, -3000, 4)[:, 0, 0]
    assert got[0] == np.float32(1.0)  # nodata skipped
    assert got[1] == np.float32((3.0 + 3.5) / 2)  # each date its own scale and offset
    assert got[2] == np.float32(((32767 * 1e-4 + 0.1) + (32767 * 1e-4 + 0.2)) / 2)
    assert np.isnan(got[3])


def test_annual_means_odd_shapes_and_bad_years():
    for shape in ((0, 2, 3), (3, 0, 2), (3, 2, 0), (1, 1, 1)):
        dn = np.ones(shape, np.int16)
        yod = np.zeros(shape[0], np.int64)
        got = means(dn, yod, np.ones(shape[0]), np.zeros(shape[0]), -3000, 2)
        assert got.shape == (2,) + shape[1:]
        np.testing.assert_array_equal(got, reference_means(dn, yod, np.ones(shape[0]), np.zeros(shape[0]), -3000, 2))
    dn = np.ones((2, 1, 1), np.int16)
    for bad in ([0, 2], [-1, 0]):
        with pytest.raises(ValueError):
            means(dn, bad, np.ones(2), np.zeros(2), -3000, 2)


# --- productivity trajectory -------------------------------------------------------------


def trajectory(annual, years, stable_slope, tables=None):
    k90, k95, k99 = tables if tables is not None else critical_tables(annual.shape[0])
    code = np.full(annual.shape[1:], 77, np.int8)  # garbage: every cell must be written
    slope = np.full(annual.shape[1:], 7.0, np.float32)
    productivity_trajectory(annual, np.asarray(years, np.float64), k90, k95, k99, stable_slope, code, slope)
    return code, slope


def ols(t, v):
    mt = sum(t) / len(t)
    mv = sum(v) / len(v)
    return sum((a - mt) * (b - mv) for a, b in zip(t, v, strict=True)) / sum((a - mt) ** 2 for a in t)


def reference_trajectory(series, years, tables, stable_slope):
    """Trends.Earth's rules in their order (each overwrites the previous), on the valid years."""
    k90, k95, k99 = tables
    keep = ~np.isnan(series)
    v = [float(a) for a in series[keep]]
    t = [float(a) - float(years[0]) for a in np.asarray(years, np.float64)[keep]]  # same line, fewer rounding bits
    n = len(v)
    if n < 4:
        return NODATA_I8, np.nan
    s = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            s += (v[j] > v[i]) - (v[j] < v[i])
    slope = ols(t, v)
    code = NODATA_I8
    for sign, ok in ((1, slope > 0), (-1, slope < 0)):
        if ok and abs(s) >= k90[n]:
            code = sign * 1
        if ok and abs(s) >= k95[n]:
            code = sign * 2
        if ok and abs(s) >= k99[n]:
            code = sign * 3
    if abs(s) <= k90[n]:
        code = 0
    if abs(slope) <= stable_slope:
        code = 0
    return code, slope


def assert_trajectory_matches(annual, years, stable_slope):
    tables = critical_tables(annual.shape[0])
    code, slope = trajectory(annual, years, stable_slope, tables)
    for y, x in pixels(annual.shape[1:]):
        want_code, want_slope = reference_trajectory(annual[:, y, x], years, tables, stable_slope)
        assert code[y, x] == want_code, (y, x)
        assert_close(slope[y, x], want_slope, atol=1e-12)
    return code, slope


def mk_s(v):
    return sum(int(np.sign(v[j] - v[i])) for i in range(len(v) - 1) for j in range(i + 1, len(v)))


def test_trajectory_random_with_gaps_ties_and_trends():
    rng = np.random.default_rng(2)
    n, ny, nx = 24, 17, 19
    years = np.arange(2001, 2001 + n)
    trend = rng.choice([-0.01, -0.004, -0.002, 0.0, 0.002, 0.004, 0.01], (ny, nx))
    annual = 0.4 + trend * (years - 2001)[:, None, None] + rng.normal(0, 0.03, (n, ny, nx))
    annual[:, :3] = np.round(annual[:, :3], 2)  # exact ties
    annual = annual.astype(np.float32)
    annual[rng.random(annual.shape) < 0.25] = np.nan
    annual[rng.random(annual.shape) < 0.8 * (np.arange(ny) == 5)[None, :, None]] = np.nan  # a sparse row
    annual[:, 0, 0] = np.nan  # all NaN
    annual[:, 0, 1] = np.nan
    annual[[2, 9, 20], 0, 1] = [0.1, 0.2, 0.3]  # 3 valid years
    annual[:, 0, 2] = np.nan
    annual[[0, 5, 11, 23], 0, 2] = [0.1, 0.2, 0.3, 0.4]  # 4 valid years, irregular steps
    code, slope = assert_trajectory_matches(annual, years, 0.001)
    assert set(np.unique(code)) == {NODATA_I8, -3, -2, -1, 0, 1, 2, 3}  # the test reaches every code
    assert code[0, 0] == code[0, 1] == NODATA_I8 and np.isnan(slope[0, :2]).all()
    assert code[0, 2] == 3  # S = 6 = k99[4]
    assert slope[0, 2] == np.float32(ols([0, 5, 11, 23], [float(a) for a in annual[[0, 5, 11, 23], 0, 2]]))
    # The slope is the least-squares slope over the valid years (NumPy's fit).
    for y, x in pixels((ny, nx)):
        keep = ~np.isnan(annual[:, y, x])
        if keep.sum() >= 4:
            fit = np.polyfit(years[keep], annual[keep, y, x].astype(np.float64), 1)[0]
            assert_close(slope[y, x], fit, rtol=1e-5, atol=1e-9)


def permutation_with_s(n, s):
    """A permutation of 0..n-1 with Mann-Kendall S = s and a rising least-squares line."""
    perms, s_values = all_permutations(n)
    rising = perms.astype(np.int64) @ (np.arange(n) * 2 - (n - 1)) > 0
    return perms[np.flatnonzero((s_values == s) & rising)[0]].astype(np.float32)


@pytest.mark.parametrize("n", range(4, 9))
def test_trajectory_s_at_each_critical_value(n):
    """Every achievable S >= 0: stable while S <= k90, then 1/2/3 from k90 (exclusive), k95, k99 (inclusive)."""
    k90, k95, k99 = critical_tables(n)
    years = np.arange(n, dtype=np.float64)
    s_max = n * (n - 1) // 2
    series, want = [], []
    for s in range(s_max % 2, s_max + 1, 2):
        p = permutation_with_s(n, s)
        for sign in (1, -1):
            series.append(sign * p)
            b = sign * ols(range(n), p)
            expect = 0 if s <= k90[n] else (3 if s >= k99[n] else (2 if s >= k95[n] else 1))
            want.append(int(np.sign(b)) * expect)
    annual = np.stack(series, axis=1)[:, None, :]
    code, _ = trajectory(annual, years, 0.0)
    np.testing.assert_array_equal(code[0], want)
    tables = (k90, k95, k99)
    assert [reference_trajectory(annual[:, 0, i], years, tables, 0.0)[0] for i in range(len(want))] == want
    # Named cases: |S| == k90 is stable; |S| == k95 > k90 is +-2; at n = 4, 5 k95 == k90 so S == k95 is stable.
    i = {s: 2 * idx for idx, s in enumerate(range(s_max % 2, s_max + 1, 2))}
    assert code[0, i[k90[n]]] == 0
    assert code[0, i[k95[n]]] == (0 if k95[n] == k90[n] else 2)
    assert code[0, i[k99[n]]] == 3 and code[0, i[k99[n]] + 1] == -3


def test_trajectory_slope_at_and_around_the_stable_threshold():
    # 10 NDVI x 10000 per year, exactly: S = 10 > k99[5] = 8.
    years = np.arange(2001, 2006)
    up = (10.0 * np.arange(5)).astype(np.float32)
    annual = np.stack([up, -up], axis=1)[:, None, :]
    for stable, want in ((10.0, 0), (np.nextafter(10.0, np.inf), 0), (np.nextafter(10.0, 0.0), 3), (0.0, 3)):
        code, slope = trajectory(annual, years, stable)
        np.testing.assert_array_equal(slope[0], [10.0, -10.0])
        np.testing.assert_array_equal(code[0], [want, -want])
        assert code[0, 0] == reference_trajectory(annual[:, 0, 0], years, critical_tables(5), stable)[0]
    # NDVI units, dyadic: slope 0.125 per year exactly; gaps do not move it (kept years 0, 2..5, 7: mean 3.5).
    ndvi = (0.25 + 0.125 * np.arange(8)).astype(np.float32)
    ndvi[[1, 6]] = np.nan
    annual = ndvi[:, None, None]
    assert trajectory(annual, np.arange(8), 0.125)[0][0, 0] == 0
    code, slope = trajectory(annual, np.arange(8), float(np.nextafter(0.125, 0.0)))
    assert (code[0, 0], slope[0, 0]) == (3, np.float32(0.125))


def test_trajectory_uses_the_years_given():
    years = np.array([2001, 2002, 2004, 2008, 2016], np.float64)
    v = np.array([0.1, 0.2, 0.15, 0.3, 0.5], np.float32)
    code, slope = trajectory(v[:, None, None], years, 0.001)
    assert_close(slope[0, 0], np.polyfit(years, v.astype(np.float64), 1)[0])
    assert code[0, 0] == reference_trajectory(v, years, critical_tables(5), 0.001)[0]


def test_trajectory_constant_and_tied_series():
    years = np.arange(10)
    annual = np.stack([np.full(10, 0.3), np.repeat([0.1, 0.2], 5), [0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.3, 0.3, 0.3, 0.3]],
                      axis=1).astype(np.float32)[:, None, :]  # fmt: skip
    code, slope = assert_trajectory_matches(annual, years, 0.0)
    assert code[0, 0] == 0 and abs(slope[0, 0]) < 1e-12  # S = 0, slope 0 (up to the mean's rounding)
    assert mk_s(annual[:, 0, 1]) == 25  # 25 rising pairs, 20 tied pairs count 0


@pytest.mark.parametrize("shape", [(0, 2, 3), (3, 2, 2), (4, 1, 1), (6, 0, 3), (6, 3, 0), (7, 1, 5), (30, 3, 1)])
def test_trajectory_odd_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    annual = (rng.normal(0.4, 0.1, shape) + 0.02 * np.arange(shape[0])[:, None, None]).astype(np.float32)
    annual[rng.random(shape) < 0.2] = np.nan
    code, slope = assert_trajectory_matches(annual, np.arange(2000, 2000 + shape[0]), 0.001)
    assert code.shape == slope.shape == shape[1:]
    if shape[0] < 4:
        assert (code == NODATA_I8).all() and np.isnan(slope).all()


def test_trajectory_tables_too_short_raise():
    annual = np.zeros((6, 1, 1), np.float32)
    with pytest.raises(ValueError):
        trajectory(annual, np.arange(6), 0.0, critical_tables(5))
    trajectory(annual, np.arange(6), 0.0, critical_tables(7))  # longer is fine


# --- productivity state ----------------------------------------------------------------------


def state(annual, n_baseline, extend=0.05, stable_change=0.01):
    code = np.full(annual.shape[1:], 77, np.int8)
    change = np.full(annual.shape[1:], 77, np.int8)
    productivity_state(annual, n_baseline, extend, stable_change, code, change)
    return code, change


def state1(series, n_baseline, extend, stable_change):
    """(code, change) of one series."""
    code, change = state(np.asarray(series, np.float32)[:, None, None], n_baseline, extend, stable_change)
    return int(code[0, 0]), int(change[0, 0])


def mean(values):
    total = 0.0
    for v in values:
        total += float(v)
    return total / len(values)


def decile_class(value, deciles):
    return 1 + sum(1 for d in deciles if d < value)  # a value equal to a decile is in the lower class


def reference_deciles(baseline, extend):
    lo, hi = float(np.min(baseline)), float(np.max(baseline))
    extended = np.concatenate([baseline.astype(np.float64), [lo - extend * (hi - lo), hi + extend * (hi - lo)]])
    return np.percentile(extended, np.arange(10, 100, 10), method="linear")


def reference_state(series, n_baseline, extend, stable_change):
    baseline = series[:n_baseline][~np.isnan(series[:n_baseline])]
    recent = series[n_baseline:][~np.isnan(series[n_baseline:])]
    if baseline.size == 0 or recent.size == 0:
        return NODATA_I8, NODATA_I8
    deciles = reference_deciles(baseline, extend)
    base_mean, recent_mean = mean(baseline), mean(recent)
    change = decile_class(recent_mean, deciles) - decile_class(base_mean, deciles)
    if abs(recent_mean - base_mean) <= stable_change:
        change = 0
    return (-1 if change <= -2 else (1 if change >= 2 else 0)), change


def assert_state_matches(annual, n_baseline, extend=0.05, stable_change=0.01):
    code, change = state(annual, n_baseline, extend, stable_change)
    for y, x in pixels(annual.shape[1:]):
        want = reference_state(annual[:, y, x], n_baseline, extend, stable_change)
        assert (code[y, x], change[y, x]) == want, (y, x)
    return code, change


def test_state_random_with_gaps():
    rng = np.random.default_rng(3)
    n, ny, nx = 15, 19, 23  # Trends.Earth's 2001-2015: baseline 2001-2012, recent 2013-2015
    annual = rng.normal(0.4, 0.05, (n, ny, nx)) + rng.normal(0, 0.05, (1, ny, nx)) * (np.arange(n) >= 12)[:, None, None]
    annual[:, :4] = np.round(annual[:, :4], 2)  # ties
    annual = annual.astype(np.float32)
    annual[rng.random(annual.shape) < 0.2] = np.nan
    annual[:12, 0, 0] = np.nan  # no baseline
    annual[12:, 0, 1] = np.nan  # no recent year
    annual[:, 0, 2] = np.nan
    annual[:11, 0, 3] = np.nan  # one baseline year
    code, change = assert_state_matches(annual, 12)
    assert (code[0, :3] == NODATA_I8).all() and (change[0, :3] == NODATA_I8).all()
    assert set(np.unique(code)) == {NODATA_I8, -1, 0, 1}
    assert change[change != NODATA_I8].min() <= -3 and change.max() >= 3
    assert_state_matches(annual, 12, extend=0.0, stable_change=0.0)
    assert_state_matches(annual, 1)
    assert_state_matches(annual, 14)


def test_state_mean_equal_to_a_decile_is_in_the_lower_class():
    # Baseline 0..8, extended by -0.4 and 8.4: 11 values, so p10, p20, p40, p50, p80, p90 sit on
    # sorted values exactly (0, 1, 3, 4, 7, 8); the baseline mean 4 equals p50.
    baseline = np.arange(9.0)
    deciles = reference_deciles(baseline, 0.05)
    assert [deciles[i] for i in (0, 1, 3, 4, 7, 8)] == [0.0, 1.0, 3.0, 4.0, 7.0, 8.0]
    assert mean(baseline) == 4.0 and decile_class(4.0, deciles) == 5
    recent_values = [7.0, np.nextafter(np.float32(7.0), np.float32(8.0)), 8.0, 8.5, 1.0, 0.0]
    columns = [np.concatenate([baseline, [r, r]]).astype(np.float32) for r in recent_values]
    annual = np.stack(columns, axis=1)[:, None, :]
    code, change = state(annual, 9, 0.05, 0.0)
    # classes: = p80 -> 8, just above p80 -> 9, = p90 -> 9, above p90 -> 10, = p20 -> 2, = p10 -> 1
    np.testing.assert_array_equal(change[0], [8 - 5, 9 - 5, 9 - 5, 10 - 5, 2 - 5, 1 - 5])
    np.testing.assert_array_equal(code[0], [1, 1, 1, 1, -1, -1])
    assert_state_matches(annual, 9, 0.05, 0.0)


def test_state_baseline_extension_by_five_percent_of_the_range():
    # Baseline 0, 1 -> extended -0.05, 0, 1, 1.05: p80 = 1.02, p90 = 1.035 (without extension p90 = 1).
    deciles = reference_deciles(np.array([0.0, 1.0]), 0.05)
    assert_close(deciles[[0, 4, 7, 8]], [-0.035, 0.5, 1.02, 1.035], rtol=1e-12)
    # baseline mean 0.5 = p50: class 5; recent 1.03 -> class 9, 1.04 -> class 10
    assert state1([0.0, 1.0, 1.03], 2, 0.05, 0.0) == (1, 4)
    assert state1([0.0, 1.0, 1.04], 2, 0.05, 0.0) == (1, 5)
    assert reference_state(np.float32([0.0, 1.0, 1.03]), 2, 0.05, 0.0) == (1, 4)
    assert reference_state(np.float32([0.0, 1.0, 1.04]), 2, 0.05, 0.0) == (1, 5)
    # Without the extension both are above p90 = 1 (and the baseline mean 0.5 is class 5 too).
    assert state1([0.0, 1.0, 1.03], 2, 0.0, 0.0) == state1([0.0, 1.0, 1.04], 2, 0.0, 0.0) == (1, 5)
    # A wider extension moves the deciles out: 10 % puts p80 at 1.04 > float32(1.04) (class 8), p90 at 1.07.
    assert state1([0.0, 1.0, 1.04], 2, 0.1, 0.0) == reference_state(np.float32([0.0, 1.0, 1.04]), 2, 0.1, 0.0)
    assert state1([0.0, 1.0, 1.04], 2, 0.1, 0.0) == (1, 3)


def test_state_stable_change_is_inclusive():
    # Baseline 0, .25, .5, .75, 1 (mean .5, class 5: p50 = .5 exactly); recent mean .75 (class 7).
    series = [0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.75, 0.75]
    assert state1(series, 5, 0.05, 0.25) == (0, 0)  # |.75 - .5| <= .25
    assert state1(series, 5, 0.05, float(np.nextafter(0.25, 0.0))) == (1, 2)
    assert state1(series, 5, 0.05, 0.0) == (1, 2)
    assert reference_state(np.float32(series), 5, 0.05, 0.25) == (0, 0)
    assert reference_state(np.float32(series), 5, 0.05, 0.0) == (1, 2)
    down = series[:5] + [0.25] * 3  # class 4 (p10..p30 below): change -1, stable
    assert state1(down, 5, 0.05, 0.0) == (0, -1)
    down = series[:5] + [0.125] * 3  # class 3 (p10, p20 below): change -2, degraded
    assert state1(down, 5, 0.05, 0.0) == (-1, -2)
    assert state1(down, 5, 0.05, 0.375) == (0, 0)


@pytest.mark.parametrize("shape", [(2, 1, 1), (3, 0, 4), (3, 4, 0), (5, 1, 7), (16, 3, 1)])
def test_state_odd_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    annual = rng.normal(0.4, 0.1, shape).astype(np.float32)
    annual[rng.random(shape) < 0.3] = np.nan
    code, change = assert_state_matches(annual, max(1, shape[0] - 3))
    assert code.shape == change.shape == shape[1:]


def test_state_bad_split_raises():
    annual = np.zeros((4, 1, 1), np.float32)
    for n_baseline in (0, 4, 5):
        with pytest.raises(ValueError):
            state(annual, n_baseline)


# --- soil organic carbon ---------------------------------------------------------------------

# Trends.Earth's land-use factors, rows from, columns to (1 Tree .. 7 Water); 'Fl' the cropland factor.
TE_SOC_FACTORS = [
    [1, 1, "Fl", 1, 0.1, 0.1, 1],
    [1, 1, "Fl", 1, 0.1, 0.1, 1],
    ["1/Fl", "1/Fl", 1, 1 / 0.71, 0.1, 0.1, 1],
    [1, 1, 0.71, 1, 0.1, 0.1, 1],
    [2, 2, 2, 2, 1, 1, 1],
    [2, 2, 2, 2, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1],
]


def soc_tables():
    factors = np.ones((8, 8), np.float64)
    kinds = np.zeros((8, 8), np.int8)
    for i, row in enumerate(TE_SOC_FACTORS):
        for j, f in enumerate(row):
            if f == "Fl":
                kinds[i + 1, j + 1] = 1
            elif f == "1/Fl":
                kinds[i + 1, j + 1] = -1
            else:
                factors[i + 1, j + 1] = f
    factors[1:, 1:][kinds[1:, 1:] != 0] = 99.0  # unused where the kind says so
    return factors, kinds


def stocks(classes, reference, cropland, at, horizon=20):
    factors, kinds = soc_tables()
    at = np.asarray(at, np.int64)
    out = np.full((at.size,) + classes.shape[1:], 7.0, np.float32)
    soc_stocks(classes, reference, cropland, factors, kinds, horizon, at, out)
    return out


def te_factor(a, b, fl):
    f = TE_SOC_FACTORS[a - 1][b - 1]
    return fl if f == "Fl" else (1.0 / fl if f == "1/Fl" else f)


def reference_stocks(classes, ref, fl, at, horizon):
    """The stock year by year: at a class change from year t-1 to t the stock moves by
    stock(t-1) x (1 - factor) / horizon a year for horizon years, from the stock then."""
    last = max(at) if len(at) else 0
    ref, fl = float(ref), float(fl)
    if math.isnan(ref) or math.isnan(fl) or any(c == 0 for c in classes[: last + 1]):
        return [np.nan] * len(at)
    stock, rate, years_left = ref, 0.0, 0
    by_year = [stock]
    for t in range(1, last + 1):
        if classes[t] != classes[t - 1]:
            rate = stock * (1.0 - te_factor(int(classes[t - 1]), int(classes[t]), fl)) / horizon
            years_left = horizon
        if years_left:
            stock -= rate
            years_left -= 1
        by_year.append(stock)
    return [by_year[i] for i in at]


def assert_stocks_match(classes, reference, cropland, at, horizon=20):
    got = stocks(classes, reference, cropland, at, horizon)
    for y, x in pixels(classes.shape[1:]):
        want = reference_stocks(classes[:, y, x], reference[y, x], cropland[y, x], at, horizon)
        assert_close(got[:, y, x], want, rtol=2e-7, atol=1e-12)
    return got


def test_soc_random_histories():
    rng = np.random.default_rng(4)
    n, ny, nx = 25, 13, 17
    # Few changes: each year keeps the class of the year before with probability 0.9.
    classes = np.empty((n, ny, nx), np.uint8)
    classes[0] = rng.integers(1, 8, (ny, nx))
    for t in range(1, n):
        change = rng.random((ny, nx)) < 0.1
        classes[t] = np.where(change, rng.integers(1, 8, (ny, nx)), classes[t - 1])
    classes[10, 0, :3] = 0  # missing class inside the period
    classes[24, 1, :3] = 0  # missing only after at[-1]: no effect
    reference = rng.uniform(20, 80, (ny, nx)).astype(np.float32)
    reference[2, 0] = np.nan
    cropland = rng.choice(np.float32([0.48, 0.58, 0.64, 0.69, 0.8]), (ny, nx))
    cropland[2, 1] = np.nan
    for at, horizon in (([0, 15, 23], 20), ([23, 0, 5], 20), ([24], 20), ([0, 12], 3), ([7], 1)):
        got = assert_stocks_match(classes, reference, cropland, at, horizon)
        assert np.isnan(got[:, 2, :2]).all()
        if max(at) >= 10:
            assert np.isnan(got[:, 0, :3]).all()
    got = stocks(classes, reference, cropland, [0, 23])
    assert np.isfinite(got[:, 1, :3]).all()  # the missing class at year 24 is after at[-1]
    # 'at' 0 is the reference stock, NaN where the reference, the factor or a class up to year 23 is missing.
    assert (got[0] == reference).sum() == ny * nx - 5


def test_soc_one_transition_and_the_horizon_cap():
    # Tree -> Artificial (0.1) from year 1 to 2: -50 x 0.9 / 20 a year over years 2..21, then 5.
    classes = np.array([1, 1] + [5] * 28, np.uint8)[:, None, None]
    at = np.arange(30)
    got = stocks(classes, np.float32([[50]]), np.float32([[0.8]]), at)[:, 0, 0]
    want = [50.0 - 2.25 * min(max(t - 1, 0), 20) for t in at]
    assert_close(got, want)
    assert got[21] == got[29] == np.float32(5.0)


def test_soc_two_transitions_restart_from_the_current_stock():
    # Tree -> Crop (Fl 0.8) at year 1, Crop -> Artificial (0.1) at year 6.
    classes = np.array([1] + [3] * 5 + [5] * 30, np.uint8)[:, None, None]
    at = np.arange(36)
    got = stocks(classes, np.float32([[100]]), np.float32([[0.8]]), at)[:, 0, 0]
    first = [100.0 - 1.0 * t for t in range(6)]  # 100 x 0.2 / 20 = 1 a year
    at_5 = first[-1]  # 95
    second = [at_5 - at_5 * 0.9 / 20 * min(t - 5, 20) for t in range(6, 36)]
    assert_close(got, first + second)
    assert_close(got[25], 9.5)


def test_soc_cropland_factor_kinds():
    # Grass -> Crop uses Fl (kind 1), Crop -> Tree 1/Fl (kind -1): a stock that rises back.
    classes = np.array([2, 3, 3, 3, 1, 1, 1], np.uint8)[:, None, None]
    classes = np.repeat(classes, 3, axis=2)
    cropland = np.float32([[0.48, 0.69, 0.8]])
    reference = np.float32([[40, 40, 40]])
    got = assert_stocks_match(classes, reference, cropland, np.arange(7), horizon=4)
    for x, fl in enumerate(cropland[0].astype(np.float64)):
        down = 40 * (1 - fl) / 4
        s3 = 40 - 3 * down
        up = s3 * (1 - 1 / fl) / 4  # negative: the stock grows
        assert_close(got[:, 0, x], [40, 40 - down, 40 - 2 * down, s3, s3 - up, s3 - 2 * up, s3 - 3 * up])
    # Wetland -> Crop is a fixed 0.71 (kind 0), whatever Fl is.
    classes = np.array([4, 3, 3], np.uint8)[:, None, None]
    got = stocks(classes, np.float32([[10]]), np.float32([[0.5]]), [2], horizon=2)
    assert_close(got[0, 0, 0], 10 * 0.71)


def test_soc_missing_inputs_and_bad_at():
    classes = np.array([[1, 1], [1, 0], [0, 2]], np.uint8)[:, None, :]  # (3, 1, 2)
    reference = np.float32([[30, 30]])
    cropland = np.float32([[0.8, 0.8]])
    got = stocks(classes, reference, cropland, [0, 1])
    assert got[0, 0, 0] == 30 and got[1, 0, 0] == 30
    assert np.isnan(got[:, 0, 1]).all()  # class 0 at year 1
    got = stocks(classes, reference, cropland, [0])  # only year 0 asked: nothing missing
    np.testing.assert_array_equal(got[0], reference)
    assert stocks(classes, reference, cropland, []).shape == (0, 1, 2)
    for shape in ((3, 0, 2), (3, 2, 0)):
        assert stocks(np.ones(shape, np.uint8), np.ones(shape[1:], np.float32), np.ones(shape[1:], np.float32),
                      [1]).shape == (1,) + shape[1:]  # fmt: skip
    for bad in ([3], [-1], [0, 3]):
        with pytest.raises(ValueError):
            stocks(classes, reference, cropland, bad)


# --- lookups ---------------------------------------------------------------------------------


def te_prod5(traj, st, perf):
    """Trends.Earth's calc_prod5 in its order of assignment (traj, state -1/0/1; perf -1/0)."""
    out = {-1: 1, 0: 4, 1: 5}[traj]
    if (traj, st, perf) == (0, 0, -1):
        out = 3
    if (traj, st, perf) in ((1, -1, -1), (0, -1, 0)):
        out = 2
    if (traj, st, perf) == (0, -1, -1):
        out = 1
    return out


def reference_lookup(table_fn, origins_shape, codes, nodata):
    origins, shape = origins_shape
    out = np.empty(codes[0].shape, np.int64)
    for idx in np.ndindex(codes[0].shape):
        key = tuple(int(c[idx]) for c in codes)
        inside = all(o <= k < o + s for k, o, s in zip(key, origins, shape, strict=True))
        out[idx] = table_fn(*key) if inside else nodata
    return out


def test_lookup_lpd_with_negative_origins():
    table = np.empty((3, 3, 2), np.int8)
    for t, s, p in itertools.product((-1, 0, 1), (-1, 0, 1), (-1, 0)):
        table[t + 1, s + 1, p + 1] = te_prod5(t, s, p)
    rng = np.random.default_rng(5)
    codes = [rng.choice(np.int8([-128, -2, -1, 0, 1, 2]), (11, 13)) for _ in range(3)]
    got = lookup(table, (-1, -1, -1), *codes, nodata=-128)
    assert got.dtype == np.int8 and got.shape == (11, 13)
    np.testing.assert_array_equal(got, reference_lookup(te_prod5, ((-1, -1, -1), (3, 3, 2)), codes, -128))
    # perf = 1 is outside its axis (-1/0): nodata, whatever the others are.
    assert (got[codes[2] == 1] == -128).all()
    assert lookup(table, (-1, -1, -1), np.int8([0]), np.int8([-1]), np.int8([-1]), nodata=-128)[0] == 1


def test_lookup_transition_matrix_and_one_axis():
    matrix = np.array([[0, -1, -1, -1, -1, -1, 0], [1, 0, 1, -1, -1, -1, 0], [1, -1, 0, -1, -1, -1, 0],
                       [-1, -1, -1, 0, -1, -1, 0], [1, 1, 1, 1, 0, 1, 0], [1, 1, 1, 1, -1, 0, 0],
                       [0] * 7], np.int8)  # fmt: skip
    initial = np.arange(9, dtype=np.uint8).repeat(9).reshape(9, 9)  # 0 and 8 are outside 1..7
    final = initial.T.copy()
    got = lookup(matrix, (1, 1), initial, final, nodata=-128)
    want = reference_lookup(lambda a, b: matrix[a - 1, b - 1], ((1, 1), (7, 7)), [initial, final], -128)
    np.testing.assert_array_equal(got, want)
    assert (got[0] == -128).all() and (got[:, 8] == -128).all() and (got[1:8, 1:8] == matrix).all()
    # One axis, int16 codes with Trends.Earth's nodata: recode_traj as a table on -3..3.
    recode = np.int8([-1, -1, 0, 0, 0, 1, 1])
    codes = np.int16([[-32768, -4, -3, -2, -1], [0, 1, 2, 3, 4]])
    got = lookup(recode, (-3,), codes, nodata=-128)
    np.testing.assert_array_equal(got, [[-128, -128, -1, -1, 0], [0, 0, 1, 1, -128]])
    assert lookup(recode, (-3,), np.zeros((0, 3), np.int8), nodata=-128).shape == (0, 3)


# --- shared ------------------------------------------------------------------------------------


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(6)
    annual = (rng.normal(0.4, 0.05, (16, 37, 11)) + 0.003 * np.arange(16)[:, None, None]).astype(np.float32)
    annual[rng.random(annual.shape) < 0.2] = np.nan
    dn = rng.integers(-3000, 10000, (20, 37, 11)).astype(np.int16)
    classes = rng.integers(1, 8, (16, 37, 11)).astype(np.uint8)
    ref = rng.uniform(20, 80, (37, 11)).astype(np.float32)
    fl = np.full((37, 11), 0.69, np.float32)

    def run():
        return b"".join(
            a.tobytes()
            for a in (
                *trajectory(annual, np.arange(16), 0.001),
                *state(annual, 13),
                means(dn, np.arange(20) // 4, np.full(20, 1e-4), np.zeros(20), -3000, 5),
                stocks(classes, ref, fl, [0, 9, 15]),
            )
        )

    assert with_threads(1, run) == with_threads(2, run)


@pytest.mark.parametrize("shape", [(23, 7, 5), (1, 1, 1), (4, 3, 64)])
def test_valid_mean_against_nanmean(shape):
    from kernels.degradation import valid_mean

    rng = np.random.default_rng(5)
    values = rng.random(shape).astype(np.float32)
    values[rng.random(shape) < 0.3] = np.nan
    values[:, 0, 0] = np.nan  # an all-NaN pixel
    out = np.full(shape[1:], 7.0, np.float32)
    valid_mean(values, out)
    count = (~np.isnan(values)).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(count > 0, np.nansum(values, axis=0, dtype=np.float64) / count, np.nan).astype(np.float32)
    np.testing.assert_array_equal(out, ref)
