"""One search, two back ends: a STAC API (pystac-client) or a static catalog (pystac).

pystac-client cannot search a static catalog (it raises DoesNotConformTo), so static
catalogs (local, or on an object store such as ``s3://bucket/prefix`` via fsspec and
``FsspecStacIO``) are walked with pystac and filtered here with the same semantics an API
applies: collection ids, geometry intersection, closed/open datetime ranges on the
item's datetime or start/end, and ``cloud cover <= max`` (items lacking the property
are excluded, as a CQL2 comparison with null is false).

API searches are retried as a whole (landing page and every page) on HTTP 5xx/429,
connection errors, timeouts and truncated JSON (``catalog.reliability``); a search that
matched nothing is an answer, not a fault, and is never retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pystac
from pystac.stac_io import DefaultStacIO, StacIO
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from catalog.errors import SdgcubeError
from catalog.reliability import DEFAULT_POLICY, RetryPolicy, protect_logs, strip_token, with_deadline, with_retries


class CatalogNotFound(SdgcubeError, FileNotFoundError):
    """No STAC catalog at the path or URL given."""


class NoItemsFound(SdgcubeError, LookupError):
    """A search that matched nothing; the message names collection, AOI and dates."""


@dataclass(frozen=True)
class SearchRequest:
    collection: str
    intersects: BaseGeometry  # EPSG:4326
    start: datetime | None  # inclusive; None = open
    end: datetime | None  # inclusive; None = open
    max_cloud_cover: float | None = None
    cloud_cover_property: str | None = "eo:cloud_cover"

    def describe(self) -> str:
        dates = f"{_iso(self.start) or '..'}/{_iso(self.end) or '..'}"
        cloud = (f", {self.cloud_cover_property} <= {self.max_cloud_cover:g}"
                 if self.max_cloud_cover is not None and self.cloud_cover_property else "")
        return (f"collection {self.collection!r}, AOI bounds {[round(v, 5) for v in self.intersects.bounds]}, "
                f"dates {dates}{cloud}")


def _iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC (naive = UTC), keeping fractions of a second when there are any."""
    if value is None:
        return None
    utc = _utc(value).astimezone(UTC)
    return utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")


def is_api(catalog: str) -> bool:
    """An http(s) URL is a STAC API, unless it names a JSON file: a static catalog served over HTTP."""
    return catalog.startswith(("http://", "https://")) and not urlsplit(catalog).path.endswith(".json")


def search(catalog: str, request: SearchRequest, *, policy: RetryPolicy | None = None) -> list[pystac.Item]:
    """Items matching ``request``, sorted by (datetime, id); raises NoItemsFound if none.

    API searches follow ``policy`` (default ``DEFAULT_POLICY``) and raise
    ``catalog.reliability.RetryError`` when every attempt failed transiently.
    """
    if is_api(catalog):
        items = _search_api(catalog, request, policy or DEFAULT_POLICY)
    else:
        items = _search_static(catalog, request)
    if not items:
        where = strip_token(catalog) if is_api(catalog) else catalog
        raise NoItemsFound(f"no items in {where} for {request.describe()}: widen the dates or AOI, "
                           "raise max_cloud_cover, or check the collection id")
    return sorted(items, key=lambda it: (_item_interval(it)[0], it.id))


def _search_api(url: str, request: SearchRequest, policy: RetryPolicy) -> list[pystac.Item]:
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    protect_logs()
    cloud_filter: dict[str, Any] | None = None  # None: pystac-client's default, no filter
    if request.max_cloud_cover is not None and request.cloud_cover_property:
        cloud_filter = {"op": "<=", "args": [{"property": request.cloud_cover_property}, request.max_cloud_cover]}

    def attempt() -> list[pystac.Item]:
        # one retry layer: ours (pystac-client would otherwise mount urllib3 retries, which
        # retry connection errors but not 5xx, and multiply the attempts)
        stac_io = StacApiIO(timeout=policy.timeout, max_retries=None)
        search = Client.open(url, stac_io=stac_io, timeout=policy.timeout).search(
            collections=[request.collection],
            intersects=mapping(request.intersects),
            datetime=None if request.start is None and request.end is None
            else f"{_iso(request.start) or '..'}/{_iso(request.end) or '..'}",
            filter=cloud_filter,
        )
        return list(search.items())

    what = f"STAC search of collection {request.collection!r} at {strip_token(url)}"
    return with_retries(lambda: with_deadline(attempt, policy.deadline, what), policy, what)


def _catalog_file(path: str) -> Path:
    p = Path(path.removeprefix("file://"))
    return p / "catalog.json" if p.is_dir() else p


def is_remote_static(catalog: str) -> bool:
    """A static catalog behind an fsspec URL (``s3://bucket/prefix``), not a local path or an API."""
    return "://" in catalog and not catalog.startswith("file://") and not is_api(catalog)


