"""Terrain layers for SDG 15.4.2's mountain classes (UNEP-WCMC / Kapos et al. 2000): local relief and slope.

- ``disc_half_widths``: a disc of a radius in metres as chord half-widths per row offset,
  per output row (on a geographic grid the east-west pixel size shrinks with latitude).
- ``focal_range``: max - min of the elevation over that disc (the 7 km local elevation
  range), from running maxima and minima along the disc's chords, not a scan of the disc.
- ``slope_degrees``: Horn's 3x3 slope.

The kernels read a window (a block grown by a halo): pixels outside it are simply not
there, so a block with a full halo gives the same result as the whole array.
"""

import numba
import numpy as np


def _inside(dy_term: np.ndarray, dx: np.ndarray, dx_m: np.ndarray, radius2: np.ndarray) -> np.ndarray:
    """The membership rule with dy_term = (dy * dy_m) ** 2: dy_term + (dx * dx_m) ** 2 <= radius2."""
    return dy_term + np.square(dx * dx_m) <= radius2


def disc_half_widths(radius_m: float, dy_m: float, dx_m: np.ndarray) -> np.ndarray:
    """int32 (len(dx_m), r + 1): [i, |dy|] = the largest w with offset (dy, w) in output row i's disc.

    Source pixel (i + dy, j + dx) is in the disc of output pixel (i, j) iff
    (dy * dy_m) ** 2 + (dx * dx_m[i]) ** 2 <= radius_m ** 2 in float64, squares as x * x
    (NumPy's ** 2 on arrays; Python's float ** 2 calls pow(), which can differ in the last
    bit). dx_m[i]: east-west pixel size (m) of output row i; dy_m: north-south size (m).
    r = floor(radius_m / dy_m), the largest |dy| inside with dx = 0 (checked by the rule).
    Each w starts from floor(sqrt(radius^2 - dy term) / dx_m[i]) and is stepped by +-1
    until the rule itself holds for w and fails for w + 1, so the table agrees bit for bit
    with a brute-force test of every offset.
    """
    dx_m = np.asarray(dx_m, np.float64)
    if dx_m.ndim != 1:
        raise ValueError("disc_half_widths: dx_m must be 1-D (one east-west pixel size per output row)")
    if not (np.isfinite(radius_m) and radius_m >= 0):
        raise ValueError("disc_half_widths: radius_m must be finite and >= 0")
    if not (np.isfinite(dy_m) and dy_m > 0 and np.all(np.isfinite(dx_m) & (dx_m > 0))):
        raise ValueError("disc_half_widths: pixel sizes dy_m and dx_m must be finite and > 0")
    if radius_m / dy_m >= np.iinfo(np.int32).max or radius_m / dx_m.min(initial=np.inf) >= np.iinfo(np.int32).max:
        raise ValueError("disc_half_widths: radius too large for int32 half-widths")
    radius2 = np.square(np.float64(radius_m))
    dy_m = np.float64(dy_m)
    zero = np.zeros(1)
    r = int(np.floor(radius_m / dy_m))
    while _inside(np.square((r + 1) * dy_m), zero, zero, radius2)[0]:
        r += 1
    while r > 0 and not _inside(np.square(r * dy_m), zero, zero, radius2)[0]:
        r -= 1
    dy_term = np.broadcast_to(np.square(np.arange(r + 1, dtype=np.float64) * dy_m), (dx_m.size, r + 1))
    dx = dx_m[:, None]
    w = np.floor(np.sqrt(np.maximum(radius2 - dy_term, 0.0)) / dx)
    while (step := _inside(dy_term, w + 1, dx, radius2)).any():  # the estimate is at most a step or two off
        w += step
    while (step := (w > 0) & ~_inside(dy_term, w, dx, radius2)).any():
        w -= step
    return w.astype(np.int32)


_LANES = 64  # output rows that go through each step together, one per SIMD lane (4 AVX-512 / 8 AVX2 vectors)
_U = np.uint64  # unsigned indices: numba then emits no negative-index wraparound, which blocks vectorisation


@numba.njit(cache=True, parallel=True)
def _transposed(dem, s_first, c_first, fh, fl):
    """fh/fl[p, j] = dem[s_first + j, c_first + p], NaN and pixels outside the window as -inf / +inf.

    Positions (columns) first, source rows last: a chord step then reads _LANES consecutive
    rows in one contiguous run.
    """
    n_rows, n_cols = dem.shape
    width, n_src = fh.shape
    n_tiles = (width + 63) // 64
    for tile in numba.prange(n_tiles):
        p_end = min(width, tile * 64 + 64)
        for j in range(n_src):
            s = s_first + j
            for p in range(tile * 64, p_end):
                c = c_first + p
                v = np.float32(np.nan)
                if 0 <= s < n_rows and 0 <= c < n_cols:
                    v = dem[s, c]
                if np.isnan(v):
                    fh[p, j] = -np.inf
                    fl[p, j] = np.inf
                else:
                    fh[p, j] = v
                    fl[p, j] = v


