"""The block engine gives exactly what the kernels give on the whole array, for any chunking.

Both indicators' steps are checked on small synthetic cubes on a UTM grid against the
bare kernels run once over the whole grid, with the AOI mask from every pixel centre
and ``area_of`` the whole grid; labelled reductions against NumPy per zone; exact
quantiles against ``np.percentile`` at several chunkings.
"""

import os
import warnings

import dask
import dask.array as da
import numba
import numpy as np
import pytest
import shapely
import xarray as xr
from hypothesis import given, settings, strategies as st
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry import Polygon, box

import kernels
from kernels.threads import kernel_threads_limit
from pipeline import engine
from pipeline.engine import Areas, Histogram, Layer, Period, Quantiles, Setting, Step, ValueSums, tasks
from pipeline.grid import aoi_in_crs, area_of, smallest_pixel_area
from pipeline.indicators.sdg6_6_1 import science as water_science
from pipeline.indicators.sdg6_6_1.parameters import Parameters as WaterParameters
from pipeline.indicators.sdg6_6_1.plan import water_step
from pipeline.indicators.sdg15_1_1.parameters import Parameters as ForestParameters
from pipeline.indicators.sdg15_1_1.plan import forest_step
from pipeline.indicators.sdg15_1_1.science import mmu_halo
from pipeline.layers import product_layer
from pipeline.zones import Zones

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


def cube(name, values, years, chunks, extra=None):
    """A (time, y, x) dataset shaped like ``catalog.load.load_cube``'s data."""
    times = np.array([f"{y}-0{1 + i % 6}-01" for i, y in enumerate(years)], dtype="datetime64[ns]")
    coords = {"time": times, **(extra or {})}
    return xr.Dataset({name: xr.DataArray(da.from_array(values, chunks=chunks), dims=("time", "y", "x"),
                                          attrs={"nodata": 0})}, coords=coords)


def build(steps, geobox, aoi, cubes, zones=None):
    return engine.build(steps, Setting(geobox=geobox, aoi=aoi_in_crs(aoi, geobox), cubes=cubes, zones=zones),
                        product_layer)


def run_forest(landcover, chunks, geobox, aoi, min_area, eight, zones=None):
    years = list(range(2020, 2020 + landcover.shape[0]))
    params = ForestParameters(mmu_ha=min_area / 1e4, connectivity=8 if eight else 4)
    built = build([forest_step(params, years, geobox)], geobox, aoi,
                  {"landcover": cube("landcover", landcover, years, chunks)}, zones)
    forest, layer, stats = dask.compute(built.layers.forest.data, built.layers.landcover.data, dict(built.stats))
    return forest, layer, stats["landcover"], stats["forest"]


def aoi_totals(stat):
    """The AOI row of a labelled (period, zone, class) statistic as (period, 256) numbers."""
    return stat.sel(zone="all").values


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
    np.testing.assert_allclose(aoi_totals(got[2])[:, :255], expected[2][:, :255], rtol=AREA_RTOL)
    np.testing.assert_allclose(aoi_totals(got[3])[:, :255], expected[3][:, :255], rtol=AREA_RTOL)


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
    assert mmu_halo(min_area, smallest_pixel_area(gb)) * 2 + 13 < nx
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
    assert lc_areas.dims == ("period", "zone", "class") and list(lc_areas.period.values) == ["2020", "2021"]
    # outside-AOI pixels are not counted: the reference counts them as class 255 of its land cover
    np.testing.assert_allclose(aoi_totals(lc_areas)[:, :255], expected[2][:, :255], rtol=AREA_RTOL)
    np.testing.assert_allclose(aoi_totals(lc_areas).sum(axis=1), area_of(gb)[inside].sum(), rtol=AREA_RTOL)
    np.testing.assert_allclose(aoi_totals(forest_areas)[:, :255], expected[3][:, :255], rtol=AREA_RTOL)
    # blocks are summed in a fixed order: a second graph gives the very same bits
    again = run_forest(landcover, chunks, gb, aoi, min_area, True)
    assert lc_areas.values.tobytes() == again[2].values.tobytes()
    assert forest_areas.values.tobytes() == again[3].values.tobytes()


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
    ds = xr.Dataset({name: xr.DataArray(da.from_array(v, chunks=chunks), dims=("time", "y", "x"), attrs={"nodata": 0})
                     for name, v in (("green", green), ("swir16", swir))}, coords=coords)
    return ds, green, swir, scale, offset


