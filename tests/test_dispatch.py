"""Block-wise dispatch gives exactly what the kernels give on the whole array."""

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

import kernels
from pipeline import dispatch


def reference_mmu(mask, area, min_area, eight):
    structure = np.ones((3, 3)) if eight else None
    labels, n = ndimage.label(mask == 1, structure=structure)
    sums = ndimage.sum(area, labels, index=np.arange(1, n + 1))
    out = mask.copy()
    small = np.flatnonzero(sums < min_area) + 1
    out[np.isin(labels, small)] = 0
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), chunk=st.integers(8, 40), eight=st.booleans(),
       min_pixels=st.integers(1, 30), density=st.floats(0.3, 0.65))
def test_mmu_halo_makes_blockwise_filtering_exact(seed, chunk, eight, min_pixels, density):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(20, 90)), int(rng.integers(20, 90)))
    mask = (rng.random(shape) < density).astype(np.uint8)
    mask[rng.random(shape) < 0.03] = 255
    area = rng.uniform(0.9, 1.1, shape)
    min_area = min_pixels * 1.0
    depth = dispatch.mmu_depth(min_area, area.min())
    got = dispatch.mmu_filter(da.from_array(mask, chunks=chunk), da.from_array(area, chunks=chunk),
                              min_area=min_area, eight_connected=eight, depth=depth).compute()
    np.testing.assert_array_equal(got, reference_mmu(mask, area, min_area, eight))


def test_a_long_snake_across_many_blocks_is_kept():
    """A component much larger than the MMU but thin, crossing every block, must survive."""
    mask = np.zeros((60, 60), np.uint8)
    mask[::4, :] = 1
    mask[:, 59] = 1  # connect the rows into one snake
    area = np.ones(mask.shape)
    got = dispatch.mmu_filter(da.from_array(mask, chunks=13), da.from_array(area, chunks=13), min_area=200.0,
                              eight_connected=False, depth=dispatch.mmu_depth(200.0, 1.0)).compute()
    np.testing.assert_array_equal(got, mask)


@pytest.mark.parametrize("chunk", [7, 16, 64])
def test_water_classes_do_not_depend_on_chunks(chunk):
    rng = np.random.default_rng(1)
    t, ny, nx = 12, 40, 33
    times = np.array([f"{2020 + i // 6}-{1 + 2 * (i % 6):02d}-01" for i in range(t)], dtype="datetime64[ns]")
    green = rng.integers(0, 3000, (t, ny, nx)).astype(np.uint16)
    swir = rng.integers(0, 3000, (t, ny, nx)).astype(np.uint16)
    scale = np.full(t, 1e-4)
    offset = np.where(np.arange(t) >= 6, -0.1, 0.0)
    coords = {"time": times, "scale_green": ("time", scale), "offset_green": ("time", offset),
              "scale_swir16": ("time", scale), "offset_swir16": ("time", offset)}
    g = xr.DataArray(da.from_array(green, chunks=(1, chunk, chunk)), dims=("time", "y", "x"), coords=coords,
                     name="green", attrs={"nodata": 0})
    s = xr.DataArray(da.from_array(swir, chunks=(1, chunk, chunk)), dims=("time", "y", "x"), coords=coords,
                     name="swir16", attrs={"nodata": 0})
    got = dispatch.yearly_water_classes(g, s, [2019, 2020, 2021], threshold=0.0, min_observations=2,
                                        permanent_fraction=1.0).compute()
    assert got.shape == (3, ny, nx)
    assert (got[0] == kernels.NO_OBSERVATION).all()  # no scene in 2019
    for i, year in enumerate((2020, 2021)):
        sel = slice(6 * i, 6 * i + 6)
        index = np.empty((6, ny, nx), np.float32)
        kernels.normalized_difference(green[sel], swir[sel], scale[sel], offset[sel], scale[sel], offset[sel], 0, index)
        water = np.empty(index.shape, np.uint8)
        kernels.classify_water(index, 0.0, water)
        expected = np.empty((ny, nx), np.uint8)
        kernels.yearly_water_class(water, 2, 1.0, expected)
        np.testing.assert_array_equal(got[i + 1], expected)


def test_class_areas_sum_blocks_exactly():
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 4, (2, 50, 70)).astype(np.uint8)
    area = rng.uniform(1, 2, (50, 70))
    got = dispatch.class_areas(da.from_array(classes, chunks=(1, 16, 16)), da.from_array(area, chunks=16)).compute()
    for layer in range(2):
        np.testing.assert_allclose(got[layer], np.bincount(classes[layer].ravel(), area.ravel(), minlength=256),
                                   rtol=1e-12)


@pytest.mark.parametrize("chunk", [5, 32])
def test_time_series_wrappers_equal_the_bare_kernels(chunk):
    rng = np.random.default_rng(5)
    t, ny, nx = 15, 23, 31
    values = (rng.normal(size=(t, ny, nx)) + np.linspace(0, 2, t)[:, None, None]).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 0, 0] = np.nan  # an all-NaN pixel
    times = np.sort(rng.uniform(2000, 2020, t))
    lazy = da.from_array(values, chunks=(1, chunk, chunk))
    got = {k: v.compute() for k, v in dispatch.trend(lazy, times, min_count=4).items()}
    expected = dispatch._trend_block(values, times=times, min_count=4)
    for name, ref in zip(("slope", "intercept", "s", "var_s", "z", "p", "tau", "ols_slope"), expected):
        np.testing.assert_array_equal(got[name], ref, err_msg=name)
    assert np.isnan(got["slope"][0, 0]) and np.isfinite(got["slope"]).mean() > 0.9
    med = np.empty((ny, nx), np.float32)
    kernels.nan_median(values, med)
    np.testing.assert_array_equal(dispatch.median(lazy).compute(), med)
    water = np.where(np.isnan(values), 255, values > 0.5).astype(np.uint8)
    freq = np.empty((ny, nx), np.float32)
    kernels.water_frequency(water, freq)
    np.testing.assert_array_equal(dispatch.water_frequency(da.from_array(water, chunks=(1, chunk, chunk))).compute(),
                                  freq)