@numba.njit(cache=True)
def _chord(fh, fl, j0, p0, w, down, use, uniform, sh, sl, ah, al, run_hi, run_lo):
    """Fold the max/min over chords [b, b + 2w] of positions p0 + ... into run_hi/run_lo[b, lane].

    van Herk / Gil-Werman over blocks of k = 2w + 1 positions: window [b, b + 2w] is the
    suffix of its block from b (sh/sl, scanned backwards) plus the prefix of the next block
    up to b + 2w (ah/al, a running max folded in as the scan goes), so a few comparisons
    per position whatever w is. Lane l is source row j0 + l; lanes where ``use`` is False
    are left alone (``uniform``: every lane is used). The backward scan takes its steps
    from the table ``down`` instead of arithmetic: LLVM then checks aliasing per step,
    where the check it would hoist out of a backward loop always fails and leaves the
    loop scalar.
    """
    wo = run_hi.shape[0]
    k = 2 * w + 1
    n = wo + 2 * w
    two_w = 2 * w
    top = down.shape[0] - k
    for b0 in range(0, wo, k):  # b0 < wo: the block [b0, b0 + k) is whole
        last = _U(p0 + b0 + k - 1)
        for lane in range(_LANES):
            sh[_U(k - 1), _U(lane)] = fh[last, _U(j0 + lane)]
            sl[_U(k - 1), _U(lane)] = fl[last, _U(j0 + lane)]
        for q in range(1, k):
            t = down[top + q]  # k - 1 - q
            p = _U(p0 + b0 + t)
            for lane in range(_LANES):
                v = fh[p, _U(j0 + lane)]
                a = sh[_U(t + 1), _U(lane)]
                sh[_U(t), _U(lane)] = v if v > a else a
                v = fl[p, _U(j0 + lane)]
                a = sl[_U(t + 1), _U(lane)]
                sl[_U(t), _U(lane)] = v if v < a else a
        for lane in range(_LANES):  # window [b0, b0 + 2w] is the block itself
            m = sh[_U(0), _U(lane)]
            r = run_hi[_U(b0), _U(lane)]
            run_hi[_U(b0), _U(lane)] = m if m > r and (uniform or use[lane]) else r
            m = sl[_U(0), _U(lane)]
            r = run_lo[_U(b0), _U(lane)]
            run_lo[_U(b0), _U(lane)] = m if m < r and (uniform or use[lane]) else r
            ah[_U(lane)] = -np.inf
            al[_U(lane)] = np.inf
        for t in range(b0 + k, min(b0 + 2 * k - 1, n)):  # prefix of the next block: b = t - 2w in (b0, b0 + k)
            p = _U(p0 + t)
            b = _U(t - two_w)
            i = _U(t - two_w - b0)
            if uniform:
                for lane in range(_LANES):
                    v = fh[p, _U(j0 + lane)]
                    a = ah[_U(lane)]
                    m = v if v > a else a
                    ah[_U(lane)] = m
                    s = sh[i, _U(lane)]
                    m = m if m > s else s
                    r = run_hi[b, _U(lane)]
                    run_hi[b, _U(lane)] = m if m > r else r
                    v = fl[p, _U(j0 + lane)]
                    a = al[_U(lane)]
                    m = v if v < a else a
                    al[_U(lane)] = m
                    s = sl[i, _U(lane)]
                    m = m if m < s else s
                    r = run_lo[b, _U(lane)]
                    run_lo[b, _U(lane)] = m if m < r else r
            else:
                for lane in range(_LANES):
                    v = fh[p, _U(j0 + lane)]
                    a = ah[_U(lane)]
                    m = v if v > a else a
                    ah[_U(lane)] = m
                    s = sh[i, _U(lane)]
                    m = m if m > s else s
                    r = run_hi[b, _U(lane)]
                    run_hi[b, _U(lane)] = m if m > r and use[lane] else r
                    v = fl[p, _U(j0 + lane)]
                    a = al[_U(lane)]
                    m = v if v < a else a
                    al[_U(lane)] = m
                    s = sl[i, _U(lane)]
                    m = m if m < s else s
                    r = run_lo[b, _U(lane)]
                    run_lo[b, _U(lane)] = m if m < r and use[lane] else r


