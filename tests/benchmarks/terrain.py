"""Part 8: SDG 15.4.2's local elevation range over a 7 km disc (``kernels.terrain.focal_range``) vs brute force.

The DEM is synthetic, smooth fractal terrain (spectral synthesis, amplitude ~ k^-1.6 in
metres, so the same landscape at every pixel size; 200-2700 m) with a few round nodata
voids, on a block of 1024 x 1024 output pixels (``--quick``: 256) grown by the disc's halo
(r rows above and below, the widest chord's half-width left and right), as the pipeline
hands a block to the kernel. Grids: 30 m (r = 233), 10 m (r = 700) and 1 arc-second at
45 degrees N (30.9 m x 21.8 m, a chord table per row: the lanes of a SIMD group differ).
``focal_range`` is timed as the median of a few runs after a warm-up call; ``slope_degrees``
on the same block for scale.

The brute force (``brute_force_range``) scans every pixel of every output pixel's disc
(numba, parallel over rows; a scalar loop, as numba compiles a NaN-skipping max/min
without fastmath) on a sub-block in the block's centre, sized to take a few seconds, and
must give the same values as ours there: the part fails if not.
"""

from __future__ import annotations

import statistics
import time

import numba
import numpy as np

from kernels.terrain import disc_half_widths, focal_range, slope_degrees

RADIUS_M = 7000.0  # UNEP-WCMC / Kapos: local elevation range within 7 km
ARC_SECOND_M = np.radians(1 / 3600) * 6_371_007.2


@numba.njit(cache=True, parallel=True)
def brute_force_range(dem, half_widths, row0, col0, out):
    """``focal_range`` by a scan of the whole disc per output pixel: O(r^2) per pixel."""
    n_rows, n_cols = dem.shape
    h, w = out.shape
    r = half_widths.shape[1] - 1
    for a in numba.prange(h):
        for b in range(w):
            hi = -np.inf
            lo = np.inf
            for dy in range(-r, r + 1):
                s = row0 + a + dy
                if s < 0 or s >= n_rows:
                    continue
                half = half_widths[a, abs(dy)]
                for c in range(max(0, col0 + b - half), min(n_cols, col0 + b + half + 1)):
                    v = dem[s, c]
                    if v > hi:  # NaN compares false: skipped
                        hi = v
                    if v < lo:
                        lo = v
            out[a, b] = hi - lo if hi >= lo else np.nan


def synthetic_dem(shape: tuple[int, int], dy_m: float, dx_m: float, seed: int = 0) -> np.ndarray:
    """Smooth fractal terrain, float32 metres, with round NaN voids (~0.5 % of the pixels)."""
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(shape[0], d=dy_m)[:, None]
    kx = np.fft.rfftfreq(shape[1], d=dx_m)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = np.inf
    spectrum = (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) * np.maximum(k, 1 / 50_000) ** -1.6
    z = np.fft.irfft2(spectrum, s=shape)
    z = 200 + 2500 * (z - z.min()) / (z.max() - z.min())
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    for _ in range(12):
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        radius = rng.uniform(0.01, 0.03) * min(shape)
        z[(rows - cy) ** 2 + (cols - cx) ** 2 < radius**2] = np.nan
    return z.astype(np.float32)