def reference_water(green, swir, scale, offset, inside):
    expected = [np.full(inside.shape, kernels.NO_OBSERVATION, np.uint8)]  # no scene in 2019
    for i in range(2):
        sel = slice(6 * i, 6 * i + 6)
        index = np.empty((6, *inside.shape), np.float32)
        kernels.normalized_difference(green[sel], swir[sel], scale[sel], offset[sel], scale[sel], offset[sel], 0, index)
        water = np.empty(index.shape, np.uint8)
        kernels.classify_water(index, 0.0, water)
        classes = np.empty(inside.shape, np.uint8)
        kernels.yearly_water_class(water, 2, 1.0, classes)
        expected.append(classes)
    return np.where(inside, np.stack(expected), np.uint8(kernels.NODATA_U8))


def run_water(ds, gb, aoi, zones=None):
    step = water_step(WaterParameters(min_observations=2), [2019, 2020, 2021], nodata=0)
    built = build([step], gb, aoi, {"optical": ds}, zones)
    return dask.compute(built.layers.water_class.data, built.stats["areas"])


@pytest.mark.parametrize("chunks, strip", [((1, 7, 7), None), ((4, 16, 11), None), ((12, 64, 64), None),
                                           ((5, 16, 16), 100)])
def test_water_step_equals_the_whole_grid_kernels(chunks, strip, monkeypatch):
    if strip:  # many strips of rows per block
        monkeypatch.setattr(water_science, "STRIP_PIXELS", strip)
    rng = np.random.default_rng(1)
    t, ny, nx = 12, 40, 33
    gb = utm_grid(ny, nx)
    aoi = triangle_aoi(gb)
    inside = centres_inside(gb, aoi)
    ds, green, swir, scale, offset = water_cube(rng, t, ny, nx, chunks)
    got, areas = run_water(ds, gb, aoi)
    assert got.shape == (3, ny, nx)
    expected = reference_water(green, swir, scale, offset, inside)
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(got[1:][:, inside])) >= 3  # not a trivial layer
    area = area_of(gb)
    np.testing.assert_allclose(aoi_totals(areas)[:, :255], np.stack([area_sums(c, area) for c in expected])[:, :255],
                               rtol=AREA_RTOL)
    _, again = run_water(ds, gb, aoi)  # blocks are summed in a fixed order: the very same bits
    assert areas.values.tobytes() == again.values.tobytes()


def grid_zones(gb):
    """Three zones on the grid's CRS: two sharing a slanted border, one with a hole; part of the AOI in none."""
    x0, y0, x1, y1 = gb.boundingbox
    w, h = x1 - x0, y1 - y0
    p = lambda fx, fy: (x0 + fx * w, y0 + fy * h)  # noqa: E731
    a = Polygon([p(-0.1, -0.1), p(0.45, -0.1), p(0.6, 0.55), p(-0.1, 0.5)])
    b = Polygon([p(0.45, -0.1), p(1.1, -0.1), p(1.1, 0.6), p(0.6, 0.55)])
    c = Polygon([p(-0.1, 0.5), p(0.6, 0.55), p(0.7, 0.9), p(-0.1, 0.95)],
                holes=[[p(0.1, 0.6), p(0.3, 0.6), p(0.3, 0.8), p(0.1, 0.8)]])
    return Zones(ids=("A", "B", "C"), names=("Alpha", "Beta", "Gamma"), geometries=(a, b, c), source="test",
                 crs=str(gb.crs))


def centre_labels(gb, zones):
    x, y = np.meshgrid(gb.coordinates["x"].values, gb.coordinates["y"].values)
    labels = np.zeros(gb.shape, np.int32)
    for i, g in enumerate(zones.geometries):
        labels[shapely.contains_xy(g, x, y)] = i + 1
    return labels


@pytest.mark.parametrize("chunks, dense", [((1, 7, 7), True), ((1, 16, 25), False), ((2, 64, 64), True),
                                           ((1, 7, 7), False)])
