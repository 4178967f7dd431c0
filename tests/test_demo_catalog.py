"""The embedded demo catalog: deterministic, shaped like the real collections, valid COGs,
and a truth.json that can be recomputed independently from the files that were written."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import geopandas as gpd
import numpy as np
import odc.stac
import pyproj
import pystac
import pytest
import rasterio
import shapely
from rasterio.windows import from_bounds
from scipy import ndimage
from shapely import segmentize
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.ops import transform as shapely_transform

from catalog.demo import aoi_bbox, build_demo_catalog, ensure_demo_catalog, is_current, load_truth
from catalog.demo.atmosphere import (
    MAX_CLOUD_COVER,
    SCL_CIRRUS,
    SCL_CLOUD_HIGH,
    SCL_CLOUD_MEDIUM,
    SCL_NODATA,
    SCL_NOT_VEGETATED,
    SCL_SATURATED,
    SCL_SHADOW,
    SCL_VEGETATION,
    SCL_WATER,
)
from catalog.demo.landsat import LANDSAT_COLLECTION, LandsatDemo
from catalog.demo.landsat_scenes import PLATFORM_YEARS, SLC_FAILURE
from catalog.demo.layout import OVERLAP_X, TILE_X, TILE_Y, UNION_X, Layout, geodesic_cell_area
from catalog.demo.ld_collections import LD_COLLECTIONS
from catalog.demo.ld_rules import mk_critical
from catalog.demo.scenes import HEAVY_CLOUD_DATES, MONTHS, WET_MONTHS, YEARS
from catalog.demo.sentinel2 import BANDS, BANDS_10M, S2_COLLECTION, SPECTRA
from catalog.demo.urban_collections import URBAN_COLLECTIONS
from catalog.demo.world import DARK_WATER, LAKE_CENTRE, LAKE_SEMI_AXES, PERMANENT_SCALE, SEASONAL_SCALE, Design
from catalog.demo.worldcover import LC_COLLECTION
from catalog.demo.zones import Zones

S2_ID = re.compile(r"^S2[AB]_21L[XY]H_20\d{6}_0_L2A$")
LC_ID = re.compile(r"^ESA_WorldCover_10m_20\d\d_v[12]00_S15W057$")
CLEAR_SCL = (SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER)
GEOD = pyproj.Geod(ellps="WGS84")
BUILD_SECONDS: dict[str, float] = {}


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "data"
    start = time.perf_counter()
    build_demo_catalog(out)
    BUILD_SECONDS["first"] = time.perf_counter() - start
    return out


@pytest.fixture(scope="session")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo-again") / "data"
    build_demo_catalog(out)
    return out


@pytest.fixture(scope="session")
def truth(built) -> dict:
    return load_truth(built)


@pytest.fixture(scope="session")
def items(built) -> list[pystac.Item]:
    root = pystac.Catalog.from_file(str(built / "catalog.json"))
    return list(root.get_items(recursive=True))


@pytest.fixture(scope="session")
def s2_items(items) -> dict[str, pystac.Item]:
    return {it.id: it for it in items if it.collection_id == S2_COLLECTION}


@pytest.fixture(scope="session")
def lc_items(items) -> list[pystac.Item]:
    return sorted((it for it in items if it.collection_id == LC_COLLECTION), key=lambda it: it.id)


def _path(asset: pystac.Asset) -> Path:
    href = asset.get_absolute_href()
    assert href.startswith("file:///"), href
    return Path(unquote(urlparse(href).path))


def _aoi_landcover(item: pystac.Item, truth: dict):
    """The land-cover map of an item over the AOI, read from the written COG, and its transform."""
    with rasterio.open(_path(item.assets["map"])) as src:
        window = from_bounds(*truth["aoi"]["bbox"], transform=src.transform).round_offsets().round_lengths()
        return src.read(1, window=window), src.window_transform(window)


def _read(item: pystac.Item, key: str) -> np.ndarray:
    with rasterio.open(_path(item.assets[key])) as src:
        return src.read(1)


def _decode(item: pystac.Item, key: str, dn: np.ndarray) -> np.ndarray:
    band = item.assets[key].extra_fields["raster:bands"][0]
    return dn.astype(np.float64) * band["scale"] + band["offset"]


def _pixel(item: pystac.Item, key: str, x: float, y: float) -> tuple[int, int]:
    transform = item.assets[key].extra_fields["proj:transform"]
    return int((y - transform[5]) // transform[4]), int((x - transform[2]) // transform[0])


# ------------------------------------------------------------------ build mechanics
def test_same_seed_gives_identical_files(built, rebuilt, items, s2_items, lc_items):
    assert (built / "truth.json").read_bytes() == (rebuilt / "truth.json").read_bytes()
    assert (built / "zones.gpkg").read_bytes() == (rebuilt / "zones.gpkg").read_bytes()
    some = list(s2_items.values())
    by_coll = {}
    for item in items:
        by_coll.setdefault(item.collection_id, item)
    land = [(it, key) for coll, it in by_coll.items() if coll in LD_COLLECTIONS for key in it.assets]
    for item, key in [(some[0], "blue"), (some[-1], "swir16"), (some[len(some) // 2], "scl"), (lc_items[0], "map"),
                      *land]:
        rel = _path(item.assets[key]).relative_to(built)
        assert (built / rel).read_bytes() == (rebuilt / rel).read_bytes(), rel
    item_json = next(iter(s2_items.values())).get_self_href()
    rel = Path(item_json).relative_to(built)
    text = (built / rel).read_text().replace(built.as_uri(), "ROOT")
    assert text == (rebuilt / rel).read_text().replace(rebuilt.as_uri(), "ROOT")


def test_is_current_needs_every_file_and_this_generator_version(built, tmp_path):
    for name in ("catalog.json", "truth.json", "zones.gpkg"):
        shutil.copy(built / name, tmp_path / name)
    assert is_current(tmp_path)
    (tmp_path / "zones.gpkg").unlink()
    assert not is_current(tmp_path)
    shutil.copy(built / "zones.gpkg", tmp_path / "zones.gpkg")
    truth = json.loads((tmp_path / "truth.json").read_text())
    truth["generator"]["version"] -= 1  # a catalog of the previous generator (no zones) is rebuilt
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    assert not is_current(tmp_path)


def test_build_is_atomic_and_refuses_to_overwrite(built):
    assert not list(built.parent.glob(f".{built.name}.tmp-*"))
    with pytest.raises(FileExistsError):
        build_demo_catalog(built)


def test_ensure_and_cli_reuse_a_current_catalog(built):
    before = (built / "catalog.json").stat().st_mtime_ns
    assert ensure_demo_catalog(built) == built / "catalog.json"
    result = subprocess.run([sys.executable, "-m", "catalog.demo", "--out", str(built)], capture_output=True,
                            text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert "already present" in result.stdout and len(result.stdout.strip().splitlines()) == 1
    assert (built / "catalog.json").stat().st_mtime_ns == before


def test_size_budget_and_build_time_report(built, capsys):
    size = _tree_size(built)
    with capsys.disabled():
        print(f"\ndemo catalog: {size / 1e6:.1f} MB in files, built in {BUILD_SECONDS['first']:.1f} s")
    assert size < 90e6


# ------------------------------------------------------------------ STAC shape and COGs
def test_catalog_walks_with_expected_collections(built, s2_items, lc_items):
    root = pystac.Catalog.from_file(str(built / "catalog.json"))
    assert root.id == "sdgcube-demo"
    assert {c.id for c in root.get_children()} == {S2_COLLECTION, LC_COLLECTION, *LD_COLLECTIONS, *URBAN_COLLECTIONS,
                                                   LANDSAT_COLLECTION}
    assert len(s2_items) == 2 * (len(YEARS) * len(MONTHS) + len(HEAVY_CLOUD_DATES))
    assert all(LC_ID.match(it.id) for it in lc_items)
    assert sorted(int(it.id.split("_")[3]) for it in lc_items) == list(YEARS)
    for coll in root.get_children():
        assert coll.item_assets and coll.license and coll.extent.spatial.bboxes
    assert "synthetic" in root.get_child(LC_COLLECTION).description


def test_every_asset_is_a_valid_cog_matching_its_metadata(items):
    for item in items:
        code = item.properties["proj:code"]
        for key, asset in item.assets.items():
            band = asset.extra_fields["raster:bands"][0]
            with rasterio.open(_path(asset)) as src:
                assert src.driver == "GTiff" and src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
                assert src.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "ZSTD"
                assert src.profile["tiled"] and max(src.block_shapes[0]) <= 512
                assert src.dtypes[0] == band["data_type"] and src.nodata == band["nodata"]
                assert item.collection_id not in (S2_COLLECTION, LC_COLLECTION) or band["nodata"] == 0
                assert list(src.shape) == asset.extra_fields["proj:shape"], (item.id, key)
                assert list(src.transform)[:6] == asset.extra_fields["proj:transform"][:6], (item.id, key)
                assert src.crs == rasterio.crs.CRS.from_string(code)
                if band["data_type"] == "uint16":
                    assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"


def test_sentinel2_items_look_like_earth_search_v1(s2_items):
    for item in s2_items.values():
        p = item.properties
        assert S2_ID.match(item.id) and item.id[:3] == "S" + p["platform"][-2:].upper()
        assert set(item.assets) == {"blue", "green", "red", "nir", "swir16", "swir22", "scl"}
        assert p["proj:code"] == "EPSG:32721" and p["constellation"] == "sentinel-2"
        assert p["mgrs:utm_zone"] == 21 and p["mgrs:latitude_band"] == "L"
        assert p["grid:code"] == f"MGRS-21L{p['mgrs:grid_square']}" and p["grid:code"][5:] in item.id
        for key in BANDS:
            asset = item.assets[key]
            assert asset.extra_fields["eo:bands"][0]["common_name"] == key and "data" in asset.roles
            assert asset.extra_fields["proj:shape"] == ([400, 400] if key in BANDS_10M else [200, 200])
        assert item.assets["scl"].extra_fields["raster:bands"][0]["data_type"] == "uint8"


def test_offset_follows_processing_baseline(s2_items):
    switch = date(2022, 1, 25)
    seen = set()
    for item in s2_items.values():
        baseline = item.properties["s2:processing_baseline"]
        offsets = {item.assets[k].extra_fields["raster:bands"][0]["offset"] for k in BANDS}
        new = item.datetime.date() >= switch
        assert (baseline >= "04.00") == new
        assert offsets == ({-0.1} if new else {0.0}), item.id
        seen.add(new)
    assert seen == {True, False}


def test_both_tiles_share_each_datetime(s2_items):
    by_time = {}
    for item in s2_items.values():
        by_time.setdefault(item.datetime, set()).add(item.properties["mgrs:grid_square"])
    assert all(tiles == {"XH", "YH"} for tiles in by_time.values())


# ------------------------------------------------------------------ pixel content
def test_dark_water_round_trips_including_negative_swir(s2_items):
    x, y = LAKE_CENTRE
    dark = SPECTRA[DARK_WATER]
    checked = {True: 0, False: 0}
    for item in s2_items.values():
        r20, c20 = _pixel(item, "scl", x, y)
        if not 0 <= c20 < 200 or _read(item, "scl")[r20, c20] != SCL_WATER:
            continue
        offset = item.assets["swir16"].extra_fields["raster:bands"][0]["offset"] != 0
        for key in BANDS:
            r, c = _pixel(item, key, x, y)
            dn = _read(item, key)[r, c]
            value = _decode(item, key, np.array(dn))
            expected = dark[BANDS.index(key)]
            if offset or expected > 0:
                assert abs(value - expected) <= 1e-4, (item.id, key, value)
            else:  # before baseline 04.00 negative reflectance cannot be stored: lowest valid DN
                assert dn == 1, (item.id, key, dn)
        if offset:
            assert _read(item, "swir16")[r20, c20] < 1000
        checked[offset] += 1
    assert checked[True] > 5 and checked[False] > 5


def test_mndwi_separates_water_and_land_on_clear_pixels(s2_items):
    counted = {"water": 0, "land": 0}
    for item in s2_items.values():
        scl = _read(item, "scl")
        green = _decode(item, "green", _read(item, "green"))[::2, ::2]  # 10 m -> the 20 m grid
        swir = _decode(item, "swir16", _read(item, "swir16"))
        water = scl == SCL_WATER
        land = np.isin(scl, [SCL_VEGETATION, SCL_NOT_VEGETATED])
        mndwi = {name: (green[m] - swir[m]) / (green[m] + swir[m]) for name, m in (("water", water), ("land", land))}
        assert (mndwi["water"] > 0.5).all() and (mndwi["land"] < -0.1).all(), item.id
        counted = {name: counted[name] + v.size for name, v in mndwi.items()}
    assert counted["water"] > 100_000 and counted["land"] > 1_000_000


def test_cloudy_dates_carry_cloud_pixels(s2_items):
    for item in s2_items.values():
        scl = _read(item, "scl")
        valid = scl != SCL_NODATA
        cloudy = np.isin(scl, [SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS])
        assert abs(100 * cloudy[valid].mean() - item.properties["eo:cloud_cover"]) < 0.01
        if item.properties["eo:cloud_cover"] > 1:
            assert cloudy.any()
        if item.properties["eo:cloud_cover"] >= 60:
            assert np.isin(scl[valid], [SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH]).mean() > 0.85
    assert any(np.isin(_read(it, "scl"), [SCL_SHADOW]).any() for it in s2_items.values())
    assert any(np.isin(_read(it, "scl"), [SCL_SATURATED]).any() for it in s2_items.values())


def test_cloud_cover_exclusion_is_exactly_the_truth(s2_items, truth):
    excluded = {i for i, it in s2_items.items() if it.properties["eo:cloud_cover"] >= MAX_CLOUD_COVER}
    assert excluded == set(truth["items"]["excluded_by_cloud_cover"]) and excluded
    assert set(truth["items"]["kept"]) == set(s2_items) - excluded
    assert all(s2_items[i].properties["eo:cloud_cover"] >= 90 for i in excluded)


def _mosaic_scl(by_tile: dict[str, pystac.Item]) -> np.ndarray:
    """SCL of one date on the 20 m grid of the tile union; asserts the tiles agree."""
    world = np.zeros((200, 350), np.uint8)
    for tile, item in by_tile.items():
        c0 = (TILE_X[tile][0] - UNION_X[0]) // 20
        scl = _read(item, "scl")
        part = world[:, c0:c0 + 200]
        both = (part != 0) & (scl != 0)
        assert (part[both] == scl[both]).all(), "overlapping tiles disagree"
        part[part == 0] = scl[part == 0]
    return world


def test_clear_observation_guarantees_hold_in_the_files(s2_items, truth):
    design = Design(truth["generator"]["seed"])
    kept = [s2_items[i] for i in truth["items"]["kept"]]
    for year in YEARS:
        dates = sorted({it.datetime for it in kept if it.datetime.year == year})
        clear, wet = [], []
        for when in dates:
            tiles = {it.properties["grid:code"][-5:]: it for it in kept if it.datetime == when}
            clear.append(np.isin(_mosaic_scl(tiles), CLEAR_SCL))
            wet.append(when.month in WET_MONTHS)
        clear, wet = np.array(clear), np.array(wet)
        aoi = design.aoi20
        assert clear.sum(0)[aoi].min() >= 3, year
        ring = design.lake20(year)[1] & aoi
        assert clear[wet].any(0)[ring].all() and clear[~wet].any(0)[ring].all(), year


def test_nodata_wedge_lies_where_the_other_tile_has_data(s2_items):
    for item in s2_items.values():
        wedge_tile = item.properties["mgrs:grid_square"] == "YH"
        scl_nodata = _read(item, "scl") == 0
        assert scl_nodata.any() == wedge_tile, item.id
        for key in BANDS:
            nodata = _read(item, key) == 0
            res = item.assets[key].extra_fields["proj:transform"][0]
            expected = np.repeat(np.repeat(scl_nodata, 2, 0), 2, 1) if res == 10 else scl_nodata
            assert (nodata == expected).all(), (item.id, key)
            cols = np.nonzero(nodata)[1]
            x_east = item.assets[key].extra_fields["proj:transform"][2] + (cols + 1) * res
            assert cols.size == 0 or x_east.max() <= OVERLAP_X[1]


def test_odc_stac_mosaics_both_tiles_without_gaps_in_the_aoi(s2_items, truth):
    one_date = [it for it in s2_items.values() if it.datetime.date() == date(2022, 3, 19)]
    assert len(one_date) == 2
    ds = odc.stac.load(one_date, bands=["scl", "swir16"], crs="EPSG:32721", resolution=20,
                       bbox=truth["aoi"]["bbox"], groupby="solar_day")
    assert ds.sizes["time"] == 1
    assert (ds["scl"].values != 0).all() and (ds["swir16"].values != 0).all()


# ------------------------------------------------------------------ truth
def test_cell_area_formula_matches_pyproj_geod():
    south, north, west = -12.53, -12.53 + 1 / 12000, -56.05
    east = west + 1 / 12000
    geod, _ = GEOD.polygon_area_perimeter([west, east, east, west], [south, south, north, north])
    assert geodesic_cell_area(south, north, 1 / 12000) == pytest.approx(abs(geod), rel=1e-9)
    lons = np.linspace(-56.1, -56.0, 201)  # a larger cell with parallels densified
    poly_lon = np.r_[lons, lons[::-1]]
    poly_lat = np.r_[np.full(201, -12.6), np.full(201, -12.5)]
    geod, _ = GEOD.polygon_area_perimeter(poly_lon, poly_lat)
    assert geodesic_cell_area(-12.6, -12.5, 0.1) == pytest.approx(abs(geod), rel=1e-6)


def _geod_row_areas(transform, rows: range, width_deg: float) -> np.ndarray:
    areas = []
    for row in rows:
        north = transform.f + row * transform.e
        south = north + transform.e
        area, _ = GEOD.polygon_area_perimeter([0, width_deg, width_deg, 0], [south, south, north, north])
        areas.append(abs(area))
    return np.array(areas)


def test_forest_truth_equals_an_independent_recount(lc_items, truth):
    t = truth["sdg_15_1_1"]
    assert t["forest_classes"] == [10, 95] and t["mmu_ha"] == 0.5 and t["connectivity"] == 8
    for item in lc_items:
        year = item.id.split("_")[3]
        lc, transform = _aoi_landcover(item, truth)
        cell = _geod_row_areas(transform, range(lc.shape[0]), transform.a)[:, None] * np.ones(lc.shape[1])
        labels, _ = ndimage.label(np.isin(lc, [10, 95]), structure=np.ones((3, 3)))
        patch_m2 = ndimage.sum_labels(cell, labels, index=np.arange(1, labels.max() + 1))
        assert not (np.abs(patch_m2 / 1e4 - 0.5) < 0.1).any()
        forest_km2 = patch_m2[patch_m2 >= 5000].sum() / 1e6
        water_km2 = cell[lc == 80].sum() / 1e6
        expected = t["years"][year]
        assert expected["forest_area_km2"] == pytest.approx(forest_km2, rel=1e-7)
        assert expected["permanent_water_km2"] == pytest.approx(water_km2, rel=1e-7)
        assert expected["aoi_area_km2"] == pytest.approx(cell.sum() / 1e6, rel=1e-7)
        land = expected["aoi_area_km2"] - expected["permanent_water_km2"]
        assert expected["land_area_km2"] == pytest.approx(land, rel=1e-12)
        assert expected["forest_pct"] == pytest.approx(100 * expected["forest_area_km2"] / land, rel=1e-12)


def test_forest_changes_by_the_designed_clearings(truth):
    """Clearing a patch below the MMU changes nothing (f5, 2021); clearing the strip f7b also
    drops the remnant f7a; clearing f8 also drops m2, which only counted together with it."""
    forest = {int(y): v["forest_area_km2"] * 100 for y, v in truth["sdg_15_1_1"]["years"].items()}
    ha = {p["id"]: p["area_ha"] for p in truth["sdg_15_1_1"]["patches"]}
    drops = {2017: ha["f6"], 2019: ha["f2"], 2020: ha["f13a"], 2022: ha["f7a"] + ha["f7b"],
             2023: ha["f8"] + ha["m2"], 2024: ha["f12"]}
    for year in YEARS[1:]:
        assert forest[year - 1] - forest[year] == pytest.approx(drops.get(year, 0.0), abs=1e-9), year
    assert forest[2016] == pytest.approx(sum(ha.values()) - ha["f3"] - ha["f4"] - ha["f5"], abs=1e-9)


def test_permanent_water_follows_the_schedule(truth):
    (ax, ay) = LAKE_SEMI_AXES
    years = truth["sdg_6_6_1"]["years"]
    assert truth["sdg_6_6_1"]["grid"] == {"crs": "EPSG:32721", "resolution": 20}
    for year in YEARS:
        v = years[str(year)]
        designed = np.pi * ax * ay * PERMANENT_SCALE[year] ** 2 / 1e6
        assert v["permanent_km2"] == pytest.approx(designed, rel=0.01)  # UTM scale ~0.09 % + pixelation
        ring = np.pi * ax * ay * (SEASONAL_SCALE[year] ** 2 - PERMANENT_SCALE[year] ** 2) / 1e6
        assert v["seasonal_km2"] == pytest.approx(ring, rel=0.03)
        lc_water = truth["sdg_15_1_1"]["years"][str(year)]["permanent_water_km2"]
        assert lc_water == pytest.approx(v["permanent_km2"], rel=0.01)
    permanent = [years[str(y)]["permanent_km2"] for y in YEARS]
    assert all(a > b for a, b in zip(permanent[:5], permanent[1:5]))  # shrinking until 2020
    assert all(a < b for a, b in zip(permanent[4:], permanent[5:]))  # then partly recovering
    assert permanent[-1] < permanent[0]


def test_aoi_is_snapped_and_inside_the_tiles_with_margin(truth):
    bbox = truth["aoi"]["bbox"]
    assert truth["aoi"]["crs"] == "EPSG:4326"
    assert all(abs(v * 12000 - round(v * 12000)) < 1e-6 for v in bbox)
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32721", always_xy=True).transform
    aoi = shapely_transform(to_utm, segmentize(box(*bbox), 1e-4))
    union = box(UNION_X[0], TILE_Y[0], UNION_X[1], TILE_Y[1])
    assert union.buffer(-200, join_style="mitre").contains(aoi)
    (cx, cy), (ax, ay) = LAKE_CENTRE, LAKE_SEMI_AXES
    s = max(SEASONAL_SCALE.values())
    assert aoi.contains(box(cx - ax * s, cy - ay * s, cx + ax * s, cy + ay * s))
    assert cx - ax * PERMANENT_SCALE[2020] < OVERLAP_X[0] and cx + ax * PERMANENT_SCALE[2020] > OVERLAP_X[1]


@pytest.mark.parametrize("scale", [4, 16])
def test_scaled_layout_grows_the_area_and_keeps_the_scene(scale, demo_truth):
    """Benchmarks use scaled catalogs: the tiles' area grows by the scale (to whole pixels),
    the AOI (inset by a fixed margin) by a little more, and scale 1 is the embedded demo."""
    geod = pyproj.Geod(ellps="WGS84")

    def area(bbox):
        return abs(geod.geometry_area_perimeter(box(*bbox))[0])

    assert aoi_bbox(1) == pytest.approx(demo_truth["aoi"]["bbox"], abs=1e-12)
    layout = Layout(scale)
    sides = (layout.union_x[1] - layout.union_x[0]) * (layout.tile_y[1] - layout.tile_y[0])
    assert sides / ((UNION_X[1] - UNION_X[0]) * (TILE_Y[1] - TILE_Y[0])) == pytest.approx(scale, rel=0.01)
    assert scale <= area(aoi_bbox(scale)) / area(aoi_bbox(1)) <= 1.2 * scale
    assert layout.tile_y[0] == TILE_Y[0] and layout.union_x[0] == UNION_X[0]  # grows from the SW corner
    assert (layout.union_x[1] - layout.union_x[0]) % 20 == 0 and (layout.tile_y[1] - layout.tile_y[0]) % 20 == 0
    x, y = LAKE_CENTRE
    assert layout.union_x[0] < x < layout.union_x[1] and layout.tile_y[0] < y < layout.tile_y[1]


@pytest.mark.parametrize("scale", [0.5, 0, 1000, "4"])
def test_scale_outside_its_range_is_refused(scale):
    with pytest.raises(ValueError, match="scale must be a number within 1..400"):
        Layout(scale)


def test_scaled_builds_never_replace_the_embedded_demo():
    cmd = [sys.executable, "-m", "catalog.demo", "--scale", "4"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 2 and "needs its own --out DIR" in done.stderr


# ------------------------------------------------------------------ zones (municipalities) and per-zone truth
OUTSIDE = "outside zones"
AREA_KEYS = {"sdg_15_1_1": ("aoi_area_km2", "permanent_water_km2", "land_area_km2", "forest_area_km2"),
             "sdg_6_6_1": ("aoi_area_km2", "permanent_km2", "seasonal_km2")}


@pytest.fixture(scope="session")
def zones(built, truth) -> gpd.GeoDataFrame:
    meta = truth["zones"]
    frame = gpd.read_file(built / meta["path"], layer=meta["layer"])
    return frame.set_index(meta["id_field"], drop=False)


def _aoi_in_zone_crs(truth) -> Polygon:
    """The AOI box in EPSG:4674 (SIRGAS 2000 and WGS 84 coincide to well under a metre)."""
    to_zones = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4674", always_xy=True).transform
    return shapely_transform(to_zones, segmentize(box(*truth["aoi"]["bbox"]), 1e-4))


def test_zones_file_is_a_sirgas_2000_geopackage_of_three_municipalities(built, truth, zones):
    meta = truth["zones"]
    assert {k: meta[k] for k in ("path", "layer", "crs", "id_field", "name_field")} == {
        "path": "zones.gpkg", "layer": "municipalities", "crs": "EPSG:4674", "id_field": "code", "name_field": "name"}
    assert (built / "zones.gpkg").parent == (built / "catalog.json").parent
    assert zones.crs == pyproj.CRS("EPSG:4674") and zones.crs.is_geographic
    assert len(zones) == 3 and list(zones["code"]) == meta["ids"]
    assert all(isinstance(c, str) and re.fullmatch(r"51\d{5}", c) for c in zones["code"])  # 51: Mato Grosso
    assert dict(zip(zones["code"], zones["name"], strict=True)) == meta["names"]
    assert all(isinstance(n, str) and n for n in zones["name"])
    multi = [g for g in zones.geometry if isinstance(g, MultiPolygon)]
    holed = [g for g in zones.geometry if isinstance(g, Polygon) and len(g.interiors) > 0]
    assert len(multi) == 1 and len(multi[0].geoms) == 2 and multi[0].geoms[0].disjoint(multi[0].geoms[1])
    assert len(holed) == 1
    assert all(g.is_valid for g in zones.geometry)


def test_zones_share_borders_without_gaps_or_overlaps(zones):
    geoms = list(zones.geometry)
    total = sum(g.area for g in geoms)
    for a, b in itertools.combinations(geoms, 2):
        assert a.intersection(b).area < 1e-12 * total  # no overlaps
        assert a.touches(b) and a.intersection(b).length > 0  # a common border, not just a point
    union = shapely.union_all(geoms)
    assert isinstance(union, Polygon) and not union.interiors  # no gaps between them
    assert union.area == pytest.approx(total, rel=1e-12)
    holed = next(g for g in geoms if isinstance(g, Polygon) and g.interiors)
    exclave = next(g for g in geoms if isinstance(g, MultiPolygon))
    hole = Polygon(holed.interiors[0])
    assert any(shapely.equals_exact(shapely.normalize(hole), shapely.normalize(part), 0) for part in exclave.geoms)


def test_zones_cover_most_of_the_aoi_and_reach_beyond_it(truth, zones):
    aoi = _aoi_in_zone_crs(truth)
    union = shapely.union_all(list(zones.geometry))
    outside = aoi.difference(union)
    assert 0.02 < outside.area / aoi.area < 0.2
    assert any(not aoi.contains(g) for g in zones.geometry)  # clipped by the AOI
    assert all(g.intersection(aoi).area > 0.1 * aoi.area for g in zones.geometry)
    for sdg in AREA_KEYS:
        rem = truth["zones"][sdg][OUTSIDE]
        assert all(v["aoi_area_km2"] > 0 for v in rem.values())
        total = truth[sdg]["years"]["2016"]["aoi_area_km2"]
        assert rem["2016"]["aoi_area_km2"] / total == pytest.approx(outside.area / aoi.area, rel=0.05)


def test_zone_borders_are_slanted_and_clear_of_pixel_centres(truth, zones):
    aoi = _aoi_in_zone_crs(truth)
    borders = shapely.union_all([g.boundary for g in zones.geometry])
    inside = borders.intersection(aoi)
    edges = [c for line in getattr(inside, "geoms", [inside]) for c in zip(line.coords[:-1], line.coords[1:],
                                                                           strict=True)]
    assert edges and all(abs(x1 - x0) > 1e-6 and abs(y1 - y0) > 1e-6 for (x0, y0), (x1, y1) in edges)
    design = Design(truth["generator"]["seed"])
    rows, cols = design.lc_aoi_window
    lon, lat = design.lc_grid.centres()
    lc_gap = shapely.distance(borders, shapely.points(lon[rows, cols].ravel(), lat[rows, cols].ravel()))
    assert lc_gap.min() * 12000 > 1e-3  # in land-cover pixels
    # the recipes' 10 m and 20 m UTM grids: centres farther from a border than edges straight in degrees
    # and edges straight in UTM (zones.gpkg reprojected) are apart, so both select the same pixels
    to_utm = pyproj.Transformer.from_crs("EPSG:4674", "EPSG:32721", always_xy=True).transform
    geographic = shapely.transform(segmentize(borders, 1e-4), lambda c: np.column_stack(to_utm(c[:, 0], c[:, 1])))
    projected = shapely.transform(borders, lambda c: np.column_stack(to_utm(c[:, 0], c[:, 1])))
    apart = shapely.hausdorff_distance(geographic, projected)
    assert apart < 0.1
    for grid in (design.world10, design.world20):
        x, y = grid.centres()
        near = shapely.distance(projected, shapely.points(x.ravel(), y.ravel())) < 5
        inside = shapely.contains_xy(design.aoi_utm, x.ravel()[near], y.ravel()[near])
        gap = shapely.distance(geographic, shapely.points(x.ravel()[near][inside], y.ravel()[near][inside]))
        assert gap.min() > apart + 0.02, (grid.transform.a, gap.min(), apart)  # metres


def test_zone_truth_adds_up_to_the_aoi_truth(truth):
    zoned = truth["zones"]
    for sdg, keys in AREA_KEYS.items():
        assert set(zoned[sdg]) == {*zoned["ids"], OUTSIDE}
        for year, total in truth[sdg]["years"].items():
            for key in keys:
                summed = math.fsum(z[year][key] for z in zoned[sdg].values())
                assert summed == pytest.approx(total[key], rel=1e-9), (sdg, year, key)
    for z in zoned["sdg_15_1_1"].values():
        for v in z.values():
            assert v["land_area_km2"] == pytest.approx(v["aoi_area_km2"] - v["permanent_water_km2"], rel=1e-12)
            assert v["forest_pct"] == pytest.approx(100 * v["forest_area_km2"] / v["land_area_km2"], rel=1e-12)


def test_lake_is_split_and_every_municipality_has_forest(truth):
    zoned = truth["zones"]
    for year in map(str, YEARS):
        for sdg, key in (("sdg_15_1_1", "permanent_water_km2"), ("sdg_6_6_1", "permanent_km2"),
                         ("sdg_6_6_1", "seasonal_km2")):
            total = truth[sdg]["years"][year][key]
            shares = [zoned[sdg][z][year][key] / total for z in zoned["ids"]]
            assert sum(s > 0.1 for s in shares) >= 2, (sdg, key, year, shares)
            assert zoned[sdg][OUTSIDE][year][key] == 0
        assert all(zoned["sdg_15_1_1"][z][year]["forest_area_km2"] > 0 for z in zoned["ids"]), year
    for z in zoned["ids"]:  # the two grids agree on how the lake is split (pixelation only)
        for year in map(str, YEARS):
            lc = zoned["sdg_15_1_1"][z][year]["permanent_water_km2"]
            assert lc == pytest.approx(zoned["sdg_6_6_1"][z][year]["permanent_km2"], rel=0.01), (z, year)


def test_mmu_is_decided_on_whole_patches_across_zone_borders(truth):
    """f12 (~0.9 ha, cleared 2024) crosses a border between two zones, f6 (~1.1 ha, cleared 2017)
    the edge of the outside remainder: a part below the MMU still counts until the clearing."""
    forest = {z: {int(y): v["forest_area_km2"] * 100 for y, v in years.items()}
              for z, years in truth["zones"]["sdg_15_1_1"].items()}
    ha = {p["id"]: p["area_ha"] for p in truth["sdg_15_1_1"]["patches"]}
    for year, patch in ((2024, "f12"), (2017, "f6")):
        drops = {z: f[year - 1] - f[year] for z, f in forest.items() if f[year - 1] - f[year] > 1e-9}
        assert len(drops) == 2 and sum(drops.values()) == pytest.approx(ha[patch], abs=1e-9), (patch, drops)
        assert min(drops.values()) < truth["sdg_15_1_1"]["mmu_ha"] - 0.1, (patch, drops)
        assert (OUTSIDE in drops) == (patch == "f6")


def test_zone_forest_truth_equals_an_independent_recount(truth, zones, lc_items):
    """From the written files only: land-cover COGs, zones.gpkg (pixel centres to EPSG:4674)."""
    meta = truth["zones"]
    to_zones = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4674", always_xy=True)
    for item in lc_items:
        year = item.id.split("_")[3]
        lc, t = _aoi_landcover(item, truth)
        if year == "2016":
            lon, lat = to_zones.transform(*np.meshgrid(t.c + (np.arange(lc.shape[1]) + 0.5) * t.a,
                                                       t.f + (np.arange(lc.shape[0]) + 0.5) * t.e))
            member = {z: shapely.contains_xy(zones.geometry[z], lon, lat) for z in meta["ids"]}
            member[OUTSIDE] = ~np.logical_or.reduce(list(member.values()))
            cell = _geod_row_areas(t, range(lc.shape[0]), t.a)[:, None] * np.ones(lc.shape[1])
        labels, n = ndimage.label(np.isin(lc, [10, 95]), structure=np.ones((3, 3)))
        patch_m2 = ndimage.sum_labels(cell, labels, index=np.arange(1, n + 1))
        kept = np.r_[False, patch_m2 >= 5000][labels]
        for z, inside in member.items():
            expected = meta["sdg_15_1_1"][z][year]
            assert expected["aoi_area_km2"] == pytest.approx(cell[inside].sum() / 1e6, rel=1e-7)
            assert expected["permanent_water_km2"] == pytest.approx(cell[inside & (lc == 80)].sum() / 1e6,
                                                                    rel=1e-7, abs=1e-12)
            assert expected["forest_area_km2"] == pytest.approx(cell[inside & kept].sum() / 1e6, rel=1e-7, abs=1e-12)


def test_zones_follow_the_aoi_at_every_scale(truth, zones):
    """Zones are AOI fractions: at scale 4 they sit at the same place relative to the bigger AOI."""
    def relative(bounds, bbox):
        w, s, e, n = bbox
        return [(bounds[0] - w) / (e - w), (bounds[1] - s) / (n - s), (bounds[2] - w) / (e - w),
                (bounds[3] - s) / (n - s)]

    scaled = Zones(Design(truth["generator"]["seed"], Layout(4)))
    for code, geom in scaled.geometries.items():
        assert relative(geom.bounds, aoi_bbox(4)) == pytest.approx(
            relative(zones.geometry[code].bounds, truth["aoi"]["bbox"]), abs=1e-9)
    masks = scaled.lc_masks
    share = {z: m.mean() for z, m in masks.items()}
    assert 0.02 < share[OUTSIDE] < 0.2 and all(share[z] > 0.1 for z in scaled.ids)


# ------------------------------------------------------------------ SDG 15.3.1 (land degradation) collections and truth
LD_PERIODS = {"baseline": {"productivity": [2001, 2015], "land_cover": [2000, 2015]},
              "2016-2019": {"productivity": [2004, 2019], "land_cover": [2015, 2019]},
              "2020-2023": {"productivity": [2008, 2023], "land_cover": [2015, 2023]}}
LD_LAYERS = ("trajectory", "state", "performance", "lpd", "productivity", "land_cover_degradation",
             "soc_degradation", "sdg")
LD_ASSETS = {"modis-13Q1-061": {"250m_16_days_NDVI": ("int16", -3000), "250m_16_days_pixel_reliability": ("int8", -1)},
             "esa-cci-lc": {"lccs_class": ("uint8", 0)}, "soilgrids-ocs": {"ocs": ("int16", -32768)},
             "soil-taxonomy-usda": {"taxousda": ("uint8", 255)}, "ipcc-climate-zones": {"climate_zone": ("uint8", 0)},
             "jrc-lpd": {"lpd": ("uint8", 0)}, "cop-dem-glo-30": {"data": ("float32", None)}}
WIDE = ("esa-cci-lc", "cop-dem-glo-30")  # on the 15.4.2 mountain grid (it holds the LD grid)
MODIS_ID = re.compile(r"^MOD13Q1\.A20\d\d(001|097|193|289)\.h12v10\.061$")


@pytest.fixture(scope="session")
def ld_items(items) -> dict[str, list[pystac.Item]]:
    out: dict[str, list[pystac.Item]] = {}
    for item in sorted(items, key=lambda it: it.id):
        if item.collection_id in LD_COLLECTIONS:
            out.setdefault(item.collection_id, []).append(item)
    return out


@pytest.fixture(scope="session")
def ld_aoi(truth) -> np.ndarray:
    """LD pixels whose centre lies in the AOI bbox, from truth.json's grid alone."""
    g = truth["sdg_15_3_1"]["grid"]
    (h, w), t = g["shape"], g["transform"]
    x = t[2] + (np.arange(w) + 0.5) * t[0]
    y = t[5] + (np.arange(h) + 0.5) * t[4]
    west, south, east, north = truth["aoi"]["bbox"]
    return ((y > south) & (y < north))[:, None] & ((x > west) & (x < east))[None, :]


