"""report.html: self-contained, escaped, and renders in a real browser with no request leaving the file."""

import base64
import io
import json
import queue
import re
import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline import report
from pipeline.recipe import load_recipe

ROOT = Path(__file__).parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# an attribute that makes a browser fetch something: src=, href=, srcset=, poster=, data=, action=
FETCHING = re.compile(r"""\b(?:src|href|srcset|poster|data|action|xlink:href)\s*=\s*["']?\s*([^"'\s>]+)""", re.I)


@pytest.fixture(scope="module")
def product(demo_catalog, tmp_path_factory):
    from pipeline.run import run

    out = tmp_path_factory.mktemp("report")
    return run(load_recipe(ROOT / "recipes" / "15.1.1.yaml"), catalog=demo_catalog, out=out, progress=False)


def _render_again(product, tmp_path, *, recipe=None, table=None) -> str:
    """The report of the fixture's product, re-rendered with another recipe or table."""
    from pipeline.indicators import Legend
    from pipeline.indicators.sdg15_1_1.legend import COLOURS, FOREST_CLASSES

    plan = SimpleNamespace(series=("forest_area_pct",), map_series="forest_area_pct",
                           legend=Legend("forest", {k: (FOREST_CLASSES[k], COLOURS[k]) for k in FOREST_CLASSES}))
    with xr.open_zarr(product.path / "product.zarr", mask_and_scale=False) as ds:
        path = report.write(tmp_path, ds=ds, plan=plan, table=product.table if table is None else table,
                            item=product.item, recipe=recipe or load_recipe(ROOT / "recipes" / "15.1.1.yaml"),
                            headline=product.headline, footprint=product.footprint)
    return path.read_text()


def test_report_is_written_and_listed_in_the_item(product):
    html = (product.path / "report.html").read_text()
    asset = product.item["assets"]["report"]
    assert asset["href"].endswith("report.html") and asset["type"] == "text/html"
    assert set(asset["roles"]) & {"overview", "metadata"}
    for text in ("Indicator trend", "Maps", "Indicator table", "Run footprint", "Provenance", "<details",
                 product.headline.split(":")[0], product.item["properties"]["sdgcube:recipe_sha256"]):
        assert text in html, text
    ids = [i["id"] for i in product.item["properties"]["sdgcube:provenance"]["inputs"]["landcover"]["items"]]
    assert ids and all(i in html for i in ids)
    assert html.count("<img") == 2  # a map for each layer: forest and landcover
    assert "<svg" in html  # the trend chart


def test_report_requests_nothing(product):
    html = (product.path / "report.html").read_text()
    targets = FETCHING.findall(html)
    assert targets, "expected the map images at least"
    external = [t for t in targets if not (t.startswith(("data:", "#")))]
    assert not external, external
    assert not re.search(r"https?://", "".join(targets))
    for forbidden in ("<script", "<link", "@import", "<iframe", "<object", "<embed", "@font-face"):
        assert forbidden not in html.lower(), forbidden
    assert not re.search(r"url\(\s*['\"]?(?!#)", html), "CSS url() to anything but an in-page fragment"


def test_text_is_escaped(product, tmp_path):
    evil = replace(load_recipe(ROOT / "recipes" / "15.1.1.yaml"), title='<script>alert("x")</script> & <b>')
    html = _render_again(product, tmp_path, recipe=evil)
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in html


def test_interval_columns_are_drawn(product, tmp_path):
    """The table's own lower/upper/ci_level columns (where the confidence-interval work writes)."""
    table = product.table.copy()
    pct = (table.series == "forest_area_pct") & (table.zone == "all")
    table.loc[pct, "lower"] = table.loc[pct, "value"] - 1.0
    table.loc[pct, "upper"] = table.loc[pct, "value"] + 1.0
    table.loc[pct, "ci_level"] = 0.95
    html = _render_again(product, tmp_path, table=table)
    assert "Accuracy and confidence intervals" in html
    assert re.search(r'id="(?:FillBetween)?PolyCollection', html)


def test_intervals_are_shown_only_where_the_table_has_them(product, tmp_path):
    assert "confidence intervals" not in (product.path / "report.html").read_text()
    pct = product.table[product.table.series == "forest_area_pct"]
    bounds = pd.concat([pct.assign(series="forest_area_pct_ci_low", value=pct.value - 1.5),
                        pct.assign(series="forest_area_pct_ci_high", value=pct.value + 1.5)])
    html = _render_again(product, tmp_path, table=pd.concat([product.table, bounds], ignore_index=True))
    assert "Accuracy and confidence intervals" in html
    band = re.compile(r'id="(?:FillBetween)?PolyCollection')  # the interval drawn around the trend
    assert band.search(html) and not band.search((product.path / "report.html").read_text())
    first = pct.sort_values("start_year").iloc[0]
    assert f"[{report._number(first.value - 1.5)}, {report._number(first.value + 1.5)}]" in html


# --- a real browser ----------------------------------------------------------------------------------------

class _Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out): no port, no deps."""

    def __init__(self, profile: Path) -> None:
        args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-extensions", "--no-first-run", "--hide-scrollbars", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "about:blank"]
        # the shell hands our stdin/stdout pipes to Chromium as fds 3 and 4
        self.proc = subprocess.Popen(["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null', *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := self.proc.stdout.read1(65536):
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                self.messages.put(json.loads(message))

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.proc.stdin.write(json.dumps(message).encode() + b"\0")
        self.proc.stdin.flush()
        while True:
            reply = self.messages.get(timeout=timeout)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self.messages.get(timeout=timeout)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs headless Chromium at /usr/bin/chromium "
                                                  "(Debian: apt-get install chromium)")
def test_report_renders_in_chromium_with_every_image_and_no_request(product, tmp_path):
    url = (product.path / "report.html").resolve().as_uri()
    browser = _Chromium(tmp_path / "profile")
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network.enable", "Page.enable"):
            browser.call(domain, session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=1400, height=3000, deviceScaleFactor=1,
                     mobile=False)
        browser.call("Page.navigate", session, url=url)
        browser.wait_for("Page.loadEventFired")
        state = browser.call("Runtime.evaluate", session, returnByValue=True, expression=(
            "JSON.stringify({images: document.images.length, svgs: document.querySelectorAll('svg').length,"
            " loaded: Array.from(document.images).every(i => i.complete && i.naturalWidth > 0),"
            " title: document.title})"))
        state = json.loads(state["result"]["value"])
        shot = base64.b64decode(browser.call("Page.captureScreenshot", session, format="png")["data"])
    finally:
        browser.close()
    (tmp_path / "report.png").write_bytes(shot)
    assert state["images"] == 2 and state["loaded"], state
    assert state["svgs"] >= 1 and state["title"].startswith("SDG 15.1.1")
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    failed = [e["params"] for e in browser.events if e.get("method") == "Network.loadingFailed"]
    assert not failed, failed
    assert [r for r in requests if not r.startswith("data:")] == [url], requests  # the page itself, nothing else
    _assert_not_blank(shot)


def _assert_not_blank(png: bytes) -> None:
    from PIL import Image

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape[:2] == (3000, 1400)
    colours = np.unique(image.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 50 and image.std() > 10, "the screenshot is (nearly) blank"
