"""Recipe validation: every mistake is an error naming the file, the key and the fix."""

import re
from pathlib import Path

import pytest
import yaml

from pipeline.indicators import available
from pipeline.recipe import Recipe, load_recipe, recipe_from_text
from pipeline.schema import RecipeError

ROOT = Path(__file__).parents[1]
RECIPES = sorted(ROOT.joinpath("recipes").glob("*.yaml"))


def write(tmp_path, data, name="r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def base(sdg="6.6.1") -> dict:
    return yaml.safe_load(Path(__file__).parents[1].joinpath("recipes", f"{sdg}.yaml").read_text())


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_load_frozen(path):
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe)
    assert path.stem == recipe.sdg or path.stem.startswith(f"{recipe.sdg}-")  # a variant: <sdg>-<what>.yaml
    with pytest.raises(AttributeError):
        recipe.sdg = "x"  # frozen
    with pytest.raises(AttributeError):
        recipe.parameters.mmu_ha = 1  # the indicator's parameters are frozen too
    with pytest.raises(TypeError):
        recipe.inputs["new"] = None  # mappings are read-only


def test_hash_is_of_the_file_bytes(tmp_path):
    data = base()
    a = load_recipe(write(tmp_path, data, "a.yaml"))
    data["parameters"]["water_threshold"] = 0.1
    b = load_recipe(write(tmp_path, data, "b.yaml"))
    assert a.sha256 != b.sha256 and len(a.sha256) == 64


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.update(colour="red"), ["unknown key 'colour'", "valid keys", "aoi", "periods"]),
    (lambda d: d["grid"].update(resolutoin=10), ["'grid.resolutoin'", "crs, resolution, chunk"]),
    (lambda d: d["parameters"].update(treshold=0.1), ["'parameters.treshold'", "water_threshold"]),
    (lambda d: d.pop("grid"), ["missing key 'grid'"]),
    (lambda d: d["grid"].pop("crs"), ["missing key 'grid.crs'"]),
    (lambda d: d["grid"].update(crs="EPSG:999999"), ["not a CRS"]),
    (lambda d: d["grid"].update(resolution=-5), ["resolution must be a finite number > 0"]),
    (lambda d: d["grid"].update(resolution="ten"), ["'grid.resolution' must be a number"]),
    (lambda d: d["aoi"].update(bbox=[10, 0, 5, 1]), ["swap west and east"]),
    (lambda d: d["aoi"].update(bbox=[1, 2, 3]), ["'aoi.bbox' must have 4 items"]),
    (lambda d: d["periods"].update(baseline=[2010, 2012]), ["baseline [2010, 2012] must be"]),
    (lambda d: d["periods"].update(years=[2024, 2016]), ["first <= last"]),
    (lambda d: d["parameters"].update(index="evi"), ["'parameters.index'", "'mndwi'"]),
    (lambda d: d["parameters"].update(min_observations=0), ["min_observations must be >= 1"]),
    (lambda d: d["parameters"].update(min_observations=True), ["must be an integer"]),
    (lambda d: d["inputs"]["optical"].update(bands=["green"]), ["'inputs.optical.bands' lacks swir16"]),
    (lambda d: d["inputs"].pop("optical"), ["'inputs' lacks 'optical'"]),
    (lambda d: d["inputs"]["optical"].update(max_cloud_cover=120), ["max_cloud_cover must be within"]),
    (lambda d: d.update(outputs=["zarr", "tiff"]), ["unknown 'tiff'"]),
    (lambda d: d.update(sdg="99.9.9"), ["'sdg' = '99.9.9'", "available: " + ", ".join(available())]),
])
def test_invalid_recipes_say_what_where_and_how(tmp_path, mutate, expected):
    data = base()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message


def test_15_1_1_parameters_are_validated_by_its_module(tmp_path):
    data = base("15.1.1")
    data["parameters"]["water_classes"] = [10]
    with pytest.raises(RecipeError, match="overlap"):
        load_recipe(write(tmp_path, data))
    data = base("15.1.1")
    data["parameters"]["connectivity"] = 6
    with pytest.raises(RecipeError, match="'parameters.connectivity' = 6 is not one of 4, 8"):
        load_recipe(write(tmp_path, data))


def test_unreadable_and_non_yaml_files(tmp_path):
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sdg: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    bad.write_text("- a list\n")
    with pytest.raises(RecipeError, match="must be a YAML mapping"):
        load_recipe(bad)


def test_geometry_aoi_and_exactly_one_of_bbox_geometry(tmp_path):
    data = base()
    w, s, e, n = data["aoi"].pop("bbox")
    data["aoi"]["geometry"] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    recipe = load_recipe(write(tmp_path, data))
    assert recipe.aoi.shape().bounds == (w, s, e, n)
    data["aoi"]["bbox"] = [w, s, e, n]
    with pytest.raises(RecipeError, match="exactly one of 'bbox'"):
        load_recipe(write(tmp_path, data))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_bbox_override_rewrites_the_recorded_text(path):
    """Provenance keeps the recipe text: after --bbox it must describe the AOI really run."""
    original = load_recipe(path)
    bbox = (-56.05, -12.54, -56.03, -12.53)
    moved = original.with_bbox(bbox)
    assert moved.aoi.bbox == bbox and moved.sha256 != original.sha256
    again = recipe_from_text(moved.text, source="<again>")
    assert again == moved  # same AOI, grid, inputs, periods and parameters from the text alone
    assert again.aoi.bbox == bbox and again.parameters == original.parameters


