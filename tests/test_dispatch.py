"""Block-wise dispatch gives exactly what the kernels give on the whole array.

The indicator products (``water_class_products``, ``forest_products``) are checked on
small synthetic cubes on a UTM grid against the bare kernels run once over the whole
grid, with the AOI mask from every pixel centre and ``area_of`` the whole grid.
"""

import dask
import dask.array as da
import numpy as np
import pytest
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry import Polygon, box

import kernels
from pipeline import dispatch
from pipeline.grid import aoi_in_crs, area_of, smallest_pixel_area

RES = 20
FOREST_CLASSES = [10, 95]
OTHER_CLASSES = [20, 30, 80]
LC_NODATA = 0
# a block's areas interpolate the areal scale on a lattice of its own (pipeline.grid): < 1e-8 off
AREA_RTOL = 1e-8


def utm_grid(ny, nx):
    """A 20 m UTM 21S grid ~100 km east of the central meridian (pixel area ~400.2 m²)."""
    return GeoBox.from_bbox((600000, 8600000, 600000 + nx * RES, 8600000 + ny * RES), "EPSG:32721",
                            resolution=RES)


def whole_aoi(geobox):
    """A lon/lat AOI holding every pixel of the grid."""
    return box(*geobox.extent.to_crs("EPSG:4326").boundingbox).buffer(0.01)


def triangle_aoi(geobox):
    """A lon/lat triangle covering part of the grid, its edges crossing many blocks."""
    x0, y0, x1, y1 = geobox.boundingbox
    w, h = x1 - x0, y1 - y0
    corners = [(x0 + 0.05 * w, y0 + 0.1 * h), (x0 + 0.97 * w, y0 + 0.3 * h), (x0 + 0.4 * w, y0 + 1.2 * h)]
    return Geometry(Polygon(corners), crs=geobox.crs).to_crs("EPSG:4326").geom


def centres_inside(geobox, aoi):
    """Point-in-polygon of every pixel centre, one by one (no quadtree, no blocks)."""
    x, y = np.meshgrid(geobox.coordinates["x"].values, geobox.coordinates["y"].values)
    return shapely.contains_xy(aoi_in_crs(aoi, geobox), x, y)


def area_sums(classes, area):
    out = np.zeros(256, np.float64)
    kernels.class_area_sums(np.ascontiguousarray(classes), np.ascontiguousarray(area), out)
    return out


def random_landcover(rng, shape, density):
    lc = rng.choice(np.array(OTHER_CLASSES, np.uint8), shape)
    forest = rng.random(shape) < density
    lc[forest] = rng.choice(np.array(FOREST_CLASSES, np.uint8), int(forest.sum()))
    lc[rng.random(shape) < 0.03] = LC_NODATA
    lc[rng.random(shape) < 0.01] = kernels.NODATA_U8
    return lc


def reference_forest(landcover, inside, area, min_area, eight):
    """Everything ``forest_products`` makes, by the bare kernels over the whole grid."""
    forest, layer, lc_areas, forest_areas = [], [], [], []
    for lc in landcover:
        lc = np.where(inside, lc, np.uint8(kernels.NODATA_U8))
        unknown = (lc == LC_NODATA) | (lc == kernels.NODATA_U8)
        candidate = np.where(unknown, np.uint8(kernels.NODATA_U8), np.isin(lc, FOREST_CLASSES).astype(np.uint8))
        filtered = np.empty_like(candidate)
        kernels.mmu_filter(candidate, area, float(min_area), bool(eight), filtered)
        forest.append(filtered)
        layer.append(np.where(inside, lc, np.uint8(LC_NODATA)))
        lc_areas.append(area_sums(lc, area))
        forest_areas.append(area_sums(filtered, area))
    return np.stack(forest), np.stack(layer), np.stack(lc_areas), np.stack(forest_areas)


def run_forest(landcover, chunks, geobox, aoi, min_area, eight):
    depth = dispatch.mmu_depth(min_area, smallest_pixel_area(geobox))  # as the indicator does
    products = dispatch.forest_products(
        da.from_array(landcover, chunks=chunks), geobox=geobox, aoi=aoi, forest_classes=FOREST_CLASSES,
        min_area=min_area, eight_connected=eight, depth=depth, lc_nodata=LC_NODATA)
    return dask.compute(*products)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), chunk=st.tuples(st.integers(6, 40), st.integers(6, 40)), eight=st.booleans(),
       min_pixels=st.integers(1, 30), density=st.floats(0.3, 0.65))
def test_mmu_halo_makes_blockwise_filtering_exact(seed, chunk, eight, min_pixels, density):
    rng = np.random.default_rng(seed)
    ny, nx = (int(n) for n in rng.integers(20, 80, 2))
    gb = utm_grid(ny, nx)
    aoi = whole_aoi(gb)
    landcover = random_landcover(rng, (1, ny, nx), density)
    # pixels are ~400.2 m²: no patch lies within float noise of the threshold
    min_area = min_pixels * RES**2
    got = run_forest(landcover, (1,) + chunk, gb, aoi, min_area, eight)
    expected = reference_forest(landcover, centres_inside(gb, aoi), area_of(gb), min_area, eight)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[2], expected[2], rtol=AREA_RTOL)
    np.testing.assert_allclose(got[3], expected[3], rtol=AREA_RTOL)