def _median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up: compilation (or numba's cache), first touch of the buffers
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def grid_rows(name: str, block: int, dy_m: float, dx_of_row, sub: int, repeat: int) -> list[dict]:
    """Ours on a block + halo, the brute force on a centred sub-block; dx_of_row(rows south of the centre)."""
    r = disc_half_widths(RADIUS_M, dy_m, np.array([1.0])).shape[1] - 1
    n_rows = block + 2 * r
    dx_window = dx_of_row(np.arange(n_rows) - (n_rows - 1) / 2)
    tables = disc_half_widths(RADIUS_M, dy_m, dx_window)
    halo_cols = int(tables[:, 0].max())
    n_cols = block + 2 * halo_cols
    dem = synthetic_dem((n_rows, n_cols), dy_m, float(np.median(dx_window)))
    table = np.ascontiguousarray(tables[r:r + block])
    out = np.empty((block, block), np.float32)
    seconds = _median_seconds(lambda: focal_range(dem, table, r, halo_cols, out), repeat)
    threads = numba.get_num_threads()
    shape = f"{block} x {block} + halo {r} rows / {halo_cols} cols"
    rows = [{"case": f"{name}: sdgcube focal_range, r = {r}, {shape}, {threads} threads", "seconds": seconds,
             "pixels_per_s": block * block / seconds, "chords_per_pixel": 2 * r + 1}]
    a0 = (block - sub) // 2
    brute = np.empty((sub, sub), np.float32)
    brute_table = np.ascontiguousarray(table[a0:a0 + sub])
    tiny = np.zeros((1, 1), np.float32)
    brute_force_range(tiny, np.zeros((1, 1), np.int32), 0, 0, np.empty_like(tiny))  # compile outside the timing
    start = time.perf_counter()
    brute_force_range(dem, brute_table, r + a0, halo_cols + a0, brute)
    brute_s = time.perf_counter() - start
    ours = out[a0:a0 + sub, a0:a0 + sub]
    identical = "yes" if np.array_equal(ours, brute, equal_nan=True) else "NO"
    rows.append({"case": f"{name}: brute-force disc scan (numba), {sub} x {sub} sub-block", "seconds": brute_s,
                 "pixels_per_s": sub * sub / brute_s, "speedup": rows[0]["pixels_per_s"] / (sub * sub / brute_s),
                 "identical": identical})
    assert identical == "yes", f"{name}: focal_range differs from the brute force on the sub-block"
    return rows


def slope_row(block: int, repeat: int) -> dict:
    dem = synthetic_dem((block + 2, block + 2), 30.0, 30.0)
    dx = np.full(block + 2, 30.0)
    out = np.empty_like(dem)
    seconds = _median_seconds(lambda: slope_degrees(dem, 30.0, dx, out), repeat)
    return {"case": f"30 m: sdgcube slope_degrees (Horn), {block + 2} x {block + 2}", "seconds": seconds,
            "pixels_per_s": dem.size / seconds}


def terrain_part(quick: bool) -> list[dict]:
    """Rows of part 8 (module docstring): ~1 minute on 2 cores, a few seconds with ``quick``."""
    block, repeat = (256, 1) if quick else (1024, 3)
    rows = grid_rows("30 m", block, 30.0, lambda i: np.full(i.shape, 30.0), 24 if quick else 224, repeat)
    rows += grid_rows("10 m", block, 10.0, lambda i: np.full(i.shape, 10.0), 8 if quick else 72, repeat)

    def arc_second_dx(south):  # the block's centre at 45 N
        return ARC_SECOND_M * np.cos(np.radians(45.0 - south / 3600))

    rows += grid_rows("1 arc-second at 45 N", block, ARC_SECOND_M, arc_second_dx, 24 if quick else 192, repeat)
    rows.append(slope_row(block, repeat))
    return rows


NOTE = ("SDG 15.4.2's local elevation range (max - min of the DEM within 7 km, UNEP-WCMC/Kapos mountain classes) on "
        "synthetic fractal terrain with nodata voids; see tests/benchmarks/terrain.py. Ours: "
        "kernels.terrain.focal_range on a 1024 x 1024 block (`--quick`: 256) grown by the disc's halo, seconds = "
        "median of 3 runs (`--quick`: 1) after a warm-up, pixels_per_s = output pixels / s; chords_per_pixel = 2r + 1 "
        "rows of the disc, each a van Herk/Gil-Werman running max/min (O(1) per pixel whatever its width), 64 output "
        "rows per SIMD step. The 1 arc-second grid has a chord table per row (east-west size by latitude). The brute "
        "force scans every disc pixel of every output pixel (numba, parallel, scalar: O(r^2) per pixel) on a centred "
        "sub-block, once; speedup = our px/s / its px/s; identical = the same values on that sub-block (the part "
        "fails otherwise).")
