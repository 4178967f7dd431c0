"""Full-tile benchmark (issue 14 section 4): one Sentinel-2 tile, one year of scenes, through 6.6.1.

``python -m tests.benchmarks.tile --out outputs/bench-tile [--scale 0.25] [--dates 70] [--data /work/tilebench]``
(``make bench-tile``; not part of ``make test`` or ``make bench``).

Data: a synthetic one-tile year of Sentinel-2 L2A shaped items (Earth Search v1 asset keys and
``raster:bands``, processing baseline 05.09 with offset -0.1), built once and cached under
``--data`` by (scale, dates, seed, version). At ``--scale 1`` the tile is a real one's size:
109.8 km, 10980 x 10980 px at 10 m (green, B03) and 5490 x 5490 at 20 m (swir16, B11; SCL).
Only those three assets are written, as ZSTD COGs by the demo generator's ``write_cog``; the
items carry every asset key (the profile matches on them) and the other hrefs dangle. The
pixels come from the demo generator's own functions (``catalog.demo``: spectra, texture,
noise, DN encoding with the baseline offset, cloud/shadow/cirrus/saturation draws, SCL
classes, items, collection and catalog); what is new here is only the tile's layout and its
lakes (several blobby lakes with a seasonal ring, covering a few % of the tile, instead of
the demo's one ellipse) and a date list of ``--dates`` acquisitions spread over 2023.
``--scale`` is the area as a fraction of a full tile (0.25: half the side).

Measures, in one run, on the 20 m grid of the whole tile (block-aligned with the COGs):

(a) the decode rate of those files alone: rasterio windowed reads at the recipe's chunk of
    exactly what the pipeline reads (green from its 20 m overview, which odc-loader picks
    for an average to 20 m; swir16 and SCL at full resolution), on 1 and on 2 threads;
(b) the pipeline CLI end to end (default, i.e. with per-block checkpoints, and ``--no-resume``):
    wall, CPU, peak RSS, throughput in Mpx x dates / s of the grid, and its ratio to (a);
(c) a bare odc-stac ``load`` (eager, its thread pool on every core) + NumPy MNDWI water-frequency
    script (``python -m tests.benchmarks.tile bare``) on the same items and grid: wall and
    peak RSS, and whether its water classes equal the pipeline's pixel for pixel;
(d) ``--workers 1`` and ``--workers 2`` on AOIs of 1/16, 1/4 and the whole tile (1x, 4x, 16x;
    squares in the tile's north-west corner): wall, speed-up, each worker's and the client's
    peak RSS (VmHWM of every process of the run, sampled every 0.1 s from /proc).

Every case is a fresh process tree after the files were read once (warm page cache).
Writes ``tile.json`` and ``tile.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from catalog.demo.atmosphere import CLOUD_FRACTION, SCL_SATURATED, _draw_atmosphere
from catalog.demo.cogs import write_cog
from catalog.demo.layout import Layout, to_geo, upsample, utm_grid
from catalog.demo.scenes import OVERPASS, Scene
from catalog.demo.sentinel2 import (
    BANDS,
    SURFACE_SCL,
    _apply_atmosphere,
    _clear_reflectance,
    _encode,
    s2_collection,
    s2_item,
)
from catalog.demo.stac import write_catalog
from catalog.demo.world import BUILT, DARK_WATER, FOREST, OPEN, TEXTURE_SIGMA_PX, WATER, smooth_field

DATA_VERSION = 1  # bump when the written files change: a cached tile of another version is rebuilt
DEFAULT_DATA = Path("/work/tilebench")
DEFAULT_SEED = 2023
YEAR = 2023  # processing baseline 05.09: reflectance = DN * 0.0001 - 0.1
TILE = "21LXH"  # MGRS-like name in UTM 21S (the demo's CRS); not NODATA_TILE: no swath wedge
TILE_X0, TILE_Y1 = 600_000.0, 8_700_040.0  # north-west corner (multiples of 20 m)
FULL_SIDE_M = 109_800.0  # a Sentinel-2 tile: 10980 px at 10 m
ATM_FACTOR = 4  # clouds are drawn on an 80 m grid (demo's pixel scales, 4x larger clouds) and upsampled
FIELD_FACTOR = 10  # land cover and lakes: smooth fields on a 200 m grid, interpolated to 20 m
STRIP_ROWS = 256  # 20 m rows rendered at a time (float64 scratch stays ~0.2 GB at 10 m)
GREEN, SWIR16 = BANDS.index("green"), BANDS.index("swir16")
RECIPE = Path("recipes/6.6.1.yaml")
AOI_FRACTIONS = {1: 4, 4: 2, 16: 1}  # AOI multiple -> tile side / AOI side

TARGET_DECODE_RATIO = 0.7  # pipeline throughput / decode rate (2 threads)
TARGET_WALL_VS_BARE = 1.0  # pipeline wall / bare wall
TARGET_RSS_VS_BARE = 0.5  # pipeline peak RSS / bare peak RSS
TARGET_WORKER_RSS_GROWTH = 1.2  # a worker's peak RSS at 16x / at 1x
TARGET_CLIENT_RSS_GROWTH = 1.2  # "flat": the client's peak RSS at 16x / at 1x
TARGET_SPEEDUP = 1.7  # --workers 2 over --workers 1, wall
CONTENDED = 0.25  # other processes used this many cores on average during a case: it is run again (--tries)


# ================================================================= the tile
@dataclass(frozen=True)
class TileLayout(Layout):
    """The demo's Layout with one square tile ``side_m`` wide at the tile corner (s2_item reads
    ``tile_x``/``tile_y`` only); ``scale`` stays 1, the demo's meaning of it does not apply."""

    side_m: float = FULL_SIDE_M

    @property
    def tile_x(self) -> dict[str, tuple[float, float]]:
        return {TILE: (TILE_X0, TILE_X0 + self.side_m)}

    @property
    def tile_y(self) -> tuple[float, float]:
        return TILE_Y1 - self.side_m, TILE_Y1

    @property
    def union_x(self) -> tuple[float, float]:
        return self.tile_x[TILE]