def _ld_patch_pixels(truth, ld_aoi, patch: dict) -> tuple[slice, slice]:
    rows, cols = np.nonzero(ld_aoi)
    r0, r1, c0, c1 = patch["box"]
    return slice(rows.min() + r0, rows.min() + r1), slice(cols.min() + c0, cols.min() + c1)


def test_land_degradation_items_load_on_the_ld_grid_with_declared_types(built, ld_items, truth):
    from catalog.profiles import get_profile

    grid = truth["sdg_15_3_1"]["grid"]
    assert grid["crs"] == "EPSG:4326" and grid["resolution_deg"] == 1 / 2400
    assert all(abs(v * 2400 - round(v * 2400)) < 1e-6 for v in (grid["transform"][2], grid["transform"][5]))
    counts = {"modis-13Q1-061": 23 * 4, "esa-cci-lc": 24, "soilgrids-ocs": 1, "soil-taxonomy-usda": 1,
              "ipcc-climate-zones": 1, "jrc-lpd": 3, "cop-dem-glo-30": 1}
    assert {c: len(v) for c, v in ld_items.items()} == counts
    for coll, coll_items in ld_items.items():
        profile = get_profile(coll, coll_items)
        for item in coll_items:
            assert item.datetime or item.common_metadata.start_datetime, item.id
            assert set(item.assets) == set(LD_ASSETS[coll])
            for key, (dtype, nodata) in LD_ASSETS[coll].items():
                band = item.assets[key].extra_fields["raster:bands"][0]
                assert (band["data_type"], band["nodata"]) == (dtype, nodata)
                common = next(b for b, k in profile.bands.items() if k == key)
                assert (profile.dtype_of(common), profile.nodata_of(common)) == (dtype, nodata)
                on = truth["sdg_15_4_2"]["grid"] if coll in WIDE else grid
                with rasterio.open(_path(item.assets[key])) as src:
                    assert (src.dtypes[0], src.nodata) == (dtype, nodata)
                    assert list(src.transform)[:6] == on["transform"][:6] and list(src.shape) == on["shape"]
    modis = ld_items["modis-13Q1-061"]
    assert all(MODIS_ID.match(it.id) for it in modis)
    ndvi = modis[0].assets["250m_16_days_NDVI"].extra_fields["raster:bands"][0]
    assert ndvi["scale"] == 0.0001
    start, end = modis[0].common_metadata.start_datetime, modis[0].common_metadata.end_datetime
    assert (end - start).days == 15
    assert "LD grid" in pystac.Catalog.from_file(str(built / "catalog.json")).get_child("modis-13Q1-061").description


