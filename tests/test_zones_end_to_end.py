"""Both demo indicators per zone, against the generator's per-zone truth; zones add up to the AOI."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline import tables
from pipeline.recipe import ZonesSpec, load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]
KM2_SERIES = {"15.1.1": ["forest_area", "land_area", "permanent_water_area", "no_data_area", "aoi_area"],
              "6.6.1": ["permanent_water_area", "seasonal_water_area", "no_observation_area", "aoi_area"]}


def zones_spec(demo_catalog, truth, path=None):
    spec = truth["zones"]
    return ZonesSpec(path=str(path or Path(demo_catalog).parent / spec["path"]), id_field=spec["id_field"],
                     name_field=spec["name_field"], layer=None if path else spec.get("layer"))


@pytest.fixture(scope="module")
def zoned(demo_catalog, demo_truth, tmp_path_factory):
    out = tmp_path_factory.mktemp("zoned")
    spec = zones_spec(demo_catalog, demo_truth)
    return {sdg: run(load_recipe(ROOT / "recipes" / f"{sdg}.yaml").with_zones(spec), catalog=demo_catalog,
                     out=out, progress=False) for sdg in ("15.1.1", "6.6.1")}


def test_every_series_has_a_row_per_zone(zoned, demo_truth):
    ids = demo_truth["zones"]["ids"]
    for result in zoned.values():
        table = result.table
        assert set(table.zone) == {"all", *ids, "outside zones"}
        per_zone = table.groupby("zone").size()
        assert per_zone.nunique() == 1  # the same series and periods for every zone
        names = dict(zip(table.zone, table.zone_name, strict=True))
        assert names["all"] == "AOI" and all(names[z] == demo_truth["zones"]["names"][z] for z in ids)


def test_15_1_1_per_zone_matches_truth(zoned, demo_truth):
    table = zoned["15.1.1"].table
    truth = demo_truth["zones"]["sdg_15_1_1"]
    for zone, years in truth.items():
        for year, expected in years.items():
            # the truth is on the native 1/12000 deg land-cover grid, the product on a 10 m UTM grid
            assert tables.value(table, "land_area", year, zone) == pytest.approx(expected["land_area_km2"],
                                                                                 rel=0.005), (zone, year)
            assert tables.value(table, "forest_area_pct", year, zone) == pytest.approx(expected["forest_pct"],
                                                                                       abs=0.1), (zone, year)


def test_6_6_1_per_zone_matches_truth(zoned, demo_truth):
    table = zoned["6.6.1"].table
    truth = demo_truth["zones"]["sdg_6_6_1"]
    split = 0
    for zone, years in truth.items():
        for year, expected in years.items():
            for series, key in (("permanent_water_area", "permanent_km2"), ("seasonal_water_area", "seasonal_km2")):
                # the truth is on the product's own 20 m grid: the same pixels, exact cell areas
                assert tables.value(table, series, year, zone) == pytest.approx(expected[key], rel=1e-6, abs=1e-9), \
                    (zone, year, series)
        split += years["2016"]["permanent_km2"] > 0.05
    assert split >= 2  # the lake really is shared between zones


@pytest.mark.parametrize("sdg", ["15.1.1", "6.6.1"])
def test_zones_and_the_remainder_add_up_to_the_aoi(zoned, sdg):
    table = zoned[sdg].table
    for series in KM2_SERIES[sdg]:
        rows = table[(table.series == series) & (table.start_year == table.end_year)]
        total = rows[rows.zone == "all"].set_index("period").value
        parts = rows[rows.zone != "all"].groupby("period").value.sum()
        np.testing.assert_allclose(parts[total.index], total, rtol=1e-9, err_msg=series)


def test_zones_change_no_aoi_number_and_no_layer(zoned, demo_catalog, tmp_path):
    plain = run(load_recipe(ROOT / "recipes" / "15.1.1.yaml"), catalog=demo_catalog, out=tmp_path, progress=False)
    zoned_all = zoned["15.1.1"].table[zoned["15.1.1"].table.zone == "all"].reset_index(drop=True)
    pd.testing.assert_frame_equal(zoned_all, plain.table, rtol=1e-12)
    a, b = (r.item["properties"]["sdgcube:array_checksums"] for r in (zoned["15.1.1"], plain))
    assert set(a) - set(b) == {"zone"} and all(a[k] == b[k] for k in b)


def test_the_product_carries_the_zone_layer_and_the_report_maps_zones(zoned, demo_truth):
    result = zoned["6.6.1"]
    ids = demo_truth["zones"]["ids"]
    with xr.open_zarr(result.path / "product.zarr", mask_and_scale=False) as ds:
        zone = ds.zone
        assert zone.dims == ("y", "x") and zone.dtype == np.uint16 and zone.attrs["_FillValue"] == 65535
        assert list(zone.attrs["zone_ids"]) == ids and list(ds.attrs["zone_ids"]) == ids
        values = set(np.unique(zone.values))
        assert {0, 1, 2, 3, 65535} <= values
        water = ds.water_class.isel(time=0).values
        assert ((zone.values == 65535) == (water == 255)).all()  # both mark the pixels outside the AOI
    html = (result.path / "report.html").read_text()
    assert "Per zone" in html and "choropleth of permanent_water_pct" in html
    assert all(z in html for z in ids)


def test_the_same_zones_in_geographic_and_projected_crs_give_the_same_table(zoned, demo_catalog, demo_truth,
                                                                             tmp_path):
    source = zones_spec(demo_catalog, demo_truth)
    frame = gpd.read_file(source.path, layer=source.layer)
    tables_ = []
    for crs in ("EPSG:4326", "EPSG:32721"):
        path = tmp_path / f"zones-{crs.replace(':', '')}.geojson"
        frame.to_crs(crs).to_file(path)
        recipe = load_recipe(ROOT / "recipes" / "15.1.1.yaml").with_zones(zones_spec(demo_catalog, demo_truth, path))
        tables_.append(run(recipe, catalog=demo_catalog, out=tmp_path / crs.replace(":", ""), progress=False).table)
    pd.testing.assert_frame_equal(tables_[0], tables_[1], rtol=1e-9)
    pd.testing.assert_frame_equal(tables_[0], zoned["15.1.1"].table, rtol=1e-9)


def test_a_real_boundary_file_the_world_s_countries(demo_catalog, tmp_path):
    """Natural Earth countries (Debian r-cran-spdata, CC0): the demo AOI lies in Brazil, so zone Brazil is the AOI."""
    from catalog.samples.boundaries import ensure_world_boundaries
    from pipeline.zones import ZonesError

    world = ensure_world_boundaries(tmp_path / "boundaries")
    recipe = load_recipe(ROOT / "recipes" / "15.1.1.yaml")
    by_iso = recipe.with_zones(ZonesSpec(path=str(world), id_field="iso_a2", layer="world"))
    with pytest.raises(ZonesError, match="2 features have an empty 'iso_a2'"):  # real data: two lack a code
        run(by_iso, catalog=demo_catalog, out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.zarr"))
    by_name = recipe.with_zones(ZonesSpec(path=str(world), id_field="name_long", layer="world"))
    with pytest.warns(UserWarning, match="no area in the AOI"):  # 176 countries do not reach the AOI
        table = run(by_name, catalog=demo_catalog, out=tmp_path / "out", progress=False).table
    assert table.zone.nunique() == 177 + 2
    for series in ("aoi_area", "forest_area", "land_area"):
        assert tables.value(table, series, "2024", "Brazil") == pytest.approx(tables.value(table, series, "2024"),
                                                                              rel=1e-12)
    others = table[(table.series == "aoi_area") & ~table.zone.isin(["all", "Brazil"])]
    assert (others.value == 0).all()
