"""SDG 15.2.1: FAO's compound forest change rate, from 15.1.1's forest layer, against the demo's truth."""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pipeline import tables
from pipeline.indicators.sdg15_2_1.parameters import Parameters
from pipeline.indicators.sdg15_2_1.table import change_rate, table
from pipeline.recipe import RecipeError, load_recipe, recipe_from_text
from pipeline.run import run
from tests.test_zones_end_to_end import zones_spec

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(("start", "end", "years"), [(100.0, 90.0, 10), (1.5, 1.5, 3), (2.0, 8.0, 2), (5.0, 0.0, 4)])
def test_the_rate_compounds_back_to_the_end_area(start, end, years):
    rate = change_rate(start, end, years)
    assert start * (1 + rate / 100) ** years == pytest.approx(end, abs=1e-12)


def test_a_rate_from_zero_forest_is_nan_never_a_division_error():
    assert math.isnan(change_rate(0.0, 3.0, 5)) and math.isnan(change_rate(float("nan"), 1.0, 5))
    assert change_rate(4.0, 0.0, 2) == -100.0  # all forest lost is a rate, not a missing one


def _stats(forest: dict[int, float], land: float = 100.0) -> dict[str, xr.DataArray]:
    """Labelled statistics as the engine returns them (m² by period x zone x class), one zone."""
    years = sorted(forest)
    classes = np.arange(256)
    f = np.zeros((len(years), 1, 256))
    lc = np.zeros((len(years), 1, 256))
    for i, y in enumerate(years):
        f[i, 0, 1] = forest[y] * 1e6
        lc[i, 0, 10], lc[i, 0, 30] = forest[y] * 1e6, (land - forest[y]) * 1e6
    coords = {"period": [str(y) for y in years], "zone": ["all"], "zone_name": ("zone", ["AOI"]), "class": classes}
    return {"forest": xr.DataArray(f, dims=("period", "zone", "class"), coords=coords),
            "landcover": xr.DataArray(lc, dims=("period", "zone", "class"), coords=coords)}


def test_decades_give_direction_and_the_change_against_the_baseline_decade():
    forest = {2000: 50.0, 2005: 45.0, 2010: 40.0, 2015: 39.0, 2020: 38.0}
    got = table(_stats(forest), Parameters())
    base, rep = change_rate(50.0, 40.0, 10), change_rate(40.0, 38.0, 10)
    assert tables.value(got, "forest_change_rate", "2000-2020") == pytest.approx(change_rate(50.0, 38.0, 20))
    assert tables.value(got, "forest_change_rate_reporting", "2010-2020") == pytest.approx(rep)
    assert tables.value(got, "forest_change_rate_baseline", "2000-2010") == pytest.approx(base)
    assert tables.value(got, "forest_change_direction", "2010-2020") == -1.0
    assert tables.value(got, "forest_change_rate_vs_baseline", "2010-2020 vs 2000-2010") == pytest.approx(rep - base)
    assert rep - base > 0  # the loss slowed
    annual = got[got.series == "forest_change_rate_annual"]
    assert list(annual.period) == ["2000-2005", "2005-2010", "2010-2015", "2015-2020"]


def test_years_without_the_decades_leave_them_out_and_zero_start_forest_is_nan_with_a_warning():
    with pytest.warns(UserWarning, match="no forest in the first year"):
        got = table(_stats({2016: 0.0, 2024: 2.0}), Parameters())
    assert math.isnan(tables.value(got, "forest_change_rate", "2016-2024"))
    row = got[got.series == "forest_change_rate"].iloc[0]
    assert row.note.startswith("no value: no forest in 2016")
    assert not got.series.str.contains("direction|baseline|reporting").any()


def test_the_recipe_refuses_decades_out_of_order():
    text = (ROOT / "recipes" / "15.2.1.yaml").read_text().replace("baseline: [2000, 2010]", "baseline: [2010, 2020]")
    with pytest.raises(RecipeError, match=r"baseline .* must start before reporting"):
        recipe_from_text(text, source="r.yaml")


@pytest.fixture(scope="module")
def demo_runs(demo_catalog, demo_truth, tmp_path_factory):
    out = tmp_path_factory.mktemp("forest-change")
    spec = zones_spec(demo_catalog, demo_truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {sdg: run(load_recipe(ROOT / "recipes" / f"{sdg}.yaml").with_zones(spec), catalog=demo_catalog,
                         out=out, progress=False) for sdg in ("15.2.1", "15.1.1")}


# forest areas within 2 % or 5 pixels of 10 m (WorldCover's 1/12000 deg resampled to 10 m UTM, as in 15.1.1)
AREA_REL, AREA_ABS = 0.02, 5e-4


def _rate_tolerance(start: float, end: float, years: int) -> float:
    """How far a rate may be off when both areas are off by up to their tolerance: it is as good as the areas."""
    exact = change_rate(start, end, years)
    da, db = (max(AREA_REL, AREA_ABS / a) if a else 0.0 for a in (start, end))
    return max(abs(change_rate(start * (1 + a), end * (1 + b), years) - exact)
               for a in (-da, da) for b in (-db, db)) + 1e-9


def test_demo_rates_match_the_truth_per_zone(demo_runs, demo_truth):
    got = demo_runs["15.2.1"].table
    for zone, truth in [("all", demo_truth["sdg_15_2_1"]), *demo_truth["zones"]["sdg_15_2_1"].items()]:
        for year, area in truth["forest_area_km2"].items():
            expected = pytest.approx(area, rel=AREA_REL, abs=AREA_ABS)
            assert tables.value(got, "forest_area", year, zone) == expected, (zone, year)
        for series, key in (("forest_change_rate", "rate"), ("forest_change_rate_annual", "annual")):
            for period, expected in truth[key].items():
                value = tables.value(got, series, period, zone)
                first, last = period.split("-")
                if expected is None:
                    assert math.isnan(value), (zone, period)
                else:
                    tol = _rate_tolerance(truth["forest_area_km2"][first], truth["forest_area_km2"][last],
                                          int(last) - int(first))
                    assert value == pytest.approx(expected, abs=tol), (zone, series, period)


def test_the_forest_layer_is_15_1_1s(demo_runs):
    a, b = (xr.open_zarr(demo_runs[sdg].path / "product.zarr") for sdg in ("15.2.1", "15.1.1"))
    np.testing.assert_array_equal(a["forest"].values, b["forest"].values)
    tf = demo_runs["15.1.1"].table
    tc = demo_runs["15.2.1"].table
    for year in range(2016, 2025):
        assert tables.value(tc, "forest_area", str(year)) == tables.value(tf, "forest_area", str(year))
