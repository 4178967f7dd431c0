"""mmu_filter against a scipy.ndimage.label reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from kernels import mmu_filter


def reference_mmu(mask, pixel_area, min_area, eight_connected):
    """Label with scipy, sum areas per label in raster order (np.bincount), drop small ones."""
    structure = np.ones((3, 3), bool) if eight_connected else None
    labels, n = ndimage.label(mask == 1, structure=structure)
    area = np.bincount(labels.ravel(), weights=pixel_area.ravel(), minlength=n + 1)
    small = (labels > 0) & (area[labels] < min_area)
    return np.where(small, 0, mask).astype(np.uint8)


def mmu(mask, pixel_area, min_area, eight_connected):
    out = np.full(mask.shape, 77, np.uint8)
    mmu_filter(mask, pixel_area, min_area, eight_connected, out)
    return out


def check(mask, pixel_area, min_area):
    for eight in (False, True):
        np.testing.assert_array_equal(
            mmu(mask, pixel_area, min_area, eight), reference_mmu(mask, pixel_area, min_area, eight)
        )


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0)])
def test_empty(shape):
    check(np.zeros(shape, np.uint8), np.ones(shape), 1.0)


@pytest.mark.parametrize("value", [0, 1, 255])
def test_one_pixel(value):
    mask = np.array([[value]], np.uint8)
    area = np.array([[100.0]])
    assert mmu(mask, area, 100.0, True)[0, 0] == value  # area == min_area stays
    assert mmu(mask, area, 100.5, True)[0, 0] == (0 if value == 1 else value)


def test_everything_one_and_nothing_one():
    ones = np.ones((7, 9), np.uint8)
    area = np.full((7, 9), 2.0)
    assert (mmu(ones, area, 126.0, False) == 1).all()  # 63 * 2 == 126
    assert (mmu(ones, area, 126.5, False) == 0).all()
    rest = np.where(np.arange(63).reshape(7, 9) % 3 == 0, 255, 0).astype(np.uint8)
    np.testing.assert_array_equal(mmu(rest, area, 1e9, True), rest)


def test_diagonal_only_connections_depend_on_connectivity():
    mask = np.array(
        [
            [1, 0, 0, 0, 1],
            [0, 1, 0, 1, 0],
            [0, 0, 1, 0, 0],
        ],
        np.uint8,
    )
    area = np.ones(mask.shape)
    np.testing.assert_array_equal(mmu(mask, area, 2.0, True), mask)  # one X of 5 pixels
    assert (mmu(mask, area, 2.0, False) == 0).all()  # five single pixels
    check(mask, area, 2.0)


def test_u_shape_merges_labels_found_late():
    # The two arms get different provisional labels until the bottom row joins them.
    mask = np.array(
        [
            [1, 0, 1, 0, 1],
            [1, 0, 1, 0, 1],
            [1, 1, 1, 255, 1],
            [0, 0, 0, 1, 1],
        ],
        np.uint8,
    )
    area = np.ones(mask.shape)
    kept_left_u = np.array(
        [
            [1, 0, 1, 0, 0],
            [1, 0, 1, 0, 0],
            [1, 1, 1, 255, 0],
            [0, 0, 0, 0, 0],
        ],
        np.uint8,
    )
    np.testing.assert_array_equal(mmu(mask, area, 7.0, False), kept_left_u)  # 7 vs 5 pixels
    check(mask, area, 7.0)
    assert (mmu(mask, area, 12.0, True)[mask == 1] == 1).all()  # 8-connected: one patch of 12


def test_varying_pixel_area_decides_not_pixel_count():
    mask = np.array([[1, 1, 0, 1, 1]], np.uint8)
    area = np.array([[10.0, 10.0, 1.0, 30.0, 30.0]])
    np.testing.assert_array_equal(mmu(mask, area, 50.0, True), [[0, 0, 0, 1, 1]])


def test_nodata_and_zero_pass_through_and_do_not_connect():
    mask = np.array([[1, 255, 1], [0, 255, 0]], np.uint8)
    area = np.ones(mask.shape)
    np.testing.assert_array_equal(mmu(mask, area, 2.0, True), [[0, 255, 0], [0, 255, 0]])


def test_in_place():
    rng = np.random.default_rng(1)
    mask = rng.choice(np.array([0, 1, 255], np.uint8), (40, 50), p=[0.4, 0.5, 0.1])
    area = rng.uniform(50, 150, mask.shape)
    want = reference_mmu(mask, area, 400.0, True)
    mmu_filter(mask, area, 400.0, True, mask)
    np.testing.assert_array_equal(mask, want)


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (1, 7), (13, 17), (64, 3)])
def test_odd_shapes_random(shape):
    rng = np.random.default_rng(sum(shape))
    mask = rng.choice(np.array([0, 1, 255], np.uint8), shape, p=[0.35, 0.55, 0.1])
    check(mask, rng.uniform(0.5, 2.0, shape), 3.0)


def test_large_random_mask():
    rng = np.random.default_rng(2)
    mask = (rng.random((300, 400)) < 0.55).astype(np.uint8)
    area = rng.uniform(90.0, 110.0, mask.shape)
    check(mask, area, 1000.0)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        mmu_filter(np.ones((2, 3), np.uint8), np.ones((3, 2)), 1.0, True, np.ones((2, 3), np.uint8))


@st.composite
def mmu_inputs(draw):
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=12))
    mask = draw(hnp.arrays(np.uint8, shape, elements=st.sampled_from([1, 1, 1, 0, 0, 255])))
    area_values = st.one_of(st.sampled_from([1.0, 0.5, 100.0]), st.floats(0.0, 100.0))
    pixel_area = draw(hnp.arrays(np.float64, shape, elements=area_values))
    eight = draw(st.booleans())
    # Pick min_area equal to a real patch area half the time: exercises the >= tie.
    labels, n = ndimage.label(mask == 1, structure=np.ones((3, 3), bool) if eight else None)
    sums = np.bincount(labels.ravel(), weights=pixel_area.ravel(), minlength=n + 1)[1:]
    if n and draw(st.booleans()):
        min_area = float(draw(st.sampled_from(list(sums))))
    else:
        min_area = draw(st.floats(0.0, 500.0))
    return mask, pixel_area, min_area, eight


@settings(max_examples=200, deadline=None)
@given(mmu_inputs())
def test_property_matches_scipy_label(args):
    mask, pixel_area, min_area, eight = args
    np.testing.assert_array_equal(
        mmu(mask, pixel_area, min_area, eight), reference_mmu(mask, pixel_area, min_area, eight)
    )
