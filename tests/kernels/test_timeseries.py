"""Trend kernels against pyMannKendall, SciPy and NumPy references."""

import warnings

import numpy as np
import pymannkendall
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernels
from kernels import mann_kendall, ols_slope, theil_sen, valid_count, water_frequency

MK_FIELDS = ("s", "var_s", "z", "p", "tau")


def mk(values, min_count=0):
    outs = [np.full(values.shape[1:], 7.0) for _ in MK_FIELDS]  # garbage: every cell must be written
    mann_kendall(values, *outs, min_count)
    return dict(zip(MK_FIELDS, outs))


def ts(values, times, min_count=0):
    slope = np.full(values.shape[1:], 7.0)
    intercept = np.full(values.shape[1:], 7.0)
    theil_sen(values, np.asarray(times, np.float64), slope, intercept, min_count)
    return slope, intercept


def ols(values, times, min_count=0):
    slope = np.full(values.shape[1:], 7.0)
    ols_slope(values, np.asarray(times, np.float64), slope, min_count)
    return slope


def pixels(values):
    """(y, x, series) for every pixel."""
    for y in range(values.shape[1]):
        for x in range(values.shape[2]):
            yield y, x, values[:, y, x]


def reference_mk(series):
    """pyMannKendall's S, Var(S), Z, p (it drops NaN itself) and SciPy's tau-b against time."""
    kept = series[~np.isnan(series)].astype(np.float64)
    if kept.size == 1:
        # pyMannKendall divides by n(n-1)/2 in Python and raises here; no pairs:
        # S = Var(S) = Z = 0 and p = 1 by its formulas, tau undefined.
        return {"s": 0.0, "var_s": 0.0, "z": 0.0, "p": 1.0, "tau": np.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its Sen slope on short or NaN series warns
        r = pymannkendall.original_test(series.astype(np.float64))
        tau = scipy.stats.kendalltau(np.arange(kept.size), kept).statistic if kept.size else np.nan
    return {"s": r.s, "var_s": r.var_s, "z": r.z, "p": r.p, "tau": tau}


def reference_theil_sen(series, times):
    keep = ~np.isnan(series)
    y, t = series[keep].astype(np.float64), times[keep]
    if np.unique(t).size < 2:
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its confidence interval on tiny or tied series
        r = scipy.stats.theilslopes(y, t)  # default method='separate'
    return r.slope, r.intercept


def assert_close(got, want, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def assert_mk_matches(values, min_count=0):
    got = mk(values, min_count)
    for y, x, series in pixels(values):
        n = int((~np.isnan(series)).sum())
        if n == 0 or n < min_count:
            assert all(np.isnan(got[f][y, x]) for f in MK_FIELDS)
            continue
        want = reference_mk(series)
        for f in MK_FIELDS:
            assert_close(got[f][y, x], want[f])


def assert_theil_sen_matches(values, times, min_count=0):
    slope, intercept = ts(values, times, min_count)
    for y, x, series in pixels(values):
        n = int((~np.isnan(series)).sum())
        want = (np.nan, np.nan) if n < max(min_count, 1) else reference_theil_sen(series, times)
        assert_close(slope[y, x], want[0])
        assert_close(intercept[y, x], want[1])


def irregular_times(rng, nt):
    """Decimal years with uneven steps, as acquisitions are."""
    return 2016.0 + np.cumsum(rng.uniform(0.01, 0.3, nt))


def gappy_cube(rng, shape, nan_fraction=0.3, decimals=None, dtype=np.float32):
    values = rng.normal(0.4, 0.2, shape)
    if decimals is not None:
        values = np.round(values, decimals)  # ties
    values = values.astype(dtype)
    values[rng.random(shape) < nan_fraction] = np.nan
    return values


# --- Mann-Kendall -----------------------------------------------------------


def test_pymannkendall_drops_nan_itself():
    """The reference is only valid on NaN gaps if pyMannKendall skips them."""
    series = np.array([0.1, np.nan, 0.3, 0.2, np.nan, 0.5, 0.5, 0.4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gappy = pymannkendall.original_test(series)
        dense = pymannkendall.original_test(series[~np.isnan(series)])
    assert (gappy.s, gappy.var_s, gappy.z, gappy.p) == (dense.s, dense.var_s, dense.z, dense.p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mk_without_gaps_matches_pymannkendall(dtype):
    rng = np.random.default_rng(1)
    values = gappy_cube(rng, (30, 4, 5), nan_fraction=0.0, dtype=dtype)
    values += np.linspace(0, 0.3, 30, dtype=dtype)[:, None, None]  # some real trends
    assert_mk_matches(values)


def test_mk_with_gaps_and_ties_matches_references():
    rng = np.random.default_rng(2)
    values = gappy_cube(rng, (24, 5, 6), decimals=1)
    assert_mk_matches(values)
    assert_mk_matches(values, min_count=16)


def test_mk_hand_computed():
    # x = 1, 3, 2, 2: pairs (1,3)+ (1,2)+ (1,2)+ (3,2)- (3,2)- (2,2)0 -> S = 1.
    # One tie group of 2: Var = (4*3*13 - 2*1*9) / 18 = 138 / 18.
    # Z = 0 / sqrt(Var) = 0, p = 1; tau-b = 1 / sqrt(6) / sqrt(5).
    values = np.array([1, 3, 2, 2], np.float32)[:, None, None]
    got = mk(values)
    assert got["s"][0, 0] == 1.0
    assert got["var_s"][0, 0] == 138 / 18
    assert got["z"][0, 0] == 0.0 and got["p"][0, 0] == 1.0
    assert_close(got["tau"][0, 0], 1 / np.sqrt(6) / np.sqrt(5))


def test_mk_constant_series():
    got = mk(np.full((9, 1, 1), 0.25, np.float32))
    assert got["s"][0, 0] == 0.0
    assert got["var_s"][0, 0] == 0.0  # every pair tied: the tie correction cancels all
    assert got["z"][0, 0] == 0.0 and got["p"][0, 0] == 1.0
    assert np.isnan(got["tau"][0, 0])  # 0/0, as scipy.stats.kendalltau
    assert np.isnan(scipy.stats.kendalltau(np.arange(9), np.full(9, 0.25)).statistic)


def test_mk_monotonic_series_is_significant():
    values = np.arange(20, dtype=np.float32)[:, None, None]
    got = mk(values)
    assert got["s"][0, 0] == 190 and got["tau"][0, 0] == 1.0
    assert got["z"][0, 0] > 5 and got["p"][0, 0] < 1e-6
    got = mk(values[::-1].copy())
    assert got["s"][0, 0] == -190 and got["tau"][0, 0] == -1.0


def test_mk_min_count_all_nan_and_short_series():
    values = np.full((5, 1, 4), np.nan, np.float32)
    values[:, 0, 1] = [1, 2, np.nan, 4, 5]  # n = 4
    values[2, 0, 2] = 3.0  # n = 1
    values[:, 0, 3] = [5, 4, 3, 2, 1]  # n = 5
    got = mk(values, min_count=5)
    for f in MK_FIELDS:
        assert np.isnan(got[f][0, :3]).all() and np.isfinite(got[f][0, 3])
    got = mk(values, min_count=0)
    assert all(np.isnan(got[f][0, 0]) for f in MK_FIELDS)  # no observation at all
    # One observation: no pairs, S = Var = Z = 0, p = 1 (as pyMannKendall), tau undefined.
    assert [got[f][0, 2] for f in ("s", "var_s", "z", "p")] == [0.0, 0.0, 0.0, 1.0]
    assert np.isnan(got["tau"][0, 2])
    assert got["s"][0, 1] == 6.0


@pytest.mark.parametrize(
    "shape", [(0, 2, 3), (1, 1, 1), (1, 3, 2), (7, 1, 1), (5, 0, 4), (5, 4, 0), (40, 3, 2)]
)
def test_mk_odd_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    values = gappy_cube(rng, shape, decimals=1)
    got = mk(values)
    assert all(got[f].shape == shape[1:] for f in MK_FIELDS)
    assert_mk_matches(values)


def test_mk_large_cube_no_tie_p_table_matches_references_and_erfc_bits():
    """Big enough for the tie-free p-value table: same results as pyMannKendall and as erfc."""
    rng = np.random.default_rng(11)
    values = gappy_cube(rng, (8, 40, 40))
    values[:, :5] = np.round(values[:, :5], 1)  # some ties: erfc path in the same call
    assert_mk_matches(values)
    big = mk(values)
    for y, x in [(0, 0), (3, 7), (10, 2), (20, 39), (39, 11)]:
        alone = mk(values[:, y : y + 1, x : x + 1].copy())  # too small for the table: erfc
        for f in MK_FIELDS:
            assert big[f][y, x].tobytes() == alone[f][0, 0].tobytes()


finite_or_nan = st.one_of(
    st.just(np.nan), st.sampled_from([0.0, 0.5, 1.0, -1.0]), st.floats(-1e3, 1e3, width=32)
)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=4).map(lambda s: (s[0] * 4,) + s[1:]),
        elements=finite_or_nan,
    ),
    st.integers(0, 6),
)
def test_property_mk_matches_references(values, min_count):
    assert_mk_matches(values, min_count)


# --- Theil-Sen ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_theil_sen_matches_scipy_with_gaps_and_irregular_times(dtype):
    rng = np.random.default_rng(3)
    times = irregular_times(rng, 23)
    values = gappy_cube(rng, (23, 5, 6), dtype=dtype)
    values += (0.02 * (times - times[0])).astype(dtype)[:, None, None]
    assert_theil_sen_matches(values, times)
    assert_theil_sen_matches(values, times, min_count=17)


def test_theil_sen_intercept_is_scipy_default_separate():
    """scipy's default intercept is median(y) - slope * median(t), not median(y - slope * t)."""
    values = np.array([0.0, 1.0, 7.0, 2.0, 2.5], np.float64)
    times = np.array([0.0, 1.0, 2.0, 3.5, 4.0])
    slope, intercept = ts(values[:, None, None], times)
    want = scipy.stats.theilslopes(values, times)
    joint = scipy.stats.theilslopes(values, times, method="joint")
    assert want.intercept != joint.intercept
    assert (slope[0, 0], intercept[0, 0]) == (want.slope, want.intercept)
    assert intercept[0, 0] == np.median(values) - want.slope * np.median(times)


def test_theil_sen_gap_keeps_its_time_step():
    # A line of slope 2 per year with the middle year missing: the slope stays 2.
    times = np.array([2000.0, 2001.0, 2002.0, 2003.0, 2004.0])
    values = (2 * (times - 2000) + 1)[:, None, None].copy()
    values[2] = np.nan
    slope, intercept = ts(values, times)
    assert slope[0, 0] == 2.0
    assert_close(intercept[0, 0] + 2.0 * 2002.0, 5.0)


def test_theil_sen_ties_in_values_and_times():
    rng = np.random.default_rng(4)
    times = np.repeat(np.arange(8.0), 3)  # several acquisitions per date
    rng.shuffle(times)  # and not sorted
    values = gappy_cube(rng, (24, 4, 5), decimals=1)
    assert_theil_sen_matches(values, times)


def test_theil_sen_even_and_odd_pair_counts_and_long_series():
    rng = np.random.default_rng(5)
    for nt in (2, 3, 4, 5, 40):  # 1, 3, 6, 10 and 780 pairs (sort paths differ)
        times = irregular_times(rng, nt)
        assert_theil_sen_matches(gappy_cube(rng, (nt, 3, 3), nan_fraction=0.1), times)


def test_theil_sen_constant_min_count_and_degenerate():
    values = np.full((4, 1, 5), np.nan, np.float32)
    values[:, 0, 0] = 0.5  # constant -> slope 0, intercept 0.5
    values[:2, 0, 1] = [1.0, 2.0]  # n = 2
    values[1, 0, 2] = 1.0  # n = 1: no pair
    values[:, 0, 4] = [1, 2, 3, 4]
    times = np.array([0.0, 1.0, 2.0, 3.0])
    slope, intercept = ts(values, times, min_count=0)
    assert (slope[0, 0], intercept[0, 0]) == (0.0, 0.5)
    assert (slope[0, 1], intercept[0, 1]) == (1.0, 1.0)
    assert np.isnan(slope[0, 2:4]).all() and np.isnan(intercept[0, 2:4]).all()
    assert (slope[0, 4], intercept[0, 4]) == (1.0, 1.0)
    slope, intercept = ts(values, times, min_count=3)
    assert np.isnan(slope[0, 1]) and np.isnan(intercept[0, 1]) and slope[0, 0] == 0.0
    # All observations at one time: no slope.
    slope, _ = ts(np.ones((3, 1, 1), np.float32), np.array([5.0, 5.0, 5.0]))
    assert np.isnan(slope[0, 0])


@pytest.mark.parametrize(
    "shape", [(0, 2, 3), (1, 1, 1), (1, 2, 3), (6, 1, 1), (6, 0, 3), (6, 3, 0), (9, 2, 7)]
)
def test_theil_sen_and_ols_odd_shapes(shape):
    rng = np.random.default_rng(sum(shape) + 10)
    times = irregular_times(rng, shape[0])
    values = gappy_cube(rng, shape)
    assert_theil_sen_matches(values, times)
    slope = ols(values, times)
    assert slope.shape == shape[1:]
    if shape[0] <= 1:
        assert np.isnan(slope).all()


@pytest.mark.parametrize("decimals", [None, 0, 1])
def test_select_median_equals_sorted_median(decimals):
    """The quickselect median is the full-sort median, for every length and with heavy ties."""
    from kernels.composites import _sorted_median
    from kernels.timeseries import _select_median

    rng = np.random.default_rng(12)
    for m in list(range(1, 70)) + [90, 91, 190, 780]:
        for _ in range(5):
            data = rng.normal(size=m)
            if decimals is not None:
                data = np.round(data, decimals)
            want = _sorted_median(np.sort(data), m)
            assert _select_median(data.copy(), np.empty(m), m) == want == np.median(data)


@st.composite
def gappy_series_with_times(draw):
    shape = draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=4))
    nt = shape[0] * 3
    values = draw(hnp.arrays(np.float32, (nt,) + shape[1:], elements=finite_or_nan))
    steps = draw(hnp.arrays(np.float64, nt, elements=st.sampled_from([0.0, 0.02, 0.1, 0.25, 1.0])))
    return values, 2018.0 + np.cumsum(steps)


