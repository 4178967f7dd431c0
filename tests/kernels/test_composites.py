"""nan_median and nan_percentiles against np.nanmedian / np.nanpercentile, exactly."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernels
from kernels import nan_median, nan_percentiles

DECILES = np.array([0.0, 10.0, 20.0, 25.0, 33.3, 50.0, 66.7, 75.0, 90.0, 99.9, 100.0])


def median(values):
    out = np.full(values.shape[1:], 7.0, np.float32)  # garbage: every cell must be written
    nan_median(values, out)
    return out


def percentiles(values, q):
    q = np.asarray(q, np.float64)
    out = np.full((q.shape[0],) + values.shape[1:], 7.0, np.float32)
    nan_percentiles(values, q, out)
    return out


def reference_median(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-NaN slices
        return np.nanmedian(values.astype(np.float64), axis=0).astype(np.float32)


def reference_percentiles(values, q):
    q = np.asarray(q, np.float64)
    if values.shape[0] == 0:
        # np.nanpercentile drops the q axis on an empty reduction axis: all NaN anyway.
        return np.full((q.shape[0],) + values.shape[1:], np.nan, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanpercentile(values.astype(np.float64), q, axis=0).astype(np.float32).reshape(
            (q.shape[0],) + values.shape[1:]
        )


def assert_same(got, want):
    """Bitwise equal up to the sign of zero, NaN where NaN."""
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def gappy_cube(rng, shape, nan_fraction=0.3, decimals=None):
    values = rng.normal(1000.0, 300.0, shape)
    if decimals is not None:
        values = np.round(values, decimals)
    values = values.astype(np.float32)
    values[rng.random(shape) < nan_fraction] = np.nan
    return values


def test_median_matches_numpy_float64_and_float32():
    rng = np.random.default_rng(1)
    values = gappy_cube(rng, (20, 37, 41))
    got = median(values)
    assert_same(got, reference_median(values))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(got, np.nanmedian(values, axis=0))  # float32 in, float32 out


def test_median_is_mean_of_middle_pair_not_percentile_interpolation():
    values = np.array([1.0, 2.0, 4.0, 100.0], np.float32)[:, None, None]
    assert median(values)[0, 0] == 3.0
    assert percentiles(values, [50.0])[0, 0, 0] == 3.0


def test_percentiles_match_numpy():
    rng = np.random.default_rng(2)
    values = gappy_cube(rng, (23, 19, 17), decimals=0)  # ties
    assert_same(percentiles(values, DECILES), reference_percentiles(values, DECILES))


@pytest.mark.parametrize("nt", [0, 1, 2, 3, 32, 33, 70])  # 32/33: insertion sort / heapsort switch
def test_lengths_across_sort_paths(nt):
    rng = np.random.default_rng(nt)
    values = gappy_cube(rng, (nt, 5, 6), nan_fraction=0.2, decimals=0)
    assert_same(median(values), reference_median(values))
    assert_same(percentiles(values, DECILES), reference_percentiles(values, DECILES))
    if nt == 0:
        assert np.isnan(median(values)).all()


@pytest.mark.parametrize(
    "shape", [(1, 1, 1), (5, 1, 1), (4, 1, 9), (6, 11, 1), (3, 0, 4), (3, 4, 0), (0, 2, 2)]
)
def test_odd_and_empty_shapes(shape):
    rng = np.random.default_rng(sum(shape) + 3)
    values = gappy_cube(rng, shape)
    assert_same(median(values), reference_median(values))
    assert_same(percentiles(values, [5.0, 50.0, 95.0]), reference_percentiles(values, [5.0, 50.0, 95.0]))


def test_all_nan_pixels_and_single_observation():
    values = np.full((6, 2, 2), np.nan, np.float32)
    values[3, 0, 1] = 4.5
    values[:, 1, 1] = [1, 1, 1, 2, 2, 9]
    got = median(values)
    assert np.isnan(got[0, 0]) and np.isnan(got[1, 0]) and got[0, 1] == 4.5 and got[1, 1] == 1.5
    got = percentiles(values, DECILES)
    assert np.isnan(got[:, 0, 0]).all() and (got[:, 0, 1] == 4.5).all()
    assert_same(got, reference_percentiles(values, DECILES))


def test_empty_q_and_extreme_values():
    values = np.array([-3.4e38, 3.4e38, 1e-45, -0.0, np.inf, -np.inf], np.float32)[:, None, None]
    assert percentiles(values, []).shape == (0, 1, 1)
    assert_same(median(values), reference_median(values))
    assert_same(percentiles(values, DECILES), reference_percentiles(values, DECILES))


def test_non_contiguous_view_and_float64_input():
    rng = np.random.default_rng(4)
    big = gappy_cube(rng, (30, 20, 24))
    view = big[::2, 3:, ::-3]
    assert_same(median(view), reference_median(view))
    assert_same(percentiles(view, DECILES), reference_percentiles(view, DECILES))
    as64 = big.astype(np.float64)
    assert_same(median(as64), reference_median(big))


def test_invalid_q_and_shapes_raise():
    values = np.zeros((3, 4, 5), np.float32)
    for bad in ([-0.1], [100.0001], [np.nan], [50.0, np.inf]):
        with pytest.raises(ValueError):
            nan_percentiles(values, np.array(bad), np.empty((len(bad), 4, 5), np.float32))
    with pytest.raises(ValueError):
        nan_percentiles(values, np.array([50.0]), np.empty((2, 4, 5), np.float32))
    with pytest.raises(ValueError):
        nan_percentiles(values, np.array([50.0]), np.empty((1, 5, 4), np.float32))
    with pytest.raises(ValueError):
        nan_median(values, np.empty((4, 4), np.float32))


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(5)
    values = gappy_cube(rng, (18, 203, 57))

    def run():
        return median(values).tobytes() + percentiles(values, DECILES).tobytes()

    assert with_threads(1, run) == with_threads(2, run)


def test_exported_from_package():
    for name in ("nan_median", "nan_percentiles"):
        assert name in kernels.__all__ and getattr(kernels, name) is not None


values_with_gaps = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=7),
    elements=st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0, -2.5]), st.floats(-1e6, 1e6, width=32)),
)


@settings(max_examples=100, deadline=None)
@given(values_with_gaps)
def test_property_median_matches_numpy(values):
    assert_same(median(values), reference_median(values))


@settings(max_examples=100, deadline=None)
@given(
    values_with_gaps,
    st.lists(st.one_of(st.sampled_from([0.0, 50.0, 100.0]), st.floats(0.0, 100.0)), min_size=1, max_size=5),
)
def test_property_percentiles_match_numpy(values, q):
    assert_same(percentiles(values, q), reference_percentiles(values, q))
