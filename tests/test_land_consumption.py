"""SDG 11.3.1: land consumption rate over population growth rate, per zone, against the demo's truth."""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from odc.geo.geobox import GeoBox

from catalog.load import GridError
from pipeline import tables
from pipeline.engine import Block
from pipeline.indicators.sdg11_3_1.science import UrbanRule, urban_block
from pipeline.indicators.sdg11_3_1.table import land_consumption_rate, population_growth_rate, ratio
from pipeline.recipe import RecipeError, load_recipe, recipe_from_text
from pipeline.run import run
from tests.test_zones_end_to_end import zones_spec

ROOT = Path(__file__).parents[1]
RECIPE = ROOT / "recipes" / "11.3.1.yaml"
REL = 1e-6  # true pixel areas: the pipeline's areal scale factor vs the generator's geodesic cell polygons


def test_rates_follow_their_definitions():
    assert land_consumption_rate(2.0, 3.0, 5) == pytest.approx(0.1)
    assert land_consumption_rate(2.0, 3.0, 5, "log") == pytest.approx(math.log(1.5) / 5)
    assert population_growth_rate(100.0, 200.0, 10) == pytest.approx(math.log(2) / 10)
    assert math.isnan(land_consumption_rate(0.0, 1.0, 5)) and math.isnan(land_consumption_rate(1.0, 0.0, 5, "log"))
    assert land_consumption_rate(1.0, 0.0, 5) == pytest.approx(-0.2)  # all built-up gone is a rate
    assert math.isnan(population_growth_rate(0.0, 5.0, 5)) and math.isnan(population_growth_rate(5.0, 0.0, 5))


@pytest.mark.parametrize(("lcr", "pgr", "value", "note"), [
    (0.02, 0.01, 2.0, ""),
    (0.02, 0.0, math.nan, "did not change"),
    (0.02, math.nan, math.nan, "no population"),
    (math.nan, 0.01, math.nan, "no built-up"),
    (0.02, -0.01, -2.0, "population fell"),
])
def test_the_ratio_is_never_a_silent_division(lcr, pgr, value, note):
    got, why = ratio(lcr, pgr)
    assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value)
    assert note in why and (bool(why) == bool(note))


def _block(built: np.ndarray, people: np.ndarray, band: str, rule: UrbanRule) -> Block:
    shape = built.shape
    return Block(period=None, box=GeoBox.from_bbox((0, 0, shape[1], shape[0]), "EPSG:32721", resolution=1),
                 inner=(slice(None), slice(None)), inside=np.ones(shape, bool), area=np.ones(shape),
                 zones=np.zeros(shape, np.int32),
                 data={"built_up": {band: [built[None]]}, "population": {"population": [people[None]]}},
                 coords={"built_up": {"time": np.zeros(1), f"scale_{band}": np.array([1e-4]),
                                      f"offset_{band}": np.zeros(1)},
                         "population": {"time": np.zeros(1), "scale_population": np.array([0.25]),
                                        "offset_population": np.zeros(1)}},
                 broadcast={}, params=rule)


def test_built_up_is_at_or_above_the_threshold_and_nodata_is_unknown():
    dn = np.array([[0, 4999, 5000, 10000, 65535]], np.uint16)
    people = np.array([[4, 8, -99999, 0, 12]], np.float32)
    rule = UrbanRule("built_up", 0.5, (), 65535.0, -99999.0)
    out = urban_block(_block(dn, people, "built_up", rule))
    np.testing.assert_array_equal(out["built_up"], [[0, 0, 1, 1, 255]])
    np.testing.assert_array_equal(out["population"], [[1, 2, np.nan, 0, 3]])


def test_built_up_from_land_cover_classes():
    lc = np.array([[50, 10, 0, 50, 80]], np.uint8)
    rule = UrbanRule("landcover", None, (50,), 0.0, None)
    out = urban_block(_block(lc, np.ones(lc.shape, np.float32), "landcover", rule))
    np.testing.assert_array_equal(out["built_up"], [[1, 0, 255, 1, 0]])


def test_bad_parameters_say_what_to_fix():
    text = RECIPE.read_text()
    with pytest.raises(RecipeError, match=r"threshold is a built-up fraction within \(0, 1\]"):
        recipe_from_text(text.replace("threshold: 0.5", "threshold: 50"), source="r.yaml")
    with pytest.raises(RecipeError, match="lcr"):
        recipe_from_text(text.replace("lcr: current", "lcr: exponential"), source="r.yaml")


