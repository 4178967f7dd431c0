"""class_area_sums against np.bincount with weights."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels import class_area_sums


def reference(classes, pixel_area):
    return np.bincount(classes.ravel(), weights=pixel_area.ravel(), minlength=256)


def sums(classes, pixel_area, out=None):
    out = np.zeros(256) if out is None else out
    class_area_sums(classes, pixel_area, out)
    return out


@pytest.mark.parametrize("shape", [(0, 0), (0, 4), (4, 0)])
def test_empty_adds_nothing(shape):
    out = np.arange(256.0)
    class_area_sums(np.zeros(shape, np.uint8), np.zeros(shape), out)
    np.testing.assert_array_equal(out, np.arange(256.0))


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (1, 7), (13, 17), (65, 3), (200, 129)])
def test_matches_bincount(shape):
    rng = np.random.default_rng(sum(shape))
    classes = rng.integers(0, 256, shape, dtype=np.uint8)
    area = rng.uniform(50.0, 150.0, shape)
    np.testing.assert_allclose(sums(classes, area), reference(classes, area), rtol=1e-13, atol=0)


def test_adds_into_out_and_accumulates_over_blocks():
    rng = np.random.default_rng(7)
    block1 = rng.choice(np.array([0, 10, 80, 255], np.uint8), (70, 31))
    block2 = rng.choice(np.array([10, 50, 80], np.uint8), (9, 40))
    area1 = rng.uniform(1.0, 2.0, block1.shape)
    area2 = rng.uniform(1.0, 2.0, block2.shape)
    out = np.zeros(256)
    class_area_sums(block1, area1, out)
    class_area_sums(block2, area2, out)
    np.testing.assert_allclose(out, reference(block1, area1) + reference(block2, area2), rtol=1e-13, atol=0)
    start = np.full(256, 1000.0)
    class_area_sums(block1, area1, start)
    np.testing.assert_allclose(start, 1000.0 + reference(block1, area1), rtol=1e-13, atol=0)


def test_same_bits_for_one_and_two_threads(with_threads):
    rng = np.random.default_rng(8)
    classes = rng.integers(0, 12, (1000, 333), dtype=np.uint8)
    area = rng.uniform(0.0, 1e4, classes.shape) * rng.uniform(1e-3, 1e3, classes.shape)
    one = with_threads(1, lambda: sums(classes, area))
    two = with_threads(2, lambda: sums(classes, area))
    assert one.tobytes() == two.tobytes()
    np.testing.assert_allclose(one, reference(classes, area), rtol=1e-12, atol=0)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        class_area_sums(np.zeros((2, 3), np.uint8), np.zeros((3, 2)), np.zeros(256))
    with pytest.raises(ValueError):
        class_area_sums(np.zeros((2, 3), np.uint8), np.zeros((2, 3)), np.zeros(255))


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=80)),
    st.data(),
)
def test_property_matches_bincount(classes, data):
    area = data.draw(hnp.arrays(np.float64, classes.shape, elements=st.floats(0.0, 1e6)))
    np.testing.assert_allclose(sums(classes, area), reference(classes, area), rtol=1e-12, atol=1e-9)
