"""Command line: ``python -m pipeline run RECIPE [--catalog ...] [--bbox ...] [--out ...]``.

Thin by design (like pystac-client's): parse, call the library, print one summary
line, return an exit code. Known failures print what went wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from catalog.load import AssetError
from catalog.profiles import ProfileError
from catalog.search import NoItemsFound
from pipeline.schema import RecipeError

USER_ERRORS = (RecipeError, NoItemsFound, AssetError, ProfileError, FileNotFoundError, FileExistsError,
               LookupError)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description="sdgcube: SDG indicators from STAC imagery")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a recipe and write a product")
    run.add_argument("recipe", type=Path, help="recipe file, e.g. recipes/15.1.1.yaml")
    run.add_argument("--catalog", help="STAC API URL or static catalog path (default: the embedded demo catalog)")
    run.add_argument("--bbox", type=float, nargs=4, metavar=("WEST", "SOUTH", "EAST", "NORTH"),
                     help="override the recipe's AOI with a lon/lat bbox")
    run.add_argument("--out", type=Path, default=Path("outputs"), help="output root (default: outputs)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("list", help="list the registered indicators")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "list":
        from pipeline.indicators import available, get_indicator

        for code in available():
            print(f"{code}\t{get_indicator(code).name}")
        return 0
    from pipeline.recipe import load_recipe
    from pipeline.run import run

    try:
        recipe = load_recipe(args.recipe)
        if args.bbox:
            recipe = recipe.with_bbox(tuple(args.bbox))
        result = run(recipe, catalog=args.catalog, out=args.out, progress=not args.no_progress)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    print(f"SDG {recipe.sdg} {result.headline} -> {result.path}")
    return 0
