"""The bare reference for benchmark part 4: what a competent user writes by hand.

``python -m tests.benchmarks.bare RECIPE --catalog DIR [--bbox W S E N] --out DIR``

Walks the static catalog with pystac, loads the recipe's items eagerly with one
``odc.stac.load`` onto the same grid (same bands, resampling and solar-day grouping as
the pipeline), computes the indicator with plain NumPy/SciPy in memory (no dask), and
writes the same layers as plain Zarr plus the per-year class areas as CSV. It reads only
the recipe's numbers (YAML), never the pipeline's code, so the comparison is fair:
``compare`` checks that its layers equal the pipeline's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import odc.stac
import pandas as pd
import pyproj
import pystac
import shapely
import xarray as xr
import yaml
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from scipy import ndimage
from shapely.geometry import box, shape

warnings.filterwarnings("ignore", message="Dataset has no geotransform")

SCL_INVALID = [0, 1, 3, 8, 9, 10]  # no data, saturated, cloud shadow, cloud medium/high, cirrus
NO_OBSERVATION, NOT_WATER, SEASONAL, PERMANENT, OUTSIDE = 0, 1, 2, 3, 255


def find_items(catalog: str, collection: str, aoi, years: tuple[int, int],
               max_cloud: float | None) -> list[pystac.Item]:
    """Items of ``collection`` over ``aoi`` within ``years`` (and under the cloud limit)."""
    start = datetime(years[0], 1, 1, tzinfo=timezone.utc)
    end = datetime(years[1], 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    root = pystac.read_file(str(Path(catalog) / "catalog.json" if Path(catalog).is_dir() else catalog))
    found = []
    for item in root.get_items(recursive=True):
        if item.collection_id != collection or not shape(item.geometry).intersects(aoi):
            continue
        t0 = item.datetime or item.common_metadata.start_datetime
        t1 = item.datetime or item.common_metadata.end_datetime
        if t1 < start or t0 > end:
            continue
        if max_cloud is not None and item.properties.get("eo:cloud_cover", 101) > max_cloud:
            continue
        found.append(item)
    return sorted(found, key=lambda it: (it.datetime or it.common_metadata.start_datetime, it.id))


def grid(aoi, crs: str, resolution: float) -> tuple[GeoBox, np.ndarray, np.ndarray]:
    """The recipe's grid, the AOI mask (pixel centres inside) and true pixel areas (m²)."""
    gbox = GeoBox.from_geopolygon(Geometry(aoi, crs="EPSG:4326").to_crs(crs), resolution=resolution, crs=crs)
    ny, nx = gbox.shape
    a = gbox.affine
    xx, yy = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    x, y = a.c + a.a * xx + a.b * yy, a.f + a.d * xx + a.e * yy
    inside = shapely.contains_xy(Geometry(aoi, crs="EPSG:4326").to_crs(crs).geom, x, y)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    area = abs(a.a * a.e) / np.asarray(pyproj.Proj(crs).get_factors(lon, lat).areal_scale)
    return gbox, inside, area


