"""SDG 15.4.2 terrain kernels (kernels/terrain.py) against brute-force NumPy references.

The disc is tested offset by offset against its membership rule, the focal range against
a scan of every offset of the disc (the rule again, not the kernel's half-width table),
and Horn's slope against an np.pad / slicing implementation.
"""

import math

import numpy as np
import pytest

from kernels.terrain import _LANES as LANES, disc_half_widths, focal_range, slope_degrees

# ------------------------------------------------------------------ references


def inside(dy, dx, radius_m, dy_m, dx_m):
    """(dy * dy_m) ** 2 + (dx * dx_m) ** 2 <= radius_m ** 2 in float64 arrays (squares as x * x)."""
    dy, dx = np.asarray(dy, np.float64), np.asarray(dx, np.float64)
    return (dy * dy_m) ** 2 + (dx * np.asarray(dx_m, np.float64)) ** 2 <= np.asarray(radius_m, np.float64) ** 2


def brute_disc(radius_m, dy_m, dx_m_row):
    """Every offset (dy, dx) of the disc of a row with east-west size dx_m_row, as two int arrays."""
    r_box = int(radius_m / dy_m) + 2
    c_box = int(radius_m / dx_m_row) + 2
    dy, dx = np.meshgrid(np.arange(-r_box, r_box + 1), np.arange(-c_box, c_box + 1), indexing="ij")
    keep = inside(dy, dx, radius_m, dy_m, dx_m_row)
    assert not (keep[0].any() or keep[-1].any() or keep[:, 0].any() or keep[:, -1].any()), "box too small"
    return dy[keep], dx[keep]


def reference_range(dem, row0, col0, shape, offsets_of_row):
    """out[a, b] = max - min of the non-NaN dem values at (row0 + a + dy, col0 + b + dx), every offset of row a."""
    n_rows, n_cols = dem.shape
    h, w = shape
    hi = np.full(shape, -np.inf, np.float32)
    lo = np.full(shape, np.inf, np.float32)
    cols = col0 + np.arange(w)
    for a in range(h):
        for dy, dx in zip(*offsets_of_row(a), strict=True):
            s = row0 + a + dy
            c = cols + dx
            ok = (c >= 0) & (c < n_cols)
            if not (0 <= s < n_rows and ok.any()):
                continue
            v = dem[s, c[ok]]
            hi[a, ok] = np.fmax(hi[a, ok], v)  # fmax/fmin: NaN loses
            lo[a, ok] = np.fmin(lo[a, ok], v)
    valid = hi >= lo
    return np.where(valid, hi - lo, np.float32(np.nan)).astype(np.float32)


def reference_from_rule(dem, radius_m, dy_m, dx_out, row0, col0, shape):
    discs = {}

    def offsets(a):
        key = float(dx_out[a])
        if key not in discs:
            discs[key] = brute_disc(radius_m, dy_m, key)
        return discs[key]

    return reference_range(dem, row0, col0, shape, offsets)


def run_range(dem, table, row0, col0, shape):
    out = np.full(shape, 77.0, np.float32)
    focal_range(dem, table, row0, col0, out)
    return out


def random_dem(rng, shape, nan_fraction=0.2):
    dem = (rng.standard_normal(shape) * 100).astype(np.float32)
    dem[rng.random(shape) < nan_fraction] = np.nan
    return dem


def geographic_dx(n, pixel_deg=1 / 1200, lat0=45.0, earth_m=6_371_007.2):
    """East-west pixel size (m) per row of a geographic grid from lat0 southwards."""
    lat = lat0 - (np.arange(n) + 0.5) * pixel_deg
    return np.radians(pixel_deg) * earth_m * np.cos(np.radians(lat))


# ------------------------------------------------------------------ disc_half_widths


