"""``python -m catalog.demo [--out DIR] [--seed N] [--scale K] [--force]``: build the demo
catalog if it is missing (or always, with --force) and print a one-line summary.

``--scale K`` multiplies the area (tiles and AOI, each side by sqrt(K)) for memory and
scaling benchmarks; such catalogs need their own ``--out`` and their AOI is printed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from catalog.demo import (
    DEFAULT_DIR,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    build_demo_catalog,
    is_current,
    load_truth,
)


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog.demo", description=__doc__)
    parser.add_argument("--out", "--dir", type=Path, default=DEFAULT_DIR, help=f"output folder (default {DEFAULT_DIR})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                        help="area multiplier of tiles and AOI (default %(default)s: the embedded demo)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a current catalog exists")
    args = parser.parse_args(argv)
    scale = int(args.scale) if float(args.scale).is_integer() else args.scale
    out = args.out.resolve()
    if scale != DEFAULT_SCALE and out == DEFAULT_DIR.resolve():
        parser.error(f"--scale {scale} needs its own --out DIR (the embedded demo in {DEFAULT_DIR} stays at scale 1)")
    start = time.perf_counter()
    if args.force or not is_current(out, args.seed, scale):
        build_demo_catalog(out, args.seed, force=True, scale=scale)
        how = f"built in {time.perf_counter() - start:.1f} s"
    else:
        how = "already present"
    truth = load_truth(out)
    items = truth["items"]
    print(f"demo catalog {out / 'catalog.json'}: {len(items['kept']) + len(items['excluded_by_cloud_cover'])} "
          f"sentinel-2-l2a items ({len(items['excluded_by_cloud_cover'])} with cloud cover >= 60), "
          f"{len(truth['sdg_15_1_1']['years'])} esa-worldcover items, "
          f"{len(truth['landsat_items']['kept']) + len(truth['landsat_items']['excluded_by_cloud_cover'])} "
          f"landsat-c2-l2 items, seed {args.seed}, "
          + (f"scale {scale} (AOI bbox {truth['aoi']['bbox']}), " if scale != DEFAULT_SCALE else "")
          + f"{len(truth['zones']['ids'])} zones in {truth['zones']['path']}, {_size_mb(out):.1f} MB, {how}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
