"""SDG 15.4.2: mountain classes, MGCI and degraded mountain land, against rules and the demo's truth."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from catalog.demo.land_degradation import LandDegradation
from catalog.demo.mountains import Mountains
from catalog.demo.world import Design
from catalog.demo.zones import Zones
from pipeline import tables
from pipeline.indicators import DataError
from pipeline.indicators.sdg15_3_1.legends import SOURCE_LEGENDS as UNCCD_LEGENDS
from pipeline.indicators.sdg15_4_2.legends import IMPACT, SEEA, SOURCE_LEGENDS
from pipeline.indicators.sdg15_4_2.science import combine, kapos_classes
from pipeline.recipe import RecipeError, load_recipe, recipe_from_text
from pipeline.run import run
from tests.test_zones_end_to_end import zones_spec

ROOT = Path(__file__).parents[1]
RECIPE = ROOT / "recipes" / "15.4.2.yaml"
NAN = np.nan


@pytest.mark.parametrize(("elevation", "slope", "local_range", "expected"), [
    (4500, 0, 0, 1), (4499.9, 0, 0, 2), (3500, 0, 0, 2), (3499.9, 0, 0, 3), (2500, 0, 0, 3),
    (2499.9, 2, 0, 4), (1500, 2, 0, 4), (1500, 1.999, 900, 0),  # class 4 needs the slope, range does not help
    (1499.9, 5, 0, 5), (1000, 0, 300.01, 5), (1000, 4.99, 300, 0),  # "> 300 m": 300 is not enough
    (999.9, 50, 300, 0), (999.9, 0, 301, 6), (300, 0, 301, 6), (299.9, 80, 5000, 0),
    (NAN, 0, 0, 255), (2000, NAN, 0, 255), (1200, NAN, 400, 5), (1200, NAN, 100, 255), (600, 3, NAN, 255),
    (5000, NAN, NAN, 1), (100, NAN, NAN, 0),
])
def test_kapos_classes_at_every_threshold(elevation, slope, local_range, expected):
    got = kapos_classes(np.array([elevation], np.float32), np.array([slope], np.float32),
                        np.array([local_range], np.float32))
    assert got[0] == expected


def test_the_reporting_status_keeps_a_degraded_baseline_unless_it_improved():
    base = np.repeat(np.array([-1, 0, 1], np.int8), 3)
    step = np.tile(np.array([-1, 0, 1], np.int8), 3)
    np.testing.assert_array_equal(combine(base, step), [-1, -1, 0, -1, 0, 1, -1, 0, 1])


def test_fao_transition_matrix():
    code = {(a, b): IMPACT[a - 1][b - 1] for a in SEEA for b in SEEA}
    assert all(code[a, a] == "S" for a in SEEA)
    assert code[4, 2] == "D" and code[2, 4] == "I"  # tree cover -> cropland, and back
    assert code[9, 10] == "D" and code[10, 9] == "I" and code[4, 6] == "S"
    # counted by hand in the published 10 x 10 table: 46 degradations, 35 improvements, 19 stable
    assert [sum(row.count(c) for row in IMPACT) for c in "DIS"] == [46, 35, 19]


def test_the_shipped_legends_cover_their_products():
    assert set(SOURCE_LEGENDS["esa-cci"]) == set(UNCCD_LEGENDS["esa-cci"]) - {0}  # every LCCS class of ESA CCI
    assert set(SOURCE_LEGENDS["esa-worldcover"]) == {10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}
    assert all(v in SEEA for table in SOURCE_LEGENDS.values() for v in table.values())


@pytest.mark.parametrize(("change", "message"), [
    ("reporting_years: [2018, 2021]", "reporting_years: [2012]"),
    ("baseline: [2000, 2015]", "baseline: [2015, 2000]"),
    ("land_cover_legend: esa-cci ", "land_cover_legend: custom "),
    ("years: [2000, 2021]", "years: [2005, 2021]"),
])
def test_bad_parameters_say_what_to_fix(change, message):
    text = RECIPE.read_text().replace(change, message)
    with pytest.raises(RecipeError) as err:
        recipe_from_text(text, source="r.yaml")
    assert str(err.value).startswith("r.yaml: ") and "\n" not in str(err.value)


def _run(recipe, catalog, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(recipe, catalog=catalog, out=out, progress=False)


@pytest.fixture(scope="module")
def design():
    d = Design(2016)
    return Mountains(LandDegradation(d), Zones(d))


@pytest.fixture(scope="module")
def zoned(demo_catalog, demo_truth, tmp_path_factory):
    recipe = load_recipe(RECIPE).with_zones(zones_spec(demo_catalog, demo_truth))
    return _run(recipe, demo_catalog, tmp_path_factory.mktemp("mountains"))


def _window(product: xr.Dataset, design: Mountains) -> tuple[slice, slice]:
    """The product grid's place in the demo's mountain grid (same pixels; the product's is the AOI + 7 km)."""
    t, step = design.grid.transform, 1 / 2400
    r0 = round((t.f - float(product.y[0])) / step - 0.5)
    c0 = round((float(product.x[0]) - t.c) / step - 0.5)
    return slice(r0, r0 + product.sizes["y"]), slice(c0, c0 + product.sizes["x"])


def test_mountain_classes_equal_the_construction(zoned, design):
    product = xr.open_zarr(zoned.path / "product.zarr", mask_and_scale=False)
    rows, cols = _window(product, design)
    inside = design.inside[rows, cols]
    ours = product["mountain"].values
    np.testing.assert_array_equal(ours[inside], design.classes[rows, cols][inside])
    assert (ours[~inside] == 255).all()
    assert set(np.unique(ours[inside])) == set(range(7))
    lr = product["local_range"].values
    np.testing.assert_allclose(lr[inside], design.local_range[rows, cols][inside], atol=1e-3)


def test_demo_matches_the_truth_per_zone(zoned, demo_truth):
    truth = demo_truth["sdg_15_4_2"]
    got = zoned.table
    for zone, expected in [("all", truth["all"]), *truth["zones"].items()]:
        for year in map(str, truth["years"]):
            assert tables.value(got, "mgci", year, zone) == pytest.approx(expected["mgci"][year], rel=1e-9), zone
            for k, value in expected["mgci_class"][year].items():
                got_k = tables.value(got, f"mgci_class_{k}", year, zone)
                assert (np.isnan(got_k) if value is None else got_k == pytest.approx(value, rel=1e-9)), (zone, k)
            area = tables.value(got, "mountain_area", year, zone) + tables.value(got, "mountain_no_land_cover_area",
                                                                                year, zone)
            assert area == pytest.approx(expected["mountain_km2"], rel=1e-9), (zone, year)
        for period, value in expected["degraded_pct"].items():
            assert tables.value(got, "degraded_mountain_pct", period, zone) == pytest.approx(value, rel=1e-9), zone


def test_the_stories_of_the_design_show(zoned, demo_truth):
    got = zoned.table
    assert tables.value(got, "mgci", "2021") < tables.value(got, "mgci", "2018")  # shrub -> sparse in 2021
    assert tables.value(got, "degraded_mountain_pct", "2015-2021") > tables.value(got, "degraded_mountain_pct",
                                                                                  "2015-2018")


def test_results_do_not_depend_on_chunking(zoned, demo_catalog, demo_truth, tmp_path):
    text = RECIPE.read_text().replace("chunk: 256", "chunk: 100")
    recipe = recipe_from_text(text, source="r.yaml").with_zones(zones_spec(demo_catalog, demo_truth))
    other = _run(recipe, demo_catalog, tmp_path)
    a, b = (xr.open_zarr(r.path / "product.zarr", mask_and_scale=False) for r in (zoned, other))
    for name in ("mountain", "slope", "local_range", "green", "degradation", "land_cover_seea"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    ours, theirs = zoned.table.set_index(["series", "zone", "period"]).value, \
        other.table.set_index(["series", "zone", "period"]).value
    np.testing.assert_allclose(ours.values, theirs.loc[ours.index].values, rtol=1e-12)


def test_real_surface_area_is_a_recipe_option(demo_catalog, demo_truth, tmp_path):
    text = RECIPE.read_text().replace("area: planimetric", "area: surface")
    got = _run(recipe_from_text(text, source="r.yaml"), demo_catalog, tmp_path).table
    area = tables.value(got, "mountain_area", "2000") + tables.value(got, "mountain_no_land_cover_area", "2000")
    assert area == pytest.approx(demo_truth["sdg_15_4_2"]["all"]["mountain_surface_km2"], rel=1e-6)
    assert "real-surface" in got[got.series == "mgci"].note.iloc[0]


def test_a_land_cover_class_missing_from_the_table_is_named(demo_catalog, tmp_path):
    text = RECIPE.read_text().replace("land_cover_legend: esa-cci ", "land_cover_legend: custom\n"
                                      "  land_cover_table: {10: 2, 50: 4, 130: 3, 120: 5, 150: 7, 200: 8}\n  #")
    with pytest.raises(DataError, match=r"classes \[190, 210\] that the SEEA table lacks"):
        _run(recipe_from_text(text, source="r.yaml"), demo_catalog, tmp_path)


def test_mgci_per_bioclimatic_belt_from_a_belt_layer(demo_catalog, design, tmp_path):
    """A belt GeoTIFF on the demo grid (by elevation here): MGCI per belt equals the design's recount."""
    import rasterio

    belt = np.select([design.dem >= 4500, design.dem >= 3500, design.dem >= 1000], [1, 2, 3], 4).astype(np.uint8)
    path = tmp_path / "belts.tif"
    with rasterio.open(path, "w", driver="GTiff", width=design.grid.width, height=design.grid.height, count=1,
                       dtype="uint8", crs=design.grid.crs, transform=design.grid.transform, nodata=0) as dst:
        dst.write(belt, 1)
    text = RECIPE.read_text().replace("inputs:\n", f"inputs:\n  belts:\n    file: {path}\n    bands: [belt]\n")
    text = text.replace("area: planimetric", "area: planimetric\n  belts: true")
    got = _run(recipe_from_text(text, source="r.yaml"), demo_catalog, tmp_path / "out").table
    seea = design.seea(2021)
    mountain = design.inside & (design.classes > 0) & (seea > 0)
    green = np.isin(seea, (2, 3, 4, 5, 6))
    for b, name in ((1, "nival"), (2, "alpine"), (3, "montane"), (4, "remaining_mountain_area")):
        part = mountain & (belt == b)
        expected = design.area[part & green].sum() / design.area[part].sum() * 100 if part.any() else np.nan
        value = tables.value(got, f"mgci_belt_{name}", "2021")
        assert (np.isnan(value) and np.isnan(expected)) or value == pytest.approx(expected, rel=1e-9), name


@pytest.mark.parametrize(("nodata", "categorical", "message"), [
    (None, "false", "integer raster without a nodata value"),
    (-32768, None, "add 'categorical: false' to inputs.dem"),
])
def test_an_integer_dem_file_must_say_its_nodata_and_that_it_is_a_quantity(demo_catalog, design, tmp_path, nodata,
                                                                           categorical, message):
    import rasterio

    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=design.grid.width, height=design.grid.height, count=1,
                       dtype="int16", crs=design.grid.crs, transform=design.grid.transform, nodata=nodata) as dst:
        dst.write(design.dem.astype(np.int16), 1)
    spec = f"dem:\n    file: {path}\n    bands: [elevation]\n" + (f"    categorical: {categorical}\n" if categorical
                                                                     else "")
    text = RECIPE.read_text().replace("dem:\n    collection: cop-dem-glo-30      # elevation (m)\n    bands: "
                                      "[elevation]\n", spec)
    with pytest.raises(DataError, match=message):
        _run(recipe_from_text(text, source="r.yaml"), demo_catalog, tmp_path / "out")