def check_table(radius_m, dy_m, dx_m):
    table = disc_half_widths(radius_m, dy_m, dx_m)
    assert table.dtype == np.int32
    assert table.shape[0] == len(dx_m)
    r = table.shape[1] - 1  # the largest |dy| inside the disc
    assert inside(r, 0, radius_m, dy_m, 1.0) and not inside(r + 1, 0, radius_m, dy_m, 1.0)
    for i, dxi in enumerate(dx_m):
        dy, dx = brute_disc(radius_m, dy_m, dxi)
        want = np.full(r + 1, -1)
        np.maximum.at(want, np.abs(dy), dx)
        np.testing.assert_array_equal(table[i], want, err_msg=f"row {i}, dx_m {dxi!r}")
        # each row offset's chord is exactly [-w, w]: the set of offsets is the table's
        assert np.all(np.abs(dx) <= table[i, np.abs(dy)])
        assert len(dx) == np.sum(2 * table[i].astype(np.int64)[np.r_[0, 1 : r + 1, 1 : r + 1]] + 1)
    return table


@pytest.mark.parametrize(
    ("radius_m", "dy_m", "dx"),
    [
        (90.0, 30.0, 30.0),  # radius 3 * dy_m: (3, 0) and (0, 3) lie on the circle
        (5.0, 3.0, 4.0),  # (1, 1) lies on the circle: 9 + 16 == 25
        (5.0, 4.0, 3.0),
        (25.0, 3.0, 4.0),  # (5, 5) on the circle: 15² + 20² == 25² (integers: exact in float64)
        (0.0, 30.0, 30.0),  # the pixel itself
        (29.9, 30.0, 30.0),
        (7000.0, 30.0, 30.0),  # SDG 15.4.2 at 30 m: r = 233
        (7000.0, 30.87, 21.83),
        (1.0, 0.1, 0.1),  # 0.1 is not a binary fraction: the rule decides at (10, 0), (6, 8), (8, 6)
        (100.0, 10.0, 7.0),
    ],
)
def test_disc_half_widths_projected(radius_m, dy_m, dx):
    table = check_table(radius_m, dy_m, np.full(3, dx))
    assert (table == table[0]).all()


def test_disc_half_widths_exact_values():
    np.testing.assert_array_equal(disc_half_widths(5.0, 3.0, [4.0]), [[1, 1]])
    np.testing.assert_array_equal(disc_half_widths(90.0, 30.0, [30.0]), [[3, 2, 2, 0]])
    np.testing.assert_array_equal(disc_half_widths(0.0, 30.0, [30.0, 10.0]), [[0], [0]])
    assert disc_half_widths(7000.0, 30.0, [30.0]).shape == (1, 234)
    assert disc_half_widths(7000.0, 10.0, [10.0]).shape == (1, 701)
    assert disc_half_widths(5.0, 1.0, np.empty(0)).shape == (0, 6)
    # 6-8-10 lies on the circle, but (6 * 0.1) ** 2 + (8 * 0.1) ** 2 == 1.0000000000000002 > 1.0 ** 2
    tenths = disc_half_widths(1.0, 0.1, [0.1])[0]
    assert (len(tenths), tenths[0], tenths[6], tenths[8], tenths[10]) == (11, 10, 7, 5, 0)


def test_disc_half_widths_geographic():
    dx = geographic_dx(40, pixel_deg=0.05, lat0=70.0)  # ~1.9 to ~2.1 km: chords differ from row to row
    table = check_table(30000.0, np.radians(0.05) * 6_371_007.2, dx)
    assert len({tuple(row) for row in table}) > 1


def test_disc_half_widths_random_sizes():
    rng = np.random.default_rng(7)
    for _ in range(25):
        dy_m = float(rng.uniform(0.5, 40))
        radius = float(rng.uniform(0, 15)) * dy_m
        check_table(radius, dy_m, rng.uniform(0.3, 3, 4) * dy_m)
    for k in range(1, 8):  # radius exactly k pixels, sizes that are not binary fractions
        check_table(k * 0.3, 0.3, np.array([0.3, 0.1, 0.7]))


