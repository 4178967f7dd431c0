"""Bad and hostile input, table-driven: each case gets its exit status, ONE line on stderr that names
what is wrong and how to fix it, no traceback, and nothing left under the output root.

Cases run the command line in this process (``pipeline.cli.main``: one import of the stack for all);
cases that must work are in the same table with exit status 0.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pipeline import cli

ROOT = Path(__file__).parents[1]
FOREST = (ROOT / "recipes" / "15.1.1.yaml").read_text()
WATER = (ROOT / "recipes" / "6.6.1.yaml").read_text()


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path, str], list[str]]  # (tmp dir, demo catalog) -> argv after "run"/"publish"
    code: int
    says: str  # a part of the one stderr line ("" for a case that must work)


def recipe(tmp: Path, text: str | bytes, name: str = "r.yaml") -> str:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def edited(base: str, **changes) -> str:
    """The recipe with top-level keys replaced (None deletes) or nested ones ("grid.chunk")."""
    data = yaml.safe_load(base)
    for key, value in changes.items():
        where, *path = key.split("__")
        target = data
        for part in [where, *path][:-1]:
            target = target[part]
        last = [where, *path][-1]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return yaml.safe_dump(data, sort_keys=False)


def run_args(text_of: Callable[[Path], str | bytes], *extra: str) -> Callable[[Path, str], list[str]]:
    return lambda tmp, cat: ["run", recipe(tmp, text_of(tmp)), "--catalog", cat, *extra]


def catalog_file(content: str, name: str = "catalog.json") -> Callable[[Path, str], list[str]]:
    def args(tmp: Path, cat: str) -> list[str]:
        folder = tmp / "cat"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(content)
        return ["run", recipe(tmp, FOREST), "--catalog", str(folder / name)]
    return args


def broken_item_catalog(item_text: str) -> Callable[[Path, str], list[str]]:
    """A copy of the demo catalog whose first WorldCover item file is replaced by ``item_text``."""
    def args(tmp: Path, cat: str) -> list[str]:
        source = Path(cat).parent
        copy = tmp / "demo"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.tif"))
        item = sorted((copy / "esa-worldcover").rglob("*.json"))[0]
        if item.name == "collection.json":
            item = sorted((copy / "esa-worldcover").rglob("*.json"))[1]
        item.write_text(item_text)
        return ["run", recipe(tmp, FOREST), "--catalog", str(copy / "catalog.json")]
    return args


def served(cat: str) -> str:
    """The demo catalog's folder over HTTP (a daemon thread for the rest of the session): its catalog.json URL."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(Path(cat).parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/catalog.json"


def edited_item(collection: str, edit: Callable[[dict], None], text: str = FOREST) -> Callable[[Path, str], list[str]]:
    """A copy of the demo catalog (COG hrefs still point at the demo) with ``edit`` applied to every item
    JSON of ``collection``."""
    def args(tmp: Path, cat: str) -> list[str]:
        copy = tmp / "demo"
        shutil.copytree(Path(cat).parent, copy, ignore=shutil.ignore_patterns("*.tif"))
        for path in (copy / collection).glob("*/*.json"):
            item = json.loads(path.read_text())
            edit(item)
            path.write_text(json.dumps(item))
        return ["run", recipe(tmp, text), "--catalog", str(copy / "catalog.json")]
    return args


def _bad_scale(item: dict) -> None:
    for asset in item["assets"].values():
        for band in asset.get("raster:bands", []):
            band["scale"] = "abc"


def _bad_datetime(item: dict) -> None:
    item["properties"]["datetime"] = "not-a-date"


def _across(tmp: Path) -> str:
    """A 15.1.1 recipe across the antimeridian on local land cover (tests/test_antimeridian.py's)."""
    from tests.test_antimeridian import _landcover, _recipe

    _landcover(tmp / "lc.tif")
    return _recipe(tmp / "lc.tif")


