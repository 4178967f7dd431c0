"""A year without any clear observation is unknown, never 0 km²: NaN, a warning, and period means that say so."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import kernels
from pipeline.indicators.sdg6_6_1.table import headline, table
from pipeline.recipe import Periods

YEARS = (2016, 2017, 2018, 2019, 2020)


def _stats(blind: set[int]) -> dict:
    """AOI of 10 km² with 2 km² permanent and 1 km² seasonal water each year, except the blind years."""
    data = np.zeros((len(YEARS), 1, 256))
    for i, year in enumerate(YEARS):
        if year in blind:
            data[i, 0, kernels.NO_OBSERVATION] = 10e6
        else:
            data[i, 0, [kernels.PERMANENT, kernels.SEASONAL, kernels.NOT_WATER]] = (2e6, 1e6, 7e6)
    areas = xr.DataArray(data, dims=("period", "zone", "class"),
                         coords={"period": [str(y) for y in YEARS], "zone": ["all"], "class": np.arange(256),
                                 "zone_name": ("zone", ["AOI"])})
    return {"areas": areas}


def _value(t, series, period):
    return t[(t.series == series) & (t.period == period)].value.iloc[0]


def test_a_year_seen_nowhere_is_nan_with_a_warning_and_left_out_of_the_means():
    periods = Periods(years=(2016, 2020), baseline=(2016, 2017), reporting=(2018, 2020))
    with pytest.warns(UserWarning, match="no clear observation anywhere in the AOI in 2019"):
        t = table(_stats({2019}), periods)
    assert np.isnan(_value(t, "permanent_water_area", "2019")) and np.isnan(_value(t, "total_water_area", "2019"))
    assert np.isnan(_value(t, "permanent_water_pct", "2019"))
    assert _value(t, "no_observation_area", "2019") == pytest.approx(10.0)
    assert _value(t, "permanent_water_area_mean", "reporting 2018-2020") == pytest.approx(2.0)  # not (2+0+2)/3
    assert _value(t, "permanent_water_area_change", "2018-2020 vs 2016-2017") == pytest.approx(0.0)
    note = t[(t.series == "permanent_water_area_mean") & (t.period == "reporting 2018-2020")].note.iloc[0]
    assert "2 of 3 with a value; none in 2019" in note


def test_all_cloudy_input_says_so_instead_of_zero_km2():
    periods = Periods(years=(2016, 2020), baseline=(2016, 2017), reporting=(2018, 2020))
    with pytest.warns(UserWarning, match="no clear observation"):
        t = table(_stats(set(YEARS)), periods)
    assert t[t.series == "permanent_water_area"].value.isna().all()
    assert np.isnan(_value(t, "permanent_water_area_change", "2018-2020 vs 2016-2017"))
    assert headline(t).startswith("no clear observation in any year")