def tile_side_m(scale: float) -> float:
    """Tile side for an area ``scale`` x a full tile, in whole 20 m pixels."""
    if not 0 < scale <= 1:
        raise ValueError(f"--scale is the area as a fraction of a full tile, within (0, 1]; got {scale}")
    return round(FULL_SIDE_M * math.sqrt(scale) / 20) * 20


def scenes(n_dates: int) -> list[Scene]:
    """``n_dates`` acquisitions spread evenly over YEAR (5-day revisit at 73), at the demo's overpass time."""
    if not 3 <= n_dates <= 365:
        raise ValueError(f"--dates must be within 3..365; got {n_dates}")
    start = date(YEAR, 1, 3)
    days = sorted({round(i * 365 / n_dates) for i in range(n_dates)})
    return [Scene(datetime.combine(start + timedelta(days=d), OVERPASS, UTC), heavy=False)
            for d in days if (start + timedelta(days=d)).year == YEAR]


def _coarse_field(rng: np.random.Generator, n20: int, sigma: float) -> np.ndarray:
    """A smooth standard field on the FIELD_FACTOR grid, bilinearly interpolated to n20 x n20."""
    from scipy import ndimage

    n = math.ceil(n20 / FIELD_FACTOR) + 1
    coarse = smooth_field(rng, (n, n), sigma)
    return ndimage.zoom(coarse, FIELD_FACTOR, order=1, grid_mode=False)[:n20, :n20].astype(np.float32)


def build_world(seed: int, n20: int, folder: Path) -> None:
    """Static 20 m fields of the tile as .npy (kind in the dry and the wet season, texture)."""
    rng = lambda *s: np.random.default_rng([seed, *s])  # noqa: E731 - the demo's Design.rng streams
    forest = _coarse_field(rng(101), n20, 3.0)
    built = _coarse_field(rng(102), n20, 1.5)
    lakes = _coarse_field(rng(103), n20, 4.0)
    kind = np.full((n20, n20), OPEN, np.uint8)
    kind[forest > 0.6] = FOREST
    kind[built > 2.0] = BUILT
    ring_at, permanent_at, dark_at = np.quantile(lakes[::7, ::7], [0.95, 0.97, 0.99])
    permanent = lakes > permanent_at
    dry = kind.copy()
    dry[permanent] = np.where(lakes[permanent] > dark_at, DARK_WATER, WATER)
    wet = dry.copy()
    wet[(lakes > ring_at) & ~permanent] = WATER
    del forest, built, lakes, kind, permanent
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "kind_dry.npy", dry)
    np.save(folder / "kind_wet.npy", wet)
    texture = np.clip(smooth_field(rng(3), (n20, n20), TEXTURE_SIGMA_PX / 2), -2.5, 2.5).astype(np.float32)
    np.save(folder / "texture20.npy", texture)


def atmosphere(seed: int, scene: Scene, n20: int) -> np.ndarray:
    """SCL code per 20 m pixel (0 clear) of one date: the demo's cloud draw on the ATM_FACTOR grid."""
    rng = np.random.default_rng([seed, 10, *scene.key])
    month = scene.when.month - (1 - scene.when.month % 2)  # the demo's odd months stand for their pairs
    n = math.ceil(n20 / ATM_FACTOR)
    atm = _draw_atmosphere(rng, (n, n), rng.uniform(*CLOUD_FRACTION[month]), cirrus=True)
    return upsample(atm, ATM_FACTOR)[:n20, :n20]