@pytest.mark.parametrize(
    "args",
    [
        (-1.0, 30.0, [30.0]),
        (np.nan, 30.0, [30.0]),
        (10.0, 0.0, [30.0]),
        (10.0, 30.0, [0.0]),
        (10.0, 30.0, [[30.0]]),
        (10.0, 30.0, [np.inf]),
        (1e12, 1e-3, [1.0]),
    ],
)
def test_disc_half_widths_rejects(args):
    with pytest.raises(ValueError, match="disc_half_widths"):
        disc_half_widths(*args)


# ------------------------------------------------------------------ focal_range


def check_range(dem, radius_m, dy_m, dx_out, row0=0, col0=0, shape=None):
    shape = shape or (dem.shape[0] - row0, dem.shape[1] - col0)
    table = disc_half_widths(radius_m, dy_m, dx_out)
    got = run_range(dem, table, row0, col0, shape)
    want = reference_from_rule(dem, radius_m, dy_m, dx_out, row0, col0, shape)
    np.testing.assert_array_equal(got, want)
    return got


@pytest.mark.parametrize("shape", [(23, 41), (1, 37), (37, 1), (1, 1), (2, 2), (9, 70)])
@pytest.mark.parametrize("radius_px", [0.0, 1.0, 3.0, 4.5, 12.0])
def test_focal_range_random(shape, radius_px):
    rng = np.random.default_rng([shape[0], shape[1], int(radius_px * 10)])
    dem = random_dem(rng, shape)
    check_range(dem, radius_px * 30.0, 30.0, np.full(shape[0], 30.0))


def test_focal_range_nan_only_and_mostly():
    rng = np.random.default_rng(3)
    dem = np.full((17, 19), np.nan, np.float32)
    got = check_range(dem, 90.0, 30.0, np.full(17, 30.0))
    assert np.isnan(got).all()
    dem[8, 9] = 5.0  # one value: range 0 inside its disc, NaN outside
    got = check_range(dem, 90.0, 30.0, np.full(17, 30.0))
    assert np.nansum(got) == 0 and (~np.isnan(got)).sum() == 29  # 29 offsets in a 3-pixel disc
    check_range(random_dem(rng, (17, 19), nan_fraction=0.95), 120.0, 30.0, np.full(17, 30.0))


def test_focal_range_inner_block_and_offsets():
    rng = np.random.default_rng(4)
    dem = random_dem(rng, (40, 50))
    check_range(dem, 200.0, 30.0, np.full(20, 30.0), row0=7, col0=11, shape=(20, 25))
    check_range(dem, 200.0, 30.0, np.full(1, 30.0), row0=39, col0=49, shape=(1, 1))
    check_range(dem, 95.0, 30.0, np.full(33, 30.0), row0=5, col0=0, shape=(33, 50))


def test_focal_range_varying_dx_and_lanes():
    """dx per row (geographic), more rows than a SIMD group: lanes with different chords."""
    rng = np.random.default_rng(5)
    n = LANES + 13
    dy_m = 30.0
    dx = np.linspace(34.0, 14.0, n)  # chords of half-width 2 .. 7 at a 100 m radius
    dem = random_dem(rng, (n, 11))
    table = disc_half_widths(100.0, dy_m, dx)
    assert len(np.unique(table[:LANES, 0])) > 1
    check_range(dem, 100.0, dy_m, dx)
    check_range(dem, 100.0, dy_m, dx[3 : 3 + n - 6], row0=3, col0=2, shape=(n - 6, 7))


def test_focal_range_full_groups_of_one_chord():
    """Whole SIMD groups with one half-width per row offset (projected grid): the uniform path."""
    rng = np.random.default_rng(6)
    dem = random_dem(rng, (2 * LANES + 4, 13), nan_fraction=0.1)
    check_range(dem, 150.0, 30.0, np.full(2 * LANES, 30.0), row0=2, col0=0, shape=(2 * LANES, 13))


