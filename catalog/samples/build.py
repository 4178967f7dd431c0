"""Real imagery for sanity checks, without the network: Debian's R packages ship small
real scenes (``r-cran-stars``: Landsat 7 ETM+ over Olinda, Brazil, with the Atlantic
and a DEM of the same area; ``r-cran-satellite``: a Landsat 8 L1 scene). R itself is
not needed: ``apt-get download`` + ``dpkg -x`` unpack the files, which are rewritten
as COGs and registered as STAC items (one asset per band, common band names).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import rasterio
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

from catalog.errors import SdgcubeError

DEFAULT_DIR = Path(__file__).resolve().parent / "data"
PACKAGES = ("r-cran-stars", "r-cran-satellite")
SITE = Path("usr/lib/R/site-library")
COLLECTION = "debian-samples"


@dataclass(frozen=True)
class Band:
    key: str  # asset key = common band name
    path: str  # inside the unpacked packages
    index: int = 1  # band of a multi-band file


@dataclass(frozen=True)
class Scene:
    id: str
    title: str
    datetime: datetime
    bands: tuple[Band, ...]
    crs: str | None = None  # override a file's wrong CRS tag (said why in ``note``)
    note: str = ""


_L7 = "stars/tif/L7_ETMs.tif"
_L8 = "satellite/testdata/LC8/LC81950252013188LGN00_B{}.TIF"
SCENES = (
    Scene("L7_ETMs_olinda", "Landsat 7 ETM+ bands 1-5,7 over Olinda, Brazil (stars package)",
          datetime(2002, 7, 1, tzinfo=UTC),  # a 2002 scene per the stars documentation
          tuple(Band(k, _L7, i) for i, k in enumerate(("blue", "green", "red", "nir", "swir16", "swir22"), 1))),
    Scene("olinda_dem", "SRTM-derived DEM of the same Olinda extent (stars package)",
          datetime(2000, 2, 11, tzinfo=UTC), (Band("dem", "stars/tif/olinda_dem_utm25s.tif"),),
          crs="EPSG:31985",
          note="the file is tagged EPSG:32000; its name (utm25s) and bounds match the L7 scene in "
               "EPSG:31985 (SIRGAS 2000 / UTM 25S)"),
    Scene("LC81950252013188LGN00", "Landsat 8 OLI L1 digital numbers, path 195 row 25 (satellite package)",
          datetime(2013, 7, 7, tzinfo=UTC),
          tuple(Band(k, _L8.format(n)) for k, n in (("coastal", 1), ("blue", 2), ("green", 3), ("red", 4),
                                                     ("nir", 5), ("swir16", 6), ("swir22", 7), ("qa", "QA")))),
)


class SamplesError(SdgcubeError, RuntimeError):
    """The Debian packages could not be fetched or unpacked."""


def fetch_packages(workdir: Path, packages: tuple[str, ...] = PACKAGES) -> Path:
    """Download and unpack the packages; returns the unpacked R site library."""
    root = workdir / "root"
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SamplesError(f"{tool} not found: the samples come from Debian packages")
    done = subprocess.run(["apt-get", "download", *packages], cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise SamplesError(f"apt-get download {' '.join(packages)} failed: {done.stderr.strip()[-300:]}; "
                           "run `apt-get update` (as root) and retry")
    for deb in sorted(workdir.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root / SITE


def _write_cog(src_path: Path, index: int, dst: Path, crs: str | None) -> dict:
    with rasterio.open(src_path) as src:
        data = src.read(index)
        profile = dict(driver="COG", dtype=data.dtype.name, count=1, width=src.width, height=src.height,
                       crs=CRS.from_user_input(crs) if crs else src.crs, transform=src.transform,
                       nodata=src.nodata, compress="ZSTD", blocksize=256)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data, 1)
    return {"shape": list(data.shape), "transform": list(profile["transform"])[:6],
            "crs": profile["crs"].to_string(), "nodata": profile["nodata"], "dtype": data.dtype.name,
            "bounds": rasterio.transform.array_bounds(*data.shape, profile["transform"])}


def _item(scene: Scene, cogs: dict[str, tuple[Path, dict]]) -> pystac.Item:
    first = next(iter(cogs.values()))[1]
    west, south, east, north = transform_bounds(first["crs"], "EPSG:4326", *_bounds(first))
    item = pystac.Item(scene.id, mapping(box(west, south, east, north)), [west, south, east, north],
                       scene.datetime, {"title": scene.title, "proj:code": first["crs"]})
    for ext in (ProjectionExtension, RasterExtension, EOExtension):
        ext.add_to(item)
    if scene.note:
        item.properties["sdgcube:note"] = scene.note
    for key, (path, meta) in cogs.items():
        asset = pystac.Asset(path.resolve().as_uri(), media_type=pystac.MediaType.COG, roles=["data"],
                             extra_fields={"proj:shape": meta["shape"], "proj:transform": meta["transform"],
                                           "raster:bands": [{"nodata": meta["nodata"], "data_type": meta["dtype"]}],
                                           "eo:bands": [{"name": key, "common_name": key}]})
        item.add_asset(key, asset)
    return item


def _bounds(meta: dict) -> tuple[float, float, float, float]:
    west, south, east, north = meta["bounds"]
    return west, south, east, north


def build_samples(out_dir: Path = DEFAULT_DIR) -> Path:
    """Fetch, convert and register the scenes; atomically replaces ``out_dir``."""
    out_dir = Path(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".samples-", dir=out_dir.parent))
    try:
        site = fetch_packages(tmp)
        cogs_dir = tmp / "out" / "cogs"
        cogs_dir.mkdir(parents=True)
        final_cogs = out_dir / "cogs"
        # placeholders: update_extent_from_items sets both
        whole_world: list[list[float | int]] = [[-180, -90, 180, 90]]
        open_interval: list[list[datetime | None]] = [[None, None]]
        collection = pystac.Collection(
            COLLECTION, "Small real scenes from Debian's r-cran-stars and r-cran-satellite packages (GPL-2+/GPL-3 "
            "packages; the imagery itself is Landsat, public domain, and SRTM)",
            pystac.Extent(pystac.SpatialExtent(whole_world), pystac.TemporalExtent(open_interval)),
            license="other")
        for scene in SCENES:
            cogs = {}
            for band in scene.bands:
                name = f"{scene.id}_{band.key}.tif"
                meta = _write_cog(site / band.path, band.index, cogs_dir / name, scene.crs)
                cogs[band.key] = (final_cogs / name, meta)
            collection.add_item(_item(scene, cogs))
        collection.update_extent_from_items()
        root = pystac.Catalog("sdgcube-samples", "Real sample scenes for sanity checks")
        root.add_child(collection)
        root.normalize_and_save(str(tmp / "out"), pystac.CatalogType.SELF_CONTAINED)
        shutil.rmtree(out_dir, ignore_errors=True)
        (tmp / "out").rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / "catalog.json"


def ensure_samples(out_dir: Path = DEFAULT_DIR) -> Path:
    catalog = Path(out_dir) / "catalog.json"
    return catalog if catalog.exists() else build_samples(out_dir)


def read_band(item: pystac.Item, key: str) -> np.ndarray:
    """A band as float64 with nodata as NaN (for checks; pipelines load through odc-stac)."""
    with rasterio.open(item.assets[key].get_absolute_href()) as src:
        data = src.read(1, masked=True).astype(np.float64)
    return data.filled(np.nan)
