"""Command line: ``python -m pipeline run RECIPE [--catalog ...] [--bbox ...] [--out ...]``,
``python -m pipeline indicators`` (every shipped recipe, one line each) and
``python -m pipeline publish RUN_DIR DEST [--endpoint-url ...]``.

Thin by design (like pystac-client's): parse, call the library, print one summary
line, return an exit code. Known failures print what went wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def _gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """Import the run's modules with the cyclic GC off; optionally freeze what they made.

    A run imports ~1 M long-lived objects (odc-stac, xarray, dask, numba, matplotlib);
    with the GC on, young collections walk them again and gen-2 collections walk them
    all: 0.6-0.7 s of a 6 s demo run, measured, none of it freeing anything. With
    ``freeze``, ``gc.freeze()`` (once per process) moves them out of the collector's
    sight, so the rest of the run collects only what it allocates.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if freeze and gc.get_freeze_count() == 0:
                gc.freeze()
            gc.enable()


with _gc_paused():
    from catalog.errors import SdgcubeError
    from catalog.reliability import redact
    from pipeline.footprint import DEFAULT_GRID_INTENSITY
    from pipeline.schema import RecipeError

# The only failures shown as a tidy one-line error: any other exception is a bug, shown with its traceback
USER_ERRORS = (SdgcubeError,)
BUG_REPORT = ("this is a bug in sdgcube, not in your input: please report it with the traceback above, the command "
              "and the recipe")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description="sdgcube: SDG indicators from STAC imagery")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a recipe and write a product")
    run.add_argument("recipe", type=Path, help="recipe file, e.g. recipes/15.1.1.yaml")
    run.add_argument("--catalog", help="STAC API URL or static catalog path (default: the embedded demo catalog)")
    run.add_argument("--bbox", type=float, nargs=4, metavar=("WEST", "SOUTH", "EAST", "NORTH"),
                     help="override the recipe's AOI with a lon/lat bbox")
    run.add_argument("--zones", metavar="FILE", help="report per zone too: a GeoPackage, GeoJSON or Shapefile "
                                                     "(any CRS); overrides the recipe's zones.path")
    run.add_argument("--zone-id", metavar="FIELD", help="field holding each zone's unique id (default: the "
                                                        "recipe's zones.id_field, else 'id')")
    run.add_argument("--zone-name", metavar="FIELD", help="field holding each zone's name (optional)")
    run.add_argument("--out", type=Path, default=Path("outputs"), help="output root (default: outputs)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--scheduler", metavar="ADDRESS", help="run the tasks on this Dask distributed scheduler, "
                                                         "e.g. tcp://10.0.0.5:8786 (default: $DASK_SCHEDULER_ADDRESS)")
    run.add_argument("--workers", type=_worker_count, metavar="N",
                     help="run the tasks on a local cluster of N >= 1 worker processes (default: this process's "
                          "threads)")
    run.add_argument("--deadline", type=_seconds, metavar="S", help="give up one STAC request (a search with its "
                                                                    "pages) after S seconds, then retry (default 120)")
    run.add_argument("--total-deadline", type=_seconds, metavar="S", help="give up a search with all its retries "
                                                                          "after S seconds (default 600)")
    run.add_argument("--grid-intensity", type=_grid_intensity, default=DEFAULT_GRID_INTENSITY, metavar="G_PER_KWH",
                     help="carbon intensity of the electricity, gCO2e/kWh, for the run's CO2e footprint "
                          f"(default: {DEFAULT_GRID_INTENSITY:g}, the world average per the IEA)")
    again = run.add_mutually_exclusive_group()
    again.add_argument("--resume", dest="resume", action="store_const", const="require", default="auto",
                       help="finish the killed run of this same command (rerunning it does so anyway); fail if "
                            "there is none")
    again.add_argument("--no-resume", dest="resume", action="store_const", const="off",
                       help="start afresh, and save no finished blocks for a later resume")
    sub.add_parser("list", help="list the registered indicators")
    every = sub.add_parser("indicators", help="run recipes/<sdg>.yaml of every registered indicator, one line each")
    every.add_argument("--recipes", type=Path, default=Path("recipes"), help="folder of <sdg>.yaml recipes")
    every.add_argument("--catalog", help="STAC API URL or static catalog path (default: the embedded demo catalog)")
    every.add_argument("--zones", metavar="FILE", help="report per zone too (as for run)")
    every.add_argument("--zone-id", metavar="FIELD", help="field holding each zone's unique id")
    every.add_argument("--zone-name", metavar="FIELD", help="field holding each zone's name")
    every.add_argument("--out", type=Path, default=Path("outputs"), help="output root (default: outputs)")
    pub = sub.add_parser("publish", help="publish a product as an immutable, verified version of a STAC catalog",
                         description="Upload RUN_DIR to DEST/<series>/v<N>/, verify every file (sha256), write "
                                     "its manifest last, and update DEST/catalog.json and the series collection. "
                                     "Re-running resumes an interrupted publish; a published run is not re-uploaded.")
    pub.add_argument("run_dir", type=Path, help="a finished product, e.g. outputs/15.1.1/<run-id>")
    pub.add_argument("dest", help="local directory or URL, e.g. s3://bucket/prefix")
    pub.add_argument("--series", help="product series (collection) id (default: sdg-<indicator>)")
    pub.add_argument("--endpoint-url", help="S3-compatible server, e.g. http://127.0.0.1:9000 "
                                            "(default: $AWS_ENDPOINT_URL)")
    pub.add_argument("--quiet", action="store_true", help="no per-file progress on stderr")
    return p


