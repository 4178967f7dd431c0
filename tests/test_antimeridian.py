"""An AOI across the antimeridian is one piece on a projected grid: its areas are right, its GeoJSON is split."""

import json
import warnings
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from affine import Affine
from shapely.geometry import box, shape

from pipeline import tables
from pipeline.recipe import AOI, recipe_from_text, unwrap, wrapped
from pipeline.run import run
from pipeline.schema import RecipeError

BBOX = [179.5, -17.2, -179.5, -16.8]  # west > east: across the antimeridian (Fiji's longitudes)
UTM = "EPSG:32760"


def _geodesic_km2(lons, lats) -> float:
    return abs(pyproj.Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0]) / 1e6


def test_bbox_and_geojson_across_the_antimeridian_are_one_piece():
    piece = AOI("x", bbox=tuple(BBOX)).shape()
    assert piece.bounds == (179.5, -17.2, 180.5, -16.8) and piece.geom_type == "Polygon"
    split = {"type": "MultiPolygon", "coordinates": [  # as RFC 7946 writes it: cut at +-180
        [[[179.5, -17.2], [180, -17.2], [180, -16.8], [179.5, -16.8], [179.5, -17.2]]],
        [[[-180, -17.2], [-179.5, -17.2], [-179.5, -16.8], [-180, -16.8], [-180, -17.2]]]]}
    joined = AOI("x", geometry=split).shape()
    assert joined.geom_type == "Polygon" and joined.equals(piece)
    parts = wrapped(piece)
    assert parts.geom_type == "MultiPolygon" and all(-180 <= v <= 180 for v in parts.bounds)
    assert unwrap(box(10, 0, 11, 1)).equals(box(10, 0, 11, 1))  # an ordinary AOI is left alone


def _landcover(path: Path) -> tuple[float, list[tuple[float, float]]]:
    """A 100 m UTM 60S land cover around the AOI with a 10 x 10 km forest square centred on 180 deg E."""
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    x0, y0 = to_utm.transform(179.3, -17.4)
    x1, y1 = to_utm.transform(180.7, -16.6)
    xc, yc = to_utm.transform(180.0, -17.0)
    left, top = np.floor(min(x0, x1) / 100) * 100, np.ceil(max(y0, y1) / 100) * 100
    width, height = int((max(x0, x1) - left) // 100) + 1, int((top - min(y0, y1)) // 100) + 1
    transform = Affine(100, 0, left, 0, -100, top)
    cols = left + 100 * (np.arange(width) + 0.5)
    rows = top - 100 * (np.arange(height) + 0.5)
    xs, ys = np.round(xc / 100) * 100, np.round(yc / 100) * 100
    forest = (np.abs(rows[:, None] - ys) < 5000) & (np.abs(cols[None, :] - xs) < 5000)
    lc = np.where(forest, 10, 30).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8", crs=UTM,
                       transform=transform, nodata=0) as dst:
        dst.write(lc, 1)
    corners = [(xs - 5000, ys - 5000), (xs + 5000, ys - 5000), (xs + 5000, ys + 5000), (xs - 5000, ys + 5000)]
    lon, lat = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(*zip(*corners))
    return _geodesic_km2(lon, lat), corners


def _recipe(lc: Path, crs: str = UTM, resolution: float = 100) -> str:
    return f"""
sdg: "15.1.1"
title: forest across the antimeridian
aoi: {{name: across, bbox: {BBOX}}}
grid: {{crs: "{crs}", resolution: {resolution}, chunk: 256}}
inputs:
  landcover: {{files: {{2016: {lc}, 2024: {lc}}}, bands: [landcover]}}
periods: {{years: [2016, 2024]}}
"""


def test_forest_across_the_antimeridian_has_its_true_area(tmp_path):
    lc = tmp_path / "lc.tif"
    forest_km2, _ = _landcover(lc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(recipe_from_text(_recipe(lc), source="r.yaml"), out=tmp_path / "out", progress=False)
    aoi_km2 = _geodesic_km2([179.5, 180.5, 180.5, 179.5], [-17.2, -17.2, -16.8, -16.8])
    assert tables.value(result.table, "forest_area", "2024") == pytest.approx(forest_km2, rel=1e-4)
    assert tables.value(result.table, "aoi_area", "2024") == pytest.approx(aoi_km2, rel=2e-3)  # pixel-centre edge
    item = json.loads((result.path / "item.json").read_text())
    assert shape(item["geometry"]).geom_type == "MultiPolygon"
    assert all(-180 <= v <= 180 for v in item["bbox"])


def test_a_geographic_grid_across_the_antimeridian_is_refused_with_the_fix(tmp_path):
    lc = tmp_path / "lc.tif"
    _landcover(lc)
    from catalog.load import GridError

    with pytest.raises(GridError, match="crosses the antimeridian.*use a projected grid.crs"):
        run(recipe_from_text(_recipe(lc, "EPSG:4326", 0.001), source="r.yaml"), out=tmp_path, progress=False)


def test_a_bbox_still_needs_south_below_north():
    with pytest.raises(RecipeError, match="south < north"):
        recipe_from_text(_recipe(Path("x.tif")).replace("-17.2, -179.5, -16.8", "-16.8, -179.5, -17.2"),
                         source="r.yaml")