def _run(recipe, demo_catalog, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(recipe, catalog=demo_catalog, out=out, progress=False)


@pytest.fixture(scope="module")
def zoned(demo_catalog, demo_truth, tmp_path_factory):
    recipe = load_recipe(RECIPE).with_zones(zones_spec(demo_catalog, demo_truth))
    return _run(recipe, demo_catalog, tmp_path_factory.mktemp("urban"))


def _check(value: float, expected: float | None, what) -> None:
    if expected is None:
        assert math.isnan(value), what
    else:
        assert value == pytest.approx(expected, rel=REL, abs=1e-12), what


def test_demo_matches_the_truth_per_zone(zoned, demo_truth):
    truth = demo_truth["sdg_11_3_1"]
    got = zoned.table
    for zone, expected in [("all", truth["all"]), *demo_truth["zones"]["sdg_11_3_1"].items()]:
        for year in map(str, truth["epochs"]):
            _check(tables.value(got, "built_up_area", year, zone), expected["built_up_km2"][year], (zone, year))
            assert tables.value(got, "population", year, zone) == expected["population"][year], (zone, year)
            _check(tables.value(got, "built_up_per_capita", year, zone), expected["built_up_per_capita_m2"][year],
                   (zone, year))
        for period, pair in expected["pairs"].items():
            suffix = "" if period == "2015-2025" else "_by_interval"
            for series, key in (("lcr", "lcr"), ("pgr", "pgr"), ("lcrpgr", "lcrpgr"),
                                ("built_up_change", "built_up_change_km2")):
                _check(tables.value(got, series + suffix, period, zone), pair[key], (zone, series, period))


def test_each_story_is_told(zoned, demo_truth):
    got = zoned.table
    faster, slower, falling = demo_truth["sdg_11_3_1"]["towns"]
    assert tables.value(got, "lcrpgr", "2015-2025", faster) > 1 > tables.value(got, "lcrpgr", "2015-2025", slower) > 0
    notes = got[(got.zone == falling) & got.series.str.startswith("lcrpgr")].set_index("period").note
    assert "population fell" in notes["2015-2020"] and "did not change" in notes["2020-2025"]
    assert "negative" in got[(got.zone == falling) & (got.series == "pgr")].note.iloc[0]


def test_the_log_form_is_a_recipe_choice(demo_catalog, demo_truth, tmp_path):
    text = RECIPE.read_text().replace("lcr: current", "lcr: log")
    got = _run(recipe_from_text(text, source="log.yaml"), demo_catalog, tmp_path).table
    pair = demo_truth["sdg_11_3_1"]["all"]["pairs"]["2015-2025"]
    _check(tables.value(got, "lcr", "2015-2025"), pair["lcr_log"], "lcr")
    _check(tables.value(got, "lcrpgr", "2015-2025"), pair["lcrpgr_log"], "lcrpgr")
    assert "ln(Urb_t2 / Urb_t1)" in got[got.series == "lcr"].note.iloc[0]


@pytest.mark.parametrize("resolution", [50, 200])
def test_people_are_kept_on_a_finer_or_coarser_grid(demo_catalog, demo_truth, tmp_path, resolution):
    text = RECIPE.read_text().replace("resolution: 100 ", f"resolution: {resolution} ")
    got = _run(recipe_from_text(text, source="r.yaml"), demo_catalog, tmp_path).table
    for year, people in demo_truth["sdg_11_3_1"]["all"]["population"].items():
        assert tables.value(got, "population", year) == pytest.approx(people, rel=1e-9), (resolution, year)


def test_counts_are_not_reprojected(demo_catalog, tmp_path):
    text = RECIPE.read_text().replace("crs: auto", 'crs: "EPSG:4326"').replace("resolution: 100 ",
                                                                                         "resolution: 0.001 ")
    with pytest.raises(GridError, match=r"set grid\.crs to EPSG:32721"):
        _run(recipe_from_text(text, source="r.yaml"), demo_catalog, tmp_path)
    assert not list(tmp_path.rglob("*.zarr"))  # refused before anything was written
