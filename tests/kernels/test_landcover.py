"""Land-degradation kernels against NumPy references.

The zone percentile itself is the engine's exact reduction (tests/test_engine.py);
here ``ratio_to_zone_value`` divides by percentiles NumPy computed."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernels
from kernels import percentile_classes, ratio_to_zone_value, transition_lookup


def classes(values, edges):
    out = np.full(values.shape, 77, np.uint8)  # garbage: every cell must be written
    percentile_classes(values, np.asarray(edges, np.float64), out)
    return out


def reference_classes(values, edges):
    got = np.searchsorted(np.asarray(edges, np.float64), values.astype(np.float64), side="right")
    return np.where(np.isnan(values), 255, got).astype(np.uint8)


def zone_percentiles(values, zones, n_zones, q):
    v64 = values.astype(np.float64)
    zone_q = np.full(n_zones, np.nan)
    for z in range(n_zones):
        inside = v64[(zones == z) & ~np.isnan(v64)]
        if inside.size:
            zone_q[z] = np.percentile(inside, q)
    return zone_q


def ratio(values, zones, n_zones, q):
    out = np.full(values.shape, 7.0, np.float32)
    ratio_to_zone_value(values, zones, zone_percentiles(values, zones, n_zones, q), out)
    return out


def reference_ratio(values, zones, n_zones, q):
    v64 = values.astype(np.float64)
    zone_q = zone_percentiles(values, zones, n_zones, q)
    if n_zones:
        p = np.where(zones >= 0, zone_q[np.clip(zones, 0, None)], np.nan)
    else:
        p = np.full(zones.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = v64 / p
    out[(p == 0) | np.isnan(p) | np.isnan(v64)] = np.nan
    return out.astype(np.float32)


def lookup(initial, final, matrix):
    out = np.full(initial.shape, 77, np.uint8)
    transition_lookup(initial, final, matrix, out)
    return out


# --- productivity state -----------------------------------------------------------


def test_classes_from_baseline_deciles():
    rng = np.random.default_rng(1)
    baseline = rng.gamma(2.0, 0.2, 5000)
    edges = np.percentile(baseline, np.arange(10, 100, 10))
    values = rng.gamma(2.0, 0.2, (41, 37)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[0, :9] = edges.astype(np.float32)  # at (float32-rounded) edges
    got = classes(values, edges)
    np.testing.assert_array_equal(got, reference_classes(values, edges))
    assert set(np.unique(got)) <= set(range(10)) | {255}


def test_classes_hand_made_and_edge_ties():
    values = np.array([[np.nan, -np.inf, 0.0, 1.0, 1.5, 2.0, 3.0, np.inf]], np.float32)
    np.testing.assert_array_equal(classes(values, [1.0, 2.0, 2.0, 3.0])[0], [255, 0, 0, 1, 1, 3, 4, 4])
    # No edges: everything valid is class 0.
    np.testing.assert_array_equal(classes(values, [])[0], [255, 0, 0, 0, 0, 0, 0, 0])


def test_classes_compare_in_float64():
    # float32(0.1) > 0.1: a value stored as float32(0.1) is at or above an edge of 0.1.
    values = np.array([[0.1]], np.float32)
    assert classes(values, [0.1])[0, 0] == 1
    assert classes(values, [np.float64(np.float32(0.1)) + 1e-12])[0, 0] == 0


def test_classes_bad_edges_and_shapes_raise():
    values = np.zeros((2, 3), np.float32)
    for edges in ([2.0, 1.0], [np.nan], [0.0, np.nan], np.arange(255.0)):
        with pytest.raises(ValueError):
            percentile_classes(values, np.asarray(edges, np.float64), np.empty((2, 3), np.uint8))
    with pytest.raises(ValueError):
        percentile_classes(values, np.array([1.0]), np.empty((3, 2), np.uint8))
    assert classes(values, np.arange(254.0)).max() == 1  # 254 edges is the most


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=8),
        elements=st.one_of(st.just(np.nan), st.sampled_from([0.0, 0.5, 1.0]), st.floats(-2, 2, width=32)),
    ),
    st.lists(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(-2, 2)), max_size=12).map(sorted),
)
def test_property_classes_match_searchsorted(values, edges):
    np.testing.assert_array_equal(classes(values, edges), reference_classes(values, edges))


# --- productivity performance -------------------------------------------------------


def test_ratio_matches_reference():
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, 0.2, (53, 47)).astype(np.float32)
    values[rng.random(values.shape) < 0.15] = np.nan
    zones = rng.integers(-1, 6, values.shape).astype(np.int32)  # zones of ~350 values: heapsort path
    zones[:5, :5] = 6  # a small zone (insertion sort path)
    for q in (90.0, 50.0, 0.0, 100.0, 33.3):
        np.testing.assert_array_equal(ratio(values, zones, 8, q), reference_ratio(values, zones, 8, q))


def test_ratio_hand_made():
    values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, np.nan, 0.0, 7.0, 8.0]], np.float32)
    zones = np.array([[0, 0, 0, 0, 0, 0, 1, 1, -1]], np.int32)
    got = ratio(values, zones, 3, 50.0)[0]
    np.testing.assert_array_equal(got[:5], np.float32([1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3]))
    assert np.isnan(got[5])  # NaN value
    assert got[6] == 0.0 and got[7] == 2.0  # zone 1 median 3.5
    assert np.isnan(got[8])  # no zone
    # q = 90 of zone 0 = 4.6; zone 2 has no pixel at all (NaN percentile, unused).
    np.testing.assert_array_equal(ratio(values, zones, 3, 90.0)[0, :5], np.float32(np.arange(1, 6) / 4.6))


def test_ratio_zero_or_nan_zone_percentile_gives_nan():
    values = np.array([[0.0, 0.0, 1.0, np.nan, np.nan, 2.0]], np.float32)
    zones = np.array([[0, 0, 0, 1, 1, 2]], np.int32)
    got = ratio(values, zones, 3, 50.0)[0]  # zone 0 median 0, zone 1 all NaN
    assert np.isnan(got[:5]).all() and got[5] == 1.0


def test_ratio_no_zones_and_empty():
    values = np.ones((3, 4), np.float32)
    assert np.isnan(ratio(values, np.full((3, 4), -1, np.int32), 0, 90.0)).all()
    assert ratio(np.ones((0, 4), np.float32), np.zeros((0, 4), np.int32), 2, 90.0).shape == (0, 4)


def test_ratio_bad_arguments_raise():
    values = np.ones((3, 4), np.float32)
    zones = np.zeros((3, 4), np.int32)
    out = np.empty((3, 4), np.float32)
    zones_too_big = zones.copy()
    zones_too_big[2, 3] = 5
    with pytest.raises(ValueError):
        ratio_to_zone_value(values, zones_too_big, np.ones(5), out)
    with pytest.raises(ValueError):
        ratio_to_zone_value(values, zones[:2], np.ones(1), out)
    with pytest.raises(ValueError):
        ratio_to_zone_value(values, zones, np.ones(1), np.empty((3, 3), np.float32))


@st.composite
def zoned_values(draw):
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9))
    values = draw(
        hnp.arrays(
            np.float32,
            shape,
            elements=st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0]), st.floats(-10, 10, width=32)),
        )
    )
    n_zones = draw(st.integers(0, 4))
    zones = draw(hnp.arrays(np.int32, shape, elements=st.integers(-2, n_zones - 1)))
    return values, zones, n_zones


@settings(max_examples=100, deadline=None)
@given(zoned_values(), st.one_of(st.sampled_from([0.0, 50.0, 90.0, 100.0]), st.floats(0, 100)))
def test_property_ratio_matches_reference(data, q):
    values, zones, n_zones = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = reference_ratio(values, zones, n_zones, q)
    np.testing.assert_array_equal(ratio(values, zones, n_zones, q), want)


# --- land-cover transitions ------------------------------------------------------


def unccd_like_matrix():
    """7 IPCC classes (1..7) -> 1 degraded / 2 stable / 3 improved; 0 nodata in -> 0."""
    rng = np.random.default_rng(3)
    matrix = np.zeros((256, 256), np.uint8)
    matrix[1:8, 1:8] = rng.integers(1, 4, (7, 7))
    np.fill_diagonal(matrix[1:8, 1:8], 2)
    return matrix


def test_transition_lookup_matches_take():
    rng = np.random.default_rng(4)
    matrix = unccd_like_matrix()
    initial = rng.integers(0, 8, (61, 43)).astype(np.uint8)
    final = rng.integers(0, 8, (61, 43)).astype(np.uint8)
    got = lookup(initial, final, matrix)
    np.testing.assert_array_equal(got, np.take(matrix.ravel(), initial.astype(np.intp) * 256 + final))
    np.testing.assert_array_equal(got, matrix[initial, final])
    assert (got[initial == final][initial[initial == final] > 0] == 2).all()


def test_transition_lookup_all_codes_and_views():
    matrix = np.arange(256 * 256, dtype=np.uint32).reshape(256, 256).astype(np.uint8)
    matrix = (matrix * 7 + 3).astype(np.uint8)
    i, f = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8), indexing="ij")
    np.testing.assert_array_equal(lookup(i, f, matrix), matrix)
    i, f = i[::3, 1::2], f[::-3, ::2]
    np.testing.assert_array_equal(lookup(i, f, matrix), matrix[i, f])


def test_transition_lookup_bad_shapes_raise():
    a = np.zeros((3, 4), np.uint8)
    with pytest.raises(ValueError):
        transition_lookup(a, a, np.zeros((255, 256), np.uint8), np.empty((3, 4), np.uint8))
    with pytest.raises(ValueError):
        transition_lookup(a, a[:2], np.zeros((256, 256), np.uint8), np.empty((3, 4), np.uint8))
    with pytest.raises(ValueError):
        transition_lookup(a, a, np.zeros((256, 256), np.uint8), np.empty((4, 3), np.uint8))


# --- shared ------------------------------------------------------------------------


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(5)
    values = rng.gamma(2.0, 0.2, (301, 77)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    zones = rng.integers(-1, 40, values.shape).astype(np.int32)
    initial = rng.integers(0, 8, values.shape).astype(np.uint8)
    final = rng.integers(0, 8, values.shape).astype(np.uint8)
    edges = np.percentile(values[~np.isnan(values)], np.arange(10, 100, 10))
    matrix = unccd_like_matrix()

    def run():
        return (
            classes(values, edges).tobytes()
            + ratio(values, zones, 40, 90.0).tobytes()
            + lookup(initial, final, matrix).tobytes()
        )

    assert with_threads(1, run) == with_threads(2, run)


def test_exported_from_package():
    for name in ("percentile_classes", "ratio_to_zone_value", "transition_lookup"):
        assert name in kernels.__all__ and getattr(kernels, name) is not None
