"""SDG 15.3.1 combination rules, cell by cell, against the published tables (Trends.Earth, UNCCD GPG)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kernels import NODATA_I8
from pipeline.indicators.sdg15_3_1 import legends, science
from pipeline.indicators.sdg15_3_1.legends import lpd_table
from pipeline.recipe import RecipeError, recipe_from_text

ND = NODATA_I8

# UNCCD default matrix as the good practice guidance prints it, row = initial, by class name.
# "-" degraded, "0" stable, "+" improved; columns: tree, grass, crop, wetland, artificial, other, water.
PRINTED = {"tree": "0-----0", "grass": "+0+---0", "crop": "+-0---0", "wetland": "---0--0",
           "artificial": "++++0+0", "other": "++++-00", "water": "0000000"}


def _printed_matrix() -> np.ndarray:
    return np.array([[{"-": -1, "0": 0, "+": 1}[c] for c in row] for row in PRINTED.values()], np.int8)


def test_transition_matrix_every_cell_and_no_data():
    expected = _printed_matrix()
    initial, final = (a.ravel().astype(np.uint8) for a in np.meshgrid(np.arange(8), np.arange(8), indexing="ij"))
    got = science.land_cover_degradation(initial, final, legends.TRANSITIONS)
    for i, f, g in zip(initial, final, got, strict=True):
        assert g == (ND if 0 in (i, f) else expected[i - 1, f - 1]), (i, f)


def test_custom_transition_matrix_is_used():
    matrix = tuple(tuple(1 for _ in range(7)) for _ in range(7))
    got = science.land_cover_degradation(np.array([1, 7], np.uint8), np.array([3, 2], np.uint8), matrix)
    assert got.tolist() == [1, 1]


# (trajectory, state, performance) -> LPD, as Trends.Earth's calc_prod5 assigns them (18 combinations).
LPD_CASES = {
    **{(-1, s, p): 1 for s in (-1, 0, 1) for p in (-1, 0)},
    (0, -1, -1): 1, (0, -1, 0): 2, (0, 0, -1): 3, (0, 0, 0): 4, (0, 1, -1): 4, (0, 1, 0): 4,
    (1, -1, -1): 2, (1, -1, 0): 5, (1, 0, -1): 5, (1, 0, 0): 5, (1, 1, -1): 5, (1, 1, 0): 5,
}


def test_lpd_table_all_18_combinations_and_no_data():
    assert len(LPD_CASES) == 18
    from kernels.degradation import lookup

    for (t, s, p), lpd in LPD_CASES.items():
        got = lookup(lpd_table(), (-1, -1, -1), *(np.array([v], np.int8) for v in (t, s, p)), nodata=0)
        assert got[0] == lpd, (t, s, p)
    for codes in itertools.product((-1, 0, 1, ND), repeat=3):
        if ND in codes:
            got = lookup(lpd_table(), (-1, -1, -1), *(np.array([v], np.int8) for v in codes), nodata=0)
            assert got[0] == 0


def test_lpd_to_three_classes():
    got = science.productivity_classes(np.array([0, 1, 2, 3, 4, 5, 15], np.uint8))
    assert got.tolist() == [ND, -1, -1, 0, 0, 1, ND]


def _one_out_all_out(codes: tuple[int, ...]) -> int:
    if ND in codes:
        return ND  # no data beats degradation
    if -1 in codes:
        return -1
    return 1 if 1 in codes else 0


def test_one_out_all_out_over_every_combination():
    combos = list(itertools.product((-1, 0, 1, ND), repeat=3))
    layers = [np.array([c[i] for c in combos], np.int8) for i in range(3)]
    got = science.one_out_all_out(*layers)
    assert got.tolist() == [_one_out_all_out(c) for c in combos]


@pytest.mark.parametrize(("pct", "code"), [(-10.0, -1), (-9.999999, 0), (-100.0, -1), (0.0, 0), (9.999999, 0),
                                           (10.0, 1), (250.0, 1), (np.nan, ND)])
def test_soc_thresholds_include_exactly_ten_percent(pct, code):
    assert science.soc_degradation(np.array([pct]), 10.0)[0] == code


def test_soc_percent_change_of_exact_ten_percent_stocks_is_on_the_threshold():
    start, end = np.float64(50.0), np.float64(45.0)
    pct = (end - start) / start * 100
    assert science.soc_degradation(np.array([pct]), 10.0)[0] == -1


# Trends.Earth's status matrix: baseline (rows -1, 0, 1) x progress period (columns -1, 0, 1).
STATUS_CASES = {(-1, -1): 1, (-1, 0): 3, (-1, 1): 6, (0, -1): 2, (0, 0): 4, (0, 1): 6, (1, -1): 2, (1, 0): 5,
                (1, 1): 7}


def test_status_matrix_every_cell_and_three_classes():
    pairs = list(itertools.product((-1, 0, 1, ND), repeat=2))
    base, period = (np.array([p[i] for p in pairs], np.int8) for i in range(2))
    status, status3 = science.status_classes(base, period)
    for (b, p), s, s3 in zip(pairs, status, status3, strict=True):
        expected = STATUS_CASES.get((b, p), 0)
        assert s == expected, (b, p)
        assert s3 == {0: ND, 1: -1, 2: -1, 3: -1, 4: 0, 5: 1, 6: 1, 7: 1}[expected]


def test_shipped_source_legends_cover_every_class_of_their_collections():
    from catalog.demo.worldcover import WORLDCOVER_CLASSES

    assert set(WORLDCOVER_CLASSES) <= set(legends.SOURCE_LEGENDS["esa-worldcover"])
    cci = (0, 10, 11, 12, 20, 30, 40, 50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100, 110, 120, 121, 122, 130, 140,
           150, 151, 152, 153, 160, 170, 180, 190, 200, 201, 202, 210, 220)
    assert set(cci) - {0} == set(legends.SOURCE_LEGENDS["esa-cci"])
    assert set(legends.SOURCE_LEGENDS["io-lulc"]) == {1, 2, 4, 5, 7, 8, 9, 10, 11}
    for table in legends.SOURCE_LEGENDS.values():
        assert set(table.values()) <= {0, *legends.UNCCD}


RECIPE = """
sdg: "15.3.1"
title: t
aoi: {name: a, bbox: [-56.07, -12.55, -56.02, -12.52]}
grid: {crs: "EPSG:4326", resolution: 0.0004166666666666667}
inputs:
  landcover: {collection: esa-cci-lc, bands: [landcover]}
  lpd: {collection: jrc-lpd, bands: [lpd]}
  soc: {collection: soilgrids-ocs, bands: [soc]}