def test_zone_areas_sum_to_the_aoi_and_match_pixel_centres(chunks, dense, monkeypatch):
    """Both partial layouts: every label per block (few zones), or only the labels a block touches (many)."""
    if not dense:
        monkeypatch.setattr(tasks, "DENSE_LABELS", 0)
    rng = np.random.default_rng(3)
    ny, nx = 45, 58
    gb = utm_grid(ny, nx)
    aoi, zones = triangle_aoi(gb), grid_zones(gb)
    inside, labels = centres_inside(gb, aoi), centre_labels(gb, zones)
    landcover = random_landcover(rng, (2, ny, nx), 0.5)
    _, _, lc_areas, forest_areas = run_forest(landcover, chunks, gb, aoi, 6 * RES**2, True, zones)
    assert list(lc_areas.zone.values) == ["all", "A", "B", "C", "outside zones"]
    assert list(lc_areas.zone_name.values) == ["AOI", "Alpha", "Beta", "Gamma", "outside zones"]
    area = area_of(gb)
    for k, zone in enumerate(["outside zones", "A", "B", "C"]):
        member = inside & (labels == k)
        assert member.any(), zone
        for t in range(2):
            want = np.bincount(landcover[t][member], weights=area[member], minlength=256)
            np.testing.assert_allclose(lc_areas.sel(zone=zone).values[t], want, rtol=AREA_RTOL, atol=1e-6)
    parts = lc_areas.sel(zone=["A", "B", "C", "outside zones"]).sum("zone")
    np.testing.assert_allclose(parts.values, lc_areas.sel(zone="all").values, rtol=1e-12)
    np.testing.assert_allclose(forest_areas.sel(zone=["A", "B", "C", "outside zones"]).sum("zone").values,
                               forest_areas.sel(zone="all").values, rtol=1e-12)


def _values_block(block):
    return {"v": block.stack("values", "v")[0], "unit": block.stack("values", "unit")[0].astype(np.int32)}


def values_setting(chunks, rng, ny=50, nx=61):
    gb = utm_grid(ny, nx)
    v = rng.normal(1.0, 0.5, (1, ny, nx)).astype(np.float32)
    v[rng.random(v.shape) < 0.1] = np.nan
    v[0, :4] = np.round(v[0, :4], 1)  # ties
    unit = rng.integers(0, 3, (1, ny, nx)).astype(np.int16)
    ds = cube("v", v, [2020], chunks).assign(unit=xr.DataArray(da.from_array(unit, chunks=chunks),
                                                                dims=("time", "y", "x")))
    return gb, ds, v[0], unit[0].astype(np.int32)


@pytest.mark.parametrize("chunks", [(1, 50, 61), (1, 9, 13), (1, 24, 32)])
def test_reduce_then_map_is_exact_for_any_chunking(chunks):
    """Quantiles per label over the whole AOI, then a per-pixel pass with them: np.percentile exactly."""
    rng = np.random.default_rng(11)
    gb, ds, v, unit = values_setting(chunks, rng)
    aoi, zones = triangle_aoi(gb), grid_zones(gb)
    inside, labels = centres_inside(gb, aoi), centre_labels(gb, zones)
    edges = (0.0, 0.5, 1.0, 1.5, 2.0)
    first = Step(name="values", inputs={"values": ("v", "unit")}, block=_values_block,
                 reductions=(Quantiles("p", "v", q=(10.0, 90.0), by="unit", n_labels=3),
                             ValueSums("sums", "v"), Histogram("hist", "v", edges)))
    ratio = Layer("ratio", "float32", "value / 90th percentile of its unit", float("nan"), units="1")
    second = Step(name="ratio", inputs={"values": ("v", "unit")}, block=_ratio_block, layers=(ratio,), uses=("p",))
    built = build([first, second], gb, aoi, {"values": ds}, zones)
    p = built.stats["p"]  # computed while building: the second step needs it
    assert p.dims == ("label", "q")
    for u in range(3):
        sel = v[inside & (unit == u) & ~np.isnan(v)].astype(np.float64)
        np.testing.assert_array_equal(p.values[u], np.percentile(sel, [10.0, 90.0]))
    got, sums, hist = dask.compute(built.layers.ratio.data, built.stats["sums"], built.stats["hist"])
    want = np.where(inside, v / p.values[unit, 1], np.nan).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    area = area_of(gb)
    for k, zone in enumerate(["outside zones", "A", "B", "C"]):
        m = inside & (labels == k) & ~np.isnan(v)
        np.testing.assert_allclose(sums.sel(zone=zone).values, [m.sum(), v[m].astype(np.float64).sum(),
                                                                 area[m].sum(), (area[m] * v[m]).sum()], rtol=AREA_RTOL)
        counts = np.bincount(np.searchsorted(edges, v[m].astype(np.float64), side="right"), minlength=len(edges) + 1)
        np.testing.assert_array_equal(hist.sel(zone=zone).values, counts)
    np.testing.assert_array_equal(hist.sel(zone="all").values, hist.sel(zone=["A", "B", "C", "outside zones"])
                                  .sum("zone").values)


