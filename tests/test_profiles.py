"""Collection profiles as data: parsing, validation, selection by items, scale/offset
rules and the two kinds of mask rule (classes, bits) applied lazily."""

from __future__ import annotations

import json
from pathlib import Path

import dask
import dask.array as da
from affine import Affine
from dask.callbacks import Callback
import numpy as np
import pystac
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox

from catalog.load import _apply_mask, _resampling, load_cube
from catalog.profiles import PROFILE_DIR, ProfileError, _parse, get_profile, profiles, select_profile

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "stac-items"
PC_ITEM = SHARED / "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
V0_ITEM = SHARED / "S2A_28QCH_20200714_0_L2A.json"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real STAC items not found at {SHARED}")

EXPECTED_PROFILES = {  # file stem -> (collection id, provider)
    "sentinel-2-l2a": ("sentinel-2-l2a", "earth-search-v1"),
    "sentinel-2-l2a-pc": ("sentinel-2-l2a", "planetary-computer"),
    "sentinel-s2-l2a-cogs": ("sentinel-s2-l2a-cogs", "earth-search-v0"),
    "landsat-c2-l2": ("landsat-c2-l2", "planetary-computer"),
    "landsat-c2l2-sr": ("landsat-c2l2-sr", "usgs"),
    "esa-worldcover": ("esa-worldcover", "planetary-computer"),
    "io-lulc-annual-v02": ("io-lulc-annual-v02", "planetary-computer"),
    "cop-dem-glo-30": ("cop-dem-glo-30", "planetary-computer"),
    "jrc-gsw": ("jrc-gsw", "planetary-computer"),
    "modis-13Q1-061": ("modis-13Q1-061", "planetary-computer"),
    "esa-cci-lc": ("esa-cci-lc", "planetary-computer"),
    "soilgrids-ocs": ("soilgrids-ocs", None),
    "soil-taxonomy-usda": ("soil-taxonomy-usda", None),
    "ipcc-climate-zones": ("ipcc-climate-zones", None),
    "jrc-lpd": ("jrc-lpd", None),
    "ghs-built-s": ("ghs-built-s", None),
    "worldpop": ("worldpop", None),
}


def item_with(assets: list[str], collection: str = "sentinel-2-l2a", **properties) -> pystac.Item:
    item = pystac.Item("x", {"type": "Point", "coordinates": [0, 0]}, [0, 0, 0, 0],
                       pystac.utils.str_to_datetime("2022-06-01T00:00:00Z"), properties, collection=collection)
    for key in assets:
        item.add_asset(key, pystac.Asset(f"https://example.com/{key}.tif", media_type="image/tiff"))
    return item


# ------------------------------------------------------------------ the shipped files


def test_every_collection_has_its_profile():
    found = {name: (p.collection, p.provider) for name, p in profiles().items()}
    assert found == EXPECTED_PROFILES


@pytest.mark.parametrize("name", sorted(EXPECTED_PROFILES))
def test_profile_is_consistent(name):
    profile = profiles()[name]
    assert profile.source == PROFILE_DIR / f"{name}.yaml"
    assert set(profile.match_assets) <= set(profile.bands.values())
    assert profile.categorical <= set(profile.bands)
    if profile.mask:
        assert profile.mask.band in profile.categorical
    for band in profile.bands:
        assert profile.dtype_of(band) in {"int8", "uint8", "uint16", "int16", "float32"}
        nodata = profile.nodata_of(band)
        assert nodata is None or np.can_cast(np.min_scalar_type(nodata), profile.dtype_of(band))


def test_landsat_qa_bits_are_the_documented_ones():
    for name in ("landsat-c2-l2", "landsat-c2l2-sr"):
        rule = profiles()[name].mask
        assert rule.kind == "bits"
        assert dict(rule.bits) == {"fill": 0, "dilated_cloud": 1, "cirrus": 2, "cloud": 3, "cloud_shadow": 4,
                                   "snow": 5}
        assert rule.bitmask == 0b11111  # snow is named, not masked


# ------------------------------------------------------------------ selection


def test_same_collection_id_is_told_apart_by_the_items_assets():
    es = item_with(["blue", "green", "scl"])
    pc = item_with(["B02", "B03", "SCL", "visual"])
    assert get_profile("sentinel-2-l2a", [es]).name == "sentinel-2-l2a"
    assert get_profile("sentinel-2-l2a", [pc]).name == "sentinel-2-l2a-pc"
    assert get_profile("sentinel-2-l2a").name == "sentinel-2-l2a"  # before a search: the default
    assert get_profile("sentinel-2-l2a", provider="planetary-computer").name == "sentinel-2-l2a-pc"