def test_land_degradation_areas_add_up_to_the_aoi(truth, ld_aoi):
    t = truth["sdg_15_3_1"]
    assert t["periods"] == LD_PERIODS
    g = t["grid"]
    transform = rasterio.Affine(*g["transform"][:6])
    cell = _geod_row_areas(transform, range(g["shape"][0]), 1 / 2400)[:, None] * np.ones(g["shape"][1])
    for name, period in t["by_period"].items():
        assert period["aoi_area_km2"] == pytest.approx(cell[ld_aoi].sum() / 1e6, rel=1e-7)
        layers = LD_LAYERS + (("status", "status3") if name != "baseline" else ())
        assert set(period["areas_km2"]) == set(layers)
        for layer in layers:
            assert math.fsum(period["areas_km2"][layer].values()) == pytest.approx(period["aoi_area_km2"], rel=1e-9)
        land = period["aoi_area_km2"] - period["water_area_km2"]
        assert period["land_area_km2"] == pytest.approx(land, rel=1e-12) and period["water_area_km2"] > 0
        degraded = period["areas_km2"]["sdg"]["-1"]
        assert period["degraded_pct"] == pytest.approx(100 * degraded / land, rel=1e-12)
        assert period["te_degraded_pct"] == pytest.approx(100 * degraded / period["aoi_area_km2"], rel=1e-12)
        assert 0 < period["te_degraded_pct"] < period["degraded_pct"]


