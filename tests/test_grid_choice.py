"""grid.crs: auto picks a grid that suits the AOI; a fixed CRS that does not suit it is refused."""

from pathlib import Path

import pyproj
import pytest
from shapely.geometry import box

from catalog.load import GridError
from pipeline.grid import choose_crs, crs_misfit
from pipeline.recipe import load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]
ZAMBIA_LAKE = (27.0, -16.6, 27.3, -16.3)  # Lake Kariba: UTM 35S, 84 degrees from the demo's zone 21S


@pytest.mark.parametrize(("bbox", "expected"), [
    ((-56.08, -12.55, -56.02, -12.52), "EPSG:32721"),   # the demo
    (ZAMBIA_LAKE, "EPSG:32735"),
    ((10.0, 50.0, 11.0, 51.0), "EPSG:32632"),
    ((-59.5, -14.0, -51.5, -10.0), "EPSG:32721"),  # reaches 2.5 degrees beyond zone 21: still fine
    ((179.5, -17.2, 180.5, -16.8), "EPSG:32701"),  # across the antimeridian (one piece)
])
def test_auto_takes_the_utm_zone_that_holds_the_aoi(bbox, expected):
    crs, why = choose_crs(box(*bbox))
    assert crs == expected and "UTM zone" in why
    assert crs_misfit(box(*bbox), crs) is None


def test_auto_takes_an_equal_area_projection_centred_on_a_country_across_zones():
    brazil = box(-74.0, -34.0, -34.0, 5.3)
    crs, why = choose_crs(brazil)
    parsed = pyproj.CRS.from_user_input(crs)
    assert parsed.coordinate_operation.method_name == "Lambert Azimuthal Equal Area" and "equal-area" in why
    params = {p.name: p.value for p in parsed.coordinate_operation.params}
    assert params["Longitude of natural origin"] == pytest.approx(brazil.centroid.x, abs=1e-3)


def test_a_fixed_crs_far_from_the_aoi_is_refused_naming_auto(demo_catalog, tmp_path):
    recipe = load_recipe(ROOT / "recipes" / "6.6.1.yaml")
    fixed = recipe.__class__(**{**recipe.__dict__, "grid": recipe.grid.__class__("EPSG:32721", 20)})
    with pytest.raises(GridError, match=r"grid\.crs EPSG:32721 does not suit this AOI: .* outside EPSG:32721's area "
                                        r"of use.*use grid\.crs: auto"):
        run(fixed.with_bbox(ZAMBIA_LAKE), catalog=demo_catalog, out=tmp_path, progress=False)
    assert crs_misfit(box(-56.08, -12.55, -56.02, -12.52), "EPSG:4326") is None  # geographic suits anywhere


def test_the_choice_is_recorded_in_the_product(demo_catalog, tmp_path):
    import xarray as xr

    result = run(load_recipe(ROOT / "recipes" / "11.3.1.yaml"), catalog=demo_catalog, out=tmp_path, progress=False)
    attrs = xr.open_zarr(result.path / "product.zarr").attrs
    assert attrs["grid_crs_choice"].startswith("EPSG:32721 (auto: UTM zone 21S")
    assert result.item["properties"]["proj:code"] == "EPSG:32721"
