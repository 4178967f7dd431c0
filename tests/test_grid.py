"""True per-pixel areas: checked against geodesic polygon areas and closed-form truths."""

import math

import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine
from odc.geo.geobox import GeoBox
from shapely.geometry import box
from shapely.geometry.polygon import orient

from pipeline.grid import aoi_in_crs, area_of, inside_mask, make_geobox, smallest_pixel_area

GEOD = pyproj.Geod(ellps="WGS84")


def blockwise(func, geobox, chunk):
    """``func`` of every block of the grid, put back together (as the dispatch products use it)."""
    starts = [list(range(0, n, chunk)) + [n] for n in geobox.shape]
    return np.block([[func(geobox[y0:y1, x0:x1]) for x0, x1 in zip(starts[1][:-1], starts[1][1:])]
                     for y0, y1 in zip(starts[0][:-1], starts[0][1:])])


def geodesic_area_of_grid(geobox, densify=200):
    """Area of the grid's outline, transformed to lon/lat with densified edges."""
    outline = geobox.extent.to_crs("EPSG:4326", resolution=math.inf).geom  # exact corner transform
    x0, y0, x1, y1 = geobox.boundingbox
    t = pyproj.Transformer.from_crs(geobox.crs.to_wkt(), "EPSG:4326", always_xy=True)
    s = np.linspace(0, 1, densify)
    xs = np.r_[x0 + (x1 - x0) * s, np.full(densify, x1), x1 - (x1 - x0) * s, np.full(densify, x0)]
    ys = np.r_[np.full(densify, y0), y0 + (y1 - y0) * s, np.full(densify, y1), y1 - (y1 - y0) * s]
    lon, lat = t.transform(xs, ys)
    assert outline is not None
    return abs(GEOD.polygon_area_perimeter(lon, lat)[0])


def geodesic_cell(west, south, east, north, densify=400):
    """Geodesic area of a lat/lon cell whose edges follow the parallels (densified)."""
    s = np.linspace(0, 1, densify)
    lons = np.r_[west + (east - west) * s, east + (west - east) * s]
    lats = np.r_[np.full(densify, south), np.full(densify, north)]
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


def test_utm_pixel_on_central_meridian_is_nominal_over_k0_squared():
    # UTM 21S central meridian is -57°; a 10 m pixel straddling it near the equator.
    gb = GeoBox((1, 1), Affine(10, 0, 499995, 0, -10, 9999995), "EPSG:32721")
    area = area_of(gb)
    assert area.shape == (1, 1)
    assert area[0, 0] == pytest.approx(100 / 0.9996**2, rel=1e-6)


@pytest.mark.parametrize("crs, bbox, res", [
    ("EPSG:32721", (-56.08, -12.55, -56.02, -12.51), 20),
    ("EPSG:32721", (-59.9, -12.9, -59.5, -12.5), 250),   # 3° off the central meridian: k > 1
    ("EPSG:4326", (-56.08, -12.55, -56.02, -12.51), 1 / 12000),
    ("EPSG:4326", (10.0, 59.0, 10.5, 61.0), 1 / 200),
])
def test_sum_of_pixel_areas_equals_geodesic_area_of_the_grid(crs, bbox, res):
    gb = make_geobox(box(*bbox), crs, res)
    area = area_of(gb)
    assert area.sum() == pytest.approx(geodesic_area_of_grid(gb), rel=2e-6)
    assert smallest_pixel_area(gb) <= area.min()


@pytest.mark.parametrize("top", [0.5, 45.0, 62.0, -80.0])
def test_geographic_cells_bounded_by_parallels(top):
    gb = GeoBox((3, 2), Affine(0.5, 0, 10.0, 0, -0.5, top), "EPSG:4326")
    area = area_of(gb)
    for row in range(gb.shape[0]):
        north = top - 0.5 * row
        np.testing.assert_allclose(area[row], geodesic_cell(10.0, north - 0.5, 10.5, north), rtol=1e-6)


def test_area_does_not_depend_on_chunking():
    gb = make_geobox(box(-56.3, -12.6, -56.0, -12.4), "EPSG:32721", 30)
    a = area_of(gb)
    b = blockwise(area_of, gb, 37)
    assert a.shape == b.shape == gb.shape
    # the areal-scale lattice is per block; its interpolation error is < 1e-8 relative
    np.testing.assert_allclose(a, b, rtol=1e-8)


def every_centre_inside(geobox, geom):
    x, y = np.meshgrid(geobox.coordinates["x"].values, geobox.coordinates["y"].values)
    return shapely.contains_xy(geom, x, y)


@pytest.mark.parametrize("aoi", [
    box(-56.08, -12.55, -56.02, -12.51),
    box(-56.08, -12.55, -56.02, -12.51).difference(box(-56.06, -12.54, -56.04, -12.52)),  # with a hole
    shapely.Point(-56.05, -12.53).buffer(0.025).union(box(-56.1, -12.6, -56.07, -12.57)),  # two parts
], ids=["box", "hole", "two-parts"])
def test_inside_mask_takes_pixel_centres(aoi):
    gb = make_geobox(aoi, "EPSG:32721", 20)
    geom = aoi_in_crs(aoi, gb)
    mask = inside_mask(gb, geom)
    assert mask.shape == gb.shape and mask.any() and not mask.all()
    assert mask.size > 64 * 64  # the quadtree really splits
    np.testing.assert_array_equal(mask, every_centre_inside(gb, geom))
    np.testing.assert_array_equal(blockwise(lambda b: inside_mask(b, geom), gb, 45), mask)
    # counter-clockwise shells, clockwise holes: every part's geodesic area counts positive
    truth = sum(GEOD.geometry_area_perimeter(orient(part))[0] for part in getattr(aoi, "geoms", [aoi]))
    assert area_of(gb)[mask].sum() == pytest.approx(truth, rel=2e-3)
