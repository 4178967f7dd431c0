"""Signed hrefs never leak: not into provenance, errors, logs, the dask graph, or any
file of a product.

Planetary Computer SAS tokens and S3 presigned URLs are credentials. The end-to-end
check serves the demo catalog's COGs from a local HTTP server (a subprocess: GDAL holds
the GIL while it opens a URL) under signed URLs, so GDAL really reads through them.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import traceback
from pathlib import Path
from urllib.parse import urlsplit

import cloudpickle
import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from catalog import load as catalog_load
from catalog.load import AssetError, load_cube, strip_token
from catalog.profiles import get_profile
from catalog.search import SearchRequest, search
from pipeline import provenance
from pipeline.grid import make_geobox

SAS = ("st=2026-11-23T10%3A00%3A00Z&se=2026-11-24T11%3A00%3A00Z&sp=rl&sv=2024-05-04&sr=c"
       "&skoid=9c8e1b2a-0000-4000-8000-000000000001&sktid=72f988bf-0000-4000-8000-000000000002"
       "&skt=2026-11-23T09%3A00%3A00Z&ske=2026-11-30T09%3A00%3A00Z&sks=b&skv=2024-05-04&sig=SASSECRETabc%2Bdef%3D")
PRESIGNED = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLESECRET%2F20261123%2Fus-west-2%2Fs3"
             "%2Faws4_request&X-Amz-Date=20261123T100000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
             "&X-Amz-Signature=S3SECRET0123456789abcdef")
SIGNATURES = (SAS, PRESIGNED)
MARKERS = ("sig=", "SASSECRET", "skoid", "X-Amz-Signature", "X-Amz-Credential", "S3SECRET", "AKIAEXAMPLESECRET")
PC_HREF = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/35/M/NM/2020/06/06/B04_10m.tif"
S3_HREF = "https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/2020/S2A/B04.tif"

ROOT = Path(__file__).parents[1]


def assert_clean(text: str | bytes, where: str = "") -> None:
    if isinstance(text, bytes):
        found = [m for m in MARKERS if m.encode() in text]
    else:
        found = [m for m in MARKERS if m in text]
    assert not found, f"signature material {found} in {where or text[:300]!r}"


def signed(href: str, i: int = 0) -> str:
    return f"{href}?{SIGNATURES[i % 2]}"


# ------------------------------------------------------------------ helpers


def test_strip_token_matches_pipeline_and_drops_every_signature():
    hrefs = [signed(PC_HREF, 0), signed(S3_HREF, 1), PC_HREF, "s3://bucket/key.tif?versionId=3",
             "file:///data/x.tif#frag", "/data/x.tif", "https://host/x.tif?a=1&sig=2"]
    for href in hrefs:
        assert strip_token(href) == provenance.strip_token(href)  # pipeline can reuse catalog's
        assert_clean(strip_token(href))
    assert strip_token(signed(PC_HREF)) == PC_HREF


def test_reader_errors_are_redacted_but_keep_type_and_file():
    error = rasterio.errors.RasterioIOError(f"'/vsicurl/{signed(PC_HREF, 0)}' not recognized; {signed(S3_HREF, 1)}")
    clean = catalog_load._redacted(error)
    assert type(clean) is rasterio.errors.RasterioIOError
    assert_clean(str(clean))
    assert f"'/vsicurl/{PC_HREF}' not recognized" in str(clean) and S3_HREF in str(clean)
    plain = rasterio.errors.RasterioIOError("HTTP response code: 404")
    assert catalog_load._redacted(plain) is plain  # nothing to hide: the original, traceback and all


# ------------------------------------------------------------------ the demo catalog, signed


@pytest.fixture(scope="module")
def s2(demo_catalog, demo_truth):
    aoi = box(*demo_truth["aoi"]["bbox"])
    items = search(demo_catalog, SearchRequest("sentinel-2-l2a", aoi, None, None, 60))[:4]
    return items, make_geobox(aoi, "EPSG:32721", 20)


def with_hrefs(items, href_of):
    """Clones of ``items`` whose assets point at ``href_of(i, absolute_path)``; no self link."""
    out = []
    for i, item in enumerate(items):
        clone = item.clone()
        for key, asset in clone.assets.items():
            asset.href = href_of(i, urlsplit(item.assets[key].get_absolute_href()).path)
        clone.remove_links("self")
        out.append(clone)
    return out


def _signed_copy(items, base: str):
    """Items as a signing catalog returns them (PC's sign_inplace, presigned S3)."""
    def href(i, path):
        return signed(f"{base}/{Path(path).name}", i)
    return with_hrefs(items, href)


def test_provenance_records_no_signature(s2):
    items = _signed_copy(s2[0], "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2")
    record = provenance.input_record(f"https://planetarycomputer.microsoft.com/api/stac/v1?{SAS}", items,
                                     ["green", "swir16", "scl"])
    text = json.dumps(record)
    assert_clean(text)
    assert "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/" in text


def test_missing_asset_error_names_the_stripped_href(s2):
    items, geobox = s2
    item = _signed_copy(items[:1], "https://sentinel2l2a01.blob.core.windows.net/c")[0]
    del item.assets["swir16"]
    with pytest.raises(AssetError, match="missing in item") as error:
        load_cube([item], get_profile("sentinel-2-l2a"), ["swir16"], geobox)
    assert "item at https://sentinel2l2a01.blob.core.windows.net/c/" in str(error.value)
    assert_clean(str(error.value))


def test_read_errors_and_logs_carry_no_signature(s2, caplog):
    items, geobox = s2
    gone = with_hrefs(items[:1], lambda i, path: signed(Path(path).with_name("gone.tif").as_uri(), 0))
    cube = load_cube(gone, get_profile("sentinel-2-l2a"), ["green"], geobox, chunk=128)
    with caplog.at_level(logging.DEBUG), pytest.raises(rasterio.errors.RasterioIOError) as error:
        cube.data.green.compute()
    text = "".join(traceback.format_exception(error.value))
    assert "gone.tif" in str(error.value)  # still says which file
    assert_clean(text, "the raised error")
    assert "Failed to load" in caplog.text  # odc-loader logged it, redacted
    assert_clean(caplog.text, "the log")


# ------------------------------------------------------------------ over HTTP: real reads through signed URLs

SERVER = r'''
import http.server, re, sys
from pathlib import Path
from urllib.parse import urlsplit
root, requests = Path(sys.argv[1]), open(sys.argv[2], "a", buffering=1)
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_HEAD(self):
        self.serve(False)
    def do_GET(self):
        self.serve(True)
    def serve(self, body):
        requests.write(f"{self.command} {self.path}\n")
        path = root / urlsplit(self.path).path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        ranged = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged:
            start = int(ranged.group(1))
            end = min(int(ranged.group(2) or len(data) - 1), len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            data = data[start:end + 1]
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


class Server:
    """The demo catalog's directory over HTTP with byte ranges; logs request lines (not
    to a pipe: nobody reads it until the end, and a full pipe would stall the server)."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root, self.log = root, log
        self.process = subprocess.Popen([sys.executable, "-c", SERVER, str(root), str(log)], stdout=subprocess.PIPE,
                                        text=True)
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def href(self, path: str) -> str:
        return f"{self.url}/{Path(path).resolve().relative_to(self.root)}"

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def server(demo_catalog, tmp_path):
    served = Server(Path(demo_catalog).parent.resolve(), tmp_path / "requests.log")
    yield served
    served.process.terminate()
    served.process.wait()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # planetary-computer 1.0 on pydantic 2
def test_signing_happens_at_read_time_and_stays_out_of_the_graph(demo_catalog, demo_truth, server, monkeypatch):
    planetary_computer = pytest.importorskip("planetary_computer")

    calls = []

    def fake_sign(href: str) -> str:
        calls.append(href)
        return signed(href, 0)

    monkeypatch.setattr(planetary_computer, "sign", fake_sign)
    aoi = box(*demo_truth["aoi"]["bbox"])
    (local,) = search(demo_catalog, SearchRequest("esa-worldcover", aoi, None, None, None, None))[:1]
    remote = with_hrefs([local], lambda i, path: server.href(path))
    profile = get_profile("esa-worldcover", remote)
    assert profile.sign == "planetary_computer.sign"
    with rasterio.open(local.assets["map"].get_absolute_href()) as src:
        geobox = make_geobox(aoi, src.crs.to_string(), abs(src.transform.a))
    cube = load_cube(remote, profile, ["landcover"], geobox, chunk=256)
    assert_clean(cloudpickle.dumps(dict(cube.data.__dask_graph__())), "the dask graph")
    assert not calls  # nothing signed while building the graph
    values = cube.data.landcover.values
    assert calls and all(c.startswith(server.url) for c in calls)
    requests = server.requests()
    assert any("sig=SASSECRET" in r for r in requests)  # GDAL read through the signed URL
    expected = load_cube([local], profile, ["landcover"], geobox, chunk=256).data.landcover.values
    np.testing.assert_array_equal(values, expected)


def test_a_run_on_signed_hrefs_writes_no_signature(demo_catalog, server, monkeypatch, tmp_path):
    """The whole pipeline, reading every COG through a signed URL (SAS and presigned
    S3 alternating); then no file of the product holds any part of a signature."""
    import pipeline.run as run_module
    from pipeline.recipe import load_recipe

    real_search = run_module.search

    def signed_search(catalog, request, **kwargs):
        return with_hrefs(real_search(catalog, request, **kwargs), lambda i, path: signed(server.href(path), i))

    monkeypatch.setattr(run_module, "search", signed_search)
    recipe = load_recipe(Path(__file__).parents[1] / "recipes" / "6.6.1.yaml")
    out = tmp_path / "products"
    result = run_module.run(recipe, catalog=demo_catalog, out=out, progress=False)
    requests = server.requests()
    assert any("sig=SASSECRET" in r for r in requests) and any("X-Amz-Signature" in r for r in requests)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".json") for p in files) and len(files) > 5
    for path in files:
        assert_clean(path.read_bytes(), str(path))
    inputs = result.item["properties"]["sdgcube:provenance"]["inputs"]["optical"]["items"]
    assert all(re.match(rf"{server.url}/", href) for i in inputs for href in i["assets"].values())
    assert_clean(json.dumps(result.item))


def test_user_info_in_a_url_is_a_credential_everywhere():
    from catalog.reliability import has_secret, redact

    url = "https://alice:s3cr3t@stac.example.org/api/v1/search?limit=10"
    assert strip_token(url) == "https://stac.example.org/api/v1/search"
    assert provenance.strip_token(url) == strip_token(url)
    assert has_secret(url) and has_secret("token@ s3://key:secret@bucket/prefix")
    text = f"attempt 1/5 failed at {url} (HTTP 500); see s3://AKIAXXX:abc/def@bucket/x and http://bob@host:8080/p"
    clean = redact(text)
    assert "s3cr3t" not in clean and "alice" not in clean and "AKIAXXX" not in clean and "bob@" not in clean
    assert "https://stac.example.org/api/v1/search" in clean and "http://host:8080/p" in clean
    assert redact("an email alice@example.org is no URL") == "an email alice@example.org is no URL"


def test_a_catalog_url_with_a_password_is_never_printed(tmp_path):
    cmd = [sys.executable, "-m", "pipeline", "run", str(ROOT / "recipes/15.1.1.yaml"), "--catalog",
           "http://user:PASSWORD@127.0.0.1:9/stac", "--out", str(tmp_path / "out"), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)  # port 9: refused at once, then retried
    assert done.returncode == 1
    assert "PASSWORD" not in done.stdout + done.stderr and "user:" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: STAC search") and "127.0.0.1:9" in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


SECRETS_OUTSIDE_URLS = [
    ('requests sent {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"}', "eyJhbGciOiJIUzI1NiJ9"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    ("proxy-authorization=Token abc123def", "abc123def"),
    ("header x-api-key: K3Y-V4LU3", "K3Y-V4LU3"),
    ("aws_access_key_id=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("credentials for ASIAIOSFODNN7EXAMPLE expired", "ASIAIOSFODNN7EXAMPLE"),
    ("{'aws_session_token': 'FwoGZXIvYXdzEBYaD'}", "FwoGZXIvYXdzEBYaD"),
    ('{"password": "hunter2"}', "hunter2"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS_OUTSIDE_URLS)
def test_credentials_outside_urls_are_redacted(text, secret):
    from catalog.reliability import has_secret, redact

    assert has_secret(text) and secret not in redact(text) and "<redacted>" in redact(text)


def test_words_that_only_look_like_credentials_stay():
    from catalog.reliability import has_secret

    for text in ("the authorization of the municipality", "password reset is not our business",
                 "AKIA is not a key"):
        assert not has_secret(text), text


def test_a_credential_in_an_error_never_reaches_the_terminal(monkeypatch, capsys):
    """A bug whose message carries a header and an AWS key: the traceback the CLI prints is redacted."""
    import pipeline.run
    from pipeline.cli import main

    def leaky(*args, **kwargs):
        raise RuntimeError("GET failed with headers {'Authorization': 'Bearer SEKRET'} for AKIAIOSFODNN7EXAMPLE")

    monkeypatch.setattr(pipeline.run, "run", leaky)
    assert main(["run", str(Path(__file__).parents[1] / "recipes" / "15.1.1.yaml"), "--no-progress"]) == 70
    err = capsys.readouterr().err
    assert "SEKRET" not in err and "AKIAIOSFODNN7EXAMPLE" not in err and "<redacted>" in err