def test_recipe_from_text_validates_like_a_file():
    data = base()
    data["grid"]["resolutoin"] = 10
    with pytest.raises(RecipeError, match=r"<cell>.*resolutoin.*resolution"):
        recipe_from_text(yaml.safe_dump(data), source="<cell>")


def test_validating_a_recipe_imports_no_numba_dask_or_odc_stac():
    """Listing indicators and checking a recipe stays light: the science is imported only to run."""
    import subprocess
    import sys

    code = ("import sys\nfrom pipeline.recipe import load_recipe\nfrom pipeline.indicators import available\n"
            "for s in available(): load_recipe(f'recipes/{s}.yaml')\n"
            "print(' '.join(m for m in ('numba', 'dask', 'odc.stac', 'xarray', 'kernels') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == ""


def test_the_registry_is_one_explicit_list():
    from pipeline import indicators

    codes = [__import__(p, fromlist=["INDICATOR"]).INDICATOR.code for p in indicators.PACKAGES]
    assert sorted(codes) == indicators.available() and len(set(codes)) == len(codes)
    shipped = {p.stem: load_recipe(p).sdg for p in (ROOT / "recipes").glob("*.yaml")}
    assert set(codes) <= set(shipped) and set(shipped.values()) == set(codes)  # one <sdg>.yaml each, variants beside


def test_zones_in_a_recipe_are_checked_like_the_rest(tmp_path):
    data = yaml.safe_load((ROOT / "recipes" / "15.1.1.yaml").read_text())
    data["zones"] = {"path": "z.gpkg", "id_field": "code", "name_field": "name"}
    recipe = load_recipe(write(tmp_path, data))
    assert recipe.zones.path == "z.gpkg" and recipe.zones.id_field == "code" and not recipe.zones.make_valid
    data["zones"] = {"path": "z.gpkg", "id": "code"}
    with pytest.raises(RecipeError, match="unknown key 'zones.id'.*valid keys under 'zones': path, id_field"):
        load_recipe(write(tmp_path, data))
    data["zones"] = {"path": "z.gpkg"}
    with pytest.raises(RecipeError, match="missing key 'zones.id_field'"):
        load_recipe(write(tmp_path, data))


@pytest.mark.parametrize("baseline, reporting", [([2021, 2024], [2016, 2019]), ([2016, 2020], [2020, 2024])])
def test_a_baseline_after_or_overlapping_the_reporting_period_is_refused(tmp_path, baseline, reporting):
    data = yaml.safe_load((ROOT / "recipes" / "6.6.1.yaml").read_text())
    data["periods"].update(baseline=baseline, reporting=reporting)
    with pytest.raises(RecipeError, match=r"baseline .* must end before reporting .* starts"):
        load_recipe(write(tmp_path, data))


@pytest.mark.parametrize("bbox", [(10, 0, 5, 1), (float("nan"), 0, 5, 1), (0, 5, 1, 1), (-200, 0, 5, 1)])
def test_a_bad_bbox_override_is_a_recipe_error_that_says_how(bbox):
    with pytest.raises(RecipeError, match=r"--bbox .*give WEST SOUTH EAST NORTH in degrees"):
        load_recipe(ROOT / "recipes" / "15.1.1.yaml").with_bbox(bbox)


@pytest.mark.parametrize("resolution", [float("nan"), float("inf"), 0, -10])
def test_a_resolution_that_is_not_a_finite_positive_number_is_refused(tmp_path, resolution):
    data = yaml.safe_load((ROOT / "recipes" / "15.1.1.yaml").read_text())
    data["grid"]["resolution"] = resolution
    with pytest.raises(RecipeError, match="resolution must be a finite number > 0"):
        load_recipe(write(tmp_path, data))


def test_the_cli_reports_a_bad_bbox_in_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pipeline", "run", "recipes/15.1.1.yaml", "--bbox", "10", "0", "5",
                           "1", "--out", str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error: --bbox 10 0 5 1:")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("geometry", "message"), [
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
     "is not a valid polygon (Self-intersection"),
    ({"type": "Point", "coordinates": [0, 0]}, "geometry is a Point; an AOI is a Polygon or MultiPolygon"),
    ({"type": "Polygon"}, "geometry is not GeoJSON"),
])
def test_a_geojson_aoi_must_be_a_valid_polygon(tmp_path, geometry, message):
    data = base()
    data["aoi"] = {"name": "bow tie", "geometry": geometry}
    with pytest.raises(RecipeError, match=re.escape(message)) as err:
        load_recipe(write(tmp_path, data))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path))