def _ratio_block(block):
    v = block.stack("values", "v")[0]
    unit = block.stack("values", "unit")[0].astype(np.int32)
    out = np.empty(v.shape, np.float32)
    kernels.ratio_to_zone_value(np.ascontiguousarray(v), unit, block.broadcast["p"][:, 1].copy(), out)
    return {"ratio": out}


@pytest.mark.parametrize("chunks", [(97, 131), (10, 17), (33, 64)])
def test_ratio_to_zone_percentile_does_not_depend_on_chunking(chunks):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(97, 131)).astype(np.float32)
    v[rng.random(v.shape) < 0.1] = np.nan
    v[:5] = np.round(v[:5], 1)  # ties
    v[5, :] = -0.0  # signed zeros sort with the zeros
    z = rng.integers(-1, 5, v.shape).astype(np.int32)
    z[z == 4] = 3  # label 4 has no values: NaN
    q = [0, 10, 33.3, 50, 90, 100]
    got = engine.zonal_percentiles(da.from_array(v, chunks=chunks), da.from_array(z, chunks=chunks), 5, q)
    for k in range(4):
        np.testing.assert_array_equal(got[k], np.percentile(v[(z == k) & ~np.isnan(v)].astype(np.float64), q))
    assert np.isnan(got[4]).all()
    ratio = engine.ratio_to_zone_percentile(da.from_array(v, chunks=chunks), da.from_array(z, chunks=chunks), 5,
                                            90.0).compute()
    p90 = np.where(z >= 0, got[np.maximum(z, 0), 4], np.nan)
    np.testing.assert_array_equal(ratio, np.where((z >= 0) & (z < 4), v / p90, np.nan).astype(np.float32))


def test_same_recipe_builds_the_same_graph_and_shares_the_aoi_once():
    ny, nx = 40, 33
    gb = utm_grid(ny, nx)
    aoi, zones = triangle_aoi(gb), grid_zones(gb)
    keys = []
    for _ in range(2):
        ds = water_cube(np.random.default_rng(2), 12, ny, nx, (4, 16, 11))[0]
        built = build([water_step(WaterParameters(), [2020, 2021], 0)], gb, aoi, {"optical": ds}, zones)
        graph = dict(built.layers.water_class.data.__dask_graph__())
        keys.append(set(graph))
    assert keys[0] == keys[1]
    shared = [k for k in keys[0] if isinstance(k, str) and (k.startswith("aoi-") or k.startswith("zones-"))]
    assert len(shared) == 2  # one AOI and one zones object, however many tasks read them
    tasks = [k for k in keys[0] if isinstance(k, tuple) and str(k[0]).startswith("water-")]
    assert len(tasks) == 2 * 3 * 3  # one task per (year, block)


def _trend_block(block):
    v = np.ascontiguousarray(block.stack("series", "v"))
    times = block.params
    outs = {name: np.empty(v.shape[1:], np.float64) for name in ("slope", "intercept", "s", "var_s", "z", "p", "tau")}
    kernels.theil_sen(v, times, outs["slope"], outs["intercept"], 4)
    kernels.mann_kendall(v, outs["s"], outs["var_s"], outs["z"], outs["p"], outs["tau"], 4)
    return {k: a.astype(np.float32) for k, a in outs.items()}