def test_land_degradation_zones_add_up_to_the_aoi(truth):
    zoned, total = truth["zones"]["sdg_15_3_1"], truth["sdg_15_3_1"]["by_period"]
    assert set(zoned) == {*truth["zones"]["ids"], OUTSIDE}
    for name, period in total.items():
        for key in ("aoi_area_km2", "water_area_km2", "land_area_km2"):
            assert math.fsum(z[name][key] for z in zoned.values()) == pytest.approx(period[key], rel=1e-9)
        for layer, classes in period["areas_km2"].items():
            for code, area in classes.items():
                summed = math.fsum(z[name]["areas_km2"][layer].get(code, 0.0) for z in zoned.values())
                assert summed == pytest.approx(area, rel=1e-9, abs=1e-12), (name, layer, code)
    crossing = [p["id"] for p in truth["sdg_15_3_1"]["patches"] if p["box"] and len(p["zones"]) >= 2]
    assert crossing, "some patch must cross a zone border"


def test_every_intended_class_of_every_patch_holds(truth):
    patches = {p["id"]: p for p in truth["sdg_15_3_1"]["patches"]}
    assert {"A", "B", "C", "D", "E", "F", "G", "W", "no_ndvi", "no_landcover", "no_soc"} <= set(patches)
    for patch in patches.values():
        assert patch["intended"], patch["id"]
        for name, wanted in patch["intended"].items():
            for layer, code in wanted.items():
                assert patch["classes"][name][layer] == code, (patch["id"], name, layer)
    f = patches["F"]["values"]
    assert -10 < f["2016-2019"]["soc_change_pct"] < 0 and f["2020-2023"]["soc_change_pct"] < -10