class FsspecStacIO(DefaultStacIO):
    """pystac I/O through fsspec, so static catalogs on object stores (s3://, gs://, ...) can be walked.

    S3 endpoint and credentials come from the usual AWS variables (AWS_ENDPOINT_URL, ...)
    unless ``storage_options`` are given.
    """

    def __init__(self, **storage_options) -> None:
        super().__init__()
        self.storage_options = storage_options

    def read_text_from_href(self, href: str) -> str:
        if not is_remote_static(href):
            return super().read_text_from_href(href)
        import fsspec

        with fsspec.open(href, "rt", encoding="utf-8", **self.storage_options) as f:
            return f.read()

    def write_text_to_href(self, href: str, txt: str) -> None:
        if not is_remote_static(href):
            return super().write_text_to_href(href, txt)
        import fsspec

        with fsspec.open(href, "wt", encoding="utf-8", **self.storage_options) as f:
            f.write(txt)


def _search_static(path: str, request: SearchRequest) -> list[pystac.Item]:
    if is_remote_static(path):
        href = path if path.endswith(".json") else f"{path.rstrip('/')}/catalog.json"
        try:
            root = _read_stac(href, FsspecStacIO())
        except CatalogNotFound:
            raise CatalogNotFound(f"no STAC catalog at {strip_token(href)}: check the URL, and AWS_ENDPOINT_URL for "
                                  "an S3-compatible server") from None
        except OSError as exc:  # unreachable host, refused connection
            raise CatalogNotFound(f"cannot read the STAC catalog at {strip_token(href)} ({_first_line(exc)})",
                                  hint="check the URL and that the server is up") from None
    else:
        root_file = _catalog_file(path)
        if not root_file.exists():
            raise CatalogNotFound(f"no STAC catalog at {root_file}: pass --catalog a STAC API URL, "
                                    "a catalog.json path, or run `make demo-catalog`")
        root = _read_stac(str(root_file), None)
    if not isinstance(root, pystac.Catalog):  # a Collection is a Catalog
        raise CatalogNotFound(f"no STAC catalog at {path}: it is a {type(root).__name__}; pass a catalog "
                                "(or collection) JSON or its directory")
    return [item for item in _walk(root) if _matches(item, request)]


class CatalogError(SdgcubeError):
    """A static catalog, or a file it links to, that is not valid STAC JSON."""


_UNREADABLE = (pystac.STACError, pystac.STACTypeError, ValueError, KeyError, TypeError, AttributeError,
               UnicodeDecodeError)


def _read_stac(href: str, stac_io: StacIO | None) -> pystac.STACObject:
    try:
        return pystac.read_file(href, stac_io=stac_io)
    except FileNotFoundError:
        raise CatalogNotFound(f"no STAC file at {strip_token(href)}: a link of the catalog points nowhere") from None
    except _UNREADABLE as exc:
        raise CatalogError(f"{strip_token(href)} is not valid STAC JSON ({_first_line(exc)})",
                           hint="fix or remove the file, or pass --catalog another catalog") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _walk(root: pystac.Catalog) -> Iterator[pystac.Item]:
    """Every item under ``root``, each catalog visited once (a catalog that links back to itself or an
    ancestor is not followed round again); a file that is not STAC names itself."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        catalog = todo.pop()
        href = catalog.get_self_href() or catalog.id
        if href in seen:
            continue
        seen.add(href)
        for link in catalog.get_links():
            if link.rel not in ("child", "item"):
                continue
            target = link.get_absolute_href() or link.href
            if link.rel == "child" and target in seen:
                continue
            try:
                obj = link.resolve_stac_object(root=catalog.get_root()).target
            except FileNotFoundError:
                raise CatalogNotFound(f"no STAC file at {strip_token(str(target))}: a {link.rel} link of "
                                      f"{strip_token(str(href))} points nowhere") from None
            except _UNREADABLE as exc:
                raise CatalogError(f"{strip_token(str(target))} (linked from {strip_token(str(href))}) is not valid "
                                   f"STAC JSON ({_first_line(exc)})", hint="fix or remove that file") from None
            if isinstance(obj, pystac.Item):
                yield obj
            elif isinstance(obj, pystac.Catalog):
                todo.append(obj)


def _matches(item: pystac.Item, request: SearchRequest) -> bool:
    if item.collection_id != request.collection:
        return False
    if item.geometry is None or not shape(item.geometry).intersects(request.intersects):
        return False
    first, last = _item_interval(item)
    if request.start is not None and last < request.start:
        return False
    if request.end is not None and first > request.end:
        return False
    if request.max_cloud_cover is not None and request.cloud_cover_property:
        cloud = item.properties.get(request.cloud_cover_property)
        if cloud is None or cloud > request.max_cloud_cover:
            return False
    return True


def _item_interval(item: pystac.Item) -> tuple[datetime, datetime]:
    """(start, end) of an item: its datetime, or start/end_datetime when datetime is null."""
    props = item.common_metadata
    if item.datetime is not None:
        return _utc(item.datetime), _utc(item.datetime)
    start, end = props.start_datetime, props.end_datetime
    if start is None or end is None:  # pystac requires the keys, not that they hold dates
        raise ValueError(f"item {item.id} has a null datetime and no start_datetime/end_datetime")
    return _utc(start), _utc(end)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