def render_date(seed: int, scene: Scene, world: Path, n20: int) -> dict[str, np.ndarray]:
    """green (10 m), swir16 and scl (20 m) of one date, rendered in strips by the demo's functions."""
    kind20 = np.load(world / ("kind_wet.npy" if scene.wet else "kind_dry.npy"), mmap_mode="r")
    texture20 = np.load(world / "texture20.npy", mmap_mode="r")
    atm = atmosphere(seed, scene, n20)
    out = {"green": np.empty((2 * n20, 2 * n20), np.uint16), "swir16": np.empty((n20, n20), np.uint16),
           "scl": np.empty((n20, n20), np.uint8)}
    for s, r0 in enumerate(range(0, n20, STRIP_ROWS)):
        r1 = min(n20, r0 + STRIP_ROWS)
        kind, texture, code = np.asarray(kind20[r0:r1]), np.asarray(texture20[r0:r1], np.float64), atm[r0:r1]
        for band, name, factor in ((GREEN, "green", 2), (SWIR16, "swir16", 1)):
            rng = np.random.default_rng([seed, 20, *scene.key, band, s])
            k, t, c = upsample(kind, factor), upsample(texture, factor), upsample(code, factor)
            rho = _apply_atmosphere(_clear_reflectance(rng, k, t, band), c, t)
            out[name][factor * r0:factor * r1] = _encode(rho, scene.offset, c == SCL_SATURATED)
        out["scl"][r0:r1] = np.where(code > 0, code, SURFACE_SCL[kind])
    return out


