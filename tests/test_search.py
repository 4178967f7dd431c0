"""Static-catalog search has the semantics of a STAC API search."""

from datetime import datetime, timezone

import pystac
import pytest
from shapely.geometry import box, mapping

from catalog.search import NoItemsFound, SearchRequest, search


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def static_catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("stac")
    cat = pystac.Catalog("test", "search semantics")
    s2 = pystac.Collection("s2", "s2", pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
                                                     pystac.TemporalExtent([[None, None]])))
    lc = pystac.Collection("lc", "lc", s2.extent)
    specs = [  # id, collection, bbox, datetime or (start, end), cloud
        ("a", s2, (0, 0, 1, 1), utc(2020, 1, 1), 10.0),
        ("b", s2, (0, 0, 1, 1), utc(2020, 6, 1), 70.0),
        ("c", s2, (5, 5, 6, 6), utc(2020, 6, 1), 0.0),      # elsewhere
        ("d", s2, (0, 0, 1, 1), utc(2021, 1, 1), None),     # no cloud cover property
        ("e", s2, (0.5, 0.5, 2, 2), utc(2019, 12, 31, 23, 59, 59), 5.0),
        ("y2020", lc, (0, 0, 1, 1), (utc(2020, 1, 1), utc(2020, 12, 31, 23, 59, 59)), None),
        ("y2021", lc, (0, 0, 1, 1), (utc(2021, 1, 1), utc(2021, 12, 31, 23, 59, 59)), None),
    ]
    for item_id, coll, bbox, when, cloud in specs:
        props = {} if cloud is None else {"eo:cloud_cover": cloud}
        if isinstance(when, tuple):
            item = pystac.Item(item_id, mapping(box(*bbox)), list(bbox), None, props,
                               start_datetime=when[0], end_datetime=when[1])
        else:
            item = pystac.Item(item_id, mapping(box(*bbox)), list(bbox), when, props)
        coll.add_item(item)
    cat.add_children([s2, lc])
    cat.normalize_and_save(str(root), pystac.CatalogType.SELF_CONTAINED)
    return str(root / "catalog.json")


def ids(catalog, **kw):
    request = SearchRequest(**{"collection": "s2", "intersects": box(0.2, 0.2, 0.8, 0.8), "start": None,
                               "end": None, **kw})
    return [item.id for item in search(catalog, request)]


def test_collection_and_geometry(static_catalog):
    assert ids(static_catalog) == ["e", "a", "b", "d"]  # sorted by datetime; c lies elsewhere
    assert ids(static_catalog, intersects=box(5.5, 5.5, 7, 7)) == ["c"]
    assert ids(static_catalog, intersects=box(1.5, 1.5, 1.6, 1.6)) == ["e"]


def test_datetime_ranges_closed_and_open(static_catalog):
    assert ids(static_catalog, start=utc(2020, 1, 1), end=utc(2020, 12, 31)) == ["a", "b"]
    assert ids(static_catalog, start=utc(2020, 1, 1)) == ["a", "b", "d"]
    assert ids(static_catalog, end=utc(2020, 1, 1)) == ["e", "a"]  # the end is inclusive


def test_cloud_cover_excludes_items_without_the_property(static_catalog):
    assert ids(static_catalog, max_cloud_cover=50) == ["e", "a"]
    assert ids(static_catalog, max_cloud_cover=50, cloud_cover_property=None) == ["e", "a", "b", "d"]


def test_interval_items_overlap_the_request(static_catalog):
    got = ids(static_catalog, collection="lc", start=utc(2020, 12, 31), end=utc(2021, 1, 1))
    assert got == ["y2020", "y2021"]
    assert ids(static_catalog, collection="lc", start=utc(2021, 6, 1)) == ["y2021"]


def test_empty_result_names_collection_aoi_and_dates(static_catalog):
    with pytest.raises(NoItemsFound) as err:
        ids(static_catalog, start=utc(2030, 1, 1), end=utc(2030, 12, 31), max_cloud_cover=20)
    message = str(err.value)
    for part in ("collection 's2'", "AOI bounds [0.2, 0.2, 0.8, 0.8]", "2030-01-01T00:00:00Z/2030-12-31",
                 "eo:cloud_cover <= 20", "widen"):
        assert part in message


def test_directory_path_and_missing_catalog(static_catalog, tmp_path):
    directory = static_catalog.rsplit("/", 1)[0]
    assert ids(directory) == ids(static_catalog)
    with pytest.raises(FileNotFoundError, match="no STAC catalog"):
        ids(str(tmp_path))