def publish_command(args: argparse.Namespace) -> int:
    """``publish``: one summary line on stdout, progress on stderr, errors with their fix."""
    from pipeline.publish import PublishError, publish, stderr_log

    try:
        result = publish(args.run_dir, args.dest, series=args.series, endpoint_url=args.endpoint_url,
                         log=None if args.quiet else stderr_log)
    except PublishError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the version stays incomplete (no manifest); run the same command again to resume",
              file=sys.stderr)
        return 130
    state = (f"uploaded {result.uploaded} files, {result.skipped} already there" if result.created
             else "already published, nothing uploaded")
    print(f"{result.series} v{result.version} -> {result.url} ({state})")
    return 0


def indicators_command(args: argparse.Namespace) -> int:
    """``indicators``: each registered indicator's shipped recipe in turn; a failure is reported and the rest
    still run (exit 1 if any failed)."""
    import warnings

    with _gc_paused(freeze=True):
        from pipeline.indicators import available
        from pipeline.recipe import load_recipe
        from pipeline.run import run

        codes = available()
    failed = 0
    for code in sorted(codes, key=lambda c: tuple(int(p) for p in c.split("."))):
        path = args.recipes / f"{code}.yaml"
        try:
            recipe = load_recipe(path)
            if args.zones or args.zone_id or args.zone_name:
                recipe = recipe.with_zones(_zones_spec(args, recipe))
            with warnings.catch_warnings(record=True) as caught:  # the run's own filters stay in force
                result = run(recipe, catalog=args.catalog, out=args.out, progress=False)
        except USER_ERRORS as exc:
            failed += 1
            print(f"{code:<7} error: {redact(str(exc))}")
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in one indicator: reported, the others still run
            failed += 1
            _bug()
            print(f"{code:<7} bug: {type(exc).__name__} (traceback on stderr)")
            continue
        except KeyboardInterrupt:
            print("interrupted: the running indicator wrote nothing", file=sys.stderr)
            return 130
        cost = result.footprint
        spent = (f"{cost.wall_s:.1f} s, peak {cost.peak_memory_bytes / 2**20:.0f} MiB"
                 if cost is not None and cost.peak_memory_bytes else "")
        ours = {str(w.message) for w in caught if issubclass(w.category, UserWarning)}
        notes = f", {len(ours)} warning{'s' if len(ours) != 1 else ''}: {' | '.join(sorted(ours))}" if ours else ""
        print(f"{code:<7} {result.headline} [{spent}{notes}] -> {result.path}")
    return 1 if failed else 0


