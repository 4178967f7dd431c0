"""15.3.1 on real data: MODIS MCD12C1 IGBP land cover (a custom legend) against an independent land/sea truth.

The indicator divides by the land area (the AOI less UNCCD water bodies); here the water
comes from the real MCD12C1 2019 map through a custom IGBP -> UNCCD table, and the
truth is the GLOBE-based 30" land/sea mask of ``global-land-mask`` (lakes count as land
there, so the boxes are coasts with few lakes), brought to the same 0.05 degree cells by the same majority rule. Productivity and SOC are given as
constant stable layers: this checks the land-cover route, the denominator and the
water rule on real data, not the productivity rules (no multi-year NDVI ships offline).
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.windows import from_bounds

from catalog.samples.landcover import IGBP_TO_UNCCD, ensure_land_mask, ensure_mcd12c1
from pipeline.recipe import load_recipe
from pipeline.run import run

BOXES = {  # W S E N: coasts with little inland water
    "Denmark": (8.0, 54.5, 13.0, 57.8),
    "Rio de Janeiro coast": (-44.5, -23.6, -41.0, -21.8),
    "Sri Lanka": (79.4, 5.8, 82.0, 10.0),
}
TOLERANCE_PP = 3.5  # lakes (land in the mask, water in MCD12C1) and the two products' coastlines differ


def _glm_land_fraction(mask_path, box, cell: float = 0.05) -> float:
    """Land share of the box from the 30" mask, each 0.05 degree cell land when most of its 36 samples are:
    the same majority rule as MCD12C1's class (a coastal cell is water when the sea covers most of it)."""
    data = np.load(mask_path)
    lat, lon, ocean = data["lat"], data["lon"], data["mask"]
    west, south, east, north = box
    k = round(cell * 120)
    r0, c0 = int(round((90 - north) * 120)), int(round((west + 180) * 120))
    rows, cols = int(round((north - south) / cell)), int(round((east - west) / cell))
    land = ~ocean[r0:r0 + rows * k, c0:c0 + cols * k]
    share = land.reshape(rows, k, cols, k).mean(axis=(1, 3))
    centre = north - (np.arange(rows) + 0.5) * cell
    weight = np.cos(np.radians(centre))[:, None]
    return float(((share > 0.5) * weight).sum() / (weight.sum() * cols))


def _mcd12c1_land_fraction(path, box) -> float:
    """Share of non-water (IGBP 0) cells with centres in the box, cos(latitude)-weighted."""
    with rasterio.open(path) as src:
        values = src.read(1)
        rows, cols = np.arange(src.height), np.arange(src.width)
        lon = src.transform.c + (cols + 0.5) * src.transform.a
        lat = src.transform.f + (rows + 0.5) * src.transform.e
    west, south, east, north = box
    r, c = (lat > south) & (lat < north), (lon > west) & (lon < east)
    land = values[np.ix_(r, c)] != 0
    weight = np.cos(np.radians(lat[r]))[:, None]
    return float((land * weight).sum() / (weight.sum() * c.sum()))


def _constant(path, like, value, dtype, nodata):
    with rasterio.open(like) as src:
        profile = {**src.profile, "dtype": dtype, "nodata": nodata}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.full(src.shape, value, dtype), 1)


@pytest.fixture(scope="module")
def real_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    mcd = ensure_mcd12c1()
    crop = root / "mcd12c1.tif"
    with rasterio.open(mcd) as src:  # the boxes' window, to keep the constant layers small
        window = from_bounds(-45, -25, 83, 58, src.transform).round_offsets().round_lengths()
        profile = {**src.profile, "width": window.width, "height": window.height,
                   "transform": src.window_transform(window), "crs": "EPSG:4326"}
        with rasterio.open(crop, "w", **profile) as dst:
            dst.write(src.read(1, window=window), 1)
    _constant(root / "lpd.tif", crop, 4, "uint8", 0)
    _constant(root / "soc.tif", crop, 50.0, "float32", -9999.0)
    return root, crop, ensure_land_mask()


@pytest.mark.parametrize("name", list(BOXES))
def test_land_area_from_real_land_cover_matches_an_independent_land_mask(real_inputs, name, tmp_path):
    root, crop, mask = real_inputs
    box = BOXES[name]
    recipe = {
        "sdg": "15.3.1", "title": f"real land cover, {name}", "aoi": {"name": name, "bbox": list(box)},
        "grid": {"crs": "EPSG:4326", "resolution": 0.05, "chunk": 64},
        "inputs": {"landcover": {"files": {2000: str(crop), 2015: str(crop)}, "bands": ["landcover"]},
                   "lpd": {"file": str(root / "lpd.tif"), "bands": ["lpd"]},
                   "soc_stock": {"files": {2000: str(root / "soc.tif"), 2015: str(root / "soc.tif")},
                                 "bands": ["soc"]}},
        "periods": {"years": [2000, 2015]},
        "parameters": {"productivity": "given", "soc": "given", "land_cover_legend": "custom",
                       "land_cover_table": {**IGBP_TO_UNCCD},
                       "periods": [{"name": "baseline", "productivity": [2001, 2015], "land_cover": [2000, 2015]}]},
        "outputs": ["zarr", "csv"],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    result = run(load_recipe(path), out=tmp_path / "out", progress=False)
    table = result.table[result.table.zone == "all"]
    land = table[table.series == "land_area"].value.iloc[0]
    aoi = table[table.series == "aoi_area"].value.iloc[0]
    truth = _glm_land_fraction(mask, box) * 100
    ours = land / aoi * 100
    counted = _mcd12c1_land_fraction(crop, box) * 100
    print(f"{name}: land share {ours:.2f} % (pipeline) vs {counted:.2f} % (MCD12C1 counted here) vs {truth:.2f} % "
          "(global-land-mask)")
    assert abs(ours - counted) < 0.05  # the pipeline's areas and legend on the real map
    assert abs(ours - truth) < TOLERANCE_PP  # the real map against the independent mask
    assert table[table.series == "degraded_pct"].value.iloc[0] == 0.0  # stable LPD, same map, same stocks
