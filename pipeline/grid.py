"""The recipe's grid: geobox, and the AOI mask and true per-pixel area of any block of it.

Areas are true areas on the ellipsoid: in a projected CRS the nominal cell area is
divided by the projection's areal scale factor (pyproj ``get_factors``; UTM is off by
up to ~0.1 % otherwise); in a geographic CRS each row's cell is a geodesic polygon.
Pixel count x nominal size in degrees is never used.
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry.base import BaseGeometry

# The areal scale factor varies over hundreds of km; sampling it every 32 pixels and
# interpolating bilinearly changes areas by < 1e-8 relative (h²/8 x 2/R²) and is ~1000x cheaper.
_AREA_LATTICE = 32


def make_geobox(aoi: BaseGeometry, crs: str, resolution: float, margin_m: float = 0.0) -> GeoBox:
    """Pixel-aligned grid (edges on multiples of the resolution) covering the AOI, and ``margin_m`` metres
    more on every side (for rules that look that far around a pixel: the terrain within 7 km)."""
    geom = Geometry(aoi, crs="EPSG:4326").to_crs(crs)
    if margin_m > 0:
        d = _in_crs_units(margin_m, geom)
        west, south, east, north = geom.boundingbox
        geom = Geometry(shapely.box(west - d, south - d, east + d, north + d), crs=crs)
    return GeoBox.from_geopolygon(geom, resolution=resolution, crs=crs)


def _in_crs_units(metres: float, geom: Geometry) -> float:
    """``metres`` as a length in the CRS's units, never shorter: on a geographic grid, degrees of longitude
    at the AOI's latitude farthest from the equator (a degree of latitude is always longer)."""
    crs = geom.crs
    if crs is None or not crs.geographic:
        return metres
    b = geom.boundingbox
    lat = min(max(abs(b.bottom), abs(b.top)), 89.0)
    return metres / (111_320.0 * float(np.cos(np.radians(lat)))) * 1.01


def _crs(box: GeoBox) -> CRS:
    """The grid's CRS; every grid made by ``make_geobox`` has one."""
    if box.crs is None:
        raise ValueError("the grid has no CRS: areas and AOI masks need one")
    return box.crs


def aoi_in_crs(aoi: BaseGeometry, geobox: GeoBox) -> BaseGeometry:
    """The lon/lat AOI in the grid's CRS, prepared for many point-in-polygon tests."""
    geom = Geometry(aoi, crs="EPSG:4326").to_crs(_crs(geobox)).geom
    shapely.prepare(geom)
    return geom


# Blocks up to this many pixels are tested point by point; larger ones are split first.
_MASK_LEAF = 64 * 64


def inside_mask(box: GeoBox, geom: BaseGeometry) -> np.ndarray:
    """True where the pixel centre of ``box`` lies inside ``geom`` (in the box's CRS).

    Exactly ``shapely.contains_xy`` on every centre, but cheap enough to recompute per
    use (no block has to be kept for later): a part whose centres' bounding box lies
    strictly inside (``contains_properly``) or wholly outside the AOI is filled at once,
    and only parts crossing the boundary are split (quadtree) down to per-point tests.
    """
    ny, nx = box.shape
    out = np.empty((ny, nx), dtype=bool)
    _fill_inside(box, geom, out, 0, ny, 0, nx)
    return out