def test_mann_kendall_critical_values_equal_a_brute_force_count():
    for n in range(4, 9):
        counts: dict[int, int] = {}
        for perm in itertools.permutations(range(n)):
            s = sum(1 if perm[k] > perm[j] else -1 for j in range(n) for k in range(j + 1, n))
            counts[s] = counts.get(s, 0) + 1
        total = math.factorial(n)
        expected = tuple(max(s for s in counts if sum(c for v, c in counts.items() if v >= s) / total > a)
                         for a in (0.10, 0.05, 0.01))
        assert mk_critical(n) == expected, n


def test_land_degradation_truth_equals_a_recount_from_the_files(ld_items, truth, ld_aoi, zones):
    """Annual NDVI from the written composites (reliability 0/1, NDVI not -3000), land cover and the
    JRC-like LPD per patch, and the zones' AOI areas from zones.gpkg."""
    t = truth["sdg_15_3_1"]
    by_year: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for item in ld_items["modis-13Q1-061"]:
        year = int(item.id[9:13])
        by_year.setdefault(year, []).append((_read(item, "250m_16_days_NDVI"),
                                             _read(item, "250m_16_days_pixel_reliability")))
    annual = {}
    for year, comps in by_year.items():
        ndvi = np.stack([c[0] for c in comps]).astype(np.float64)
        valid = np.stack([np.isin(c[1], [0, 1]) & (c[0] != -3000) for c in comps])
        n = valid.sum(0)
        with np.errstate(invalid="ignore"):
            annual[year] = np.where(n > 0, (ndvi * valid).sum(0) / np.maximum(n, 1) * 1e-4, np.nan)
    wide, ld = truth["sdg_15_4_2"]["grid"], t["grid"]  # ESA CCI lies on the mountain grid: read the LD window
    r0, c0 = (round((ld["transform"][i] - wide["transform"][i]) / ld["transform"][j]) for i, j in ((5, 4), (2, 0)))
    window = (slice(r0, r0 + ld["shape"][0]), slice(c0, c0 + ld["shape"][1]))
    cci = {int(it.id.split("-")[7]): _read(it, "lccs_class")[window] for it in ld_items["esa-cci-lc"]}
    lpd = {int(it.id[-4:]): _read(it, "lpd") for it in ld_items["jrc-lpd"]}
    periods = {2015: "baseline", 2019: "2016-2019", 2023: "2020-2023"}
    for patch in t["patches"]:
        if not patch["box"]:
            continue
        rows, cols = _ld_patch_pixels(truth, ld_aoi, patch)
        for name, values in patch["values"].items():
            a, b = t["periods"][name]["productivity"]
            series = np.stack([annual[y][rows, cols] for y in range(a, b + 1)])
            means = np.nanmean(series, axis=0) if np.isfinite(series).any() else np.full(series.shape[1:], np.nan)
            if values["mean_ndvi"] is None:
                assert np.isnan(means).all(), patch["id"]
            else:
                assert np.allclose(means, values["mean_ndvi"], rtol=0, atol=1e-12), (patch["id"], name)
        assert (cci[2000][rows, cols] == patch["cci"][0]).all() and (cci[2023][rows, cols] == patch["cci"][1]).all()
        for year, name in periods.items():
            code = patch["classes"][name]["lpd"]
            got = set(np.unique(lpd[year][rows, cols]).tolist())
            assert got == ({code} if code is not None else got & {0, 15}) and got, (patch["id"], name, got)
    assert any((v == 15).any() for v in lpd.values()) and any((v == 0).any() for v in lpd.values())
    g = t["grid"]
    transform = rasterio.Affine(*g["transform"][:6])
    lon, lat = np.meshgrid(transform.c + (np.arange(g["shape"][1]) + 0.5) * transform.a,
                           transform.f + (np.arange(g["shape"][0]) + 0.5) * transform.e)
    lon, lat = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4674", always_xy=True).transform(lon, lat)
    cell = _geod_row_areas(transform, range(g["shape"][0]), 1 / 2400)[:, None] * np.ones(g["shape"][1])
    water = cci[2000] == 210
    for z in truth["zones"]["ids"]:
        inside = shapely.contains_xy(zones.geometry[z], lon, lat) & ld_aoi
        expected = truth["zones"]["sdg_15_3_1"][z]["baseline"]
        assert expected["aoi_area_km2"] == pytest.approx(cell[inside].sum() / 1e6, rel=1e-7)
        assert expected["water_area_km2"] == pytest.approx(cell[inside & water].sum() / 1e6, rel=1e-7, abs=1e-12)


