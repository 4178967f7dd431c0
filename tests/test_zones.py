"""Zone files: every bad one is a one-line error naming the file and the fix; good ones label pixels by centre."""

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from odc.geo.geobox import GeoBox
from shapely.geometry import Polygon, box

from pipeline.zones import ZonesError, read_zones

ROOT = Path(__file__).parents[1]
AOI = box(-56.1, -12.6, -56.0, -12.5)
GRID_CRS = "EPSG:32721"


def write(tmp_path, frame, name="zones.gpkg", **kw):
    path = tmp_path / name
    frame.to_file(path, **kw)
    return path


def frame(ids, geoms, crs="EPSG:4326", **extra):
    return gpd.GeoDataFrame({"code": ids, "name": [f"zone {i}" for i in ids], **extra}, geometry=geoms, crs=crs)


def halves():
    return [box(-56.1, -12.6, -56.05, -12.5), box(-56.05, -12.6, -56.0, -12.5)]


def read(path, **kw):
    return read_zones(path, id_field=kw.pop("id_field", "code"), aoi=AOI, crs=GRID_CRS, **kw)


def test_a_good_file_reads_in_file_order_on_the_grid_crs(tmp_path):
    path = write(tmp_path, frame(["a", "b"], halves()).to_crs("EPSG:3857"))
    zones = read(path, name_field="name")
    assert zones.ids == ("a", "b") and zones.names == ("zone a", "zone b") and zones.crs == GRID_CRS
    x0, y0, x1, y1 = zones.geometries[0].bounds
    assert 500_000 < x0 < 700_000 and 8_500_000 < y0 < 8_700_000  # UTM 21S metres


def test_labels_are_pixel_centres(tmp_path):
    zones = read(write(tmp_path, frame(["a", "b"], halves())))
    gb = GeoBox.from_bbox(shapely.union_all(zones.geometries).bounds, GRID_CRS, resolution=97)
    labels = zones.labels(gb)
    x, y = np.meshgrid(gb.coordinates["x"].values, gb.coordinates["y"].values)
    expected = np.zeros(gb.shape, np.int32)
    for i, g in enumerate(zones.geometries):
        expected[shapely.contains_xy(g, x, y)] = i + 1
    assert (labels == expected).mean() > 0.999 and set(np.unique(labels)) == {0, 1, 2}


@pytest.mark.parametrize("case, match", [
    ("missing file", "does not exist"),
    ("not vector", "not readable vector data"),
    ("no overlap", "does not overlap the AOI"),
    ("missing field", "has no field 'code'.*its fields: name"),
    ("duplicate ids", "not unique.*'a' repeat|not unique.*a repeat"),
    ("empty id", "empty 'code'"),
    ("invalid geometry", "invalid geometry.*make_valid: true"),
    ("points", "zones must be polygons"),
    ("no crs", "has no CRS"),
])
def test_bad_zone_files_say_what_and_how(tmp_path, case, match):
    path = tmp_path / "zones.geojson"
    if case == "not vector":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    elif case == "no overlap":
        write(tmp_path, frame(["a"], [box(10, 10, 11, 11)]), path.name)
    elif case == "missing field":
        write(tmp_path, gpd.GeoDataFrame({"name": ["x"]}, geometry=[halves()[0]], crs="EPSG:4326"), path.name)
    elif case == "duplicate ids":
        write(tmp_path, frame(["a", "a"], halves()), path.name)
    elif case == "empty id":
        write(tmp_path, frame(["a", ""], halves()), path.name)
    elif case == "invalid geometry":
        bowtie = Polygon([(-56.1, -12.6), (-56.0, -12.5), (-56.0, -12.6), (-56.1, -12.5)])
        write(tmp_path, frame(["a"], [bowtie]), path.name)
    elif case == "points":
        write(tmp_path, frame(["a"], [shapely.Point(-56.05, -12.55)]), path.name)
    elif case == "no crs":  # a Shapefile without its .prj
        path = tmp_path / "zones.shp"
        with pytest.warns(UserWarning, match="crs"):
            gpd.GeoDataFrame({"code": ["a"]}, geometry=[halves()[0]]).to_file(path)
    with pytest.raises(ZonesError, match=match) as err:
        read(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message


def test_make_valid_repairs_a_bow_tie(tmp_path):
    bowtie = Polygon([(-56.1, -12.6), (-56.0, -12.5), (-56.0, -12.6), (-56.1, -12.5)])
    zones = read(write(tmp_path, frame(["a"], [bowtie])), make_valid=True)
    assert zones.geometries[0].is_valid and zones.geometries[0].area > 0


def test_a_bad_zones_file_fails_the_cli_in_one_line_and_writes_nothing(demo_catalog, tmp_path):
    zones = write(tmp_path, frame(["a", "a"], halves()))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes/15.1.1.yaml"), "--catalog", demo_catalog,
           "--zones", str(zones), "--zone-id", "code", "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: zones file") and "not unique" in done.stderr
    assert not out.exists() or not any(out.rglob("*"))


def test_a_zone_outside_the_aoi_gets_nan_shares_and_a_warning(demo_catalog, demo_truth, tmp_path):
    from pipeline import tables
    from pipeline.recipe import ZonesSpec, load_recipe
    from pipeline.run import run

    w, s, e, n = demo_truth["aoi"]["bbox"]
    path = write(tmp_path, frame(["in", "away"], [box(w, s, e, n), box(w + 1, s + 1, e + 1, n + 1)]))
    recipe = load_recipe(ROOT / "recipes" / "15.1.1.yaml").with_zones(ZonesSpec(str(path), "code", "name"))
    assert "zones:" in recipe.text and str(path) in recipe.text  # the recorded recipe says what was run
    with pytest.warns(UserWarning, match="zones away.* have no area"):
        table = run(recipe, catalog=demo_catalog, out=tmp_path / "out", progress=False).table
    assert np.isnan(tables.value(table, "forest_area_pct", "2024", "away"))
    assert tables.value(table, "aoi_area", "2024", "away") == 0
    assert tables.value(table, "aoi_area", "2024", "in") == pytest.approx(tables.value(table, "aoi_area", "2024"),
                                                                        rel=1e-12)