def test_focal_range_disc_wider_than_window():
    rng = np.random.default_rng(8)
    dem = random_dem(rng, (5, 6))
    got = check_range(dem, 600.0, 30.0, np.full(5, 30.0))  # r = 20 rows, 20 columns > the window
    whole = np.nanmax(dem) - np.nanmin(dem)
    np.testing.assert_array_equal(got, np.full((5, 6), whole, np.float32))


def test_focal_range_any_table():
    """Rows of the table are used as given: non-monotone half-widths, -1 = no chord at that offset."""
    rng = np.random.default_rng(9)
    dem = random_dem(rng, (14, 16))
    table = rng.integers(-1, 5, (10, 4)).astype(np.int32)
    table[3] = -1  # an output row with no chord at all: NaN

    def offsets(a):
        dys, dxs = [], []
        for d in range(-3, 4):
            w = table[a, abs(d)]
            dys += [d] * max(0, 2 * w + 1)
            dxs += list(range(-w, w + 1))
        return np.array(dys, int), np.array(dxs, int)

    got = run_range(dem, table, 2, 3, (10, 12))
    np.testing.assert_array_equal(got, reference_range(dem, 2, 3, (10, 12), offsets))
    assert np.isnan(got[3]).all()


def blocks(n, size):
    return [(s, min(n, s + size)) for s in range(0, n, size)]


@pytest.mark.parametrize("block", [(17, 23), (64, 64), (50, 31), (1, 200), (200, 7)])
def test_focal_range_blocks_with_halo_match_the_whole(block):
    rng = np.random.default_rng(10)
    n_rows, n_cols = 150, 90
    dem = random_dem(rng, (n_rows, n_cols), nan_fraction=0.05)
    dem[40:60, 30:45] = np.nan  # a hole wider than a block
    dx = geographic_dx(n_rows, pixel_deg=1 / 240, lat0=50.0)  # ~298 m to ~302 m, 463 m north-south
    dy_m = np.radians(1 / 240) * 6_371_007.2
    table = disc_half_widths(4000.0, dy_m, dx)  # r = 8 rows, 13 columns
    whole = run_range(dem, table, 0, 0, dem.shape)
    r = table.shape[1] - 1
    halo_cols = int(table[:, 0].max())
    assembled = np.full(dem.shape, 77.0, np.float32)
    for r0, r1 in blocks(n_rows, block[0]):
        for c0, c1 in blocks(n_cols, block[1]):
            wr0, wr1 = max(0, r0 - r), min(n_rows, r1 + r)
            wc0, wc1 = max(0, c0 - halo_cols), min(n_cols, c1 + halo_cols)
            window = np.ascontiguousarray(dem[wr0:wr1, wc0:wc1])
            assembled[r0:r1, c0:c1] = run_range(window, table[r0:r1], r0 - wr0, c0 - wc0, (r1 - r0, c1 - c0))
    np.testing.assert_array_equal(assembled, whole)


def test_focal_range_thread_count_independent(with_threads):
    rng = np.random.default_rng(11)
    dem = random_dem(rng, (4 * LANES + 9, 40))
    dx = np.linspace(30.0, 24.0, dem.shape[0])
    table = disc_half_widths(250.0, 30.0, dx)
    one = with_threads(1, lambda: run_range(dem, table, 0, 0, dem.shape))
    two = with_threads(2, lambda: run_range(dem, table, 0, 0, dem.shape))
    np.testing.assert_array_equal(one, two)


def test_focal_range_empty_output_and_rejects():
    dem = np.zeros((5, 5), np.float32)
    focal_range(dem, np.zeros((0, 2), np.int32), 0, 0, np.empty((0, 5), np.float32))
    focal_range(dem, np.zeros((5, 2), np.int32), 0, 0, np.empty((5, 0), np.float32))
    for table, row0, col0, shape in [
        (np.zeros((4, 2), np.int32), 0, 0, (5, 5)),  # a table row per output row
        (np.zeros((5, 0), np.int32), 0, 0, (5, 5)),
        (np.zeros((3, 2), np.int32), 3, 0, (3, 5)),  # out runs past the window
        (np.zeros((3, 2), np.int32), 0, 1, (3, 5)),
        (np.zeros((3, 2), np.int32), -1, 0, (3, 5)),
    ]:
        with pytest.raises(ValueError, match="focal_range"):
            focal_range(dem, table, row0, col0, np.empty(shape, np.float32))