def _write_date(seed: int, scene: Scene, world: Path, side_m: float, root: Path, href_root: str) -> dict:
    """Render and write one date's three COGs; its STAC item as a dict."""
    import rasterio

    layout = TileLayout(side_m=side_m)
    n20 = int(side_m // 20)
    arrays = render_date(seed, scene, world, n20)
    item = s2_item(scene, TILE, arrays, href_root, layout)
    (x0, x1), y = layout.tile_x[TILE], layout.tile_y
    with rasterio.Env(GDAL_NUM_THREADS="1"):
        for key, data in arrays.items():
            write_cog(root / "sentinel-2-l2a" / item.id / f"{key}.tif", data,
                      utm_grid(x0, x1, 10 if key == "green" else 20, y), 0, categorical=key == "scl")
    return item.to_dict(include_self_link=False, transform_hrefs=False)


def tile_key(scale: float, dates: int, seed: int) -> str:
    return f"tile-s{scale:g}-d{dates}-seed{seed}-v{DATA_VERSION}"


def ensure_tile(data_root: Path, scale: float, dates: int, seed: int = DEFAULT_SEED, jobs: int = 2) -> Path:
    """The tile's static catalog directory, built once (atomically) per parameters."""
    import pystac

    final = (data_root / tile_key(scale, dates, seed)).resolve()
    if (final / "tile.json").is_file():
        return final
    side = tile_side_m(scale)
    n20 = int(side // 20)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    try:
        world = tmp / "_world"
        build_world(seed, n20, world)
        todo = scenes(dates)
        print(f"tile: writing {len(todo)} dates of {2 * n20}^2 (10 m) / {n20}^2 (20 m) px into {final}",
              file=sys.stderr, flush=True)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_write_date, seed, s, world, side, tmp, final.as_uri()) for s in todo]
            items = []
            for i, f in enumerate(futures):
                items.append(pystac.Item.from_dict(f.result()))
                print(f"  {i + 1}/{len(todo)} dates ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
                      flush=True)
        shutil.rmtree(world)
        write_catalog(tmp, [s2_collection(items)])
        size = sum(p.stat().st_size for p in tmp.rglob("*.tif"))
        meta = {"key": final.name, "scale": scale, "dates": len(items), "seed": seed, "version": DATA_VERSION,
                "tile": TILE, "crs": "EPSG:32721", "side_m": side, "px_10m": 2 * n20, "px_20m": n20,
                "x0": TILE_X0, "y1": TILE_Y1, "cog_bytes": size,
                "cloud_cover": [it.properties["eo:cloud_cover"] for it in items],
                "build_s": round(time.perf_counter() - started, 1)}
        (tmp / "tile.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ================================================================= AOIs and recipes
def aoi_geometry(px: int) -> dict:
    """A px x px square of 20 m pixels at the tile's north-west corner, as lon/lat GeoJSON (densified
    every 100 m, so the grid the pipeline builds from it is exactly that square of the tile's pixels)."""
    import shapely
    from shapely.geometry import box, mapping

    square = box(TILE_X0, TILE_Y1 - 20 * px, TILE_X0 + 20 * px, TILE_Y1)
    geo = shapely.transform(shapely.segmentize(square, 100.0),
                            lambda xy: np.column_stack(to_geo().transform(xy[:, 0], xy[:, 1])))
    return mapping(geo)


def write_recipe(px: int, multiple: int, folder: Path) -> Path:
    """recipes/6.6.1.yaml on the px-square AOI, grid CRS fixed to the tile's (UTM 21S, what ``auto``
    picks there; the bare script needs it spelt out) and periods.years the data's one year (no
    baseline/reporting change: one year of scenes). Everything else as shipped (20 m, chunk 1024)."""
    import yaml

    data = yaml.safe_load(RECIPE.read_text())
    data["title"] = f"Full-tile benchmark: {multiple}x AOI, {px} x {px} px at 20 m (synthetic tile {TILE})"
    data["aoi"] = {"name": f"tile {TILE} north-west {px} x {px} px", "geometry": aoi_geometry(px)}
    data["grid"]["crs"] = "EPSG:32721"
    data["periods"] = {"years": [YEAR, YEAR]}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"6.6.1-tile-x{multiple}.yaml"
    path.write_text(f"# {RECIPE} for tests/benchmarks/tile.py\n" + yaml.safe_dump(data, sort_keys=False))
    return path


# ================================================================= (a) decode
def warm_files(catalog: Path) -> dict:
    """Read every COG once (page cache), so no case pays for the disk and all see the same cache."""
    start, size = time.perf_counter(), 0
    for path in sorted(catalog.rglob("*.tif")):
        with open(path, "rb") as f:
            while chunk := f.read(1 << 24):
                size += len(chunk)
    return {"bytes": size, "seconds": time.perf_counter() - start}


def _windows(n: int, chunk: int) -> list:
    from rasterio.windows import Window

    return [Window(c, r, min(chunk, n - c), min(chunk, n - r)) for r in range(0, n, chunk) for c in range(0, n, chunk)]


def _read_as_pipeline(job) -> int:
    """One date x one chunk as the pipeline reads it: green from its 20 m overview, swir16, SCL."""
    import rasterio

    folder, window = job
    px = 0
    for name, level in (("green", 0), ("swir16", None), ("scl", None)):
        with rasterio.open(folder / f"{name}.tif", **({} if level is None else {"overview_level": level})) as src:
            px += src.read(1, window=window).size
    return px


def _read_green_full(job) -> int:
    import rasterio
    from rasterio.windows import Window

    folder, w = job
    with rasterio.open(folder / "green.tif") as src:
        return src.read(1, window=Window(2 * w.col_off, 2 * w.row_off, 2 * w.width, 2 * w.height)).size


def decode_rate(catalog: Path, n20: int, chunk: int, threads: int, reader=_read_as_pipeline) -> dict:
    """Pixels decoded per second with rasterio windowed reads of every date at the recipe's chunk."""
    folders = sorted(p for p in (catalog / "sentinel-2-l2a").iterdir() if p.is_dir())
    jobs = [(f, w) for f in folders for w in _windows(n20, chunk)]
    start, busy, cpu = time.perf_counter(), busy_cpu_s(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        decoded = sum(pool.map(reader, jobs))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    others = max(0.0, busy_cpu_s() - busy - cpu)
    grid = n20 * n20 * len(folders)
    return {"threads": threads, "seconds": seconds, "cpu_s": cpu, "others_cpu_s": others, "decoded_mpx": decoded / 1e6,
            "file_mpx_per_s": decoded / seconds / 1e6,
            "grid_mpx_dates": grid / 1e6, "grid_mpx_dates_per_s": grid / seconds / 1e6}


# ================================================================= (c) the bare script
SCL_INVALID = (0, 1, 3, 8, 9, 10, 11)  # the sentinel-2-l2a profile's mask (bare.py's list lacks snow, 11)


def bare(recipe_path: Path, catalog: Path, out: Path) -> dict:
    """What a competent user writes for one year on one tile: one eager ``odc.stac.load`` of every date
    (its thread pool on every core) onto the recipe's grid, then a NumPy loop over the dates counting
    clear and water observations (MNDWI > threshold, float64 reflectance from each item's scale/offset,
    clipped at 0), and the yearly JRC-style class. Grid, AOI mask and true pixel areas from
    ``tests.benchmarks.bare.grid``; water_class to Zarr, class areas to CSV. Never the pipeline's code."""
    import odc.stac
    import pandas as pd
    import xarray as xr
    import yaml
    from shapely.geometry import shape

    from tests.benchmarks.bare import (
        NO_OBSERVATION,
        NOT_WATER,
        OUTSIDE,
        PERMANENT,
        SEASONAL,
        class_areas,
        find_items,
        grid as bare_grid,
    )

    times = {}
    t = time.perf_counter()
    recipe = yaml.safe_load(Path(recipe_path).read_text())
    spec, params, (y0, y1) = recipe["inputs"]["optical"], recipe["parameters"], recipe["periods"]["years"]
    band_a, band_b = {"mndwi": ("green", "swir16"), "ndwi": ("green", "nir")}[params.get("index", "mndwi")]
    aoi = shape(recipe["aoi"]["geometry"])
    gbox, inside, area = bare_grid(aoi, recipe["grid"]["crs"], recipe["grid"]["resolution"])
    items = find_items(str(catalog), spec["collection"], aoi, (y0, y1), spec.get("max_cloud_cover"))
    times["grid_s"] = time.perf_counter() - t
    t = time.perf_counter()
    res = recipe["grid"]["resolution"]
    resampling = {b: "average" if res > 1.5 * items[0].assets[b].extra_fields["gsd"] else "nearest"
                  for b in (band_a, band_b)}
    ds = odc.stac.load(items, bands=[band_a, band_b, "scl"], geobox=gbox, groupby="solar_day",
                       resampling={**resampling, "scl": "nearest"}, pool=os.cpu_count())
    a_dn, b_dn, scl = ds[band_a].values, ds[band_b].values, ds["scl"].values
    times["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    day = {str(np.datetime64(it.datetime.replace(tzinfo=None), "D")): it for it in items}
    first = [day[str(v.astype("datetime64[D]"))] for v in ds.time.values]
    rb_a = [it.assets[band_a].extra_fields["raster:bands"][0] for it in first]
    rb_b = [it.assets[band_b].extra_fields["raster:bands"][0] for it in first]
    bad_class = np.zeros(256, bool)
    bad_class[list(SCL_INVALID)] = True
    years = list(range(y0, y1 + 1))
    year_of = ds.time.dt.year.values
    out_classes = np.full((len(years),) + gbox.shape, NO_OBSERVATION, np.uint8)
    threshold = np.float32(params.get("water_threshold", 0.0))
    for i, year in enumerate(years):
        n = np.zeros(gbox.shape, np.uint16)
        w = np.zeros(gbox.shape, np.uint16)
        for j in np.flatnonzero(year_of == year):
            a, b = a_dn[j], b_dn[j]
            ra = np.clip(a * rb_a[j]["scale"] + rb_a[j]["offset"], 0, None)
            rb = np.clip(b * rb_b[j]["scale"] + rb_b[j]["offset"], 0, None)
            with np.errstate(invalid="ignore", divide="ignore"):
                index = ((ra - rb) / (ra + rb)).astype(np.float32)
            valid = ~bad_class[scl[j]] & (a != 0) & (b != 0) & ~np.isnan(index)
            n += valid
            w += valid & (index > threshold)
        cls = np.where(w == 0, NOT_WATER,
                       np.where(w >= params.get("permanent_fraction", 1.0) * n - 1e-12, PERMANENT, SEASONAL))
        out_classes[i] = np.where(n < max(1, params.get("min_observations", 3)), NO_OBSERVATION, cls)
    out_classes[:, ~inside] = OUTSIDE
    areas = class_areas(out_classes, area)
    times["compute_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    layers = xr.Dataset({"water_class": (("time", "y", "x"), out_classes)},
                        coords={"year": ("time", years), "y": gbox.coords["y"].values, "x": gbox.coords["x"].values})
    layers.to_zarr(out / "product.zarr", mode="w", zarr_format=3, consolidated=False)
    pd.DataFrame(areas, index=years).rename_axis("year").add_prefix("class_").loc[:, lambda d: d.sum() > 0] \
        .to_csv(out / "areas.csv")
    times["write_s"] = time.perf_counter() - t
    return {"dates": int(ds.sizes["time"]), "grid": list(gbox.shape), **times}


# ================================================================= measuring a process tree
def _vm_hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat): with a case's own CPU time,
    how much the other processes on a shared machine took while it ran."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure_tree(cmd: list[str], log: Path | None = None) -> dict:
    """Wall and CPU time of ``python -m ...`` (``cmd`` = [python, "-m", module, args...]) in a fresh
    process, its own peak RSS (VmHWM, via ``tests.benchmarks.peak``) and every descendant's VmHWM
    (Dask workers: the spawned ``multiprocessing`` children), sampled every 0.1 s until they exit."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak.json"
        wrapped = [cmd[0], "-m", "tests.benchmarks.peak", str(report), *cmd[1:]]
        start, busy = time.perf_counter(), busy_cpu_s()
        proc = subprocess.Popen(wrapped, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        peaks: dict[int, dict] = {}
        done = threading.Event()

        def poll() -> None:
            try:
                root = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                try:
                    children = root.children(recursive=True)
                except psutil.Error:
                    return
                for child in children:
                    hwm = _vm_hwm(child.pid)
                    if hwm is None:
                        continue
                    if child.pid not in peaks:
                        try:
                            line = " ".join(child.cmdline())
                        except psutil.Error:
                            continue
                        peaks[child.pid] = {"kind": "worker" if "spawn_main" in line else "other", "hwm": 0}
                    peaks[child.pid]["hwm"] = max(peaks[child.pid]["hwm"], hwm)
                done.wait(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall, busy = time.perf_counter() - start, busy_cpu_s() - busy
        done.set()
        poller.join()
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_bytes(output)
        code = os.waitstatus_to_exitcode(status)
        if code or not report.is_file():
            raise RuntimeError(f"benchmark case failed (exit {code}): {' '.join(cmd)}\n"
                               f"{output.decode(errors='replace')[-3000:]}")
        client = json.loads(report.read_text())["peak_rss_mib"]
    workers = sorted((p["hwm"] / 2**20 for p in peaks.values() if p["kind"] == "worker"), reverse=True)
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "cpu_s": cpu, "others_cpu_s": max(0.0, busy - cpu), "client_peak_rss_mib": client,
            "worker_peak_rss_mib": [round(w, 1) for w in workers],
            "other_children_peak_rss_mib": [round(p["hwm"] / 2**20, 1) for p in peaks.values()
                                            if p["kind"] != "worker"],
            "stdout_tail": output.decode(errors="replace")[-600:]}


def _footprint(out: Path) -> dict:
    """footprint.csv of the one product under ``out`` (quantity -> value)."""
    import pandas as pd

    path = next(out.glob("6.6.1/*/footprint.csv"))
    frame = pd.read_csv(path)
    return {"product": str(path.parent), **{q: float(v) for q, v in zip(frame.quantity, frame.value, strict=True)}}


def pipeline_case(recipe: Path, catalog: Path, out: Path, *, workers: int | None = None,
                  resume: bool = True) -> dict:
    """One fresh ``python -m pipeline run`` into an empty ``out``; its measures and footprint.csv."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline", "run", str(recipe), "--catalog", str(catalog), "--out", str(out),
           "--no-progress", *(["--workers", str(workers)] if workers else []), *([] if resume else ["--no-resume"])]
    measured = measure_tree(cmd, log=out / "run.log")
    fp = _footprint(out)
    return {**measured, "footprint_wall_s": fp["wall_time"], "footprint_cpu_s": fp["cpu_time"],
            "bytes_read": fp["bytes_read"], "tasks": fp["tasks"], "product": fp["product"],
            "footprint_peak_memory_mib": fp["peak_memory"] / 2**20,
            "footprint_workers_peak_memory_mib": (fp["workers_peak_memory"] / 2**20
                                                  if fp["workers_peak_memory"] == fp["workers_peak_memory"] else None)}


# ================================================================= the run
def least_contended(measure, tries: int, say=None) -> dict:
    """``measure()`` until other processes took at most CONTENDED cores on average during it (a shared
    machine), at most ``tries`` times; the least contended result, with its ``contention`` and ``tries``."""
    best = None
    for attempt in range(1, tries + 1):
        result = measure()
        wall = result.get("wall_s", result.get("seconds"))
        result["contention"] = result["others_cpu_s"] / wall
        if best is None or result["contention"] < best["contention"]:
            best = result
        if result["contention"] <= CONTENDED:
            break
        if attempt < tries:
            if say:
                say(f"  contended ({result['contention']:.2f} cores used by others): again in 20 s")
            time.sleep(20)
    best["tries"] = attempt
    return best


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def run(out: Path, scale: float, dates: int, data: Path, seed: int, jobs: int, skip_bare: bool,
        tries: int = 3) -> dict:
    """Every measure of the module docstring, in one run; the figures as a dict (also tile.json)."""
    import yaml

    from tests.benchmarks.bare import compare

    catalog = ensure_tile(data, scale, dates, seed, jobs)
    meta = json.loads((catalog / "tile.json").read_text())
    n20, n_dates = meta["px_20m"], meta["dates"]
    chunk = int(yaml.safe_load(RECIPE.read_text())["grid"]["chunk"])
    out.mkdir(parents=True, exist_ok=True)
    sizes = {m: n20 // f for m, f in AOI_FRACTIONS.items()}
    recipes = {m: write_recipe(px, m, out / "recipes") for m, px in sizes.items()}
    result: dict = {"host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
                             "mem_total_gib": _meminfo("MemTotal") / 2**30},
                    "tile": meta, "catalog": str(catalog), "chunk": chunk,
                    "aoi_px": {str(m): px for m, px in sizes.items()}}
    say = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)  # noqa: E731
    say(f"tile {catalog.name}: {n_dates} dates, {n20}^2 px at 20 m, {meta['cog_bytes'] / 1e9:.2f} GB of COGs")
    result["warm"] = warm_files(catalog)
    say(f"warm: read {result['warm']['bytes'] / 1e9:.2f} GB in {result['warm']['seconds']:.1f} s")
    result["decode"] = [least_contended(lambda t=t: decode_rate(catalog, n20, chunk, t), tries, say) for t in (1, 2)]
    result["decode_green_10m"] = least_contended(
        lambda: decode_rate(catalog, n20, chunk, 2, reader=_read_green_full), tries, say)
    say("decode: " + ", ".join(f"{d['threads']} thread(s) {d['grid_mpx_dates_per_s']:.1f} grid Mpx.dates/s "
                               f"({d['file_mpx_per_s']:.0f} file Mpx/s)" for d in result["decode"]))
    runs = out / "runs"
    say("warm-up pipeline run (1x, untimed)")
    pipeline_case(recipes[1], catalog, runs / "warm-up")
    grid_px_dates = {m: px * px * n_dates / 1e6 for m, px in sizes.items()}
    cases = {}
    for name, kwargs in (("threads", {}), ("threads --no-resume", {"resume": False})):
        say(f"pipeline 16x, {name}")
        cases[name] = least_contended(
            lambda kw=kwargs, n=name: pipeline_case(recipes[16], catalog, runs / n.replace(" ", ""), **kw), tries, say)
        cases[name]["mpx_dates_per_s"] = grid_px_dates[16] / cases[name]["wall_s"]
        say(f"  {cases[name]['wall_s']:.1f} s, peak {cases[name]['client_peak_rss_mib']:.0f} MiB, "
            f"contention {cases[name]['contention']:.2f}")
    result["pipeline"] = cases
    decode2 = result["decode"][1]["grid_mpx_dates_per_s"]
    result["decode_ratio"] = {k: v["mpx_dates_per_s"] / decode2 for k, v in cases.items()}
    result["checkpoint_overhead"] = cases["threads"]["wall_s"] / cases["threads --no-resume"]["wall_s"] - 1
    need = n20 * n20 * n_dates * 5
    available = _meminfo("MemAvailable")
    if skip_bare or need > 0.7 * available:
        result["bare"] = {"skipped": "--skip-bare" if skip_bare else
                          f"its eager cube needs {need / 2**30:.1f} GiB, {available / 2**30:.1f} GiB available"}
    else:
        say("bare odc-stac + NumPy, 16x")
        target = runs / "bare"

        def bare_case() -> dict:
            shutil.rmtree(target, ignore_errors=True)
            return measure_tree([sys.executable, "-m", "tests.benchmarks.tile", "bare", str(recipes[16]),
                                 "--catalog", str(catalog), "--out", str(target)], log=target / "run.log")

        measured = least_contended(bare_case, tries, say)
        split = json.loads(measured["stdout_tail"].strip().splitlines()[-1])
        diff = compare(target / "product.zarr", Path(cases["threads"]["product"]) / "product.zarr")
        result["bare"] = {**measured, **split, "mpx_dates_per_s": grid_px_dates[16] / measured["wall_s"],
                          "layers_equal": all(d["pixels_differing"] == 0 for d in diff.values()),
                          "differing_pixels": {k: d["pixels_differing"] for k, d in diff.items()}}
        say(f"  {measured['wall_s']:.1f} s, peak {measured['client_peak_rss_mib']:.0f} MiB, "
            f"layers equal: {result['bare']['layers_equal']}")
    scaling = []
    for workers in (1, 2):
        for m in sizes:
            say(f"pipeline {m}x, --workers {workers}")
            row = least_contended(lambda w=workers, m=m: pipeline_case(recipes[m], catalog, runs / f"w{w}-x{m}",
                                                                       workers=w), tries, say)
            row.update({"workers": workers, "aoi": m, "px": sizes[m],
                        "mpx_dates_per_s": grid_px_dates[m] / row["wall_s"]})
            say(f"  {row['wall_s']:.1f} s, client {row['client_peak_rss_mib']:.0f} MiB, "
                f"workers {row['worker_peak_rss_mib']} MiB, contention {row['contention']:.2f}")
            scaling.append(row)
    result["workers"] = scaling
    result["targets"] = targets(result)
    return result


