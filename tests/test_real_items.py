"""Real STAC metadata (../shared/stac-items) through the profiles and the loader.

Every file is parsed through its profile (band mapping, grid, scale/offset, mask), then
loaded from local COGs written with each item's own CRS and a 1/factor² downscaled
grid (same footprint, pixel size x factor, proj:shape/transform rewritten to match),
holding known DN patterns that the loaded cube must reproduce after masking. No test
reaches the network: every href used is rewritten to a file under tmp.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry import shape

from catalog.load import GridError, asset_grid, choose_grid, load_cube, to_reflectance
from catalog.profiles import get_profile, select_profile

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "stac-items"
if not SHARED.is_dir():
    pytest.skip(f"real STAC items not found at {SHARED}", allow_module_level=True)

S2_PC = "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
S2_V0 = "S2A_28QCH_20200714_0_L2A.json"
L8 = "LC08_L2SP_028030_20200114_20200824_02_T1_SR.json"
L7 = "LE07_L2SP_044033_20210329_20210424_02_T1_SR.json"
SITE1 = "site1-20200606-tall-strip-africa.geojson"
SITE2 = "site2-2020_jun_jul-35MNM.geojson"
COLLECTION = "sentinel-2-l2a.collection.json"

# file -> (profile, item count, CRSs, bands the profile lacks in these items, (scale, offset), mask kind)
EXPECTED = {
    S2_PC: ("sentinel-2-l2a-pc", 1, {"EPSG:32606"}, [], (1e-4, 0.0), "classes"),
    S2_V0: ("sentinel-s2-l2a-cogs", 1, {"EPSG:32628"}, [], (1e-4, 0.0), "classes"),
    L8: ("landsat-c2l2-sr", 1, {"EPSG:32615"}, [], (2.75e-5, -0.2), "bits"),
    L7: ("landsat-c2l2-sr", 1, {"EPSG:32610"}, ["coastal"], (2.75e-5, -0.2), "bits"),
    SITE1: ("sentinel-2-l2a-pc", 9, {"EPSG:32735"}, [], (1e-4, 0.0), "classes"),
    SITE2: ("sentinel-2-l2a-pc", 13, {"EPSG:32735"}, [], (1e-4, 0.0), "classes"),
}
ITEM_FILES = sorted(EXPECTED)

# Sentinel-2: 10/20/60 m tiles of 109.8 km divide by 30 exactly (366/183/61 px).
# Landsat: 8041 x 7931 and 7131 x 8151 px all divide by 11 (330 m pixels).
FACTOR = {"sentinel-2-l2a-pc": 30, "sentinel-s2-l2a-cogs": 30, "landsat-c2l2-sr": 11}
SCL_CLASSES = np.array([4, 5, 6, 9, 3, 8, 10, 1, 11, 7, 2, 0], dtype=np.uint8)  # valid and invalid mixed
QA_CLEAR = 21824  # Landsat 8 "clear, low confidence everything" QA_PIXEL word
QA_WORDS = np.array([QA_CLEAR, QA_CLEAR | 1 << 3, QA_CLEAR | 1 << 4, QA_CLEAR | 1 << 1, QA_CLEAR | 1 << 5,
                     QA_CLEAR | 1 << 2, 1, QA_CLEAR | 1 << 6], dtype=np.uint16)
DN_SPAN = 997


def read_items(name: str) -> list[pystac.Item]:
    path = SHARED / name
    if path.suffix == ".geojson":
        return list(pystac.ItemCollection.from_file(str(path)))
    return [pystac.Item.from_file(str(path))]


def dn_pattern(shape_: tuple[int, int], base: int) -> np.ndarray:
    rows, cols = np.indices(shape_)
    return (base + (rows * 7 + cols * 13) % DN_SPAN).astype(np.uint16)


def flag_pattern(shape_: tuple[int, int], words: np.ndarray, seed: int) -> np.ndarray:
    rows, cols = np.indices(shape_)
    return words[(rows // 3 + cols // 5 + seed) % len(words)]


def write_cog(path: Path, data: np.ndarray, crs: str, transform: Affine, nodata) -> None:
    with rasterio.open(path, "w", driver="COG", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata,
                       compress="ZSTD") as dst:
        dst.write(data, 1)


def localise(item: pystac.Item, profile, values: dict, directory: Path) -> pystac.Item:
    """A clone of ``item`` whose assets for ``values`` (band -> fn(shape) -> array) point at
    downscaled local COGs; proj:shape/transform rewritten at asset (and item) level."""
    item = item.clone()
    factor = FACTOR[profile.name]
    for band, make in values.items():
        key = profile.asset(band)
        grid = asset_grid(item, key)
        ny, nx = (math.ceil(n / factor) for n in grid.shape)
        transform = grid.transform * Affine.scale(factor)
        path = directory / f"{item.id}_{key}.tif"
        write_cog(path, make((ny, nx)), grid.crs, transform, profile.nodata_of(band))
        asset = item.assets[key]
        asset.href = path.as_uri()  # absolute: a bare path would resolve against the item's https self link
        asset.extra_fields["proj:shape"] = [ny, nx]
        asset.extra_fields["proj:transform"] = list(transform)[:6]
    if "proj:shape" in item.properties:  # USGS Landsat: item-level grid only, all bands 30 m
        item.properties["proj:shape"], item.properties["proj:transform"] = [ny, nx], list(transform)[:6]
    return item


def native_geobox(item: pystac.Item, key: str) -> GeoBox:
    grid = asset_grid(item, key)
    return GeoBox(grid.shape, grid.transform, grid.crs)


def load_masked(items, profile, bands, geobox=None, **kw):
    cube = load_cube(items, profile, bands, geobox, chunk=256, **kw)
    return cube, cube.data.compute()


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize("name", ITEM_FILES)
def test_metadata_resolves_through_profile(name):
    profile_name, count, crss, lacking, (scale, offset), mask_kind = EXPECTED[name]
    items = read_items(name)
    assert len(items) == count
    profile = get_profile(items[0].collection_id, items)
    assert profile.name == profile_name
    assert profile.mask is not None and profile.mask.kind == mask_kind
    assert profile.mask.band in profile.categorical
    for item in items:
        assert [b for b in profile.bands if profile.asset(b) not in item.assets] == lacking
        for band, key in profile.bands.items():
            if key not in item.assets:
                continue
            grid = asset_grid(item, key)
            assert grid.crs in crss
            assert len(grid.shape) == 2 and min(grid.shape) > 0
            assert grid.transform.a > 0 > grid.transform.e and grid.transform.b == grid.transform.d == 0
            # the grid really covers the item's footprint (within one pixel)
            footprint = Geometry(shape(item.geometry), crs="EPSG:4326").to_crs(grid.crs).geom
            cover = Geometry(shape({"type": "Polygon", "coordinates": [_ring(grid.bounds)]}), crs=grid.crs).geom
            assert cover.buffer(abs(grid.transform.a)).contains(footprint), (item.id, key)
            if band not in profile.categorical:
                assert profile.item_scale_offset(item, band) == pytest.approx((scale, offset))


def _ring(bounds):
    x0, y0, x1, y1 = bounds
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def test_collection_item_assets_agree_with_the_profile():
    collection = pystac.Collection.from_file(str(SHARED / COLLECTION))
    profile = select_profile(collection.id, collection.item_assets.keys())
    assert profile.name == "sentinel-2-l2a-pc"
    for band, key in profile.bands.items():
        stated = collection.item_assets[key].to_dict()["raster:bands"][0]
        assert stated["nodata"] == profile.nodata_of(band), band
        assert stated["data_type"] == profile.dtype_of(band), band
        if band not in profile.categorical:  # the collection states no scale: the profile's rule is needed
            assert "scale" not in stated


# ------------------------------------------------------------------ loading


def _expected_s2(red, scl_coarse, ratio):
    """Red DNs with SCL-invalid pixels at nodata; SCL is on a ``ratio``x coarser grid."""
    scl = np.repeat(np.repeat(scl_coarse, ratio, axis=0), ratio, axis=1)[:red.shape[0], :red.shape[1]]
    return np.where(np.isin(scl, [0, 1, 3, 8, 9, 10, 11]), 0, red)


@pytest.mark.parametrize("name", [S2_PC, S2_V0])
def test_sentinel2_item_loads_masked_with_its_scale(name, tmp_path):
    (item,) = read_items(name)
    profile = get_profile(item.collection_id, [item])
    red, scl = {}, {}
    local = localise(item, profile, {
        "red": lambda s: red.setdefault("v", dn_pattern(s, 1000)),
        "scl": lambda s: scl.setdefault("v", flag_pattern(s, SCL_CLASSES, 0)),
    }, tmp_path)
    cube, data = load_masked([local], profile, ["red"], native_geobox(local, profile.asset("red")))
    assert set(data.data_vars) == {"red"} and data.red.dtype == np.uint16
    expected = _expected_s2(red["v"], scl["v"], ratio=2)  # 10 m vs 20 m bands
    np.testing.assert_array_equal(data.red.values[0], expected)
    assert 0.2 < (expected == 0).mean() < 0.8
    np.testing.assert_allclose([data.scale_red.item(), data.offset_red.item()], [1e-4, 0.0])
    valid = expected != 0
    np.testing.assert_allclose(to_reflectance(data, "red").values[0][valid], expected[valid] * 1e-4)


@pytest.mark.parametrize("name", [L8, L7])
def test_landsat_item_loads_with_qa_bits_and_fixed_scale(name, tmp_path):
    (item,) = read_items(name)
    profile = get_profile(item.collection_id, [item])
    assert "raster:bands" not in item.assets["red"].extra_fields  # USGS items state no scale: the profile does
    red, qa = {}, {}
    local = localise(item, profile, {
        "red": lambda s: red.setdefault("v", dn_pattern(s, 7000)),
        "nir08": lambda s: dn_pattern(s, 9000),
        "qa_pixel": lambda s: qa.setdefault("v", flag_pattern(s, QA_WORDS, 1)),
    }, tmp_path)
    cube, data = load_masked([local], profile, ["red", "nir08"], native_geobox(local, "red"))
    bad = (qa["v"] & 0b11111) != 0  # fill, dilated cloud, cirrus, cloud, shadow; snow (bit 5) stays
    assert bad.any() and (~bad).any() and ((qa["v"] & 1 << 5) != 0)[~bad].any()
    np.testing.assert_array_equal(data.red.values[0], np.where(bad, 0, red["v"]))
    assert data.red.dtype == np.uint16  # dtype from the profile: the items have no raster:bands
    np.testing.assert_allclose([data.scale_nir08.item(), data.offset_nir08.item()], [2.75e-5, -0.2])


def test_time_series_of_one_tile(tmp_path):
    items = read_items(SITE2)
    profile = get_profile(items[0].collection_id, items)
    expected = {}
    local = []
    for i, item in enumerate(items):
        reds, scls = {}, {}
        local.append(localise(item, profile, {
            "red": lambda s, i=i: reds.setdefault("v", dn_pattern(s, 1000 + 1000 * i)),
            "scl": lambda s, i=i: scls.setdefault("v", flag_pattern(s, SCL_CLASSES, i)),
        }, tmp_path))
        expected[item.datetime.date()] = _expected_s2(reds["v"], scls["v"], ratio=2)
    cube, data = load_masked(local, profile, ["red"], native_geobox(local[0], "B04"))
    assert data.sizes["time"] == len(items) == len(expected)
    for t, day in enumerate(sorted(expected)):
        assert str(data.time.values[t])[:10] == day.isoformat()
        np.testing.assert_array_equal(data.red.values[t], expected[day])


def test_tall_strip_mosaics_onto_one_coarse_grid(tmp_path):
    items = read_items(SITE1)
    profile = get_profile(items[0].collection_id, items)
    local = [localise(item, profile, {
        "red": lambda s, i=i: np.full(s, 1000 + 100 * i, np.uint16),
        "scl": lambda s: np.full(s, 4, np.uint8),
    }, tmp_path) for i, item in enumerate(items)]
    geobox = choose_grid(local, resolution=2000, assets=["B04", "SCL"])
    assert geobox.crs == "EPSG:32735" and geobox.resolution.x == 2000
    extent = geobox.extent.geom
    footprints = [Geometry(shape(it.geometry), crs="EPSG:4326").to_crs(geobox.crs).geom for it in items]
    assert all(extent.contains(f) for f in footprints)
    assert geobox.shape[0] > 8 * 110_000 / 2000  # ~8 deg of latitude, north to south
    cube, data = load_masked(local, profile, ["red"], geobox)
    assert data.sizes["time"] == 1  # one overpass, one solar day
    mosaic = data.red.values[0]
    for i, fp in enumerate(footprints):
        row, col = _pixel(geobox, fp.centroid)
        assert mosaic[row, col] == 1000 + 100 * i, items[i].id
    inside = [_pixel(geobox, p) for p in _sample_points(footprints, geobox)]
    assert all(mosaic[r, c] != 0 for r, c in inside)  # no hole anywhere in the strip


def _pixel(geobox: GeoBox, point) -> tuple[int, int]:
    col, row = ~geobox.affine * (point.x, point.y)
    return int(row), int(col)


def _sample_points(footprints, geobox):
    from shapely import points, unary_union

    strip = unary_union(footprints).buffer(-3 * geobox.resolution.x)
    x0, y0, x1, y1 = strip.bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, 5000.0), np.arange(y0, y1, 5000.0))
    candidates = points(xs.ravel(), ys.ravel())
    return [p for p in candidates if strip.contains(p)]


def test_landsat_scenes_in_two_utm_zones_need_a_target_crs(tmp_path):
    items = [read_items(L8)[0], read_items(L7)[0]]
    profile = get_profile(items[0].collection_id, items)
    bases = {}
    local = []
    for i, item in enumerate(items):
        bases[item.datetime.date()] = 10_000 * (i + 1)
        local.append(localise(item, profile, {
            "red": lambda s, i=i: dn_pattern(s, 10_000 * (i + 1)),
            "qa_pixel": lambda s, i=i: flag_pattern(s, QA_WORDS, i),
        }, tmp_path))
    for attempt in (lambda: choose_grid(local), lambda: load_cube(local, profile, ["red"])):
        with pytest.raises(GridError) as error:
            attempt()
        message = str(error.value)
        assert "EPSG:32615" in message and "EPSG:32610" in message and "set grid.crs" in message
    with pytest.raises(GridError, match="set grid.resolution"):
        choose_grid(local, crs="EPSG:5070")  # native sizes are in other CRSs: no silent guess
    cube, data = load_masked(local, profile, ["red"], crs="EPSG:5070", resolution=3000)
    assert cube.data.red.chunks is not None and data.sizes["time"] == 2
    for t, day in enumerate(sorted(bases)):
        values = data.red.values[t]
        valid = values[values != 0]
        assert valid.size > 1000, day
        assert valid.min() >= bases[day] and valid.max() < bases[day] + DN_SPAN, day