LOOP = json.dumps({"type": "Catalog", "id": "loop", "stac_version": "1.0.0", "description": "a loop",
                   "links": [{"rel": "child", "href": "./catalog.json"}, {"rel": "root", "href": "./catalog.json"}]})

CASES = [
    # recipes
    Case("recipe-missing", lambda t, c: ["run", str(t / "nope.yaml")], 1, "cannot read recipe"),
    Case("recipe-binary", run_args(lambda t: b"\x00\x01\x02\x03"), 1, "not valid YAML"),
    Case("recipe-not-utf8", run_args(lambda t: b"sdg: '15.1.1'\ntitle: \xff\xfe\n"), 1, "not UTF-8 text"),
    Case("recipe-yaml-syntax", run_args(lambda t: "sdg: '15.1.1'\ntitle: [unclosed\n"), 1,
         "not valid YAML at line 3, column 1"),
    Case("recipe-a-folder", lambda t, c: ["run", str(t)], 1, "cannot read recipe"),
    Case("recipe-title-a-list", run_args(lambda t: edited(FOREST, title=["a", "b"])), 1, "'title'"),
    Case("recipe-a-list", run_args(lambda t: "- 1\n- 2\n"), 1, "a recipe must be a YAML mapping"),
    Case("recipe-empty", run_args(lambda t: ""), 1, "a recipe must be a YAML mapping"),
    Case("recipe-unknown-key", run_args(lambda t: edited(FOREST, colour="red")), 1, "unknown key 'colour'"),
    Case("recipe-no-sdg", run_args(lambda t: edited(FOREST, sdg=None)), 1, "missing key 'sdg'"),
    Case("recipe-sdg-unknown", run_args(lambda t: edited(FOREST, sdg="99.9.9")), 1, "no indicator registered"),
    Case("recipe-sdg-number", run_args(lambda t: FOREST.replace('sdg: "15.1.1"', "sdg: 15.1")), 1, "missing key 'sdg'"),
    Case("grid-crs-unknown", run_args(lambda t: edited(FOREST, grid__crs="EPSG:999999")), 1, "not a CRS pyproj knows"),
    Case("grid-resolution-zero", run_args(lambda t: edited(FOREST, grid__resolution=0)), 1, "resolution must be"),
    Case("grid-resolution-nan", run_args(lambda t: FOREST.replace("resolution: 10 ", "resolution: .nan ")), 1,
         "resolution must be a finite number"),
    Case("grid-resolution-inf", run_args(lambda t: FOREST.replace("resolution: 10 ", "resolution: .inf ")), 1,
         "resolution must be a finite number"),
    Case("grid-resolution-text", run_args(lambda t: edited(FOREST, grid__resolution="ten")), 1, "must be a number"),
    Case("grid-chunk-text", run_args(lambda t: edited(FOREST, grid__chunk="big")), 1, "'grid.chunk' must be an "
                                                                                        "integer"),
    Case("grid-chunk-tiny", run_args(lambda t: edited(FOREST, grid__chunk=8)), 1, "chunk must be within 64..8192"),
    Case("grid-resolution-mm", run_args(lambda t: edited(FOREST, grid__resolution=0.001)), 1,
         "above grid.max_blocks"),
    Case("grid-resolution-huge", run_args(lambda t: FOREST.replace("resolution: 10 ", "resolution: 1e9 ")), 1,
         "larger than the AOI itself"),
    Case("grid-memory-limit", run_args(lambda t: edited(FOREST, grid__max_memory_gib=0.0001)), 1,
         "above the limit"),
    Case("params-unknown", run_args(lambda t: edited(FOREST, parameters__mmu=1)), 1, "unknown key 'parameters.mmu'"),
    Case("params-bad-value", run_args(lambda t: edited(FOREST, parameters__mmu_ha=-1)), 1, "mmu_ha must be >= 0"),
    Case("params-overlap", run_args(lambda t: edited(FOREST, parameters__water_classes=[10])), 1, "overlap"),
    Case("periods-reversed", run_args(lambda t: edited(FOREST, periods__years=[2024, 2016])), 1,
         "first <= last"),
    Case("periods-baseline-after-reporting", run_args(lambda t: edited(WATER, periods__baseline=[2021, 2024],
                                                                       periods__reporting=[2016, 2019])), 1,
         "must end before reporting"),
    Case("outputs-unknown", run_args(lambda t: edited(FOREST, outputs=["zarr", "gif"])), 1, "unknown 'gif'"),
    Case("inputs-missing", run_args(lambda t: edited(FOREST, inputs={})), 1, "'inputs' lacks 'landcover'"),
    Case("inputs-band-missing", run_args(lambda t: edited(FOREST, inputs__landcover__bands=["red"])), 1,
         "lacks landcover"),
    Case("inputs-two-sources", run_args(lambda t: edited(FOREST, inputs__landcover__file="x.tif")), 1,
         "give exactly one of 'collection'"),
    Case("inputs-file-missing", run_args(lambda t: edited(FOREST, inputs__landcover={"file": str(t / "no.tif"),
                                                                                     "bands": ["landcover"]})), 1,
         "is not a file"),
    Case("inputs-file-not-raster", run_args(lambda t: (t / "x.tif").write_text("text") and edited(
        FOREST, inputs__landcover={"file": str(t / "x.tif"), "bands": ["landcover"]})), 1, "inputs.landcover"),
    Case("inputs-collection-unknown", run_args(lambda t: edited(FOREST, inputs__landcover__collection="nope")), 1,
         "nope"),
    Case("inputs-cloud-cover", run_args(lambda t: edited(WATER, inputs__optical__max_cloud_cover=150)), 1,
         "max_cloud_cover must be within 0..100"),
    Case("periods-outside-15.3.1", run_args(lambda t: edited((ROOT / "recipes" / "15.3.1.yaml").read_text(),
                                                             periods__years=[2005, 2023])), 1, "widen periods.years"),
    Case("params-15.4.2-reporting", run_args(lambda t: edited((ROOT / "recipes" / "15.4.2.yaml").read_text(),
                                                              parameters__reporting_years=[2010])), 1,
         "reporting_years must be increasing years after the baseline"),
    # AOIs
    Case("bbox-west-east", run_args(lambda t: FOREST, "--bbox", "10", "0", "5", "1"), 1, "swap west and east"),
    Case("bbox-antimeridian-no-data", run_args(lambda t: FOREST, "--bbox", "179.5", "-17.2", "-179.5", "-16.8"), 1,
         "no items"),  # accepted (one piece across +-180), there is just no demo data there
    Case("bbox-nan", run_args(lambda t: FOREST, "--bbox", "nan", "0", "1", "1"), 1, "is not [west, south"),
    Case("bbox-latitude", run_args(lambda t: FOREST, "--bbox", "0", "80", "1", "95"), 1, "is not [west, south"),
    Case("bbox-elsewhere", run_args(lambda t: FOREST, "--bbox", "10", "10", "10.01", "10.01"), 1, "no items"),
    Case("aoi-self-intersecting", run_args(lambda t: edited(FOREST, aoi={"name": "bow", "geometry": {
        "type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}})), 1, "not a valid polygon"),
    Case("aoi-a-point", run_args(lambda t: edited(FOREST, aoi={"name": "p", "geometry": {
        "type": "Point", "coordinates": [0, 0]}})), 1, "is a Point"),
    Case("aoi-both", run_args(lambda t: edited(FOREST, aoi__geometry={"type": "Point", "coordinates": [0, 0]})), 1,
         "give exactly one of 'bbox'"),
    # catalogs and items
    Case("catalog-missing", lambda t, c: ["run", recipe(t, FOREST), "--catalog", str(t / "none")], 1,
         "no STAC catalog"),
    Case("catalog-yaml", catalog_file("a: [1, 2\n", "catalog.yaml"), 1, "is not valid STAC JSON"),
    Case("catalog-feature", catalog_file(json.dumps({"type": "Feature"})), 1, "is not valid STAC JSON"),
    Case("catalog-list", catalog_file("[1, 2, 3]"), 1, "is not valid STAC JSON"),
    Case("catalog-loop", catalog_file(LOOP), 1, "no items"),
    Case("item-truncated", broken_item_catalog('{"type": "Feature", "stac_version"'), 1, "is not valid STAC JSON"),
    Case("item-not-json", broken_item_catalog("\x00\x01"), 1, "is not valid STAC JSON"),
    Case("catalog-http-refused", lambda t, c: ["run", recipe(t, FOREST), "--catalog", "http://127.0.0.1:1/catalog.json"],
         1, "no STAC catalog at http://127.0.0.1:1/catalog.json"),
    Case("item-scale-not-a-number", edited_item("sentinel-2-l2a", _bad_scale, WATER), 1,
         "states raster:bands scale 'abc'"),
    Case("item-bad-datetime", edited_item("esa-worldcover", _bad_datetime), 1, "is not valid STAC JSON"),
    # zones
    Case("zones-missing", run_args(lambda t: FOREST, "--zones", "/nonexistent/zones.gpkg"), 1, "zones"),
    Case("zones-id-field", lambda t, c: ["run", recipe(t, FOREST), "--catalog", c, "--zones",
                                         str(Path(c).parent / "zones.gpkg"), "--zone-id", "nope"], 1, "nope"),
    Case("zones-not-vector", run_args(lambda t: (t / "z.gpkg").write_text("no") and FOREST, "--zones", "z.gpkg"), 1,
         "zones"),
    Case("zone-name-without-zones", run_args(lambda t: FOREST, "--zone-name", "name"), 1, "need --zones FILE"),
    # outputs
    Case("out-is-a-file", lambda t, c: ["run", recipe(t, FOREST), "--catalog", c, "--out",
                                        (t / "f").write_text("x") and str(t / "f")], 1, "give --out a writable folder"),
    Case("out-in-proc", lambda t, c: ["run", recipe(t, FOREST), "--catalog", c, "--out", "/proc/sdgcube"], 1,
         "give --out a writable folder"),
    # publishing
    Case("publish-no-run", lambda t, c: ["publish", str(t / "no-run"), str(t / "dest")], 1, "no-run"),
    Case("publish-to-http", lambda t, c: ["publish", str(t), "http://user:secret@127.0.0.1:1/dest"], 1,
         "is not a finished product"),  # the product is checked first; see test_publish for the destination
    Case("publish-not-a-product", lambda t, c: ["publish", str(t), str(t / "dest")], 1, ""),
    # cases that must work
    Case("works-geographic-grid", run_args(lambda t: edited(FOREST, grid__crs="EPSG:4326",
                                                           grid__resolution=0.0002)), 0, ""),
    Case("works-static-catalog-over-http", lambda t, c: ["run", recipe(t, FOREST), "--catalog", served(c)], 0, ""),
    Case("works-antimeridian", lambda t, c: ["run", recipe(t, _across(t))], 0, ""),
    Case("works-zones-in-another-crs", lambda t, c: ["run", recipe(t, FOREST), "--catalog", c, "--zones",
                                                     str(Path(c).parent / "zones.gpkg"), "--zone-id", "code"], 0, ""),
    Case("works-1e9-is-a-number", run_args(lambda t: FOREST.replace("mmu_ha: 0.5", "mmu_ha: 5e-1")), 0, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, demo_catalog, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = case.args(tmp_path, demo_catalog)
    if args[0] == "run" and "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    if args[0] == "run":
        args.append("--no-progress")
    before = sorted(p for p in tmp_path.rglob("*") if "out" not in p.relative_to(tmp_path).parts[:1])
    code = cli.main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("warning:", "footprint:"))]
    assert "Traceback" not in err, err
    assert code == case.code, err
    if case.code:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert case.says in lines[0], lines[0]
        out = tmp_path / "out"
        assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))
    after = sorted(p for p in tmp_path.rglob("*") if "out" not in p.relative_to(tmp_path).parts[:1])
    assert after == before  # nothing written beside the inputs either