# ------------------------------------------------------------------ Landsat 5/7/8/9 (6.6.1 from 2000)
LS_ID = re.compile(r"^L(T05|E07|C08|C09)_L2SP_227069_(20\d\d)(\d\d)(\d\d)_02_T1$")
QA_CLEAR_LAND = {"tm": 5440, "etm": 5440, "oli": 21824}  # USGS C2 QA_PIXEL words of clear, low-confidence land
QA_BAD = 0b111111  # fill, dilated cloud, cirrus, cloud, cloud shadow, snow: no observation


@pytest.fixture(scope="session")
def ls_items(items) -> list[pystac.Item]:
    return sorted((it for it in items if it.collection_id == LANDSAT_COLLECTION), key=lambda it: it.datetime)


def test_landsat_items_look_like_planetary_computer_landsat_c2_l2(ls_items):
    from catalog.profiles import get_profile

    assert get_profile(LANDSAT_COLLECTION, ls_items).name == "landsat-c2-l2"
    for item in ls_items:
        p = item.properties
        match = LS_ID.match(item.id)
        assert match and item.datetime.strftime("%Y%m%d") == "".join(match.groups()[1:]), item.id
        assert p["platform"] == {"T05": "landsat-5", "E07": "landsat-7", "C08": "landsat-8",
                                 "C09": "landsat-9"}[match.group(1)]
        assert p["instruments"] == {"landsat-5": ["tm"], "landsat-7": ["etm+"]}.get(p["platform"], ["oli", "tirs"])
        assert set(item.assets) == {"blue", "green", "red", "nir08", "swir16", "swir22", "qa_pixel"}
        assert p["proj:code"] == "EPSG:32721" and p["landsat:collection_number"] == "02"
        first, last = PLATFORM_YEARS[p["platform"]]
        assert first <= item.datetime.year <= last
        for key in ("green", "swir16"):
            band = item.assets[key].extra_fields["raster:bands"][0]
            assert (band["scale"], band["offset"], band["nodata"]) == (2.75e-5, -0.2, 0)
            assert item.assets[key].extra_fields["proj:transform"][0] == 30
        assert item.assets["qa_pixel"].extra_fields["raster:bands"][0]["nodata"] == 1
    years = {}
    for item in ls_items:
        years.setdefault(item.datetime.year, set()).add(item.properties["platform"])
    assert years[2000] == {"landsat-5", "landsat-7"} and years[2012] == {"landsat-7"}
    assert years[2013] == {"landsat-7", "landsat-8"} and years[2024] == {"landsat-8", "landsat-9"}