def test_no_match_lists_candidates_and_what_they_need():
    with pytest.raises(ProfileError) as error:
        get_profile("sentinel-2-l2a", [item_with(["red", "green"])])
    message = str(error.value)
    assert "no 'sentinel-2-l2a' profile matches item x" in message
    assert "sentinel-2-l2a (earth-search-v1, sentinel-2-l2a.yaml) needs blue, scl" in message
    assert "sentinel-2-l2a-pc (planetary-computer, sentinel-2-l2a-pc.yaml) needs B02, SCL" in message
    with pytest.raises(ProfileError, match="no 'sentinel-2-l2a' profile from provider 'usgs'; profiles: "):
        get_profile("sentinel-2-l2a", provider="usgs")
    with pytest.raises(ProfileError, match="no collection profile for 'sentinel-1-grd'.*add one as"):
        get_profile("sentinel-1-grd")


@needs_shared
def test_loading_with_the_wrong_profile_names_the_right_one():
    item = pystac.Item.from_file(str(PC_ITEM))
    geobox = GeoBox((10, 10), (10, 0, 399960, 0, -10, 6800040), "EPSG:32606")
    with pytest.raises(ProfileError, match=r"does not fit item .* lacks assets blue, scl.*sentinel-2-l2a-pc "
                                           r"\(planetary-computer.*fits: select it with get_profile"):
        load_cube([item], get_profile("sentinel-2-l2a"), ["red"], geobox)


# ------------------------------------------------------------------ validation of files


def write_profiles(directory: Path, **files: dict) -> Path:
    directory.mkdir(exist_ok=True)
    for name, data in files.items():
        (directory / f"{name}.yaml").write_text(json.dumps(data))  # JSON is YAML
    return directory


BASE = {"collection": "c", "bands": {"red": "B04", "qa": "QA"}, "categorical": ["qa"]}


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, r"unknown keys \['colour'\]"),
    ({"mask": {"band": "qa", "invalid": [1], "bits": {"a": 0}}}, "either 'invalid'"),
    ({"mask": {"band": "qa", "bits": {"cloud": 3}, "invalid_bits": ["snow"]}}, r"invalid_bits \['snow'\]"),
    ({"mask": {"band": "red", "invalid": [1]}}, "mask band 'red' must be categorical"),
    ({"categorical": ["nir"]}, r"\['nir'\] are not bands"),
    ({"scale_offset": {"bands": {"swir": {"scale": 2}}}}, r"\['swir'\] are not bands"),
    ({"scale_offset": {"rules": [{"property": "p"}]}}, "needs 'property' and 'at_least'"),
    ({"sign": "sign"}, "sign must be 'module.function'"),
])
def test_malformed_profiles_fail_when_read_with_the_file_named(tmp_path, change, message):
    directory = write_profiles(tmp_path / "p", broken=BASE | change)
    with pytest.raises(ProfileError, match=message) as error:
        profiles(directory)
    assert "broken.yaml" in str(error.value)


def test_shared_collection_ids_need_one_default(tmp_path):
    directory = write_profiles(tmp_path / "p", one=BASE | {"match": {"assets": ["B04"]}},
                               two=BASE | {"match": {"assets": ["QA"]}})
    with pytest.raises(ProfileError, match="share collection 'c': mark exactly one 'default: true'"):
        profiles(directory)
    directory = write_profiles(tmp_path / "q", one=BASE | {"default": True, "match": {"assets": ["B04"]}},
                               two=BASE | {"bands": {"red": "red", "qa": "QA"}, "match": {"assets": ["red"]}})
    assert select_profile("c", directory=directory).name == "one"
    assert select_profile("c", {"red", "QA"}, directory=directory).name == "two"


# ------------------------------------------------------------------ scale/offset rules


def test_scale_offset_rules_when_items_do_not_state_them():
    pc = get_profile("sentinel-2-l2a", provider="planetary-computer")
    old = item_with(["B04"], **{"s2:processing_baseline": "02.12"})
    new = item_with(["B04"], **{"s2:processing_baseline": "04.00"})
    assert pc.item_scale_offset(old, "red") == (1e-4, 0.0)
    assert pc.item_scale_offset(new, "red") == (1e-4, -0.1)
    new.assets["B04"].extra_fields["raster:bands"] = [{"scale": 2e-4, "offset": -0.05}]
    assert pc.item_scale_offset(new, "red") == (2e-4, -0.05)  # the item's own raster:bands win

    v0 = get_profile("sentinel-s2-l2a-cogs")
    for product_id, offset in (("S2A_MSIL2A_20200714T115221_N0214_R123_T28QCH_20200714T191310", 0.0),
                               ("S2A_MSIL2A_20220714T115221_N0400_R123_T28QCH_20220714T191310", -0.1)):
        item = item_with(["B04"], "sentinel-s2-l2a-cogs", **{"sentinel:product_id": product_id})
        assert v0.item_scale_offset(item, "red") == (1e-4, offset)

    landsat = get_profile("landsat-c2-l2")
    item = item_with(["red", "lwir11"], "landsat-c2-l2")
    assert landsat.item_scale_offset(item, "red") == (2.75e-5, -0.2)
    assert landsat.item_scale_offset(item, "lwir11") == (0.00341802, 149.0)