@numba.njit(cache=True, parallel=True)
def focal_range(dem, half_widths, row0, col0, out):
    """Max - min of the non-NaN ``dem`` values over each output pixel's disc; NaN where there are none.

    dem: float32 (H, W) window; out: float32 (h, w), output pixel (a, b) = window pixel
    (row0 + a, col0 + b); half_widths: int32 (h, r + 1) from ``disc_half_widths``, row a
    for output row a (a negative entry: no chord at that |dy|). Source pixels outside the
    window are clipped. Per output row and row offset, the chord's max and min come from a
    1-D running max/min (``_chord``) folded into row buffers: O(r) per pixel, not O(r^2).
    _LANES output rows go through each step together (SIMD across rows, on a transposed copy
    of the window), lanes with another half-width in a second pass. Max and min are exact,
    so results do not depend on threads or grouping.
    """
    n_rows, n_cols = dem.shape
    h, wo = out.shape
    if half_widths.ndim != 2 or half_widths.shape[0] != h or half_widths.shape[1] < 1:
        raise ValueError("focal_range: half_widths must have shape (out.shape[0], r + 1)")
    if row0 < 0 or col0 < 0 or row0 + h > n_rows or col0 + wo > n_cols:
        raise ValueError("focal_range: out placed at (row0, col0) must lie inside dem")
    if h == 0 or wo == 0:
        return
    r = min(half_widths.shape[1] - 1, n_rows - 1)  # farther rows are never inside the window
    w_max = 0
    for a in range(h):
        for d in range(r + 1):
            w_max = max(w_max, min(half_widths[a, d], n_cols))  # wider than the window: the whole row
    n_groups = (h + _LANES - 1) // _LANES
    width = wo + 2 * w_max
    fh = np.empty((width, n_groups * _LANES + 2 * r), np.float32)  # source rows row0 - r ...
    fl = np.empty_like(fh)
    _transposed(dem, row0 - r, col0 - w_max, fh, fl)
    down = np.arange(2 * w_max, -1, -1)
    for g in numba.prange(n_groups):
        a0 = g * _LANES
        sh = np.empty((2 * w_max + 1, _LANES), np.float32)
        sl = np.empty_like(sh)
        ah = np.empty(_LANES, np.float32)
        al = np.empty(_LANES, np.float32)
        run_hi = np.full((wo, _LANES), -np.inf, np.float32)
        run_lo = np.full((wo, _LANES), np.inf, np.float32)
        lane_w = np.empty(_LANES, np.int64)
        use = np.empty(_LANES, np.bool_)
        for dy in range(-r, r + 1):
            if row0 + a0 + dy + _LANES <= 0 or row0 + a0 + dy >= n_rows:
                continue  # every lane's source row is outside the window (a clipped halo)
            for lane in range(_LANES):
                a = a0 + lane
                lane_w[lane] = min(half_widths[a, abs(dy)], n_cols) if a < h else -1
            for first in range(_LANES):  # one pass per distinct half-width among the lanes
                w = lane_w[first]
                if w < 0:
                    continue
                uniform = True
                for lane in range(_LANES):
                    use[lane] = lane_w[lane] == w
                    uniform = uniform and use[lane]
                    if use[lane]:
                        lane_w[lane] = -1
                _chord(fh, fl, a0 + dy + r, w_max - w, w, down, use, uniform, sh, sl, ah, al, run_hi, run_lo)
        for lane in range(min(_LANES, h - a0)):
            for b in range(wo):
                hi = run_hi[b, lane]
                lo = run_lo[b, lane]
                out[a0 + lane, b] = hi - lo if hi >= lo else np.nan


@numba.njit(cache=True, parallel=True)
def slope_degrees(dem, dy_m, dx_m, out):
    """Horn's (1981) slope in degrees from the 3x3 neighbourhood, in float64.

    dem: float32 (H, W), rows southwards; dy_m: float, north-south pixel size (m); dx_m:
    float64 (H,), east-west pixel size of each row (m); out: float32 (H, W). NaN on the
    outer ring (no full neighbourhood) and wherever any of the 9 values is NaN.
    """
    n_rows, n_cols = dem.shape
    if out.shape[0] != n_rows or out.shape[1] != n_cols:
        raise ValueError("slope_degrees: out must have dem's shape")
    if dx_m.ndim != 1 or dx_m.shape[0] != n_rows:
        raise ValueError("slope_degrees: dx_m must have one pixel size per dem row")
    for y in numba.prange(n_rows):
        if y == 0 or y == n_rows - 1:
            for x in range(n_cols):
                out[y, x] = np.nan
            continue
        ex = 8.0 * dx_m[y]
        ey = 8.0 * dy_m
        for x in range(n_cols):
            if x == 0 or x == n_cols - 1:
                out[y, x] = np.nan
                continue
            a = np.float64(dem[y - 1, x - 1])
            b = np.float64(dem[y - 1, x])
            c = np.float64(dem[y - 1, x + 1])
            d = np.float64(dem[y, x - 1])
            e = np.float64(dem[y, x])
            f = np.float64(dem[y, x + 1])
            g = np.float64(dem[y + 1, x - 1])
            hh = np.float64(dem[y + 1, x])
            i = np.float64(dem[y + 1, x + 1])
            dzdx = ((c + 2.0 * f + i) - (a + 2.0 * d + g)) / ex
            dzdy = ((g + 2.0 * hh + i) - (a + 2.0 * b + c)) / ey
            if np.isnan(e):
                out[y, x] = np.nan
            else:
                out[y, x] = np.degrees(np.arctan(np.sqrt(dzdx * dzdx + dzdy * dzdy)))
