"""The demo catalog served by a real STAC API (pgstac + stac-fastapi) searches and runs like the static one.

One server per module (``catalog.stac_server.local_stac_api``, ~3 s). The key property:
for the same SearchRequest, the API and our static-catalog filter return the same items.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from shapely.geometry import Point, Polygon, box

from catalog.demo.ld_collections import LD_COLLECTIONS
from catalog.demo.urban_collections import URBAN_COLLECTIONS
from catalog.search import NoItemsFound, SearchRequest, search
from catalog.stac_server import StacServerError, local_stac_api, postgres_binaries
from pipeline.recipe import load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]
S2, LC = "sentinel-2-l2a", "esa-worldcover"
AOI = load_recipe(ROOT / "recipes" / "6.6.1.yaml").aoi.shape()
WORLD = box(-180, -90, 180, 90)
ALL_TIME = dict(start=datetime(2000, 1, 1, tzinfo=timezone.utc))
WEST = box(-56.079, -12.553, -56.060, -12.519)  # tile 21LXH only (21LYH starts at -56.052)
EAST = box(-56.035, -12.553, -56.016, -12.519)  # tile 21LYH only (21LXH ends at -56.043)
OVERLAP = Point(-56.045, -12.545)  # in both footprints
TRIANGLE = Polygon([(-56.047, -12.55), (-56.044, -12.55), (-56.0455, -12.54)])  # in both footprints
IN_WEDGE = Point(-56.047, -12.52)  # inside 21LYH's bbox, outside its footprint (the nodata wedge)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def stac_api(demo_catalog):
    try:
        postgres_binaries()
    except StacServerError as err:
        pytest.skip(str(err))
    with local_stac_api(demo_catalog) as url:
        yield url


@pytest.fixture(scope="module")
def client(stac_api):
    from pystac_client import Client

    with warnings.catch_warnings():  # pystac-client does not know the server's sort conformance URI
        warnings.simplefilter("ignore")
        return Client.open(stac_api)


def request(**kw) -> SearchRequest:
    return SearchRequest(**{"collection": S2, "intersects": AOI, "start": None, "end": None, **kw})


def ids(catalog: str, **kw) -> list[str]:
    """Matching ids; [] where the search says it found nothing."""
    try:
        return [item.id for item in search(catalog, request(**kw))]
    except NoItemsFound:
        return []


def client_ids(client, **kw) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sorted(item.id for item in client.search(**kw).items())


def test_api_serves_the_demo_collections(client):
    assert {c.id for c in client.get_collections()} == {S2, LC, *LD_COLLECTIONS, *URBAN_COLLECTIONS, "landsat-c2-l2"}
    for conformance in ("ITEM_SEARCH", "FILTER"):
        assert client.conforms_to(conformance)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_paging_past_limit_returns_every_item(client, demo_catalog, method):
    static = sorted(ids(demo_catalog, intersects=WORLD, **ALL_TIME))
    assert len(static) > 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pages = list(client.search(collections=[S2], limit=5, method=method).pages())
    assert len(pages) == -(-len(static) // 5)  # really paged, 5 per page
    assert sorted(item.id for page in pages for item in page) == static


def test_our_search_pages_through_the_api(stac_api, demo_catalog):
    got = ids(stac_api, intersects=WORLD, **ALL_TIME)
    assert len(got) == len(set(got)) == len(ids(demo_catalog, intersects=WORLD, **ALL_TIME)) > 100


def test_bbox_and_intersects(client, stac_api, demo_catalog):
    west = client_ids(client, collections=[S2], bbox=list(WEST.bounds))
    east = client_ids(client, collections=[S2], intersects=EAST.__geo_interface__)
    assert west and all("21LXH" in i for i in west)
    assert east and all("21LYH" in i for i in east)
    for geometry, got in ((WEST, west), (EAST, east)):
        assert got == sorted(ids(stac_api, intersects=geometry, **ALL_TIME))
        assert got == sorted(ids(demo_catalog, intersects=geometry, **ALL_TIME))
    # a point and a triangle in the tile overlap: both tiles; a point in 21LYH's bbox but in the
    # nodata wedge cut out of its footprint: 21LXH only (geometry, not bbox, intersection)
    cases = {OVERLAP: {"21LXH", "21LYH"}, TRIANGLE: {"21LXH", "21LYH"}, IN_WEDGE: {"21LXH"}}
    for geometry, tiles in cases.items():
        got = ids(stac_api, intersects=geometry, **ALL_TIME)
        assert got == ids(demo_catalog, intersects=geometry, **ALL_TIME)
        assert {i.split("_")[1] for i in got} == tiles, geometry.wkt
    with pytest.raises(NoItemsFound):
        search(stac_api, request(intersects=box(10, 10, 11, 11), **ALL_TIME))


def test_datetime_ranges_open_and_closed(stac_api, demo_catalog):
    cases = {
        "closed": dict(start=utc(2020, 1, 1), end=utc(2020, 12, 31, 23, 59, 59)),
        "open start": dict(end=utc(2016, 6, 30)),
        "open end": dict(start=utc(2024, 6, 1)),
        "one day": dict(start=utc(2016, 1, 9), end=utc(2016, 1, 9, 23, 59, 59)),
    }
    for name, kw in cases.items():
        got = ids(stac_api, **kw)
        assert got == ids(demo_catalog, **kw), name
        dates = {i.split("_")[2] for i in got}
        start, end = kw.get("start"), kw.get("end")
        assert all((start is None or d >= f"{start:%Y%m%d}") and (end is None or d <= f"{end:%Y%m%d}")
                   for d in dates), name
    assert {i.split("_")[2] for i in ids(stac_api, start=utc(2016, 1, 9), end=utc(2016, 1, 9, 23, 59, 59))} \
        == {"20160109"}


def test_interval_items_overlap_the_request(stac_api, demo_catalog):
    """WorldCover items carry start/end_datetime (a year); a range across New Year finds both years."""
    kw = dict(collection=LC, start=utc(2020, 12, 31), end=utc(2021, 1, 1))
    got = ids(stac_api, **kw)
    assert got == ids(demo_catalog, **kw)
    assert [i.split("_")[3] for i in got] == ["2020", "2021"]


def test_cql2_json_cloud_cover_filter(client, stac_api, demo_catalog, demo_truth):
    cloudy = set(demo_truth["items"]["excluded_by_cloud_cover"])
    assert cloudy
    everything = set(ids(stac_api, **ALL_TIME))
    kept = ids(stac_api, max_cloud_cover=60, **ALL_TIME)
    assert cloudy <= everything and not cloudy & set(kept)
    assert kept == ids(demo_catalog, max_cloud_cover=60, **ALL_TIME)
    assert set(kept) == everything - cloudy
    assert set(kept) == set(demo_truth["items"]["kept"])
    # the same filter written by hand, and its complement
    high = client_ids(client, collections=[S2],
                      filter={"op": ">=", "args": [{"property": "eo:cloud_cover"}, 90]}, filter_lang="cql2-json")
    assert set(high) == cloudy


def test_filter_is_skipped_for_collections_without_cloud_cover(stac_api, demo_catalog):
    """WorldCover has no eo:cloud_cover: its profile sets cloud_cover_property to null, so no filter."""
    kw = dict(collection=LC, max_cloud_cover=60, cloud_cover_property=None, **ALL_TIME)
    assert ids(stac_api, **kw) == ids(demo_catalog, **kw) != []
    with pytest.raises(NoItemsFound):  # with the property it would match nothing, like a CQL2 null comparison
        search(stac_api, request(collection=LC, max_cloud_cover=60, **ALL_TIME))


def test_empty_result_names_collection_aoi_and_dates(stac_api):
    with pytest.raises(NoItemsFound) as err:
        search(stac_api, request(start=utc(2030, 1, 1), end=utc(2030, 12, 31, 23, 59, 59), max_cloud_cover=20))
    message = str(err.value)
    for part in (stac_api, f"collection '{S2}'", "AOI bounds [-56.07758, -12.552, -56.01708, -12.51975]",
                 "2030-01-01T00:00:00Z/2030-12-31T23:59:59Z", "eo:cloud_cover <= 20", "widen"):
        assert part in message
    with pytest.raises(NoItemsFound, match="collection 'no-such-collection'"):
        search(stac_api, request(collection="no-such-collection", **ALL_TIME))


SAME_REQUESTS = {
    "recipe 6.6.1": dict(start=utc(2016, 1, 1), end=utc(2024, 12, 31, 23, 59, 59), max_cloud_cover=60),
    "only a start": dict(ALL_TIME),
    "west, 2019-2021, cloud <= 30": dict(intersects=WEST, start=utc(2019, 1, 1), end=utc(2021, 12, 31),
                                         max_cloud_cover=30),
    "wedge point, 2023": dict(intersects=IN_WEDGE, start=utc(2023, 1, 1), end=utc(2023, 12, 31, 23, 59, 59)),
    "triangle, cloud <= 10": dict(intersects=TRIANGLE, start=utc(2016, 1, 1), max_cloud_cover=10),
    "east, from mid 2022": dict(intersects=EAST, start=utc(2022, 7, 1)),
    "overlap point, up to 2018, cloud <= 0": dict(intersects=OVERLAP, end=utc(2018, 12, 31),
                                                  max_cloud_cover=0),
    "worldcover, recipe 15.1.1": dict(collection=LC, start=utc(2016, 1, 1), end=utc(2024, 12, 31, 23, 59, 59),
                                      cloud_cover_property=None),
    "worldcover, 2019": dict(collection=LC, start=utc(2019, 1, 1), end=utc(2019, 12, 31)),
}


@pytest.mark.parametrize("name", SAME_REQUESTS)
def test_api_and_static_return_the_same_items(stac_api, demo_catalog, name):
    api = search(stac_api, request(**SAME_REQUESTS[name]))
    static = search(demo_catalog, request(**SAME_REQUESTS[name]))
    assert [i.id for i in api] == [i.id for i in static]
    for a, s in zip(api, static):
        assert a.collection_id == s.collection_id
        assert a.properties == s.properties
        assert {k: v.to_dict() for k, v in a.assets.items()} == {k: v.to_dict() for k, v in s.assets.items()}
        assert all(asset.href.startswith("file:///") for asset in a.assets.values())


def test_no_dates_at_all(stac_api, demo_catalog):
    assert ids(stac_api) == ids(demo_catalog)


def test_sub_second_bounds_match(stac_api, demo_catalog):
    first = search(demo_catalog, request(end=utc(2016, 1, 31)))[0].datetime  # 2016-01-09T14:12:09.025Z
    assert first.microsecond
    for kw in (dict(end=first), dict(start=first + timedelta(milliseconds=1), end=utc(2016, 2, 1))):
        assert ids(stac_api, **kw) == ids(demo_catalog, **kw)


def test_non_utc_bounds_match(stac_api, demo_catalog):
    brt = timezone(timedelta(hours=-3))
    kw = dict(start=datetime(2016, 1, 9, 12, tzinfo=brt), end=datetime(2016, 1, 31, tzinfo=brt))
    assert ids(demo_catalog, **kw) == []  # 12:00 -03:00 is 15:00Z, after the 14:12Z overpass
    assert ids(stac_api, **kw) == []


@pytest.fixture(scope="module")
def products(stac_api, demo_catalog, tmp_path_factory):
    out = tmp_path_factory.mktemp("stac-api-outputs")
    return {(sdg, source): run(load_recipe(ROOT / "recipes" / f"{sdg}.yaml"), catalog=catalog, out=out / source,
                               progress=False)
            for sdg in ("15.1.1", "6.6.1") for source, catalog in (("api", stac_api), ("static", demo_catalog))}


@pytest.mark.parametrize("sdg", ["15.1.1", "6.6.1"])
def test_recipe_tables_identical_through_api_and_static(products, stac_api, sdg):
    api, static = products[(sdg, "api")], products[(sdg, "static")]
    assert len(api.table) > 0
    pd.testing.assert_frame_equal(api.table, static.table, check_exact=True)
    assert api.headline == static.headline
    with xr.open_zarr(api.path / "product.zarr") as a, xr.open_zarr(static.path / "product.zarr") as s:
        assert a.attrs["input_items"] == s.attrs["input_items"]
        assert stac_api in a.attrs["source"] and stac_api not in s.attrs["source"]
