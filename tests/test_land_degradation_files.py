"""15.3.1 from national GeoTIFFs (``file:``/``files:`` inputs): land cover, a given LPD and given SOC stocks.

A small designed world with a per-pixel answer: each patch's sub-indicators follow from
the published rules by hand, so every layer is compared pixel for pixel, and the
table's proportion against geodesic cell areas computed here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml
from affine import Affine

from catalog.demo.layout import geodesic_cell_area
from pipeline.recipe import RecipeError, load_recipe
from pipeline.run import run

RES = 1 / 2400
WEST, NORTH = -56.08, -12.515
NY, NX = 24, 40
LC_YEARS, STOCK_YEARS, LPD_YEARS = (2000, 2015, 2019, 2023), (2000, 2015, 2019, 2023), (2015, 2019, 2023)
PERIODS = {"baseline": (2000, 2015), "2016-2019": (2015, 2019), "2020-2023": (2015, 2023)}
ND = -128

P1 = (slice(2, 8), slice(2, 10))  # forest -> cropland by 2015, SOC -10 % exactly
P2 = (slice(2, 8), slice(12, 20))  # grassland -> cropland in 2019
P3 = (slice(14, 20), slice(2, 10))  # LPD declining throughout
P4 = (slice(14, 20), slice(12, 20))  # LPD 5, then 3, then 2
P5 = (slice(9, 13), slice(12, 20))  # SOC +10 % exactly by 2019, +9.8 % by 2023
LAKE = (slice(16, 22), slice(30, 38))
LC_HOLE = (slice(10, 13), slice(30, 34))
LPD_FIFTEEN = (slice(22, 24), slice(0, 4))


def _write(path, array, nodata):
    with rasterio.open(path, "w", driver="GTiff", width=NX, height=NY, count=1, dtype=array.dtype,
                       crs="EPSG:4326", transform=Affine(RES, 0, WEST, 0, -RES, NORTH), nodata=nodata) as dst:
        dst.write(array, 1)


def _world():
    lc = {}
    for year in LC_YEARS:
        a = np.full((NY, NX), 50, np.uint8)
        a[P1] = 10 if year >= 2015 else 50
        a[P2] = 10 if year >= 2019 else 130
        a[LAKE] = 210
        a[LC_HOLE] = 0
        lc[year] = a
    lpd = {}
    for year, p4 in zip(LPD_YEARS, (5, 3, 2), strict=True):
        a = np.full((NY, NX), 4, np.uint8)
        a[P3] = 1
        a[P4] = p4
        a[LPD_FIFTEEN] = 15
        lpd[year] = a
    stock = {}
    for year in STOCK_YEARS:
        a = np.full((NY, NX), 50.0, np.float32)
        a[P1] = 45.0 if year >= 2015 else 50.0
        a[P5] = {2019: 55.0, 2023: 54.9}.get(year, 50.0)
        stock[year] = a
    return lc, lpd, stock


def _expected(lc, lpd, stock):
    """Per period: (lc degradation, prod3, soc degradation, sdg) from the designed patches."""
    out = {}
    for name, (t0, t1) in PERIODS.items():
        lpd_year = {"baseline": 2015, "2016-2019": 2019, "2020-2023": 2023}[name]
        lcd = np.zeros((NY, NX), np.int8)
        lcd[P1] = -1 if name == "baseline" else 0  # tree -> crop degraded; crop stays crop after 2015
        lcd[P2] = 1 if name != "baseline" else 0  # grass -> crop improved
        lcd[LC_HOLE] = ND
        l3 = {1: -1, 2: -1, 3: 0, 4: 0, 5: 1}
        prod = np.vectorize(lambda v: l3.get(int(v), ND))(lpd[lpd_year]).astype(np.int8)
        pct = (stock[t1].astype(np.float64) - stock[t0]) / stock[t0] * 100
        soc = np.where(pct <= -10, -1, np.where(pct >= 10, 1, 0)).astype(np.int8)
        soc[LAKE] = ND  # water at the initial year
        soc[LC_HOLE] = ND
        stack = np.stack([lcd, prod, soc])
        sdg = np.where((stack == -1).any(0), -1, np.where((stack == 1).any(0), 1, 0)).astype(np.int8)
        sdg[(stack == ND).any(0)] = ND
        out[name] = {"land_cover_degradation": lcd, "productivity": prod, "soc_degradation": soc, "sdg": sdg}
    return out


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    root = tmp_path_factory.mktemp("national")
    lc, lpd, stock = _world()
    for year, a in lc.items():
        _write(root / f"lc_{year}.tif", a, 0)
    for year, a in lpd.items():
        _write(root / f"lpd_{year}.tif", a, 0)
    for year, a in stock.items():
        _write(root / f"soc_{year}.tif", a, -9999.0)
    half = RES / 2
    recipe = {
        "sdg": "15.3.1", "title": "national files",
        "aoi": {"name": "designed", "bbox": [WEST + half / 2, NORTH - NY * RES + half / 2, WEST + NX * RES - half / 2,
                                             NORTH - half / 2]},
        "grid": {"crs": "EPSG:4326", "resolution": RES, "chunk": 64},
        "inputs": {"landcover": {"files": {y: str(root / f"lc_{y}.tif") for y in LC_YEARS}, "bands": ["landcover"]},
                   "lpd": {"files": {y: str(root / f"lpd_{y}.tif") for y in LPD_YEARS}, "bands": ["lpd"]},
                   "soc_stock": {"files": {y: str(root / f"soc_{y}.tif") for y in STOCK_YEARS}, "bands": ["soc"]}},
        "periods": {"years": [2000, 2023]},
        "parameters": {"productivity": "given", "soc": "given", "land_cover_legend": "esa-cci"},
    }
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    result = run(load_recipe(path), out=root / "out", progress=False)
    return result, _expected(lc, lpd, stock)


def test_every_layer_matches_the_design_pixel_for_pixel(national):
    result, expected = national
    ds = xr.open_zarr(result.path / "product.zarr", mask_and_scale=False)
    for period, layers in expected.items():
        for name, want in layers.items():
            got = ds[name].sel(period=period).values
            np.testing.assert_array_equal(got, want, err_msg=f"{name} {period}")
    assert "trajectory" not in ds  # a given LPD: no trajectory, state or performance layers


def test_proportion_degraded_against_geodesic_areas(national):
    result, expected = national
    rows = np.arange(NY)
    north = NORTH - rows * RES
    cell = np.broadcast_to(geodesic_cell_area(north - RES, north, RES)[:, None], (NY, NX))
    table = result.table
    lake = np.zeros((NY, NX), bool)
    lake[LAKE] = True
    for period, layers in expected.items():
        degraded = cell[layers["sdg"] == -1].sum()
        land = cell.sum() - cell[lake].sum()
        got = table[(table.series == "degraded_pct") & (table.period == period) & (table.zone == "all")].value
        assert got.iloc[0] == pytest.approx(degraded / land * 100, rel=1e-9)


def test_a_file_that_is_missing_is_a_one_line_error(tmp_path):
    text = """