@needs_shared
def test_real_pc_item_needs_the_profile_rule():
    item = pystac.Item.from_file(str(PC_ITEM))
    assert "raster:bands" not in item.assets["B04"].extra_fields
    assert get_profile("sentinel-2-l2a", [item]).item_scale_offset(item, "red") == (1e-4, 0.0)
    v0 = pystac.Item.from_file(str(V0_ITEM))
    assert get_profile(v0.collection_id, [v0]).item_scale_offset(v0, "nir") == (1e-4, 0.0)


# ------------------------------------------------------------------ masks, lazily


def _cube(flags: np.ndarray, dtype) -> xr.Dataset:
    shape = (1, *flags.shape)
    dn = da.from_array(np.full(shape, 500, np.uint16), chunks=(1, 2, 2))
    qa = da.from_array(flags.reshape(shape).astype(dtype), chunks=(1, 2, 2))
    dims = ("time", "y", "x")
    return xr.Dataset({"red": (dims, dn, {"nodata": 0}), "qa": (dims, qa)})


class _NoCompute(Callback):
    def _start(self, dsk):
        raise AssertionError("masking computed something")


@pytest.mark.parametrize("name, flags, bad", [
    ("landsat-c2l2-sr", [[21824, 21824 | 8], [21824 | 16, 21824 | 32], [1, 21824 | 2]],
     [[0, 1], [1, 0], [1, 1]]),
    ("sentinel-2-l2a", [[4, 9], [3, 11], [0, 5]], [[0, 1], [1, 1], [1, 0]]),  # 11 snow is masked
])
def test_mask_rules_are_lazy_and_exact(name, flags, bad):
    profile = profiles()[name]
    band = profile.mask.band
    ds = _cube(np.array(flags), np.uint16 if band == "qa_pixel" else np.uint8).rename({"qa": band})
    with _NoCompute():
        out = _apply_mask(ds, profile, ["red"])
    assert band not in out and dask.is_dask_collection(out.red)
    np.testing.assert_array_equal(out.red.values[0], np.where(np.array(bad, bool), 0, 500))
    assert out.red.dtype == np.uint16 and out.red.attrs["nodata"] == 0


def test_categorical_bands_are_never_interpolated():
    item = item_with(["B02", "B04", "SCL"])
    item.assets["B04"].extra_fields["proj:transform"] = [10, 0, 0, 0, -10, 0]
    item.assets["SCL"].extra_fields["proj:transform"] = [20, 0, 0, 0, -20, 0]
    item.properties["proj:code"] = "EPSG:32606"
    profile = get_profile("sentinel-2-l2a", [item])
    for size, continuous, categorical in ((5, "bilinear", "nearest"), (20, "average", "nearest"),
                                          (60, "average", "mode")):
        geobox = GeoBox((4, 4), (size, 0, 0, 0, -size, 0), "EPSG:32606")
        assert _resampling("red", "B04", item, profile, geobox) == continuous
        assert _resampling("scl", "SCL", item, profile, geobox) == categorical


@pytest.mark.parametrize("lat", [0.0, 45.0, 60.0, 70.0])
def test_degree_grids_compare_sizes_at_the_same_latitude(lat):
    """A degree-based asset read onto a degree grid of its own resolution is not resampled,
    at any latitude: native and target sizes are both converted with cos(latitude)."""
    deg = 1 / 12000  # ESA WorldCover pixel
    item = item_with(["map"], collection="esa-worldcover")
    item.bbox = [10.0, lat - 0.5, 11.0, lat + 0.5]
    item.properties["proj:code"] = "EPSG:4326"
    item.assets["map"].extra_fields["proj:transform"] = [deg, 0, 10.0, 0, -deg, lat + 0.5]
    profile = get_profile("esa-worldcover", [item])
    same = GeoBox((100, 100), Affine(deg, 0, 10.2, 0, -deg, lat + 0.1), "EPSG:4326")
    coarse = GeoBox((100, 100), Affine(4 * deg, 0, 10.2, 0, -4 * deg, lat + 0.1), "EPSG:4326")
    assert _resampling("landcover", "map", item, profile, same) == "nearest"
    assert _resampling("landcover", "map", item, profile, coarse) == "mode"


def test_a_band_cannot_be_both_categorical_and_extensive(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("collection: x\nbands: {population: p}\ncategorical: [population]\nextensive: [population]\n")
    with pytest.raises(ProfileError, match="both categorical and extensive"):
        _parse(path)