def test_landsat_qa_pixel_follows_usgs_bits_and_slc_off_is_fill(ls_items):
    for item in ls_items[::3]:
        qa = _read(item, "qa_pixel")
        green = _read(item, "green")
        fill = qa == 1
        assert ((green == 0) == fill).all(), item.id  # no data exactly where QA_PIXEL says fill
        slc_off = item.properties["platform"] == "landsat-7" and item.datetime.date() >= SLC_FAILURE
        assert fill.any() == slc_off, item.id
        if slc_off:  # wedges of no data along the scan lines, about a fifth of the scene
            assert 0.1 < fill.mean() < 0.35 and fill.any(axis=1).mean() > 0.5
        sensor = {"landsat-5": "tm", "landsat-7": "etm"}.get(item.properties["platform"], "oli")
        cloudy = (qa & 0b1010) != 0
        assert (((qa >> 6) & 1) == (~cloudy & ~fill)).all()  # clear: neither cloud nor dilated cloud
        assert (qa[~fill] >> 8 & 3 > 0).all() and (QA_CLEAR_LAND[sensor] == qa).any()
        if sensor != "oli":
            assert not (qa & 0b100).any() and not (qa >> 14).any()  # no cirrus band before Landsat 8


def test_landsat_sees_the_sentinel2_lake_from_2016(truth):
    design = Design(truth["generator"]["seed"])
    landsat = LandsatDemo(design)
    rows, cols = landsat.cell20
    for year in YEARS:
        for wet in (True, False):
            s2_kind = design.surfaces(year, wet)[1]
            assert (landsat.surface(year, wet) == s2_kind[rows, cols]).all(), (year, wet)