@pytest.mark.parametrize("chunk", [5, 32])
def test_a_time_series_step_equals_the_bare_kernels(chunk):
    """Continuous (float32, NaN) single layers from the whole series: slope and p-value per pixel."""
    rng = np.random.default_rng(5)
    t, ny, nx = 15, 23, 31
    values = (rng.normal(size=(t, ny, nx)) + np.linspace(0, 2, t)[:, None, None]).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 0, 0] = np.nan  # an all-NaN pixel
    times = np.arange(2000, 2000 + t, dtype=np.float64)
    gb = utm_grid(ny, nx)
    ds = cube("v", values, list(range(2000, 2000 + t)), (1, chunk, chunk))
    layers = tuple(Layer(n, "float32", n, float("nan"), units="1") for n in ("slope", "p"))
    step = Step(name="trend", inputs={"series": ("v",)}, block=_trend_block, layers=layers, params=times)
    built = build([step], gb, whole_aoi(gb), {"series": ds})
    assert built.layers.slope.dims == ("y", "x") and np.isnan(built.layers.slope.encoding["_FillValue"])
    expected = _trend_block(type("B", (), {"stack": lambda self, a, b: values, "params": times})())
    for name in ("slope", "p"):
        np.testing.assert_array_equal(built.layers[name].values, expected[name], err_msg=name)
    assert np.isnan(built.layers.slope.values[0, 0]) and np.isfinite(built.layers.slope.values).mean() > 0.9


def _leaky_block(block):
    warnings.simplefilter("ignore")  # what an overlapped catch_warnings in a worker thread leaves behind
    return {"v": block.stack("values", "v")[0]}


def test_a_compute_leaves_the_warning_filters_as_they_were():
    rng = np.random.default_rng(1)
    gb, ds, _, _ = values_setting((1, 25, 31), rng)
    step = Step(name="leaky", inputs={"values": ("v",)}, block=_leaky_block,
                layers=(Layer("v", "float32", "v", float("nan")),))
    built = build([step], gb, whole_aoi(gb), {"values": ds})
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        before = list(warnings.filters)
        engine.compute(built.layers.v.data, {}, progress=False)
        assert warnings.filters == before
        with pytest.warns(UserWarning, match="still heard"):
            warnings.warn("still heard", UserWarning, stacklevel=1)


def test_task_keys_change_with_the_rule():
    ny, nx = 40, 33
    gb = utm_grid(ny, nx)
    ds = water_cube(np.random.default_rng(2), 12, ny, nx, (4, 16, 11))[0]
    keys = []
    for threshold in (0.0, 0.0, 0.2):
        built = build([water_step(WaterParameters(water_threshold=threshold), [2020], 0)], gb, triangle_aoi(gb),
                      {"optical": ds})
        keys.append({k for k in dict(built.layers.water_class.data.__dask_graph__())
                     if isinstance(k, tuple) and str(k[0]).startswith("water-")})
    assert keys[0] and keys[0] == keys[1] and not keys[0] & keys[2]  # the same input arrays, other tasks


CALLS: list[tuple[float, float]] = []  # (x, y) origin of every block the counting block function saw


def _counting_block(block):
    CALLS.append((block.box.affine.c, block.box.affine.f))
    return {"v": block.stack("values", "v")[0]}


def test_a_product_write_runs_every_block_once_and_stores_the_layer(tmp_path):
    """The Zarr write and the statistics share the block tasks: xarray's delayed store would fuse a
    renamed copy of them into the write, and every block would run twice."""
    rng = np.random.default_rng(5)
    gb, ds, v, _ = values_setting((1, 20, 24), rng)
    step = Step(name="counted", inputs={"values": ("v",)}, block=_counting_block,
                layers=(Layer("v", "float32", "v", float("nan")),), reductions=(ValueSums("sums", "v"),))
    built = build([step], gb, whole_aoi(gb), {"values": ds})
    CALLS.clear()
    writes = engine.zarr_write(built.layers, tmp_path / "p.zarr", {"v": {"chunks": (20, 24)}})
    stats = engine.compute(writes, built.stats, progress=False)
    assert len(CALLS) == len(set(CALLS)) == 3 * 3  # 50 x 61 px in blocks of 20 x 24
    stored = xr.open_zarr(tmp_path / "p.zarr", consolidated=True, zarr_format=3)
    np.testing.assert_array_equal(stored.v.values, v)
    finite = ~np.isnan(v)
    np.testing.assert_allclose(stats["sums"].sel(zone="all").values[:2], [finite.sum(), v[finite].sum()], rtol=1e-6)


