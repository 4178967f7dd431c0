"""`make bench`: kernel speed against the machine's memory bandwidth and against peers.

Writes a Markdown and a JSON table (default outputs/bench/). Timing lives here, never in
tests. Each figure is the median of several runs after a warm-up call (compile time
excluded). Run with ``--quick`` for a small smoke run. Parts 4-5 (recipes end to end
against a bare odc-stac + NumPy script, and peak RSS as the AOI grows) run each case in
a fresh process (``tests/benchmarks/e2e.py``); ``--only e2e`` runs just those, and
``--recipes 15.3.1`` only that recipe's rows (part 4 has 6.6.1 and 15.1.1 only: the bare
reference has no 15.3.1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

import kernels


@numba.njit(parallel=True, cache=True)
def _triad(a, b, c, scalar):
    for i in numba.prange(a.shape[0]):
        a[i] = b[i] + scalar * c[i]


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up: compilation, page faults of reused buffers
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bandwidth(n: int, repeat: int) -> dict:
    """STREAM-style triad a = b + s*c over arrays far larger than cache."""
    a, b, c = np.empty(n), np.random.default_rng(0).random(n), np.random.default_rng(1).random(n)
    seconds = median_time(lambda: _triad(a, b, c, 3.0), repeat)
    moved = 3 * n * 8
    return {"seconds": seconds, "gb_per_s": moved / seconds / 1e9,
            "gb_per_s_with_write_allocate": 4 * n * 8 / seconds / 1e9, "threads": numba.get_num_threads()}


def normalized_difference(size: int, repeat: int, limit: float) -> list[dict]:
    """uint16 pair -> float32 index; ``limit`` is the triad's GB/s counting 3 arrays (no write-allocate).

    Bytes, compared like with like. ``gb_per_s`` / ``fraction_of_triad`` count what the code
    reads and writes, the STREAM convention: 2 + 2 + 4 = 8 B/px here against the triad's
    3 x 8 B. But a store to memory first reads the line (write-allocate), so DRAM really moves
    12 B/px here and 32 B per triad element, and a write is a larger share of the kernel's
    traffic (1/2) than of the triad's (1/3): at equal DRAM throughput ``fraction_of_triad``
    tops out at (8/12) / (24/32) = 0.89, not 1. ``fraction_of_triad_with_write_allocate``
    (12 B/px against the triad's 32 B) is the honest "share of the memory limit" and
    reaches 1 when the kernel is memory-bound. The "fresh output" case adds first-touch
    page faults of a new ~0.5 GB array, which no kernel change can avoid.

    The main case (shared scale, integer DN shift: Sentinel-2) takes the kernel's exact
    float32 route; "float64 route" uses the Landsat scale/offset (non-integer DN shift) on
    the same DNs, the general path whose float64 division made the kernel compute-bound
    on 2 cores (see kernels/indices.py).
    """
    rng = np.random.default_rng(2)
    a = rng.integers(1, 10000, (1, size, size), dtype=np.uint16)
    b = rng.integers(1, 10000, (1, size, size), dtype=np.uint16)
    a[0, ::97] = 0  # some nodata
    scale, offset = np.full(1, 1e-4), np.full(1, -0.1)
    landsat_scale, landsat_offset = np.full(1, 2.75e-5), np.full(1, -0.2)
    out = np.empty(a.shape, np.float32)
    moved = a.nbytes + b.nbytes + out.nbytes
    moved_with_write_allocate = moved + out.nbytes
    limit_with_write_allocate = limit * 4 / 3  # the triad's 4 x 8 B instead of 3 x 8 B per element

    def ours_reused():
        kernels.normalized_difference(a, b, scale, offset, scale, offset, 0, out)

    def ours_float64_route():
        kernels.normalized_difference(a, b, landsat_scale, landsat_offset, landsat_scale, landsat_offset, 0,
                                      out)

    def ours_allocating():
        fresh = np.empty(a.shape, np.float32)
        kernels.normalized_difference(a, b, scale, offset, scale, offset, 0, fresh)

    def numpy_expression():
        ra = np.clip(a * 1e-4 - 0.1, 0, None)
        rb = np.clip(b * 1e-4 - 0.1, 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            nd = ((ra - rb) / (ra + rb)).astype(np.float32)
        nd[(a == 0) | (b == 0)] = np.nan
        return nd

    rows = []
    for name, fn, reps in (("sdgcube kernel, reused output", ours_reused, repeat),
                           ("sdgcube kernel, fresh output", ours_allocating, repeat),
                           ("NumPy expression (float64)", numpy_expression, max(1, repeat // 3)),
                           ("sdgcube kernel, float64 route (Landsat scale/offset), reused output",
                            ours_float64_route, repeat)):
        seconds = median_time(fn, reps)
        rows.append({"case": name, "seconds": seconds, "gb_per_s": moved / seconds / 1e9,
                     "fraction_of_triad": moved / seconds / 1e9 / limit,
                     "fraction_of_triad_with_write_allocate":
                         moved_with_write_allocate / seconds / 1e9 / limit_with_write_allocate})
    try:
        import xarray as xr
        from xrspatial.multispectral import ndvi

        nir = xr.DataArray(a[0].astype(np.float32) * np.float32(1e-4) - np.float32(0.1), dims=("y", "x"))
        red = xr.DataArray(b[0].astype(np.float32) * np.float32(1e-4) - np.float32(0.1), dims=("y", "x"))
        seconds = median_time(lambda: ndvi(nir, red), max(1, repeat // 3))
        rows.append({"case": "xarray-spatial ndvi (float32 input, scaling not timed)", "seconds": seconds,
                     "gb_per_s": moved / seconds / 1e9, "fraction_of_triad": moved / seconds / 1e9 / limit,
                     "fraction_of_triad_with_write_allocate":
                         moved_with_write_allocate / seconds / 1e9 / limit_with_write_allocate})
    except ImportError:
        rows.append({"case": "xarray-spatial", "skipped": "pip install -e '.[bench]'"})
    base = rows[2]["seconds"]
    for row in rows:
        if "seconds" in row:
            row["speedup_vs_numpy"] = base / row["seconds"]
    return rows


def trend(shape: tuple[int, int, int], sample: int, repeat: int) -> list[dict]:
    """Theil-Sen + Mann-Kendall per pixel; peers run per pixel on a sample; last two rows split the kernels.

    With 20 dates and 30% NaN a pixel has ~14 observations and ~91 pair slopes. The
    median of those slopes was most of the time (a heapsort); it is now a quickselect,
    and Mann-Kendall counts ties in its pairwise pass instead of sorting (kernels/timeseries.py).
    ``thread_scaling`` needs an otherwise idle machine: on shared cores it measures the
    neighbours.
    """
    t, ny, nx = shape
    rng = np.random.default_rng(3)
    values = (rng.normal(size=shape) + np.linspace(0, 1, t)[:, None, None]).astype(np.float32)
    values[rng.random(shape) < 0.3] = np.nan
    times = np.arange(t, dtype=np.float64) + 2000.0
    outs = [np.empty((ny, nx)) for _ in range(7)]

    def ours():
        kernels.theil_sen(values, times, outs[0], outs[1], 4)
        kernels.mann_kendall(values, outs[2], outs[3], outs[4], outs[5], outs[6], 4)

    pixels = ny * nx
    seconds = median_time(ours, repeat)
    rows = [{"case": f"sdgcube Theil-Sen + Mann-Kendall, {numba.get_num_threads()} threads", "seconds": seconds,
             "pixels_per_s": pixels / seconds}]
    numba.set_num_threads(1)
    one = median_time(ours, repeat)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    rows.append({"case": "sdgcube, 1 thread", "seconds": one, "pixels_per_s": pixels / one,
                 "thread_scaling": one / seconds})
    flat = values.reshape(t, -1)[:, :sample]

    def scipy_loop():
        from scipy.stats import kendalltau, theilslopes

        for i in range(flat.shape[1]):
            ok = ~np.isnan(flat[:, i])
            if ok.sum() >= 4:
                theilslopes(flat[ok, i], times[ok])
                kendalltau(times[ok], flat[ok, i])

    s = median_time(scipy_loop, 1)
    rows.append({"case": f"scipy.stats per-pixel loop ({sample} px sample)", "pixels_per_s": sample / s})
    try:
        import pymannkendall as mk

        def pmk():
            for i in range(flat.shape[1]):
                ok = ~np.isnan(flat[:, i])
                if ok.sum() >= 4:
                    mk.original_test(flat[ok, i])
                    mk.sens_slope(flat[ok, i])

        s = median_time(pmk, 1)
        rows.append({"case": f"pyMannKendall per-pixel loop ({sample} px sample)", "pixels_per_s": sample / s})
    except ImportError:
        rows.append({"case": "pyMannKendall", "skipped": "pip install -e '.[bench]'"})
    for row in rows[2:]:
        if "pixels_per_s" in row:
            row["sdgcube_speedup"] = rows[0]["pixels_per_s"] / row["pixels_per_s"]
    for name, fn in (("theil_sen alone", lambda: kernels.theil_sen(values, times, outs[0], outs[1], 4)),
                     ("mann_kendall alone",
                      lambda: kernels.mann_kendall(values, outs[2], outs[3], outs[4], outs[5], outs[6], 4))):
        part = median_time(fn, repeat)
        rows.append({"case": f"sdgcube {name}, {numba.get_num_threads()} threads", "seconds": part,
                     "pixels_per_s": pixels / part})
    return rows


def markdown(result: dict) -> str:
    lines = [f"# sdgcube benchmarks ({result['host']['machine']}, {result['host']['cpus']} CPUs, "
             f"{result['host']['threads']} numba threads)", ""]
    bw = result.get("bandwidth")
    if bw:
        lines += [f"Memory bandwidth (triad): **{bw['gb_per_s']:.1f} GB/s** "
                  f"({bw['gb_per_s_with_write_allocate']:.1f} counting write-allocate)", ""]
    sections = (("Normalized difference", "normalized_difference"), ("Trend", "trend"),
                ("Recipes end to end: pipeline vs bare odc-stac + NumPy (part 4)", "end_to_end"),
                ("Peak memory vs AOI size (part 5)", "memory_scaling"),
                ("Zone membership: pixel centre vs fractional coverage (part 6)", "zones"),
                ("SDG 15.3.1 productivity on a MODIS tile vs xarray/NumPy (part 7)", "degradation"),
                ("SDG 15.4.2 local elevation range over a 7 km disc vs brute force (part 8)", "terrain"),
                ("SDG 6.6.1 water rule per observation: fused multi-index vs MNDWI alone (part 9)", "water"),
                ("SDG 6.6.1 multi-sensor vs single-sensor on the demo (part 9)", "water_recipes"))
    for title, key in sections:
        rows = result.get(key)
        if not rows:
            continue
        keys = sorted({k for row in rows for k in row if k != "case"})
        lines += [f"## {title}", ""]
        if key in result.get("notes", {}):
            lines += [result["notes"][key], ""]
        lines += ["| case | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for row in rows:
            lines.append(f"| {row['case']} | " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |")
        lines.append("")
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return " ".join(_fmt(v) for v in value)
    return str(value)


def _merge_rows(old: list[dict] | None, new: list[dict], codes: tuple[str, ...], order) -> list[dict]:
    """``new`` plus the rows of ``old`` whose recipe (the case's first word) is not in ``codes``, by recipe."""
    kept = [row for row in old or () if row["case"].split()[0] not in codes]
    rank = {code: i for i, code in enumerate(order)}
    return sorted(kept + new, key=lambda row: rank.get(row["case"].split()[0], len(rank)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench"))
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--only", choices=("all", "kernels", "e2e", "zones", "degradation", "terrain", "water"),
                        default="all",
                        help="kernels = parts 1-3, e2e = parts 4-5 (recipes end to end, memory vs AOI), "
                             "zones = part 6 (zone membership rules), degradation = part 7 (15.3.1 productivity "
                             "on a MODIS tile), terrain = part 8 (15.4.2 local elevation range, 7 km disc), water = part 9 "
                             "(6.6.1 water rules); "
                             "results of the other parts already in OUT/bench.json are kept")
    parser.add_argument("--scales", default=None,
                        help="comma-separated AOI area multiples for part 5 (default 1,4,16; --quick 1,4)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per end-to-end case (default 3; --quick 1)")
    parser.add_argument("--recipes", default=None,
                        help="comma-separated recipes for parts 4-5 (default: all; part 4 runs those of them the "
                             "bare reference has, 6.6.1 and 15.1.1); rows of the others already in OUT/bench.json "
                             "are kept")
    parser.add_argument("--chunk", type=int, default=None,
                        help="part 5 also with the recipes' grid.chunk set to this (e.g. 256: full-size chunks "
                             "at every scale)")
    args = parser.parse_args(argv)
    quick = args.quick
    previous = args.out / "bench.json"
    result = json.loads(previous.read_text()) if args.only != "all" and previous.is_file() else {}
    result["host"] = {"machine": platform.machine(), "cpus": os.cpu_count(), "threads": numba.get_num_threads(),
                      "python": platform.python_version(), "numba": numba.__version__, "numpy": np.__version__}
    if args.only in ("all", "kernels"):
        bw = bandwidth(2**22 if quick else 2**26, 3 if quick else 7)
        result.update({
            "bandwidth": bw,
            "normalized_difference": normalized_difference(1024 if quick else 10980, 3 if quick else 7,
                                                           bw["gb_per_s"]),
            "trend": trend((20, 100, 100) if quick else (20, 2000, 2000), 200 if quick else 2000,
                           1 if quick else 3),
        })
    if args.only in ("all", "e2e"):
        from tests.benchmarks import e2e

        scales = tuple(int(v) for v in (args.scales or ("1,4" if quick else "1,4,16")).split(","))
        repeat = args.repeat or (1 if quick else 3)
        args.out.mkdir(parents=True, exist_ok=True)
        recipes = tuple(args.recipes.split(",")) if args.recipes else tuple(e2e.RECIPES)
        unknown = [code for code in recipes if code not in e2e.RECIPES]
        if unknown:
            parser.error(f"--recipes: unknown {unknown}; known: {','.join(e2e.RECIPES)}")
        bare = tuple(code for code in recipes if code in e2e.BARE_RECIPES)
        if bare:
            result["end_to_end"] = _merge_rows(result.get("end_to_end"),
                                               e2e.pipeline_vs_bare(args.out, repeat, bare), bare, e2e.RECIPES)
        scaling = e2e.memory_scaling(args.out, scales, repeat, recipes)
        if args.chunk:
            scaling += e2e.memory_scaling(args.out, scales, repeat, recipes, chunk=args.chunk)
        result["memory_scaling"] = _merge_rows(result.get("memory_scaling"), scaling, recipes, e2e.RECIPES)
        result.setdefault("notes", {}).update(e2e.NOTES)
    if args.only in ("all", "zones"):
        from tests.benchmarks import zones

        result["zones"] = zones.membership("6.6.1") + zones.membership("15.1.1")
        result.setdefault("notes", {})["zones"] = zones.NOTE
    if args.only in ("all", "degradation"):
        from tests.benchmarks import degradation

        result["degradation"] = degradation.productivity_part(quick)
        result.setdefault("notes", {})["degradation"] = degradation.NOTE
    if args.only in ("all", "terrain"):
        from tests.benchmarks import terrain

        result["terrain"] = terrain.terrain_part(quick)
        result.setdefault("notes", {})["terrain"] = terrain.NOTE
    if args.only in ("all", "water"):
        from tests.benchmarks import water

        result["water"] = water.water_part(quick)
        result["water_recipes"] = water.recipes_part(args.out, 1 if quick else 3)
        result.setdefault("notes", {}).update({"water": water.NOTE, "water_recipes": water.RECIPE_NOTE})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(result, indent=2))
    (args.out / "bench.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
