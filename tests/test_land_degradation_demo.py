"""15.3.1 end to end on the demo against the generator's truth: AOI and zones, both routes, three chunkings.

The performance percentile is global (exact, over the whole AOI), so the layers are the
same bits for every chunking; the land units' percentiles come from one Distinct and one
Quantiles reduction whatever the blocks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pipeline.indicators.sdg15_3_1.table import CLASSES
from pipeline.recipe import load_recipe
from pipeline.run import run
from tests.test_zones_end_to_end import zones_spec

ROOT = Path(__file__).parents[1]
AREA_KM2 = 1e-6  # the truth sums the same geodesic cells: only float rounding separates them
PCT = 0.1  # the tolerance on the proportion (percentage points); we meet it by far


def _series(layer: str, code: str) -> str:
    if code == "nodata":
        return f"{layer}_nodata_area"
    return f"{layer}_{CLASSES[layer][int(code)].replace(' ', '_').replace('%', 'pct')}_area"


def _value(table, series, period, zone="all") -> float:
    rows = table[(table.series == series) & (table.period == period) & (table.zone == zone)]
    assert len(rows) == 1, (series, period, zone)
    return float(rows.value.iloc[0])


def _check(table, truth_periods, zone="all"):
    for period, truth in truth_periods.items():
        assert _value(table, "degraded_pct", period, zone) == pytest.approx(truth["degraded_pct"], abs=PCT)
        assert _value(table, "degraded_pct", period, zone) == pytest.approx(truth["degraded_pct"], abs=1e-6)
        assert _value(table, "te_degraded_pct", period, zone) == pytest.approx(truth["te_degraded_pct"], abs=1e-6)
        assert _value(table, "land_area", period, zone) == pytest.approx(truth["land_area_km2"], abs=AREA_KM2)
        for layer, areas in truth["areas_km2"].items():
            for code, km2 in areas.items():
                assert _value(table, _series(layer, code), period, zone) == pytest.approx(km2, abs=AREA_KM2), \
                    (zone, period, layer, code)


def _with_chunk(recipe, chunk: int):
    return dataclasses.replace(recipe, grid=dataclasses.replace(recipe.grid, chunk=chunk))


@pytest.fixture(scope="module")
def runs(demo_catalog, demo_truth, tmp_path_factory):
    out = tmp_path_factory.mktemp("ld")
    computed = load_recipe(ROOT / "recipes" / "15.3.1.yaml")
    given = load_recipe(ROOT / "recipes" / "15.3.1-lpd.yaml")
    zones = zones_spec(demo_catalog, demo_truth)
    done = {f"chunk{c}": run(_with_chunk(computed, c), catalog=demo_catalog, out=out, progress=False)
            for c in (64, 100, 256)}
    done["zones"] = run(computed.with_zones(zones), catalog=demo_catalog, out=out, progress=False)
    done["given"] = run(given, catalog=demo_catalog, out=out, progress=False)
    return done


def test_aoi_values_match_the_truth(runs, demo_truth):
    _check(runs["chunk256"].table, demo_truth["sdg_15_3_1"]["by_period"])


def test_every_zone_matches_its_truth(runs, demo_truth):
    table = runs["zones"].table
    for zone, periods in demo_truth["zones"]["sdg_15_3_1"].items():
        _check(table, periods, zone)
    _check(table, demo_truth["sdg_15_3_1"]["by_period"])  # zones change nothing for the AOI
    report = (runs["zones"].path / "report.html").read_text()
    assert "<h2>Per zone</h2>" in report and 'alt="map of sdg"' in report and 'alt="map of status"' in report


def test_three_chunkings_give_identical_layers_and_tables(runs):
    base = xr.open_zarr(runs["chunk256"].path / "product.zarr", mask_and_scale=False)
    for name in ("chunk64", "chunk100"):
        other = xr.open_zarr(runs[name].path / "product.zarr", mask_and_scale=False)
        for var in base.data_vars:
            np.testing.assert_array_equal(other[var].values, base[var].values, err_msg=f"{var} {name}")
        cols = ["series", "zone", "period"]
        assert runs[name].table[cols].equals(runs["chunk256"].table[cols])
        # areas are sums of the same pixels in another order: equal to float rounding
        np.testing.assert_allclose(runs[name].table.value, runs["chunk256"].table.value, rtol=1e-12, atol=1e-12)


def test_the_given_lpd_route_agrees_with_the_computed_one(runs, demo_truth):
    computed = xr.open_zarr(runs["chunk256"].path / "product.zarr", mask_and_scale=False)
    given = xr.open_zarr(runs["given"].path / "product.zarr", mask_and_scale=False)
    np.testing.assert_array_equal(given.sdg.values, computed.sdg.values)
    np.testing.assert_array_equal(given.lpd.values, computed.lpd.values)  # the demo's LPD is the computed truth
    assert {"trajectory", "state", "performance"} <= set(computed) and not {"trajectory", "state"} & set(given)
    truth = demo_truth["sdg_15_3_1"]["by_period"]
    for period in truth:
        assert _value(runs["given"].table, "degraded_pct", period) == pytest.approx(truth[period]["degraded_pct"],
                                                                                    abs=1e-6)


def test_layers_are_self_describing(runs):
    ds = xr.open_zarr(runs["chunk256"].path / "product.zarr", mask_and_scale=False)
    assert list(ds.period.values) == ["baseline", "2016-2019", "2020-2023"]
    for name in ("trajectory", "state", "performance", "productivity", "land_cover_degradation", "soc_degradation",
                 "sdg", "status3"):
        attrs = ds[name].attrs
        assert ds[name].dtype == np.int8 and attrs["_FillValue"] == -128, name
        assert "flag_values" in attrs and "flag_meanings" in attrs and attrs["grid_mapping"] == "spatial_ref"
    assert ds.soc_change.attrs["units"] == "percent"
    assert int(np.nanmax(ds.status.sel(period="baseline").values)) == 0  # no status of the baseline itself
    assert set(np.unique(ds.status.sel(period="2020-2023").values)) >= {2, 4}  # F: recent degradation