def test_landsat_sentinel2_truth_equals_a_recount_from_the_qa_files(ls_items, truth):
    """Per year, from the QA_PIXEL files alone: USGS's water bit on every clear date = permanent, on some =
    seasonal; clear pixels per sensor = observations. Areas from GEOD polygons of each 30 m cell."""
    t = truth["sdg_6_6_1_landsat_sentinel2"]
    kept = set(truth["landsat_items"]["kept"])
    item = ls_items[0]
    transform = rasterio.Affine(*item.assets["qa_pixel"].extra_fields["proj:transform"][:6])
    height, width = item.assets["qa_pixel"].extra_fields["proj:shape"]
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32721", always_xy=True).transform
    aoi = shapely_transform(to_utm, segmentize(box(*truth["aoi"]["bbox"]), 1e-4))
    x = transform.c + (np.arange(width) + 0.5) * transform.a
    y = transform.f + (np.arange(height) + 0.5) * transform.e
    inside = shapely.contains_xy(aoi, *np.meshgrid(x, y))
    to_geo = pyproj.Transformer.from_crs("EPSG:32721", "EPSG:4326", always_xy=True).transform
    cell = np.zeros(inside.shape)
    for r, c in zip(*np.nonzero(inside), strict=True):
        x0, y0 = transform * (c, r)
        lon, lat = to_geo([x0, x0 + 30, x0 + 30, x0], [y0, y0, y0 - 30, y0 - 30])
        cell[r, c] = abs(GEOD.polygon_area_perimeter(lon, lat)[0])
    for year, expected in t["years"].items():
        water, seen, observations = 0, 0, {}
        for it in ls_items:
            if it.datetime.year != int(year) or it.id not in kept:
                continue
            qa = _read(it, "qa_pixel")
            clear = (qa & QA_BAD) == 0
            sensor = {"landsat-5": "tm", "landsat-7": "etm"}.get(it.properties["platform"], "oli")
            observations[sensor] = observations.get(sensor, 0) + int(clear[inside].sum())
            water = water + (clear & ((qa >> 7) & 1 == 1))
            seen = seen + clear
        assert (seen[inside] >= 3).all(), year
        permanent, seasonal = (water == seen) & inside, (water > 0) & (water < seen) & inside
        assert expected["permanent_km2"] == pytest.approx(cell[permanent].sum() / 1e6, rel=1e-6), year
        assert expected["seasonal_km2"] == pytest.approx(cell[seasonal].sum() / 1e6, rel=1e-6), year
        assert expected["aoi_area_km2"] == pytest.approx(cell.sum() / 1e6, rel=1e-6), year
        assert {k: v for k, v in expected["observations"].items() if k != "msi"} == observations, year
    assert t["change_pct"]["permanent_water_area_change"] < -20  # the lake shrank since the baseline


def test_heavily_clouded_landsat_scenes_are_exactly_the_excluded_ones(ls_items, truth):
    excluded = set(truth["landsat_items"]["excluded_by_cloud_cover"])
    assert len(excluded) == 4 and excluded <= {it.id for it in ls_items}
    for item in ls_items:
        assert (item.properties["eo:cloud_cover"] >= 90) == (item.id in excluded), item.id


def test_same_seed_gives_identical_landsat_files(built, rebuilt, ls_items):
    for item in (ls_items[0], ls_items[len(ls_items) // 2], ls_items[-1]):
        for key in ("green", "qa_pixel"):
            rel = _path(item.assets[key]).relative_to(built)
            assert (built / rel).read_bytes() == (rebuilt / rel).read_bytes(), rel
