"""Fault tolerance: a fault-injecting HTTP server on 127.0.0.1 in front of the STAC API and the COGs.

``FaultServer`` serves the demo catalog as a minimal STAC API (landing page, conformance,
collections, ``/search`` by GET and POST with ``next`` links) and its COGs with Range
support, under a per-test prefix (``/<scenario>/...``: fresh URLs, so GDAL's per-URL caches
never carry one test's faults or data into another). Asset hrefs point at the server and
carry a signed-looking query string (``?se=...&sig=...&X-Amz-Signature=...``) that must never
reach provenance, logs, errors or products. Faults are scripted per request path:
HTTP 5xx, a delay beyond the client timeout, a truncated JSON body, a body cut short of
its Content-Length, a connection reset, or ``ok`` (let one request through); ``always``
makes a path fail on every request.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import re
import socket
import struct
import threading
import time
from collections import Counter, defaultdict, deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pandas as pd
import pystac
import pytest
from shapely.geometry import box, shape

from catalog.reliability import (AssetReadError, RetryError, RetryPolicy, redact, strip_token, transient_reason,
                                 with_retries)
from catalog.search import NoItemsFound, SearchRequest, _matches, search
from pipeline.recipe import Periods, load_recipe
from pipeline.run import run

ROOT = Path(__file__).parents[1]
TOKEN = "se=2030-01-01T00%3A00%3A00Z&sp=r&sig=SECRETSIG%2B0&X-Amz-Signature=feedface"
SECRETS = re.compile(r"sig=|[?&]se=|SECRETSIG|X-Amz|feedface", re.IGNORECASE)
# fast but real: 4 attempts, GDAL's whole-second timeout floor of 1 s
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=1.0)
PAGE = 10
CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]


# ---------------------------------------------------------------- the server


class FaultServer:
    """A ThreadingHTTPServer in a daemon thread; ``with FaultServer(catalog) as srv`` stops it on exit."""

    def __init__(self, catalog_json: str):
        root = pystac.read_file(catalog_json)
        self.data_dir = Path(catalog_json).resolve().parent
        self.items: list[pystac.Item] = []
        self.item_dicts: list[dict] = []
        for item in root.get_items(recursive=True):
            item.make_asset_hrefs_absolute()
            self.items.append(item)
            self.item_dicts.append(item.to_dict(include_self_link=False, transform_hrefs=False))
        self.collections = [c.to_dict(include_self_link=False, transform_hrefs=False) for c in root.get_children()]
        self.faults: dict[str, deque] = defaultdict(deque)
        self.always: dict[str, tuple] = {}
        self.requests: Counter = Counter()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients that hung up on a fault
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-server", daemon=True)

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def url(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.port}/{scenario}"

    def cog_path(self, scenario: str, href: str) -> str:
        """Server path of an asset href (file:// in the demo catalog, or already rewritten)."""
        path = urlsplit(href).path
        if path.startswith(f"/{scenario}/cogs/"):
            return path
        return f"/{scenario}/cogs/{Path(path).resolve().relative_to(self.data_dir).as_posix()}"

    def script(self, path: str, *faults: tuple) -> None:
        self.faults[path].extend(faults)

    def take(self, path: str) -> tuple | None:
        with self._lock:
            self.requests[path] += 1
            if path in self.always:
                return self.always[path]
            queue = self.faults.get(path)
            return queue.popleft() if queue else None

    # STAC API ------------------------------------------------------------------

    def rewrite(self, item: dict, base: str) -> dict:
        item = copy.deepcopy(item)
        scenario = urlsplit(base).path.strip("/")
        for asset in item["assets"].values():
            asset["href"] = f"{base}/cogs/{self.cog_path(scenario, asset['href']).split('/cogs/', 1)[1]}?{TOKEN}"
        item["links"] = [{"rel": "self", "href": f"{base}/collections/{item['collection']}/items/{item['id']}"},
                         {"rel": "collection", "href": f"{base}/collections/{item['collection']}"},
                         {"rel": "root", "href": base}]
        return item

    def api(self, base: str, rest: str, params: dict) -> tuple[int, dict]:
        if rest == "":
            links = [{"rel": "self", "href": base, "type": "application/json"},
                     {"rel": "root", "href": base, "type": "application/json"},
                     {"rel": "conformance", "href": f"{base}/conformance"},
                     {"rel": "data", "href": f"{base}/collections"},
                     {"rel": "search", "href": f"{base}/search", "type": "application/geo+json", "method": "GET"},
                     {"rel": "search", "href": f"{base}/search", "type": "application/geo+json", "method": "POST"}]
            return 200, {"type": "Catalog", "id": "fault-api", "stac_version": "1.1.0",
                         "description": "demo catalog behind a fault-injecting server", "conformsTo": CONFORMS,
                         "links": links}
        if rest == "conformance":
            return 200, {"conformsTo": CONFORMS}
        if rest == "collections":
            return 200, {"collections": [self._collection(c, base) for c in self.collections], "links": []}
        if rest.startswith("collections/"):
            wanted = rest.split("/")[1]
            for c in self.collections:
                if c["id"] == wanted:
                    return 200, self._collection(c, base)
            return 404, {"code": "NotFound", "description": f"no collection {wanted}"}
        if rest == "search":
            return self.search(base, params)
        return 404, {"code": "NotFound", "description": rest}

    @staticmethod
    def _collection(c: dict, base: str) -> dict:
        return {**c, "links": [{"rel": "self", "href": f"{base}/collections/{c['id']}"},
                               {"rel": "root", "href": base}, {"rel": "items", "href": f"{base}/search"}]}

    def search(self, base: str, params: dict) -> tuple[int, dict]:
        """Same semantics as the static-catalog search (catalog.search._matches); token = offset."""
        collections = params.get("collections") or [c["id"] for c in self.collections]
        if isinstance(collections, str):
            collections = collections.split(",")
        geometry = params.get("intersects")
        if isinstance(geometry, str):
            geometry = json.loads(geometry)
        bbox = params.get("bbox")
        if isinstance(bbox, str):
            bbox = [float(v) for v in bbox.split(",")]
        area = shape(geometry) if geometry else box(*bbox) if bbox else box(-180, -90, 180, 90)
        start, end = _interval(params.get("datetime"))
        cloud_property, cloud_max = None, None
        cql = params.get("filter")
        if isinstance(cql, str):
            cql = json.loads(cql)
        if cql:
            if cql.get("op") != "<=" or "property" not in cql["args"][0]:
                return 400, {"code": "BadRequest", "description": "only {property} <= value filters"}
            cloud_property, cloud_max = cql["args"][0]["property"], float(cql["args"][1])
        found = [i for i, item in enumerate(self.items) if any(
            _matches(item, SearchRequest(c, area, start, end, cloud_max, cloud_property)) for c in collections)]
        limit = int(params.get("limit") or PAGE)
        offset = int(params.get("token") or 0)
        page = [self.rewrite(self.item_dicts[i], base) for i in found[offset:offset + limit]]
        links = [{"rel": "root", "href": base}]
        if offset + limit < len(found):
            following = {**params, "token": str(offset + limit)}
            if params.get("_method") == "POST":
                following.pop("_method")
                links.append({"rel": "next", "href": f"{base}/search", "method": "POST", "body": following,
                              "type": "application/geo+json"})
            else:
                following.pop("_method", None)
                links.append({"rel": "next", "href": f"{base}/search?{urlencode(following)}",
                              "type": "application/geo+json"})
        return 200, {"type": "FeatureCollection", "features": page, "links": links, "numberMatched": len(found),
                     "numberReturned": len(page)}


def _interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    if not value:
        return None, None
    parse = lambda s: None if s in ("", "..") else datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    first, _, last = value.partition("/")
    return (parse(first), parse(last)) if _ else (parse(first), parse(first))


def _handler(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real server (and GDAL's connection reuse)
        timeout = 10  # idle keep-alive connections end by themselves

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if self.command == "POST" else b""
            fault = server.take(parts.path)
            kind = fault[0] if fault else None
            if kind == "status":
                return self._send(fault[1], b'{"code": "InjectedFault"}', "application/json")
            if kind == "reset":  # RST instead of a response
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if kind == "delay":
                time.sleep(fault[1])
            if kind == "cut":  # promise a body, send half of it, hang up
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self.wfile.write(b'{"type": "FeatureCollection", "features": [')
                self.close_connection = True
                return
            scenario, _, rest = parts.path.strip("/").partition("/")
            base = f"http://127.0.0.1:{server.port}/{scenario}"
            if rest.startswith("cogs/"):
                return self._file(server.data_dir / rest.removeprefix("cogs/"))
            if self.command == "POST":
                params = {**json.loads(body or b"{}"), "_method": "POST"}
            else:
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            status, payload = server.api(base, rest, params)
            data = json.dumps(payload).encode()
            if kind == "truncate":
                data = data[: len(data) // 2]
            self._send(status, data, "application/geo+json" if rest == "search" else "application/json")

        def _send(self, status: int, data: bytes, ctype: str, headers: tuple = ()) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers:
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _file(self, path: Path) -> None:
            if ".." in path.parts or not path.is_file():
                return self._send(404, b"not found", "text/plain")
            data = path.read_bytes()
            ranges = self.headers.get("Range", "")
            if ranges.startswith("bytes="):
                first, _, last = ranges[6:].split(",")[0].partition("-")
                start = int(first)
                end = min(int(last) if last else len(data) - 1, len(data) - 1)
                if start >= len(data):
                    return self._send(416, b"", "text/plain", (("Content-Range", f"bytes */{len(data)}"),))
                return self._send(206, data[start:end + 1], "image/tiff",
                                  (("Content-Range", f"bytes {start}-{end}/{len(data)}"), ("Accept-Ranges", "bytes")))
            self._send(200, data, "image/tiff", (("Accept-Ranges", "bytes"),))

    return Handler


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def server(demo_catalog):
    with FaultServer(demo_catalog) as srv:
        yield srv


@pytest.fixture(scope="module")
def small_recipe():
    """6.6.1 over two years only (24 items, ~2 s a run)."""
    r = load_recipe(ROOT / "recipes" / "6.6.1.yaml")
    return dataclasses.replace(r, periods=Periods(years=(2016, 2017), baseline=(2016, 2016), reporting=(2017, 2017)))


@pytest.fixture(scope="module")
def baseline(small_recipe, demo_catalog, tmp_path_factory):
    return run(small_recipe, catalog=demo_catalog, out=tmp_path_factory.mktemp("file"), progress=False)


def s2_request(recipe, **kw) -> SearchRequest:
    first, last = recipe.periods.years
    spec = recipe.inputs["optical"]
    return SearchRequest(**{"collection": spec.collection, "intersects": recipe.aoi.shape(),
                            "start": datetime(first, 1, 1, tzinfo=timezone.utc),
                            "end": datetime(last, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
                            "max_cloud_cover": spec.max_cloud_cover, **kw})


def with_on_unreadable(recipe, value: str):
    spec = recipe.inputs["optical"]
    optical = dataclasses.replace(spec, on_unreadable=value)
    return dataclasses.replace(recipe, inputs={**recipe.inputs, "optical": optical})


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        match = SECRETS.search(text)
        assert match is None, f"signed query string leaked: ...{text[max(0, match.start() - 120):match.end() + 40]}..."


def product_texts(path: Path) -> list[str]:
    """Every metadata/table file of a product (the Zarr chunks are binary)."""
    return [p.read_text() for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in (".json", ".csv", ".yaml")]


# ---------------------------------------------------------------- policy and hygiene units


def test_backoff_is_exponential_capped_and_deterministic():
    policy = RetryPolicy(attempts=6, base_delay=0.1, max_delay=0.5, jitter=0.0)
    assert policy.delays() == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    jittered = RetryPolicy(attempts=6, base_delay=0.1, max_delay=0.5, jitter=0.5, seed=7)
    assert jittered.delays() == jittered.delays()
    assert all(0.5 * d <= j <= d for d, j in zip(policy.delays(), jittered.delays()))
    slept, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise json.JSONDecodeError("Unterminated string", '{"a": "', 6)
        return "done"

    assert with_retries(flaky, policy, "thing", sleep=slept.append) == "done"
    assert slept == pytest.approx([0.1, 0.2])
    with pytest.raises(ValueError, match="not transient"):  # anything else propagates at once
        with_retries(lambda: (_ for _ in ()).throw(ValueError("not transient")), policy, "x", sleep=slept.append)
    opts = FAST.gdal_options()
    assert opts["GDAL_HTTP_MAX_RETRY"] == "3" and opts["GDAL_HTTP_TIMEOUT"] == "1"
    assert opts["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"


def test_tokens_are_stripped_and_redacted():
    href = f"http://127.0.0.1:1/x/cogs/a/green.tif?{TOKEN}#frag"
    assert strip_token(href) == "http://127.0.0.1:1/x/cogs/a/green.tif"
    text = f"HTTP error code: 503 - {href}. Retrying; '/vsicurl/{href}' and bare sig=abc&se=2030"
    assert_no_secrets(redact(text))
    assert "http://127.0.0.1:1/x/cogs/a/green.tif" in redact(text)
    assert redact("nothing to hide: use=1 false=2") == "nothing to hide: use=1 false=2"
    assert transient_reason(ValueError("x")) is None


def test_on_unreadable_is_validated():
    import yaml

    from pipeline.indicators import get_indicator
    from pipeline.recipe import parse_recipe
    from pipeline.schema import RecipeError

    text = (ROOT / "recipes" / "6.6.1.yaml").read_text()
    data = yaml.safe_load(text)
    assert parse_recipe(data, source="r", text=text, lookup=get_indicator).inputs["optical"].on_unreadable == "fail"
    data["inputs"]["optical"]["on_unreadable"] = "nodata"
    assert parse_recipe(data, source="r", text=text, lookup=get_indicator).inputs["optical"].on_unreadable == "nodata"
    data["inputs"]["optical"]["on_unreadable"] = "skip"
    with pytest.raises(RecipeError, match="'inputs.optical.on_unreadable' = 'skip' is not one of 'fail', 'nodata'"):
        parse_recipe(data, source="r", text=text, lookup=get_indicator)


# ---------------------------------------------------------------- STAC search


def test_search_recovers_from_transient_faults(server, small_recipe, demo_catalog, caplog):
    url = server.url("search-transient")
    expected = [i.id for i in search(demo_catalog, s2_request(small_recipe))]
    pages = math.ceil(len(expected) / PAGE)
    assert pages >= 2  # the paging is exercised
    server.script("/search-transient", ("status", 503))
    server.script("/search-transient/search", ("status", 500), ("delay", 1.6), ("ok",), ("truncate",), ("reset",),
                  ("cut",))
    policy = dataclasses.replace(FAST, attempts=7)
    caplog.set_level(logging.WARNING, logger="catalog.reliability")
    started = time.perf_counter()
    items = search(url, s2_request(small_recipe), policy=policy)
    assert [i.id for i in items] == expected
    # attempt 1: landing 503; 2: search 500; 3: search timeout; 4: page 1 ok, page 2 truncated;
    # 5: connection reset; 6: body cut short; 7: landing + every page
    assert server.requests["/search-transient"] == 7
    assert server.requests["/search-transient/search"] == 1 + 1 + 2 + 1 + 1 + pages
    reasons = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(reasons) == 6
    for fragment in ("HTTP 503", "HTTP 500", "timeout", "truncated or invalid JSON", "connection error"):
        assert any(fragment in r for r in reasons), (fragment, reasons)
    assert time.perf_counter() - started < 10
    hrefs = [a.href for i in items for a in i.assets.values()]
    assert all(h.startswith(f"{url}/cogs/") and h.endswith(TOKEN) for h in hrefs)  # signed, as served


def test_search_by_get_pages_too(server, small_recipe, demo_catalog):
    from pystac_client import Client

    got = Client.open(server.url("get")).search(method="GET", collections=["sentinel-2-l2a"],
                                                bbox=list(small_recipe.aoi.bbox), datetime="2016-01-01/2016-12-31")
    ids = [i.id for i in got.items()]
    assert len(ids) > PAGE and server.requests["/get/search"] == math.ceil(len(ids) / PAGE)


def test_persistent_503_gives_a_clear_error_after_exactly_attempts(server, small_recipe):
    url = server.url("search-down")
    server.always["/search-down/search"] = ("status", 503)
    with pytest.raises(RetryError) as err:
        search(url, s2_request(small_recipe), policy=FAST)
    assert str(err.value) == (f"STAC search of collection 'sentinel-2-l2a' at {url}: "
                              f"{FAST.attempts} attempts failed, last: HTTP 503")
    assert server.requests["/search-down/search"] == FAST.attempts
    assert server.requests["/search-down"] == FAST.attempts


def test_no_items_and_client_errors_are_not_retried(server, small_recipe):
    url = server.url("no-retry")
    with pytest.raises(NoItemsFound, match="no items in"):
        search(url, s2_request(small_recipe, start=datetime(2030, 1, 1, tzinfo=timezone.utc), end=None), policy=FAST)
    assert server.requests["/no-retry/search"] == 1
    server.always["/no-retry-404"] = ("status", 404)
    with pytest.raises(Exception) as err:
        search(server.url("no-retry-404"), s2_request(small_recipe), policy=FAST)
    assert not isinstance(err.value, RetryError)
    assert server.requests["/no-retry-404"] == 1


# ---------------------------------------------------------------- COG reads through the pipeline


def test_transient_cog_faults_give_the_same_table(server, small_recipe, baseline, demo_catalog, tmp_path, caplog):
    scenario = "cogs-transient"
    items = search(demo_catalog, s2_request(small_recipe))
    green, swir, scl = (server.cog_path(scenario, items[i].assets[key].href)
                        for i, key in ((0, "green"), (1, "swir16"), (2, "scl")))
    server.script(green, ("status", 503), ("status", 500))
    server.script(swir, ("reset",))
    server.script(scl, ("delay", 2.5))  # beyond GDAL_HTTP_TIMEOUT = 1 s
    caplog.set_level(logging.DEBUG)
    result = run(small_recipe, catalog=server.url(scenario), out=tmp_path, progress=False, retry=FAST)
    pd.testing.assert_frame_equal(result.table, baseline.table)
    assert server.requests[green] >= 3 and server.requests[swir] >= 2 and server.requests[scl] >= 2
    assert not server.faults[green] and not server.faults[swir] and not server.faults[scl]  # all consumed
    prov = result.item["properties"]["sdgcube:provenance"]
    assert prov["warnings"] == []
    hrefs = [h for record in prov["inputs"]["optical"]["items"] for h in record["assets"].values()]
    assert hrefs and all(h.startswith(f"{server.url(scenario)}/cogs/") and "?" not in h for h in hrefs)
    assert any("Retrying again" in r.getMessage() for r in caplog.records)  # GDAL did retry ...
    assert_no_secrets(caplog.text, *product_texts(result.path))  # ... and its messages were redacted


def test_persistent_cog_failure_fails_the_run_and_writes_nothing(server, small_recipe, baseline, demo_catalog,
                                                                 tmp_path, monkeypatch, capfd, caplog):
    from pipeline import cli

    scenario = "cogs-down"
    item = search(demo_catalog, s2_request(small_recipe))[0]
    path = server.cog_path(scenario, item.assets["green"].href)
    server.always[path] = ("status", 503)
    href = f"{server.url(scenario)}/cogs/{path.split('/cogs/', 1)[1]}"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AssetReadError) as err:
        run(small_recipe, catalog=server.url(scenario), out=tmp_path / "lib", progress=False, retry=FAST)
    message = str(err.value)
    assert message.startswith(f"asset 'green' of item {item.id} (href {href}) could not be read after "
                              f"{FAST.attempts} attempts: HTTP 503;")
    assert message.endswith("set inputs.optical.on_unreadable: nodata in the recipe to continue without it")
    assert (err.value.item_id, err.value.asset, err.value.href) == (item.id, "green", href)
    assert server.requests[path] >= FAST.attempts
    assert not [p for p in (tmp_path / "lib").rglob("*") if p.is_file()]

    # the CLI: exit 1, the same message, nothing written (a recipe file with the small period)
    text = (ROOT / "recipes" / "6.6.1.yaml").read_text()
    for old, new in (("years: [2016, 2024]", "years: [2016, 2017]"),
                     ("baseline: [2016, 2019]", "baseline: [2016, 2016]"),
                     ("reporting: [2020, 2024]", "reporting: [2017, 2017]")):
        text = text.replace(old, new)
    (tmp_path / "small.yaml").write_text(text)
    monkeypatch.setattr("pipeline.run.DEFAULT_RETRY", FAST)
    server.always[server.cog_path("cogs-down-cli", item.assets["green"].href)] = ("status", 503)
    code = cli.main(["run", str(tmp_path / "small.yaml"), "--catalog", server.url("cogs-down-cli"),
                     "--out", str(tmp_path / "cli"), "--no-progress"])
    out, errors = capfd.readouterr()
    assert code == 1
    assert f"error: asset 'green' of item {item.id} (href {server.url('cogs-down-cli')}/cogs/" in errors
    assert "on_unreadable: nodata" in errors
    assert not [p for p in (tmp_path / "cli").rglob("*") if p.is_file()]
    assert_no_secrets(message, out, errors, caplog.text)

    # the server recovers: the next run in this process reads the asset again (GDAL's
    # memory of the failed URL is cleared at the start of a run) and gets the full answer
    del server.always[path]
    before = server.requests[path]
    again = run(small_recipe, catalog=server.url(scenario), out=tmp_path / "lib", progress=False, retry=FAST)
    assert server.requests[path] > before
    pd.testing.assert_frame_equal(again.table, baseline.table)


def test_nodata_policy_completes_and_records_the_warning(server, small_recipe, baseline, demo_catalog, tmp_path,
                                                         capfd, caplog):
    import zarr

    scenario = "cogs-nodata"
    item = search(demo_catalog, s2_request(small_recipe))[0]
    path = server.cog_path(scenario, item.assets["green"].href)
    server.always[path] = ("status", 503)
    href = f"{server.url(scenario)}/cogs/{path.split('/cogs/', 1)[1]}"
    caplog.set_level(logging.DEBUG)
    result = run(with_on_unreadable(small_recipe, "nodata"), catalog=server.url(scenario), out=tmp_path,
                 progress=False, retry=FAST)
    out, errors = capfd.readouterr()
    item_json = json.loads((result.path / "item.json").read_text())
    warnings = item_json["properties"]["sdgcube:provenance"]["warnings"]
    assert len(warnings) == 1
    warning = warnings[0]
    assert (warning["input"], warning["item"], warning["asset"], warning["href"]) == ("optical", item.id, "green", href)
    assert warning["message"].startswith(f"asset 'green' of item {item.id} (href {href}) could not be read after "
                                         f"{FAST.attempts} attempts")
    assert f"warning: {warning['message']}" in errors
    assert list(result.table.columns) == list(baseline.table.columns) and len(result.table) == len(baseline.table)
    assert server.requests[path] >= FAST.attempts
    attrs = json.dumps(dict(zarr.open_group(str(result.path / "product.zarr"), mode="r").attrs), default=str)
    assert_no_secrets(out, errors, caplog.text, attrs, result.table.to_csv(), *product_texts(result.path))