def test_a_long_snake_across_many_blocks_is_kept():
    """A component much larger than the MMU but thin, crossing every block, must survive;
    lone pixels next to it (4-connectivity) go."""
    ny = nx = 120
    gb = utm_grid(ny, nx)
    forest = np.zeros((ny, nx), bool)
    forest[::4, :] = True
    forest[:, nx - 1] = True  # connect the rows into one snake
    lone = [(2, 10), (62, 30), (102, 77)]  # rows between the snake's rows
    for y, x in lone:
        forest[y, x] = True
    landcover = np.where(forest, np.uint8(10), np.uint8(30))[None]
    min_area = 30 * RES**2  # halo ~30 px: a block grown by it sees only a part of the grid
    assert dispatch.mmu_depth(min_area, smallest_pixel_area(gb)) * 2 + 13 < nx
    got, layer, _, _ = run_forest(landcover, (1, 13, 13), gb, whole_aoi(gb), min_area, False)
    expected = forest.astype(np.uint8)
    for y, x in lone:
        expected[y, x] = 0
    np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(layer, landcover)


@pytest.mark.parametrize("chunks", [(1, 7, 7), (1, 16, 25), (2, 64, 64)])
def test_forest_products_on_a_partial_aoi_equal_the_whole_grid_kernels(chunks):
    rng = np.random.default_rng(7)
    ny, nx = 45, 58
    gb = utm_grid(ny, nx)
    aoi = triangle_aoi(gb)
    inside = centres_inside(gb, aoi)
    assert inside.any() and not inside.all()
    landcover = random_landcover(rng, (2, ny, nx), 0.5)
    min_area = 6 * RES**2
    got = run_forest(landcover, chunks, gb, aoi, min_area, True)
    expected = reference_forest(landcover, inside, area_of(gb), min_area, True)
    forest, layer, lc_areas, forest_areas = got
    np.testing.assert_array_equal(forest, expected[0])
    np.testing.assert_array_equal(layer, expected[1])
    assert (forest[:, ~inside] == kernels.NODATA_U8).all() and (layer[:, ~inside] == LC_NODATA).all()
    assert ((forest[:, inside] == 0) | (forest[:, inside] == 1) | (forest[:, inside] == 255)).all()
    np.testing.assert_allclose(lc_areas, expected[2], rtol=AREA_RTOL)
    np.testing.assert_allclose(forest_areas, expected[3], rtol=AREA_RTOL)
    # outside-AOI pixels are counted as class 255 of the land cover
    assert (lc_areas[:, 255] > area_of(gb)[~inside].sum() * (1 - AREA_RTOL)).all()
    # blocks are summed in a fixed order: a second graph gives the very same bits
    again = run_forest(landcover, chunks, gb, aoi, min_area, True)
    assert lc_areas.tobytes() == again[2].tobytes() and forest_areas.tobytes() == again[3].tobytes()


def water_cube(rng, t, ny, nx, chunks):
    """Two DN bands shaped like ``catalog.load.load_cube``'s: (time, y, x) uint16 with
    per-time scale_<band>/offset_<band> coords and a nodata attribute."""
    times = np.array([f"{2020 + i // 6}-{1 + 2 * (i % 6):02d}-01" for i in range(t)], dtype="datetime64[ns]")
    green = rng.integers(0, 3000, (t, ny, nx)).astype(np.uint16)
    swir = rng.integers(0, 3000, (t, ny, nx)).astype(np.uint16)
    green[rng.random(green.shape) < 0.05] = 0  # nodata
    scale = np.full(t, 1e-4)
    offset = np.where(np.arange(t) >= 6, -0.1, 0.0)
    coords = {"time": times, "scale_green": ("time", scale), "offset_green": ("time", offset),
              "scale_swir16": ("time", scale), "offset_swir16": ("time", offset)}
    arrays = [xr.DataArray(da.from_array(v, chunks=chunks), dims=("time", "y", "x"), coords=coords, name=name,
                           attrs={"nodata": 0}) for name, v in (("green", green), ("swir16", swir))]
    return arrays, green, swir, scale, offset


@pytest.mark.parametrize("chunks, strip", [((1, 7, 7), None), ((4, 16, 11), None), ((12, 64, 64), None),
                                           ((5, 16, 16), 100)])
def test_water_products_equal_the_whole_grid_kernels(chunks, strip, monkeypatch):
    if strip:  # many strips of rows per block
        monkeypatch.setattr(dispatch, "STRIP_PIXELS", strip)
    rng = np.random.default_rng(1)
    t, ny, nx = 12, 40, 33
    gb = utm_grid(ny, nx)
    aoi = triangle_aoi(gb)
    inside = centres_inside(gb, aoi)
    (g, s), green, swir, scale, offset = water_cube(rng, t, ny, nx, chunks)

    def products():
        classes, areas = dispatch.water_class_products(
            g, s, [2019, 2020, 2021], geobox=gb, aoi=aoi, threshold=0.0, min_observations=2, permanent_fraction=1.0)
        return dask.compute(classes, areas)

    got, areas = products()
    assert got.shape == (3, ny, nx)
    expected = [np.full((ny, nx), kernels.NO_OBSERVATION, np.uint8)]  # no scene in 2019
    for i in range(2):
        sel = slice(6 * i, 6 * i + 6)
        index = np.empty((6, ny, nx), np.float32)
        kernels.normalized_difference(green[sel], swir[sel], scale[sel], offset[sel], scale[sel], offset[sel], 0, index)
        water = np.empty(index.shape, np.uint8)
        kernels.classify_water(index, 0.0, water)
        classes = np.empty((ny, nx), np.uint8)
        kernels.yearly_water_class(water, 2, 1.0, classes)
        expected.append(classes)
    expected = np.where(inside, np.stack(expected), np.uint8(kernels.NODATA_U8))
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(got[1:][:, inside])) >= 3  # not a trivial layer
    area = area_of(gb)
    np.testing.assert_allclose(areas, np.stack([area_sums(c, area) for c in expected]), rtol=AREA_RTOL)
    _, again = products()  # blocks are summed in a fixed order: the very same bits
    assert areas.tobytes() == again.tobytes()


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