def class_areas(classes: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(year, 256) area per class value."""
    return np.stack([np.bincount(layer.ravel(), weights=area.ravel(), minlength=256) for layer in classes])


def sdg_6_6_1(recipe: dict, catalog: str, aoi) -> tuple[xr.Dataset, np.ndarray, list[int]]:
    """Yearly JRC-style water classes from MNDWI on every clear (SCL) scene."""
    spec, params, (y0, y1) = recipe["inputs"]["optical"], recipe["parameters"], recipe["periods"]["years"]
    band_a, band_b = {"mndwi": ("green", "swir16"), "ndwi": ("green", "nir")}[params.get("index", "mndwi")]
    gbox, inside, area = grid(aoi, recipe["grid"]["crs"], recipe["grid"]["resolution"])
    items = find_items(catalog, spec["collection"], aoi, (y0, y1), spec.get("max_cloud_cover"))
    res = recipe["grid"]["resolution"]
    # the pipeline's rule: average when the band is finer than the grid, else nearest
    resampling = {b: "average" if res > 1.5 * items[0].assets[b].extra_fields["gsd"] else "nearest"
                  for b in (band_a, band_b)}
    ds = odc.stac.load(items, bands=[band_a, band_b, "scl"], geobox=gbox, groupby="solar_day",
                       resampling={**resampling, "scl": "nearest"})
    day = {str(np.datetime64(it.datetime.replace(tzinfo=None), "D")): it for it in items}
    first = [day[str(t.astype("datetime64[D]"))] for t in ds.time.values]
    bands = [it.assets[band_a].extra_fields["raster:bands"][0] for it in first]
    bands_b = [it.assets[band_b].extra_fields["raster:bands"][0] for it in first]
    years = list(range(y0, y1 + 1))
    year_of = ds.time.dt.year.values
    out = np.full((len(years),) + gbox.shape, NO_OBSERVATION, np.uint8)
    bad = np.isin(ds["scl"].values, SCL_INVALID)
    a_dn, b_dn = ds[band_a].values, ds[band_b].values
    for i, year in enumerate(years):
        idx = np.flatnonzero(year_of == year)
        if idx.size == 0:
            continue
        a, b = a_dn[idx], b_dn[idx]
        sa = np.array([bands[j]["scale"] for j in idx])[:, None, None]
        oa = np.array([bands[j]["offset"] for j in idx])[:, None, None]
        sb = np.array([bands_b[j]["scale"] for j in idx])[:, None, None]
        ob = np.array([bands_b[j]["offset"] for j in idx])[:, None, None]
        ra = np.clip(a * sa + oa, 0, None)
        rb = np.clip(b * sb + ob, 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            index = ((ra - rb) / (ra + rb)).astype(np.float32)
        valid = ~bad[idx] & (a != 0) & (b != 0) & ~np.isnan(index)
        water = valid & (index > np.float32(params.get("water_threshold", 0.0)))
        n, w = valid.sum(0), water.sum(0)
        cls = np.where(w == 0, NOT_WATER,
                       np.where(w >= params.get("permanent_fraction", 1.0) * n - 1e-12, PERMANENT, SEASONAL))
        out[i] = np.where(n < max(1, params.get("min_observations", 3)), NO_OBSERVATION, cls)
    out[:, ~inside] = OUTSIDE
    layers = xr.Dataset({"water_class": (("time", "y", "x"), out)},
                        coords={"year": ("time", years), "y": gbox.coords["y"].values, "x": gbox.coords["x"].values})
    return layers, class_areas(out, area), years


def sdg_15_1_1(recipe: dict, catalog: str, aoi) -> tuple[xr.Dataset, np.ndarray, list[int]]:
    """Forest (recipe classes in patches >= mmu_ha) per year from the land-cover maps."""
    spec, params, (y0, y1) = recipe["inputs"]["landcover"], recipe["parameters"], recipe["periods"]["years"]
    gbox, inside, area = grid(aoi, recipe["grid"]["crs"], recipe["grid"]["resolution"])
    items = find_items(catalog, spec["collection"], aoi, (y0, y1), None)
    lc = odc.stac.load(items, bands=["map"], geobox=gbox, groupby="solar_day", resampling="nearest")["map"]
    years = [int(y) for y in lc.time.dt.year.values]
    landcover = np.where(inside, lc.values, 0).astype(np.uint8)
    structure = np.ones((3, 3), int) if params.get("connectivity", 8) == 8 else None
    min_area = params.get("mmu_ha", 0.5) * 1e4
    forest = np.empty_like(landcover)
    for i in range(len(years)):
        candidate = np.isin(landcover[i], params["forest_classes"])
        labels, n = ndimage.label(candidate, structure=structure)
        patch = np.bincount(labels.ravel(), weights=area.ravel(), minlength=n + 1)
        keep = patch >= min_area
        keep[0] = False
        forest[i] = np.where(landcover[i] == 0, OUTSIDE, keep[labels]).astype(np.uint8)
    layers = xr.Dataset({"forest": (("time", "y", "x"), forest), "landcover": (("time", "y", "x"), landcover)},
                        coords={"year": ("time", years), "y": gbox.coords["y"].values, "x": gbox.coords["x"].values})
    return layers, np.stack([class_areas(landcover, area), class_areas(forest, area)]), years


INDICATORS = {"6.6.1": sdg_6_6_1, "15.1.1": sdg_15_1_1}


def run(recipe_path: Path, catalog: str, out: Path, bbox: list[float] | None = None) -> dict:
    """Compute one recipe bare and write ``out``/product.zarr and areas.csv; returns timings."""
    start = time.perf_counter()
    recipe = yaml.safe_load(Path(recipe_path).read_text())
    aoi = box(*(bbox or recipe["aoi"]["bbox"]))
    layers, areas, years = INDICATORS[str(recipe["sdg"])](recipe, catalog, aoi)
    out.mkdir(parents=True, exist_ok=True)
    layers.to_zarr(out / "product.zarr", mode="w", zarr_format=3, consolidated=False)
    flat = areas.reshape(-1, len(years), 256)
    frames = [pd.DataFrame(f, index=years).rename_axis("year").add_prefix(f"{k}_class_") for k, f in enumerate(flat)]
    pd.concat(frames, axis=1).loc[:, lambda d: d.sum() > 0].to_csv(out / "areas.csv")
    np.save(out / "areas.npy", areas)
    return {"seconds": time.perf_counter() - start}


def compare(bare_zarr: Path, pipeline_zarr: Path) -> dict[str, dict]:
    """Per layer: pixels that differ between the bare and the pipeline product (0 = equal)."""
    bare = xr.open_zarr(bare_zarr, consolidated=False)
    piped = xr.open_zarr(pipeline_zarr, mask_and_scale=False)
    report = {}
    for name in bare.data_vars:
        a, b = bare[name].values, piped[name].values
        report[name] = {"shape_equal": a.shape == b.shape,
                        "pixels_differing": int((a != b).sum()) if a.shape == b.shape else None,
                        "pixels": int(a.size)}
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.bare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", type=Path)
    p.add_argument("--catalog", required=True, help="static STAC catalog directory or catalog.json")
    p.add_argument("--bbox", type=float, nargs=4, metavar=("WEST", "SOUTH", "EAST", "NORTH"))
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    print(json.dumps(run(args.recipe, args.catalog, args.out, args.bbox)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
