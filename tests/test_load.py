"""Loading: per-item scale/offset, SCL masking, categorical resampling, clear errors."""

from datetime import datetime, timezone

import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from catalog.load import AssetError, load_cube
from catalog.profiles import ProfileError, get_profile
from catalog.search import SearchRequest, search
from pipeline.grid import make_geobox


@pytest.fixture(scope="module")
def s2(demo_catalog, demo_truth):
    aoi = box(*demo_truth["aoi"]["bbox"])
    items = search(demo_catalog, SearchRequest("sentinel-2-l2a", aoi, datetime(2021, 6, 1, tzinfo=timezone.utc),
                                               datetime(2022, 6, 30, tzinfo=timezone.utc), 60))
    return items, make_geobox(aoi, "EPSG:32721", 20)


def test_scale_offset_follow_each_items_processing_baseline(s2):
    items, geobox = s2
    cube = load_cube(items, get_profile("sentinel-2-l2a"), ["green", "swir16"], geobox, chunk=128)
    by_day = {}
    for item in items:
        by_day[item.datetime.date()] = item.properties["s2:processing_baseline"]
    baselines = [by_day[d] for d in sorted(by_day)]
    expected = [-0.1 if b >= "04.00" else 0.0 for b in baselines]
    assert {-0.1, 0.0} == set(expected)  # the window straddles the 04.00 switch
    np.testing.assert_allclose(cube.data["offset_swir16"].values, expected)
    np.testing.assert_allclose(cube.data["scale_green"].values, 1e-4)
    assert cube.data.green.dtype == np.uint16  # DNs stay integers; kernels scale them in float64


def test_scl_masks_clouds_shadow_cirrus_and_saturation(s2):
    items, geobox = s2
    profile = get_profile("sentinel-2-l2a")
    masked = load_cube(items, profile, ["swir16", "scl"], geobox, chunk=128).data
    assert "scl" not in masked  # the mask band is consumed, not returned
    from odc.stac import load

    raw = load(items, bands=["swir16", "scl"], geobox=geobox, groupby="solar_day", resampling="nearest")
    bad = np.isin(raw.scl.values, profile.mask.invalid)
    assert bad.any() and (~bad).any()
    assert (masked.swir16.values[bad] == 0).all()
    np.testing.assert_array_equal(masked.swir16.values[~bad], raw.swir16.values[~bad])


def test_landcover_is_never_interpolated(demo_catalog, demo_truth):
    aoi = box(*demo_truth["aoi"]["bbox"])
    items = search(demo_catalog, SearchRequest("esa-worldcover", aoi, None, None, None, None))
    for resolution in (10, 30):  # nearest at the native size, mode when aggregating
        cube = load_cube(items[:1], get_profile("esa-worldcover"), ["landcover"], make_geobox(aoi, "EPSG:32721",
                                                                                              resolution))
        values = set(np.unique(cube.data.landcover.values).tolist())
        with rasterio.open(items[0].assets["map"].get_absolute_href()) as src:
            native = set(np.unique(src.read(1)).tolist())
        assert values <= native | {0}


def test_missing_asset_and_unknown_band_say_how_to_fix(s2):
    items, geobox = s2
    item = items[0].clone()
    del item.assets["swir16"]
    with pytest.raises(AssetError, match=rf"asset 'swir16' \(band 'swir16'\) missing in item {item.id}: add it"):
        load_cube([item], get_profile("sentinel-2-l2a"), ["swir16"], geobox)
    with pytest.raises(ProfileError, match="band 'swir' is not in the sentinel-2-l2a profile.*valid bands: coastal"):
        load_cube(items, get_profile("sentinel-2-l2a"), ["swir"], geobox)
    with pytest.raises(ProfileError, match="no collection profile for 'sentinel-1-grd'.*add one as"):
        get_profile("sentinel-1-grd")


def test_items_of_one_date_must_agree_on_scale_offset(s2):
    items, geobox = s2
    day = items[0].datetime.date()
    same_day = [it.clone() for it in items if it.datetime.date() == day]
    assert len(same_day) == 2  # the two overlapping tiles
    same_day[1].assets["green"].extra_fields["raster:bands"][0]["offset"] = -0.2
    with pytest.raises(AssetError, match="share a date but differ in scale/offset"):
        load_cube(same_day, get_profile("sentinel-2-l2a"), ["green"], geobox)