def _fill_inside(box: GeoBox, geom, out: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> None:
    if y1 <= y0 or x1 <= x0:
        return
    x, y = _centres(box, np.array([y0, y1 - 1], float), np.array([x0, x1 - 1], float))
    hull = shapely.box(x.min(), y.min(), x.max(), y.max())
    if geom.contains_properly(hull):
        out[y0:y1, x0:x1] = True
    elif geom.disjoint(hull):
        out[y0:y1, x0:x1] = False
    elif (y1 - y0) * (x1 - x0) <= _MASK_LEAF:
        xs, ys = _centres(box, np.arange(y0, y1, dtype=float), np.arange(x0, x1, dtype=float))
        out[y0:y1, x0:x1] = shapely.contains_xy(geom, xs, ys)
    else:
        ym, xm = (y0 + y1) // 2, (x0 + x1) // 2
        for a, b in ((y0, ym), (ym, y1)):
            for c, d in ((x0, xm), (xm, x1)):
                _fill_inside(box, geom, out, a, b, c, d)


def area_of(box: GeoBox) -> np.ndarray:
    """True area (m²) of every pixel of ``box`` (cheap: a few ms per 1024² block)."""
    return _geographic_area(box) if _crs(box).geographic else _projected_area(box)


def _centres(box: GeoBox, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = box.affine
    xx, yy = np.meshgrid(cols + 0.5, rows + 0.5)
    return a.c + a.a * xx + a.b * yy, a.f + a.d * xx + a.e * yy


def _projected_area(box: GeoBox) -> np.ndarray:
    ny, nx = box.shape
    # Lattice rows/cols reach one past the block so every axis has >= 2 points.
    rows = np.unique(np.r_[np.arange(0, ny, _AREA_LATTICE), ny]).astype(float)
    cols = np.unique(np.r_[np.arange(0, nx, _AREA_LATTICE), nx]).astype(float)
    x, y = _centres(box, rows, cols)
    wkt = _crs(box).to_wkt()
    to_lonlat = pyproj.Transformer.from_crs(wkt, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(x, y)
    scale = np.asarray(pyproj.Proj(wkt).get_factors(lon, lat).areal_scale)
    nominal = abs(box.affine.a * box.affine.e - box.affine.b * box.affine.d)
    # Bilinear on the lattice, done separably (columns, then rows): the same weights as
    # scipy's RegularGridInterpolator, ~20x faster, so blocks can be recomputed per use.
    values = nominal / scale
    c0, tc = _bracket(cols, nx)
    across = values[:, c0] * (1 - tc) + values[:, c0 + 1] * tc  # (lattice rows, nx)
    r0, tr = _bracket(rows, ny)
    return across[r0] * (1 - tr)[:, None] + across[r0 + 1] * tr[:, None]


def _bracket(lattice: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For pixels 0..n-1: index of the lattice point at or below, and the fraction beyond it."""
    pos = np.arange(n, dtype=float)
    i = np.clip(np.searchsorted(lattice, pos, side="right") - 1, 0, len(lattice) - 2)
    return i, (pos - lattice[i]) / (lattice[i + 1] - lattice[i])


def _geographic_area(box: GeoBox) -> np.ndarray:
    """Cells bounded by meridians and parallels, exact on the CRS ellipsoid (closed form
    of the authalic integral; cells of a row are identical)."""
    ny, nx = box.shape
    a = box.affine
    if a.b or a.d:
        raise ValueError("rotated geographic grids are not supported")
    ellipsoid = pyproj.CRS(_crs(box).to_wkt()).ellipsoid
    if ellipsoid is None:
        raise ValueError(f"the grid's CRS {_crs(box)} has no ellipsoid: cell areas cannot be computed")
    major, e2 = ellipsoid.semi_major_metre, 1 - (ellipsoid.semi_minor_metre / ellipsoid.semi_major_metre) ** 2
    edges = np.radians(a.f + a.e * np.arange(ny + 1))
    q = _authalic_q(np.sin(edges), e2)
    rows = np.abs(np.radians(a.a) * major**2 * (1 - e2) / 2 * np.diff(q))
    return np.broadcast_to(rows[:, None], (ny, nx)).copy()


def _authalic_q(sin_phi: np.ndarray, e2: float) -> np.ndarray:
    if e2 == 0:  # a sphere
        return 2 * sin_phi
    e = np.sqrt(e2)
    return sin_phi / (1 - e2 * sin_phi**2) + np.log((1 + e * sin_phi) / (1 - e * sin_phi)) / (2 * e)


def row_metres(box: GeoBox) -> tuple[float, np.ndarray]:
    """(north-south, east-west per row) ground length in metres of one pixel: the grid's units on a projected
    grid (their scale error, < 0.1 % on UTM, is left in); on a geographic one the ellipsoid's meridian radius
    at the grid's centre latitude, and each row's parallel radius N cos(lat), times the pixel's angle."""
    ny = box.shape[0]
    a = box.affine
    if not _crs(box).geographic:
        return abs(a.e), np.full(ny, abs(a.a))
    ellipsoid = pyproj.CRS(_crs(box).to_wkt()).ellipsoid
    if ellipsoid is None:
        raise ValueError(f"the grid's CRS {_crs(box)} has no ellipsoid: ground distances cannot be computed")
    major, e2 = ellipsoid.semi_major_metre, 1 - (ellipsoid.semi_minor_metre / ellipsoid.semi_major_metre) ** 2
    lat = np.radians(a.f + a.e * (np.arange(ny) + 0.5))
    sin2 = np.sin(lat) ** 2
    parallel = major / np.sqrt(1 - e2 * sin2) * np.cos(lat) * np.radians(abs(a.a))
    mid = np.radians(a.f + a.e * ny / 2)
    meridian = major * (1 - e2) / (1 - e2 * np.sin(mid) ** 2) ** 1.5 * np.radians(abs(a.e))
    return float(meridian), parallel


def smallest_pixel_area(geobox: GeoBox) -> float:
    """A lower bound of the pixel area (m²) without computing the whole grid.

    Distortion of the usual projections grows towards the grid's edges, and geographic
    cells shrink towards the pole, so corners and edge midpoints bound it; 0.1 % slack
    covers the rest (an over-wide MMU halo is harmless, a narrow one is not).
    """
    ny, nx = geobox.shape
    func = _geographic_area if _crs(geobox).geographic else _projected_area
    samples = [func(geobox[y:y + 1, x:x + 1])[0, 0]
               for y in {0, ny // 2, ny - 1} for x in {0, nx // 2, nx - 1}]
    return min(samples) * 0.999


AUTO = "auto"
UTM_SLACK_DEG = 3.0  # an AOI may reach this far beyond its centre's UTM zone and still use it
MAX_SCALE_ERROR = 0.01  # a fixed projected CRS whose scale is off by more than 1 % over the AOI is refused


def choose_crs(aoi: BaseGeometry) -> tuple[str, str]:
    """(CRS, why) for ``grid.crs: auto``: the UTM zone of the AOI's centre when the AOI lies within it (give or
    take ``UTM_SLACK_DEG``), otherwise a Lambert azimuthal equal-area projection centred on the AOI."""
    west, south, east, north = aoi.bounds
    raw, lat = aoi.centroid.x, aoi.centroid.y
    lon = (raw + 180) % 360 - 180  # an AOI across the antimeridian has longitudes beyond 180
    zone = min(int((lon + 180) // 6) + 1, 60)
    zone_west = -180 + 6 * (zone - 1) + (raw - lon)  # in the AOI's own longitudes
    inside = (west >= zone_west - UTM_SLACK_DEG and east <= zone_west + 6 + UTM_SLACK_DEG and south >= -80
              and north <= 84)
    if inside and (south >= 0 or north <= 0 or abs(lat) < 10):
        hemisphere = "N" if lat >= 0 else "S"
        code = f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
        return code, f"UTM zone {zone}{hemisphere}: the zone of the AOI's centre, which holds the AOI"
    laea = pyproj.CRS.from_proj4(f"+proj=laea +lat_0={lat:.4f} +lon_0={lon:.4f} +datum=WGS84 +units=m +no_defs")
    return laea.to_wkt(), (f"Lambert azimuthal equal-area centred on the AOI ({lat:.2f}, {lon:.2f}): it spans more "
                           "than one UTM zone")


def crs_misfit(aoi: BaseGeometry, crs: str) -> str | None:
    """Why a fixed CRS does not suit the AOI (outside its area of use, or its scale off by more than
    ``MAX_SCALE_ERROR`` somewhere over the AOI), or None. Geographic CRSs suit anywhere (areas are geodesic)."""
    target = pyproj.CRS.from_user_input(crs)
    if target.is_geographic:
        return None
    west, south, east, north = aoi.bounds
    use = target.area_of_use
    slack = UTM_SLACK_DEG
    if use is not None and not (use.west - slack <= west and east <= use.east + slack and use.south - slack <= south
                                and north <= use.north + slack) and not (use.west > use.east) and east <= 180:
        return (f"the AOI {[round(v, 3) for v in aoi.bounds]} lies outside {crs}'s area of use "
                f"({use.name}: {use.west:g}..{use.east:g} E, {use.south:g}..{use.north:g} N)")
    xs = np.linspace(west, east, 7)
    ys = np.linspace(south, north, 7)
    lon, lat = np.meshgrid(xs, ys)
    factors = pyproj.Proj(target).get_factors(lon.ravel(), lat.ravel())
    scale = np.concatenate([np.asarray(factors.meridional_scale), np.asarray(factors.parallel_scale)])
    error = float(np.nanmax(np.abs(scale - 1))) if np.isfinite(scale).any() else float("inf")
    if error > MAX_SCALE_ERROR:
        return f"{crs} distorts distances by up to {error:.1%} over the AOI (more than {MAX_SCALE_ERROR:.0%})"
    return None
