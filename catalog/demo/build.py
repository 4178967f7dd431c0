"""Building the demo: writes everything atomically into one folder, and says whether a folder is current."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from catalog.demo.land_degradation import LandDegradation
from catalog.demo.landsat import LandsatDemo, landsat_collection
from catalog.demo.layout import DEFAULT_SCALE, GEO_CRS, Layout
from catalog.demo.ld_collections import write_land_degradation
from catalog.demo.mountains import Mountains
from catalog.demo.sentinel2 import s2_collection, write_sentinel2
from catalog.demo.stac import write_catalog
from catalog.demo.truth_6_6_1 import truth_6_6_1, zone_truth_6_6_1
from catalog.demo.truth_6_6_1_landsat import truth_6_6_1_landsat_sentinel2, truth_landsat_items
from catalog.demo.truth_15_1_1 import truth_15_1_1, zone_truth_15_1_1
from catalog.demo.truth_15_2_1 import truth_15_2_1
from catalog.demo.truth_15_3_1 import LandTruth, zone_masks
from catalog.demo.truth_items import truth_items
from catalog.demo.urban import Urban
from catalog.demo.urban_collections import write_urban
from catalog.demo.world import Design
from catalog.demo.worldcover import worldcover_collection, write_worldcover
from catalog.demo.zones import ZONES_FILE, Zones

GENERATOR_VERSION = 7  # bump whenever any written file changes: is_current() then rebuilds old folders
# 2: zones.gpkg and truth.json["zones"] (per-zone truth); every COG and STAC JSON as in 1
# 3: the six SDG 15.3.1 collections on the LD grid and truth.json["sdg_15_3_1"] (and per zone); the S2 and
#    WorldCover files and the earlier truth keys as in 2
# 4: truth.json["sdg_15_2_1"] (and per zone): FAO's forest change rates of the 15.1.1 truth; files as in 3
# 5: the SDG 11.3.1 collections ghs-built-s and worldpop (100 m UTM) and truth.json["sdg_11_3_1"] (and per zone)
# 6: the SDG 15.4.2 DEM (cop-dem-glo-30) and esa-cci-lc grown to the mountain grid (the 15.3.1 window unchanged);
#    truth.json["sdg_15_4_2"] (per zone inside it)
# 7: the landsat-c2-l2 collection (Landsat 5/7/8/9, 30 m, 2000-2024) and truth.json["sdg_6_6_1_landsat_sentinel2"]
#    and ["landsat_items"]; every earlier file and truth key as in 6 (catalog.json gains the collection)
DEFAULT_SEED = 2016
DEFAULT_DIR = Path(__file__).resolve().parent / "data"


def _write_catalog(design: Design, root: Path, final_dir: Path) -> None:
    """All COGs, the STAC catalog, zones.gpkg and truth.json under ``root``; hrefs point at ``final_dir``."""
    href_root = final_dir.as_uri()
    lc_items = write_worldcover(design, root, href_root)
    s2_items = write_sentinel2(design, root, href_root)
    zones = Zones(design)
    land = LandTruth(LandDegradation(design))
    mountains = Mountains(land.ld, zones)
    land_collections = write_land_degradation(land.ld, land, mountains, root, href_root)
    urban = Urban(design, zones)
    landsat = LandsatDemo(design)
    landsat_items = landsat.write(root, href_root)
    write_catalog(root, [s2_collection(s2_items), worldcover_collection(lc_items), *land_collections,
                         *write_urban(urban, root, href_root), landsat_collection(landsat_items)])
    zones.write(root)
    land_zones = zone_masks(land.ld, zones)
    truth = {"generator": _generator_id(design.seed, design.layout.scale),
             "aoi": {"bbox": design.aoi_bbox, "crs": GEO_CRS},
             "sdg_15_1_1": truth_15_1_1(design),
             "sdg_6_6_1": truth_6_6_1(design),
             "items": truth_items(s2_items),
             "sdg_15_3_1": land.truth(land_zones)}
    truth["sdg_15_2_1"] = truth_15_2_1(truth["sdg_15_1_1"]["years"])
    truth["sdg_15_4_2"] = mountains.truth()
    truth["sdg_6_6_1_landsat_sentinel2"] = truth_6_6_1_landsat_sentinel2(landsat)
    truth["landsat_items"] = truth_landsat_items(landsat_items)
    urban_truth = urban.truth()
    truth["sdg_11_3_1"] = {k: v for k, v in urban_truth.items() if k != "zones"}
    truth["zones"] = {**zones.metadata(),
                      "sdg_15_1_1": zone_truth_15_1_1(design, zones, truth["sdg_15_1_1"]["years"]),
                      "sdg_6_6_1": zone_truth_6_6_1(design, zones, truth["sdg_6_6_1"]["years"]),
                      "sdg_15_3_1": land.zone_truth(land_zones, truth["sdg_15_3_1"]["by_period"])}
    truth["zones"]["sdg_15_2_1"] = {zone: truth_15_2_1(years) for zone, years in truth["zones"]["sdg_15_1_1"].items()}
    truth["zones"]["sdg_11_3_1"] = urban_truth["zones"]
    (root / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


def _generator_id(seed: int, scale: float) -> dict:
    """What identifies a build in truth.json (scale only when not 1: the demo stays byte-identical)."""
    ident: dict[str, float] = {"seed": seed, "version": GENERATOR_VERSION}
    if scale != DEFAULT_SCALE:
        ident["scale"] = scale
    return ident


def build_demo_catalog(out_dir: Path = DEFAULT_DIR, seed: int = DEFAULT_SEED, force: bool = False,
                       scale: float = DEFAULT_SCALE) -> Path:
    """Build the demo catalog into ``out_dir`` atomically (a temporary sibling renamed into
    place), so readers never see a half-written catalog. Returns the catalog.json path.

    ``scale`` multiplies the area (tiles and AOI; see ``Layout``): the scaled AOI bbox is
    ``truth.json["aoi"]["bbox"]`` (also ``aoi_bbox(scale)``). Scaled catalogs are for
    benchmarks and never go to the embedded ``DEFAULT_DIR``.
    """
    out_dir = Path(out_dir).resolve()
    layout = Layout(scale)
    if scale != DEFAULT_SCALE and out_dir == DEFAULT_DIR.resolve():
        raise ValueError(f"a demo catalog at scale {scale} must not replace the embedded one in {out_dir}: "
                         "give another directory (e.g. outputs/bench/demo-x4)")
    if out_dir.exists() and not force:
        raise FileExistsError(f"{out_dir} exists: pass force=True (--force) to rebuild it")
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write_catalog(Design(seed, layout), tmp, out_dir)
        if out_dir.exists():
            if not force:  # another process published one while this one was building
                raise FileExistsError(f"{out_dir} appeared during the build")
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "catalog.json"


def is_current(out_dir: Path, seed: int = DEFAULT_SEED, scale: float = DEFAULT_SCALE) -> bool:
    """True if ``out_dir`` holds a complete catalog made by this generator version, seed and scale."""
    truth = Path(out_dir) / "truth.json"
    if not all((Path(out_dir) / name).is_file() for name in ("catalog.json", ZONES_FILE, "truth.json")):
        return False
    return json.loads(truth.read_text()).get("generator") == _generator_id(seed, scale)


def ensure_demo_catalog(out_dir: Path = DEFAULT_DIR, seed: int = DEFAULT_SEED,
                        scale: float = DEFAULT_SCALE) -> Path:
    """The catalog.json path, building the catalog first only if it is missing, incomplete,
    or from another generator version, seed or scale (cheap to call from every test or demo)."""
    out_dir = Path(out_dir).resolve()
    if not is_current(out_dir, seed, scale):
        try:
            build_demo_catalog(out_dir, seed, force=out_dir.exists(), scale=scale)
        except FileExistsError:  # a concurrent caller published it first
            if not is_current(out_dir, seed, scale):
                raise
    return out_dir / "catalog.json"


def load_truth(out_dir: Path = DEFAULT_DIR) -> dict:
    """The known truth beside catalog.json: AOI, per-year SDG 15.1.1 and 6.6.1 values, which
    items a max cloud cover of 60 keeps, SDG 15.3.1 per period (areas per layer and class, the
    patches' classes), and under "zones" the same indicators per zone of zones.gpkg (and
    "outside zones"). Pipeline tests compare against it."""
    return json.loads((Path(out_dir) / "truth.json").read_text())


def aoi_bbox(scale: float = DEFAULT_SCALE, seed: int = DEFAULT_SEED) -> list[float]:
    """The AOI (W, S, E, N, WGS84) of a catalog built at ``scale``, without building it:
    give it to ``Recipe.with_bbox`` to run a recipe on a scaled catalog."""
    return Design(seed, Layout(scale)).aoi_bbox