@settings(max_examples=60, deadline=None)
@given(gappy_series_with_times(), st.integers(0, 5))
def test_property_theil_sen_matches_scipy(data, min_count):
    values, times = data
    assert_theil_sen_matches(values, times, min_count)


# --- OLS ------------------------------------------------------------------------


def reference_ols(series, times):
    keep = ~np.isnan(series)
    if keep.sum() < 2 or np.unique(times[keep]).size < 2:
        return np.nan
    return np.polyfit(times[keep], series[keep].astype(np.float64), 1)[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ols_matches_polyfit_on_decimal_years(dtype):
    rng = np.random.default_rng(6)
    times = irregular_times(rng, 25)
    values = gappy_cube(rng, (25, 6, 7), dtype=dtype)
    values += (0.05 * (times - times[0])).astype(dtype)[:, None, None]
    got = ols(values, times)
    want = np.array([[reference_ols(values[:, y, x], times) for x in range(7)] for y in range(6)])
    # polyfit's lstsq on uncentred decimal years is itself only good to ~1e-11.
    assert_close(got, want, rtol=1e-9, atol=1e-12)
    got = ols(values, times, min_count=20)
    n = (~np.isnan(values)).sum(axis=0)
    assert np.isnan(got[n < 20]).all() and np.isfinite(got[n >= 20]).all()


def test_ols_exact_line_constant_and_degenerate():
    times = np.array([2020.1, 2020.35, 2021.0, 2022.7])
    values = np.stack([3.0 - 0.5 * (times - 2020), np.full(4, 2.0), [np.nan, 1, np.nan, np.nan]], axis=1)
    got = ols(values[:, None, :], times)[0]
    assert_close(got[0], -0.5, rtol=1e-12)
    assert got[1] == 0.0
    assert np.isnan(got[2])
    assert np.isnan(ols(np.ones((3, 1, 1)), np.full(3, 2020.5))[0, 0])  # no time spread


@settings(max_examples=60, deadline=None)
@given(gappy_series_with_times())
def test_property_ols_matches_polyfit(data):
    values, times = data
    got = ols(values, times)
    for y, x, series in pixels(values):
        want = reference_ols(series, times)
        scale = np.nanmax(np.abs(series)) if np.isfinite(want) else 0.0
        # Absolute tolerance relative to the data's size: slopes near 0 are cancellations.
        np.testing.assert_allclose(got[y, x], want, rtol=1e-7, atol=1e-7 * (scale + 1.0), equal_nan=True)


# --- counts and water frequency ----------------------------------------------------


@pytest.mark.parametrize("out_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("shape", [(0, 2, 3), (1, 1, 1), (13, 5, 7), (4, 0, 2)])
def test_valid_count(out_dtype, shape):
    rng = np.random.default_rng(7)
    values = gappy_cube(rng, shape, nan_fraction=0.4)
    out = np.full(shape[1:], -7, out_dtype)
    valid_count(values, out)
    np.testing.assert_array_equal(out, (~np.isnan(values)).sum(axis=0))


def reference_water_frequency(water):
    n = (water != 255).sum(axis=0)
    w = (water == 1).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n == 0, np.nan, w / n).astype(np.float32)


@pytest.mark.parametrize("shape", [(0, 2, 3), (1, 1, 1), (3, 1, 1), (12, 9, 11), (5, 0, 3)])
def test_water_frequency(shape):
    rng = np.random.default_rng(8)
    water = rng.choice(np.array([0, 1, 255], np.uint8), shape)
    out = np.full(shape[1:], 7.0, np.float32)
    water_frequency(water, out)
    np.testing.assert_array_equal(out, reference_water_frequency(water))


def test_water_frequency_hand_made():
    water = np.array([[255, 1, 0, 1], [255, 1, 0, 0], [255, 255, 0, 1]], np.uint8)[:, None, :]
    out = np.empty((1, 4), np.float32)
    water_frequency(water, out)
    assert np.isnan(out[0, 0])
    np.testing.assert_array_equal(out[0, 1:], np.float32([1.0, 0.0, 2 / 3]))


# --- shared ---------------------------------------------------------------------


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(9)
    times = irregular_times(rng, 15)
    values = gappy_cube(rng, (15, 97, 31), decimals=2)
    water = rng.choice(np.array([0, 1, 255], np.uint8), (15, 97, 31))

    def run_all():
        m = mk(values, 4)
        s, i = ts(values, times, 4)
        c = np.empty(values.shape[1:], np.int32)
        valid_count(values, c)
        f = np.empty(values.shape[1:], np.float32)
        water_frequency(water, f)
        return b"".join(a.tobytes() for a in [*m.values(), s, i, ols(values, times, 4), c, f])

    assert with_threads(1, run_all) == with_threads(2, run_all)


def test_shape_and_argument_errors():
    values = np.zeros((4, 3, 5), np.float32)
    good, bad = np.empty((3, 5)), np.empty((3, 4))
    times = np.arange(4.0)
    with pytest.raises(ValueError):
        mann_kendall(values, good, good, good, bad, good, 0)
    with pytest.raises(ValueError):
        theil_sen(values, times, good, bad, 0)
    with pytest.raises(ValueError):
        theil_sen(values, np.arange(3.0), good, good, 0)
    with pytest.raises(ValueError):
        theil_sen(values, np.array([0.0, np.nan, 2.0, 3.0]), good, good, 0)
    with pytest.raises(ValueError):
        ols_slope(values, times, bad, 0)
    with pytest.raises(ValueError):
        ols_slope(values, np.arange(5.0), good, 0)
    with pytest.raises(ValueError):
        valid_count(values, np.empty((3, 4), np.int32))
    with pytest.raises(ValueError):
        water_frequency(np.zeros((4, 3, 5), np.uint8), np.empty((5, 3), np.float32))


def test_exported_from_package():
    for name in ("mann_kendall", "theil_sen", "ols_slope", "valid_count", "water_frequency"):
        assert name in kernels.__all__ and getattr(kernels, name) is not None