MASK_READS: list[int] = []


def _mask_chunk(t):
    MASK_READS.append(t)
    return np.full((1, 4, 5), t % 2 == 0)


def test_the_bands_of_a_block_read_their_shared_mask_once():
    """Two masked bands of a collection hang off one mask chunk per date: one pass reads it once."""
    dates = 6
    mask = da.concatenate([da.from_delayed(dask.delayed(_mask_chunk, pure=True)(t), (1, 4, 5), bool)
                           for t in range(dates)])
    value = da.from_array(np.arange(dates * 20, dtype=np.uint16).reshape(dates, 4, 5), chunks=(1, 4, 5))
    green, swir = da.where(mask, 0, value), da.where(mask, 0, value + 1)
    MASK_READS.clear()
    reads = tasks.ReadGraph()
    whole = (slice(0, 4), slice(0, 5))
    got = tasks.read_windows([reads.window(green, *whole), reads.window(swir, *whole)])
    assert sorted(MASK_READS) == list(range(dates))
    np.testing.assert_array_equal(np.concatenate(got[1]) - np.concatenate(got[0]),
                                  np.where(mask.compute(), 0, 1))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(3, 17), st.integers(3, 17), st.integers(0, 40), st.integers(0, 40),
       st.integers(1, 45), st.integers(1, 45))
def test_a_window_is_the_arrays_slice_for_any_chunking(ct, cy, cx, y0, x0, h, w):
    """A block with its halo, across chunk borders and time chunks of several dates."""
    values = np.arange(5 * 41 * 43, dtype=np.int32).reshape(5, 41, 43)
    arr = da.from_array(values, chunks=(ct, cy, cx)) + 1
    rows, cols = slice(y0, min(41, y0 + h)), slice(x0, min(43, x0 + w))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return
    got = tasks.read_windows([tasks.ReadGraph().window(arr, rows, cols)])[0]
    assert [g.shape[0] for g in got] == list(arr.chunks[0])
    np.testing.assert_array_equal(np.concatenate(got), values[:, rows, cols] + 1)


def test_what_a_block_task_ships_does_not_grow_with_the_aoi():
    """A block's read tasks travel with it to a worker: only its own chunks', whatever the number of blocks."""
    import cloudpickle

    sizes = []
    for side in (64, 512):
        arr = da.map_blocks(lambda b: b + 1, da.zeros((12, side, side), np.uint16, chunks=(1, 32, 32)))
        window = tasks.ReadGraph().window(arr, slice(0, 32), slice(0, 32))
        assert len(window.graph) == len(tasks.ReadGraph().window(arr, slice(32, 64), slice(32, 64)).graph)
        sizes.append(len(cloudpickle.dumps(window)))
    assert sizes[1] <= sizes[0] * 1.05  # 64 times the blocks


THREADS: list[int] = []  # numba's thread count inside every block the recording block function saw


def _threads_block(block):
    THREADS.append(numba.get_num_threads())
    return {"v": block.stack("values", "v")[0]}