# ------------------------------------------------------------------ slope_degrees


def reference_slope(dem, dy_m, dx_m):
    z = np.pad(dem.astype(np.float64), 1, constant_values=np.nan)
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, e, f = z[1:-1, :-2], z[1:-1, 1:-1], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * np.asarray(dx_m, np.float64)[:, None])
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy_m)
    slope = np.degrees(np.arctan(np.sqrt(dzdx**2 + dzdy**2)))
    slope[np.isnan(e)] = np.nan
    return slope.astype(np.float32)


def run_slope(dem, dy_m, dx_m):
    out = np.full(dem.shape, 77.0, np.float32)
    slope_degrees(dem, dy_m, np.asarray(dx_m, np.float64), out)
    return out


def assert_slope(got, want):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (2, 5), (3, 3), (4, 1), (23, 41)])
def test_slope_random_and_tiny(shape):
    rng = np.random.default_rng(shape)
    dem = random_dem(rng, shape, nan_fraction=0.05)
    dx = rng.uniform(20, 40, shape[0])
    got = run_slope(dem, 30.0, dx)
    assert_slope(got, reference_slope(dem, 30.0, dx))
    if shape[0] < 3 or shape[1] < 3:
        assert np.isnan(got).all()
    else:
        assert np.isnan(got[[0, -1]]).all() and np.isnan(got[:, [0, -1]]).all()


def test_slope_nan_spreads_to_its_neighbourhood():
    dem = np.arange(49, dtype=np.float32).reshape(7, 7)
    dem[3, 3] = np.nan
    got = run_slope(dem, 10.0, np.full(7, 10.0))
    assert np.isnan(got[2:5, 2:5]).all()
    assert (~np.isnan(got[1:-1, 1:-1])).sum() == 25 - 9
    assert_slope(got, reference_slope(dem, 10.0, np.full(7, 10.0)))


def test_slope_of_planes():
    rows, cols = np.mgrid[0:9, 0:12].astype(np.float64)
    tan30 = math.tan(math.radians(30.0))
    east = (cols * tan30 * 30.0).astype(np.float32)  # rises 30 degrees eastwards on a 30 m grid
    got = run_slope(east, 30.0, np.full(9, 30.0))
    np.testing.assert_allclose(got[1:-1, 1:-1], 30.0, atol=1e-5)
    dx = np.linspace(20.0, 35.0, 9)  # per-row dx: a north-south plane does not see it
    south = (rows * math.tan(math.radians(45.0)) * 25.0).astype(np.float32)
    np.testing.assert_allclose(run_slope(south, 25.0, dx)[1:-1, 1:-1], 45.0, atol=1e-5)
    flat = np.full((5, 5), 812.5, np.float32)
    assert (run_slope(flat, 30.0, np.full(5, 30.0))[1:-1, 1:-1] == 0).all()
    tilted = (cols * tan30 * dx[:, None]).astype(np.float32)  # dz/dx = tan30 on its own row's dx ...
    want = reference_slope(tilted, 30.0, dx)  # ... but the rows above and below differ: use the reference
    assert_slope(run_slope(tilted, 30.0, dx), want)


def test_slope_rejects():
    dem = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="slope_degrees"):
        slope_degrees(dem, 30.0, np.full(4, 30.0), np.empty((4, 4), np.float32))
    with pytest.raises(ValueError, match="slope_degrees"):
        slope_degrees(dem, 30.0, np.full(5, 30.0), np.empty((4, 5), np.float32))
