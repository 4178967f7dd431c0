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


def _cog_with_overviews(tmp_path, rng):
    from affine import Affine

    from catalog.demo.cogs import write_cog
    from catalog.demo.layout import Grid

    data = rng.integers(1, 10_000, (512, 512), dtype=np.uint16)
    data[:40, :40] = 0  # nodata: a corner the swath missed
    data[100:103, 200:260] = 0
    grid = Grid(crs="EPSG:32721", transform=Affine(10.0, 0, 600_000.0, 0, -10.0, 8_700_000.0), width=512, height=512)
    path = tmp_path / "green.tif"
    write_cog(path, data, grid, nodata=0, categorical=False)
    return path


@pytest.mark.parametrize(("x0", "fill"), [(600_000.0, None), (600_000.0, 65535), (600_240.0, None),
                                          (600_010.0, None), (599_000.0, None)])
def test_an_aligned_overview_is_read_as_odc_loader_reads_it_without_the_warper(tmp_path, monkeypatch, x0, fill):
    """10 m pixels onto a 20 m grid: the 2x average overview, pasted, equals odc-loader's warped copy
    of it pixel for pixel (nodata remapped alike), also partly off the file; off the overview's grid
    (a 10 m shift) odc-loader reads as before."""
    import rasterio.warp
    from affine import Affine
    from odc.geo.geobox import GeoBox
    from odc.loader import RioReader
    from odc.loader.types import RasterLoadParams, RasterSource

    import catalog.load as load
    from catalog.direct_read import direct_read

    path = _cog_with_overviews(tmp_path, np.random.default_rng(3))
    gb = GeoBox((100, 120), Affine(20.0, 0, x0, 0, -20.0, 8_700_000.0), "EPSG:32721")
    src = RasterSource(uri=str(path), band=1)
    cfg = RasterLoadParams(dtype="uint16", fill_value=fill, resampling="average")
    roi, want = RioReader(src, None).read(cfg, gb)
    aligned = x0 != 600_010.0  # 599 000: on the overview's grid, partly off the file (the overlap is pasted)
    if aligned:  # the fast path must not warp
        monkeypatch.setattr(rasterio.warp, "reproject", lambda *a, **k: pytest.fail("warped an aligned overview"))
    assert (direct_read(src, cfg, gb, None) is not None) == aligned
    got_roi, got = load.SigningRioDriver().open(src, None).read(cfg, gb)
    assert got_roi == roi
    np.testing.assert_array_equal(got, want)
    if fill is not None:
        assert (got == fill).any() and not (got == 0).any()
    out = np.full(gb.shape, 7, np.uint16)  # into a caller's array, as odc-loader's dask reader asks
    got_roi, got = load.SigningRioDriver().open(src, None).read(cfg, gb, dst=out)
    np.testing.assert_array_equal(out[got_roi], want)


@pytest.mark.parametrize(("x0", "res", "resampling", "fill", "direct"), [
    (600_000.0, 10.0, "nearest", None, True),  # the file's own grid
    (600_000.0, 10.0, "average", 65535, True),  # nodata remapped
    (599_500.0, 10.0, "nearest", None, True),  # partly off the file
    (600_004.0, 10.0, "nearest", None, True),  # 0.4 px off: odc-loader pastes nearest reads (0.9 px tolerance)
    (600_004.0, 10.0, "average", None, False),  # ... but warps the others
    (600_000.0, 15.0, "nearest", None, False),  # a real resampling
])
def test_a_native_read_is_pasted_exactly_where_odc_loader_pastes(tmp_path, monkeypatch, x0, res, resampling, fill,
                                                                  direct):
    """At full resolution one open and one windowed read give odc-loader's pixels; what it would warp
    is left to it (and then read as before)."""
    from affine import Affine
    from odc.geo.geobox import GeoBox
    from odc.loader import RioReader
    from odc.loader.types import RasterLoadParams, RasterSource

    import catalog.load as load
    from catalog.direct_read import direct_read

    path = _cog_with_overviews(tmp_path, np.random.default_rng(4))
    gb = GeoBox((130, 140), Affine(res, 0, x0, 0, -res, 8_700_100.0), "EPSG:32721")
    src = RasterSource(uri=str(path), band=1)
    cfg = RasterLoadParams(dtype="uint16", fill_value=fill, resampling=resampling)
    roi, want = RioReader(src, None).read(cfg, gb)
    assert (direct_read(src, cfg, gb, None) is not None) == direct
    for _ in range(2):  # the second time from what the first learnt about the file
        got_roi, got = load.SigningRioDriver().open(src, None).read(cfg, gb)
        assert got_roi == roi
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("dtype", "fill"), [("uint16", 0), ("uint16", 65535), ("int16", -9999), ("uint8", 255),
                                             ("float32", np.nan), ("int32", 0)])
def test_the_class_mask_equals_numpys_where(dtype, fill):
    """The lookup-and-multiply mask of integer bands is np.where's, value for value, extremes included."""
    from catalog.load import _mask_block

    rng = np.random.default_rng(11)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    lo, hi = (info.min, info.max) if info else (-1e6, 1e6)
    values = rng.uniform(lo, hi, (1, 37, 53)).astype(dtype)
    values[0, 0, :3] = [lo, hi, 0]
    flags = rng.integers(0, 256, values.shape, dtype=np.uint8)
    lut = np.zeros(256, bool)
    lut[[0, 1, 3, 8, 9, 10, 11, 200]] = True
    want = np.where(lut[flags], np.dtype(dtype).type(fill), values)
    got = _mask_block(values, flags, lut=lut, fill=np.dtype(dtype).type(fill))
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(_mask_block(values, flags[:, :1], lut=lut, fill=np.dtype(dtype).type(fill)),
                          np.where(lut[flags[:, :1]], np.dtype(dtype).type(fill), values), equal_nan=True)