def _bug() -> int:
    """Print the current exception's traceback (tokens removed) and how to report it; exit status 70."""
    import traceback

    print(redact(traceback.format_exc()).rstrip(), file=sys.stderr)
    print(BUG_REPORT, file=sys.stderr)
    return 70


def _zones_spec(args: argparse.Namespace, recipe):
    """``--zones/--zone-id/--zone-name`` over the recipe's ``zones`` (each flag replaces one key)."""
    from dataclasses import replace

    from pipeline.recipe import ZonesSpec

    base = recipe.zones
    if base is None:
        if not args.zones:
            raise RecipeError(f"{recipe.source}: --zone-id/--zone-name need --zones FILE (the recipe has no zones)")
        return ZonesSpec(path=args.zones, id_field=args.zone_id or "id", name_field=args.zone_name)
    return replace(base, **{k: v for k, v in (("path", args.zones), ("id_field", args.zone_id),
                                              ("name_field", args.zone_name)) if v})


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


def _worker_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:  # LocalCluster waits for ever on a negative count
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes >= 1 "
                                         "(leave --workers out to run on this process's threads)")
    return value


def _retry_policy(args: argparse.Namespace):
    """The run's retry policy with the deadlines of ``--deadline``/``--total-deadline`` (None: the defaults)."""
    from dataclasses import replace

    from pipeline.run import DEFAULT_RETRY

    if args.deadline is None and args.total_deadline is None:
        return None
    deadline = args.deadline or DEFAULT_RETRY.deadline
    total = args.total_deadline or max(DEFAULT_RETRY.total_deadline, deadline)
    if total < deadline:
        raise RecipeError(f"--total-deadline {total:g} is shorter than --deadline {deadline:g}: give a total at least "
                          "as long as one attempt")
    return replace(DEFAULT_RETRY, deadline=deadline, total_deadline=total)


def _grid_intensity(text: str) -> float:
    """``--grid-intensity``: a non-negative number of gCO2e per kWh."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a carbon intensity in gCO2e/kWh; give a number >= 0, "
                                         f"e.g. {DEFAULT_GRID_INTENSITY:g} (world average)")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "list":
        from pipeline.indicators import available, get_indicator

        for code in available():
            print(f"{code}\t{get_indicator(code).name}")
        return 0
    if args.command == "publish":
        return publish_command(args)
    if args.command == "indicators":
        return indicators_command(args)
    with _gc_paused(freeze=True):
        from pipeline.engine.cluster import scheduler
        from pipeline.indicators import available
        from pipeline.recipe import load_recipe
        from pipeline.run import run

        available()  # imports (registers) every indicator and its kernels now, under the pause

    try:
        recipe = load_recipe(args.recipe)
        if args.bbox:
            recipe = recipe.with_bbox(tuple(args.bbox))
        if args.zones or args.zone_id or args.zone_name:
            recipe = recipe.with_zones(_zones_spec(args, recipe))
        with scheduler(args.scheduler, args.workers) as where:
            if not args.no_progress:
                print(f"tasks on {where}", file=sys.stderr)
            result = run(recipe, catalog=args.catalog, out=args.out, progress=not args.no_progress,
                         grid_intensity=args.grid_intensity, retry=_retry_policy(args), resume=args.resume)
    except USER_ERRORS as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug: shown as one, never as a tidy error
        return _bug()
    print(f"SDG {recipe.sdg} {result.headline} -> {result.path}")
    if result.footprint is not None:  # stderr: stdout's last line stays the result a script parses
        print(result.footprint.summary(), file=sys.stderr)
    return 0