def _meminfo(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def targets(r: dict) -> list[dict]:
    """Each target of the issue: the figure, the target and whether it is met."""
    rows = []

    def add(name, value, op, target, note=""):
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        rows.append({"target": name, "value": value, "goal": f"{op} {target:g}", "met": met, "note": note})

    for case, ratio in r["decode_ratio"].items():
        add(f"pipeline ({case}) throughput / decode rate (2 threads)", ratio, ">=", TARGET_DECODE_RATIO)
    bare = r["bare"]
    if "wall_s" in bare:
        for case, p in r["pipeline"].items():
            add(f"pipeline ({case}) wall / bare wall", _ratio(p["wall_s"], bare["wall_s"]), "<=", TARGET_WALL_VS_BARE)
            add(f"pipeline ({case}) peak RSS / bare peak RSS",
                _ratio(p["client_peak_rss_mib"], bare["client_peak_rss_mib"]), "<=", TARGET_RSS_VS_BARE)
    by = {(w["workers"], w["aoi"]): w for w in r["workers"]}
    for workers in (1, 2):
        lo, hi = by[workers, 1], by[workers, 16]
        add(f"--workers {workers}: a worker's peak RSS 16x / 1x",
            _ratio(max(hi["worker_peak_rss_mib"], default=None), max(lo["worker_peak_rss_mib"], default=None)),
            "<=", TARGET_WORKER_RSS_GROWTH, "largest worker at each size")
        add(f"--workers {workers}: client peak RSS 16x / 1x",
            _ratio(hi["client_peak_rss_mib"], lo["client_peak_rss_mib"]), "<=", TARGET_CLIENT_RSS_GROWTH,
            "'flat'; the client holds the scheduler too")
    for m in (1, 4, 16):
        add(f"speed-up --workers 2 over --workers 1, {m}x", _ratio(by[1, m]["wall_s"], by[2, m]["wall_s"]), ">=",
            TARGET_SPEEDUP)
    return rows


def _f(v, digits=3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list):
        return " / ".join(_f(x) for x in v)
    return str(v)


def markdown(r: dict) -> str:
    t = r["tile"]
    lines = [f"# Full tile (issue 14): {t['px_10m']}^2 px at 10 m / {t['px_20m']}^2 at 20 m, {t['dates']} dates",
             "", f"Synthetic tile `{t['key']}` ({t['cog_bytes'] / 1e9:.2f} GB of ZSTD COGs: green 10 m, swir16 and "
             f"SCL 20 m), recipe 6.6.1 at 20 m, chunk {r['chunk']}, AOIs {r['aoi_px']} px squares. "
             f"Host: {r['host']['cpus']} CPUs, {r['host']['mem_total_gib']:.0f} GiB.", "",
             "## Targets", "", "| target | value | goal | met | note |", "|---|---|---|---|---|"]
    lines += [f"| {x['target']} | {_f(x['value'])} | {x['goal']} | {_f(x['met'])} | {x['note']} |"
              for x in r["targets"]]
    lines += ["", "## Decode (rasterio windowed reads at the chunk, what the pipeline reads)", "",
              "| reads | threads | s | file Mpx/s | grid Mpx.dates/s | others' cores |", "|---|---|---|---|---|---|"]
    for d in r["decode"]:
        lines.append(f"| green 20 m overview + swir16 + SCL | {d['threads']} | {_f(d['seconds'])} | "
                     f"{_f(d['file_mpx_per_s'])} | {_f(d['grid_mpx_dates_per_s'])} | {_f(d['contention'], 2)} |")
    g = r["decode_green_10m"]
    lines.append(f"| green 10 m full resolution (not read by the pipeline) | {g['threads']} | {_f(g['seconds'])} | "
                 f"{_f(g['file_mpx_per_s'])} | - | {_f(g['contention'], 2)} |")
    lines += ["", "## End to end, whole tile (16x)", "",
              "| case | wall s | CPU s | peak RSS MiB | Mpx.dates/s | others' cores | notes |",
              "|---|---|---|---|---|---|---|"]
    for name, p in r["pipeline"].items():
        lines.append(f"| pipeline, {name} | {_f(p['wall_s'])} | {_f(p['cpu_s'])} | {_f(p['client_peak_rss_mib'])} | "
                     f"{_f(p['mpx_dates_per_s'])} | {_f(p['contention'], 2)} | {p['tasks']:.0f} tasks, "
                     f"{p['bytes_read'] / 1e9:.2f} GB read |")
    b = r["bare"]
    if "wall_s" in b:
        lines.append(f"| bare odc-stac + NumPy | {_f(b['wall_s'])} | {_f(b['cpu_s'])} | {_f(b['client_peak_rss_mib'])} "
                     f"| {_f(b['mpx_dates_per_s'])} | {_f(b['contention'], 2)} | grid+area {b['grid_s']:.1f} s, "
                     f"load {b['load_s']:.1f} s, "
                     f"compute {b['compute_s']:.1f} s, write {b['write_s']:.1f} s; layers equal: "
                     f"{_f(b['layers_equal'])} |")
    else:
        lines.append(f"| bare odc-stac + NumPy | skipped: {b['skipped']} | | | | | |")
    lines.append(f"\nCheckpoint overhead (default vs `--no-resume`): {100 * r['checkpoint_overhead']:+.1f} % wall.")
    lines += ["", "## Dask cluster: AOI 1x / 4x / 16x", "",
              "| workers | AOI | px | wall s | Mpx.dates/s | client peak MiB | worker peaks MiB "
              "| others' cores |",
              "|---|---|---|---|---|---|---|---|"]
    for w in r["workers"]:
        lines.append(f"| {w['workers']} | {w['aoi']}x | {w['px']}^2 | {_f(w['wall_s'])} | {_f(w['mpx_dates_per_s'])} | "
                     f"{_f(w['client_peak_rss_mib'])} | {_f(w['worker_peak_rss_mib'])} | {_f(w['contention'], 2)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bare"]:
        p = argparse.ArgumentParser(prog="python -m tests.benchmarks.tile bare")
        p.add_argument("recipe", type=Path)
        p.add_argument("--catalog", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        a = p.parse_args(argv[1:])
        print(json.dumps(bare(a.recipe, a.catalog, a.out)))
        return 0
    p = argparse.ArgumentParser(prog="python -m tests.benchmarks.tile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("outputs/bench-tile"))
    p.add_argument("--scale", type=float, default=1.0, help="tile area as a fraction of a Sentinel-2 tile (default 1)")
    p.add_argument("--dates", type=int, default=70, help="acquisitions in the year (default 70)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"cache of generated tiles (default {DEFAULT_DATA})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--jobs", type=int, default=2, help="processes writing the tile (default 2)")
    p.add_argument("--skip-bare", action="store_true", help="no bare odc-stac + NumPy case")
    p.add_argument("--tries", type=int, default=3,
                   help=f"runs of a case at most while other processes take > {CONTENDED} cores (default 3)")
    p.add_argument("--generate-only", action="store_true", help="build (or find) the tile and stop")
    a = p.parse_args(argv)
    if a.generate_only:
        print(ensure_tile(a.data, a.scale, a.dates, a.seed, a.jobs))
        return 0
    result = run(a.out, a.scale, a.dates, a.data, a.seed, a.jobs, a.skip_bare, a.tries)
    (a.out / "tile.json").write_text(json.dumps(result, indent=2))
    (a.out / "tile.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