periods: {years: [2000, 2023]}
"""


def _recipe(**parameters):
    import yaml

    return recipe_from_text(RECIPE + yaml.safe_dump({"parameters": {"productivity": "given",
                                                                    "cropland_factor": "tropical moist",
                                                                    **parameters}}), source="r.yaml")


@pytest.mark.parametrize(("parameters", "message"), [
    ({"land_cover_legend": "corine"}, "land_cover_legend 'corine' is not shipped"),
    ({"land_cover_legend": "custom"}, "needs land_cover_table"),
    ({"land_cover_legend": "custom", "land_cover_table": {10: 9}}, "UNCCD classes 1..7"),
    ({"transitions": [[0, 1]]}, "transitions must be 7 rows of 7"),
    ({"cropland_factor": "arctic"}, "cropland_factor 'arctic'"),
    ({"soc_reference_year": 2016}, "soc_reference_year 2016 is after"),
    ({"periods": [{"name": "b", "productivity": [2001, 2003], "land_cover": [2000, 2015]}]}, "needs >= 4 years"),
    ({"periods": [{"name": "b", "productivity": [2001, 2015], "land_cover": [2015, 2015]}]}, "initial < final"),
    ({"thresholds": 3}, "unknown key 'parameters.thresholds'"),
])
def test_bad_parameters_say_what_to_fix(parameters, message):
    with pytest.raises(RecipeError, match="r.yaml") as err:
        _recipe(**parameters)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_given_route_needs_no_ndvi_and_computed_route_says_what_it_lacks():
    assert _recipe().parameters.productivity == "given"
    with pytest.raises(RecipeError, match="lacks 'ndvi', 'soil_units'"):
        _recipe(productivity="computed")
    with pytest.raises(RecipeError, match="lacks 'climate'"):
        _recipe(cropland_factor=None)


def test_periods_outside_the_searched_years_are_refused_when_the_recipe_loads():
    with pytest.raises(RecipeError, match=r"r.yaml: parameters.periods read 2000-2023 but periods.years is "
                                          r"\[2010, 2023\]; widen periods.years to \[2000, 2023\]"):
        recipe_from_text(RECIPE.replace("years: [2000, 2023]", "years: [2010, 2023]") + "parameters: {productivity: "
                         "given, cropland_factor: 0.48}", source="r.yaml")


def test_unit_index_finds_units_and_handles_none_found():
    units = np.array([5, 9, 2**32 + 3], np.int64)
    raw = np.array([9, 4, -1, 2**32 + 3, 10], np.int64)
    assert science.unit_index(units, raw).tolist() == [1, -1, -1, 2, -1]
    assert science.unit_index(np.empty(0, np.int64), raw).tolist() == [-1] * 5  # an AOI without any land unit