@pytest.mark.parametrize(("chunks", "pool"), [((1, 20, 24), 2), ((1, 20, 24), 1), ((1, 50, 61), 2)])
def test_block_tasks_split_the_cores_between_their_kernels(chunks, pool):
    """As many block tasks as cores run their kernels on one thread each; a lone block keeps every core."""
    rng = np.random.default_rng(5)
    gb, ds, _, _ = values_setting(chunks, rng)
    step = Step(name="threads", inputs={"values": ("v",)}, block=_threads_block,
                layers=(Layer("v", "float32", "v", float("nan")),), reductions=(ValueSums("sums", "v"),))
    built = build([step], gb, whole_aoi(gb), {"values": ds})
    THREADS.clear()
    with dask.config.set(num_workers=pool):
        engine.compute(built.layers.v.data, built.stats, progress=False, blocks=built.blocks)
    at_once = min(pool, built.blocks)
    expected = max(1, min(kernel_threads_limit(), (os.cpu_count() or 1) // at_once))
    assert built.blocks == len(THREADS) and set(THREADS) == {expected}
    assert numba.get_num_threads() == kernel_threads_limit()  # put back after the compute


def test_a_time_series_step_does_not_depend_on_the_kernels_threads(monkeypatch):
    rng = np.random.default_rng(8)
    t, ny, nx = 14, 37, 29
    values = (rng.normal(size=(t, ny, nx)) + np.linspace(0, 1, t)[:, None, None]).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    times = np.arange(2000, 2000 + t, dtype=np.float64)
    gb = utm_grid(ny, nx)
    layers = tuple(Layer(n, "float32", n, float("nan"), units="1") for n in ("slope", "p", "tau"))
    step = Step(name="trend", inputs={"series": ("v",)}, block=_trend_block, layers=layers, params=times)
    results = []
    for share in (1, kernel_threads_limit()):
        monkeypatch.setattr(tasks, "kernel_share", share)
        built = build([step], gb, whole_aoi(gb), {"series": cube("v", values, list(range(2000, 2000 + t)),
                                                                   (1, 37, 29))})
        results.append({n: built.layers[n].values for n in ("slope", "p", "tau")})
    for name in ("slope", "p", "tau"):
        assert results[0][name].tobytes() == results[1][name].tobytes(), name


OPENS: list[int] = []


def _open_date(t):
    OPENS.append(t)
    return np.full((1, 20, 24), t, np.float32)


def test_what_blocks_share_is_read_once_per_run_not_once_per_block():
    """odc-loader opens each date's file in one task that every block's chunk depends on: that task is
    the graph's, run once, and its value reaches each block (as dask ships a dependency)."""
    dates = 5
    per_date = [da.from_delayed(dask.delayed(_open_date, pure=True)(t), (1, 20, 24), np.float32)
                for t in range(dates)]
    arr = da.concatenate(per_date).rechunk((1, 10, 12))  # 4 blocks cut from each date's one read
    gb = utm_grid(20, 24)
    times = np.array([f"202{t}-06-01" for t in range(dates)], dtype="datetime64[ns]")
    ds = xr.Dataset({"v": xr.DataArray(arr, dims=("time", "y", "x"))}, coords={"time": times})
    step = Step(name="opened", inputs={"values": ("v",)}, block=_counting_block,
                layers=(Layer("v", "float32", "v", float("nan")),))
    built = build([step], gb, whole_aoi(gb), {"values": ds})
    OPENS.clear()
    CALLS.clear()
    got = engine.compute(built.layers.v.data, {}, progress=False, blocks=built.blocks)
    assert len(CALLS) == 4 and sorted(OPENS) == list(range(dates))
    assert np.all(built.layers.v.values == 0)  # the first date, in every block
    assert got == {}


def _difference_block(block):
    return {"v": (block.stack("values", "swir")[0] - block.stack("values", "green")[0]).astype(np.float32)}


def test_what_two_bands_of_one_block_share_stays_inside_the_block():
    """The mask chunk both masked bands of a block read is that block's alone: not a task of the graph
    (whose result would wait in memory for the block), but read inside the block's task."""
    rng = np.random.default_rng(2)
    mask = da.from_array(rng.random((3, 20, 24)) < 0.3, chunks=(1, 10, 12))
    value = da.from_array(rng.integers(1, 100, (3, 20, 24)).astype(np.float32), chunks=(1, 10, 12))
    times = np.array(["2020-06-01", "2021-06-01", "2022-06-01"], dtype="datetime64[ns]")
    ds = xr.Dataset({"green": (("time", "y", "x"), da.where(mask, 0, value)),
                     "swir": (("time", "y", "x"), da.where(mask, 0, value + 1))}, coords={"time": times})
    gb = utm_grid(20, 24)
    step = Step(name="diff", inputs={"values": ("green", "swir")}, block=_difference_block,
                layers=(Layer("v", "float32", "v", float("nan")),))
    built = build([step], gb, whole_aoi(gb), {"values": ds})
    names = {k[0] if isinstance(k, tuple) else k for k in dict(built.layers.v.data.__dask_graph__())}
    assert not any(n.startswith((mask.name, value.name)) for n in names)
    np.testing.assert_array_equal(built.layers.v.values, np.where(mask[0].compute(), 0, 1))