sdg: "15.3.1"
title: t
aoi: {name: a, bbox: [-56.07, -12.55, -56.02, -12.52]}
grid: {crs: "EPSG:4326", resolution: 0.0004166666666666667}
inputs:
  landcover: {files: {2000: nowhere.tif, 2015: nowhere.tif}, bands: [landcover]}
  lpd: {file: nowhere.tif, bands: [lpd]}
  soc_stock: {files: {2000: nowhere.tif}, bands: [soc]}
periods: {years: [2000, 2023]}
parameters: {productivity: given, soc: given}
"""
    path = tmp_path / "r.yaml"
    path.write_text(text)
    from catalog.files import RasterFileError

    with pytest.raises(RasterFileError, match="inputs.landcover.files.2000: nowhere.tif is not a file"):
        run(load_recipe(path), out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "15.3.1").exists()


@pytest.mark.parametrize(("spec", "message"), [
    ({"bands": ["landcover"]}, "give exactly one of 'collection'"),
    ({"bands": ["landcover"], "file": "a.tif", "collection": "esa-cci-lc"}, "got collection, file"),
    ({"bands": ["a", "b"], "file": "a.tif"}, "a file input has one band"),
])
def test_file_inputs_are_validated(tmp_path, spec, message):
    recipe = {"sdg": "15.3.1", "title": "t", "aoi": {"name": "a", "bbox": [-56.07, -12.55, -56.02, -12.52]},
              "grid": {"crs": "EPSG:4326", "resolution": RES}, "periods": {"years": [2000, 2023]},
              "inputs": {"landcover": spec, "lpd": {"file": "l.tif", "bands": ["lpd"]},
                         "soc_stock": {"file": "s.tif", "bands": ["soc"]}},
              "parameters": {"productivity": "given", "soc": "given"}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)


def test_a_class_missing_from_a_custom_legend_is_an_error_listing_it(national, tmp_path):
    from pipeline.indicators import DataError

    result, _ = national
    recipe = load_recipe(result.path / "recipe.yaml")
    table = {50: 1, 0: 0}  # cropland (10, from 2015), grassland (130) and water (210) left out
    params = dataclasses.replace(recipe.parameters, land_cover_legend="custom", land_cover_table=table)
    with pytest.raises(DataError, match=r"inputs.landcover holds classes \[10, 130, 210\] that the legend table "
                                        r"\(custom\) lacks; add them to parameters.land_cover_table"):
        run(dataclasses.replace(recipe, parameters=params), out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "15.3.1").exists()  # nothing left behind


def test_any_integer_legend_works_through_a_custom_table(national, tmp_path):
    """A national legend with int16 codes (1050 for CCI 50, ...) gives the same layers as the CCI codes."""
    result, expected = national
    lc, _, _ = _world()
    recipe = load_recipe(result.path / "recipe.yaml")
    files = {}
    for year, a in lc.items():
        files[year] = str(tmp_path / f"lc16_{year}.tif")
        _write(files[year], np.where(a == 0, -1, a.astype(np.int16) + 1000).astype(np.int16), -1)
    inputs = dict(recipe.inputs)
    inputs["landcover"] = dataclasses.replace(inputs["landcover"], files=files)
    table = {1050: 1, 1130: 2, 1010: 3, 1210: 7}
    params = dataclasses.replace(recipe.parameters, land_cover_legend="custom", land_cover_table=table)
    national16 = run(dataclasses.replace(recipe, inputs=inputs, parameters=params), out=tmp_path / "out",
                     progress=False)
    ds = xr.open_zarr(national16.path / "product.zarr", mask_and_scale=False)
    for period, layers in expected.items():
        for name, want in layers.items():
            np.testing.assert_array_equal(ds[name].sel(period=period).values, want, err_msg=f"{name} {period}")
