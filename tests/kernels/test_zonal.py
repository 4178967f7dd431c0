"""Per-label block statistics against NumPy references: NaN, skipped labels, one pixel, odd shapes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import float_key_histogram, zone_class_area_sums, zone_histogram, zone_value_sums
from pipeline.engine import float_keys, key_values


def labelled(seed, shape, n_labels, nan=0.2):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape).astype(np.float32)
    values[rng.random(shape) < nan] = np.nan
    labels = rng.integers(-1, n_labels, shape).astype(np.int32)
    area = rng.uniform(390, 410, shape)
    classes = rng.integers(0, 256, shape).astype(np.uint8)
    return values, labels, area, classes


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), ny=st.integers(1, 150), nx=st.integers(1, 40), n=st.integers(1, 5))
def test_zone_sums_equal_numpy(seed, ny, nx, n):
    values, labels, area, classes = labelled(seed, (ny, nx), n)
    areas = np.full((n, 256), 1.5)  # accumulates: starts from what is there
    zone_class_area_sums(classes, labels, area, areas)
    sums = np.zeros((n, 4))
    zone_value_sums(values, labels, area, sums)
    edges = np.array([-1.0, 0.0, 0.5, 2.0])
    hist = np.zeros((n, 5), np.int64)
    zone_histogram(values, labels, edges, hist)
    for z in range(n):
        m = labels == z
        np.testing.assert_allclose(areas[z], 1.5 + np.bincount(classes[m], weights=area[m], minlength=256),
                                   rtol=1e-12)
        v = m & ~np.isnan(values)
        x = values[v].astype(np.float64)
        np.testing.assert_allclose(sums[z], [v.sum(), x.sum(), area[v].sum(), (area[v] * x).sum()], rtol=1e-12,
                                   atol=1e-9)
        np.testing.assert_array_equal(hist[z], np.bincount(np.searchsorted(edges, x, side="right"), minlength=5))


def test_all_masked_and_one_pixel():
    out = np.zeros((2, 4))
    zone_value_sums(np.full((3, 3), np.nan, np.float32), np.zeros((3, 3), np.int32), np.ones((3, 3)), out)
    assert (out == 0).all()
    areas = np.zeros((1, 256))
    zone_class_area_sums(np.array([[7]], np.uint8), np.array([[0]], np.int32), np.array([[2.5]]), areas)
    assert areas[0, 7] == 2.5 and areas.sum() == 2.5
    zone_class_area_sums(np.array([[7]], np.uint8), np.array([[-1]], np.int32), np.array([[2.5]]), areas)
    assert areas.sum() == 2.5  # a negative label is skipped


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        zone_class_area_sums(np.zeros((2, 2), np.uint8), np.full((2, 2), 3, np.int32), np.ones((2, 2)),
                             np.zeros((3, 256)))
    with pytest.raises(ValueError):
        zone_value_sums(np.zeros((2, 2), np.float32), np.zeros((2, 3), np.int32), np.ones((2, 2)), np.zeros((1, 4)))
    with pytest.raises(ValueError):
        zone_histogram(np.zeros((2, 2)), np.zeros((2, 2), np.int32), np.array([1.0, 0.0]), np.zeros((1, 3), np.int64))


def test_float_keys_sort_like_the_values_and_round_trip():
    rng = np.random.default_rng(4)
    values = np.r_[rng.normal(size=1000), [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3.4e38]].astype(np.float32)
    keys = float_keys(values)
    order = np.argsort(keys, kind="stable")
    assert (np.diff(values[order].astype(np.float64)) >= 0).all()
    np.testing.assert_array_equal(key_values(keys).view(np.uint32), values.view(np.uint32))


def test_key_histogram_counts_the_bits_below_a_prefix():
    rng = np.random.default_rng(9)
    values = rng.normal(size=(31, 17)).astype(np.float32)
    values[0, 0] = np.nan
    labels = rng.integers(-1, 2, values.shape).astype(np.int32)
    keys = float_keys(values)
    valid = ~np.isnan(values)
    top = np.zeros((2, 1), np.uint64)
    first = np.zeros((2, 1, 2048), np.int64)
    float_key_histogram(values, labels, top, 21, 11, first)
    for z in range(2):
        m = valid & (labels == z)
        np.testing.assert_array_equal(first[z, 0], np.bincount((keys[m] >> 21).astype(np.int64), minlength=2048))
    prefix = np.array([[int(keys[valid & (labels == z)][0] >> 21)] for z in range(2)], np.uint64)
    second = np.zeros((2, 1, 2048), np.int64)
    float_key_histogram(values, labels, prefix, 10, 11, second)
    for z in range(2):
        m = valid & (labels == z) & ((keys >> 21) == prefix[z, 0])
        np.testing.assert_array_equal(second[z, 0], np.bincount(((keys[m] >> 10) & 2047).astype(np.int64),
                                                                minlength=2048))
