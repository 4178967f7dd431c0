"""Zone membership on the demo: pixel-centre rasterisation (ours) vs exactextract's fractional coverage.

Both weight each pixel by its true area (``pipeline.grid.area_of``) inside the AOI; the
pixel-centre rule gives each pixel to one zone, exactextract shares it by the fraction
of the pixel each polygon covers. The figures decide ``pipeline.zones``'s rule.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from catalog.demo import ensure_demo_catalog, load_truth
from pipeline.grid import aoi_in_crs, area_of, inside_mask, make_geobox
from pipeline.recipe import load_recipe
from pipeline.zones import read_zones

ROOT = Path(__file__).parents[2]


def membership(sdg: str, repeat: int = 3) -> list[dict]:
    """Per zone: km² by pixel centre and by fractional coverage, their difference, and the time of each."""
    import geopandas as gpd
    import rasterio
    from exactextract import exact_extract

    catalog = ensure_demo_catalog().parent
    spec = load_truth()["zones"]
    recipe = load_recipe(ROOT / "recipes" / f"{sdg}.yaml")
    aoi = recipe.aoi.shape()
    gb = make_geobox(aoi, recipe.grid.crs, recipe.grid.resolution)
    zones = read_zones(catalog / spec["path"], id_field=spec["id_field"], name_field=spec["name_field"],
                       layer=spec.get("layer"), aoi=aoi, crs=recipe.grid.crs)
    area = np.where(inside_mask(gb, aoi_in_crs(aoi, gb)), area_of(gb), 0.0)

    def centre() -> dict[str, float]:
        labels = zones.labels(gb)
        sums = np.bincount(labels.ravel(), weights=area.ravel(), minlength=len(zones.ids) + 1)
        return {z: float(sums[i + 1]) for i, z in enumerate(zones.ids)}

    frame = gpd.GeoDataFrame({"zone": list(zones.ids)}, geometry=list(zones.geometries), crs=recipe.grid.crs)
    profile = {"driver": "GTiff", "height": gb.shape[0], "width": gb.shape[1], "count": 1, "dtype": "float64",
               "crs": recipe.grid.crs, "transform": gb.affine}

    with tempfile.TemporaryDirectory() as tmp:
        raster = Path(tmp) / "pixel_area.tif"
        with rasterio.open(raster, "w", **profile) as dst:
            dst.write(area, 1)

        def fractional() -> dict[str, float]:
            df = exact_extract(str(raster), frame, "sum", include_cols=["zone"], output="pandas")
            return dict(zip(df.zone, df["sum"].astype(float), strict=True))

        timings = _time({"centre": centre, "fractional": fractional}, repeat)

    (t_c, c), (t_f, f) = timings["centre"], timings["fractional"]
    rows = [{"case": f"{sdg} zone {z}", "pixel_centre_km2": c[z] / 1e6, "fractional_km2": f[z] / 1e6,
             "difference_pct": (c[z] - f[z]) / f[z] * 100} for z in zones.ids]
    rows.append({"case": f"{sdg} all zones ({gb.shape[0]}x{gb.shape[1]} px at {recipe.grid.resolution:g} m)",
                 "pixel_centre_s": t_c, "fractional_s": t_f,
                 "pixel_centre_km2": sum(c.values()) / 1e6, "fractional_km2": sum(f.values()) / 1e6,
                 "difference_pct": (sum(c.values()) - sum(f.values())) / sum(f.values()) * 100})
    return rows


def _time(cases: dict, repeat: int) -> dict[str, tuple[float, dict[str, float]]]:
    out = {}
    for name, fn in cases.items():
        fn()  # warm-up
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = fn()
            runs.append(time.perf_counter() - start)
        out[name] = (float(np.median(runs)), result)
    return out


NOTE = ("Per-zone area (km², true pixel areas inside the AOI) by pixel-centre membership (rasterio.features, "
        "what pipeline.zones uses) and by exactextract's fractional coverage (`sum` of the pixel-area raster), "
        "and the time of each on the demo grid (median of 3, after a warm-up).")
