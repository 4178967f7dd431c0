"""``python -m catalog.demo [--out DIR] [--seed N] [--force]``: build the demo catalog if it is
missing (or always, with --force) and print a one-line summary."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from catalog.demo.generate import DEFAULT_DIR, DEFAULT_SEED, build_demo_catalog, is_current, load_truth


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"output folder (default {DEFAULT_DIR})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a current catalog exists")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    start = time.perf_counter()
    if args.force or not is_current(out, args.seed):
        build_demo_catalog(out, args.seed, force=True)
        how = f"built in {time.perf_counter() - start:.1f} s"
    else:
        how = "already present"
    truth = load_truth(out)
    items = truth["items"]
    print(f"demo catalog {out / 'catalog.json'}: {len(items['kept']) + len(items['excluded_by_cloud_cover'])} "
          f"sentinel-2-l2a items ({len(items['excluded_by_cloud_cover'])} with cloud cover >= 60), "
          f"{len(truth['sdg_15_1_1']['years'])} esa-worldcover items, seed {args.seed}, "
          f"{_size_mb(out):.1f} MB, {how}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
