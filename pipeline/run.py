"""Recipe -> product: search, load lazily, plan the indicator, write everything once."""

from __future__ import annotations

import math
import os
import secrets
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dask
import pandas as pd
import pystac
import rasterio
from odc.geo.geobox import GeoBox
from pyproj import CRS
from shapely.geometry import mapping

from catalog import reliability
from catalog.errors import SdgcubeError
from catalog.files import file_items, file_profile
from catalog.load import GridError, load_cube
from catalog.profiles import get_profile
from catalog.reliability import RetryPolicy
from catalog.search import SearchRequest, search
from pipeline import engine, footprint, guard, memory, product, provenance, staging
from pipeline.engine import checkpoints, cluster
from pipeline.grid import AUTO, aoi_in_crs, choose_crs, crs_misfit, make_geobox
from pipeline.indicators import Context, get_indicator
from pipeline.layers import product_layer
from pipeline.recipe import Input, Recipe, wrapped
from pipeline.schema import RecipeError
from pipeline.zones import Zones, read_zones

if TYPE_CHECKING:
    from catalog.load import Cube
    from catalog.profiles import Profile

# odc-stac reprojects in-memory arrays with explicit transforms; rasterio still warns
# that those arrays carry no georeferencing. The warning says nothing about the data.
warnings.filterwarnings("ignore", message="Dataset has no geotransform", module="rasterio")

# Retries/timeouts of STAC requests and COG reads when ``run`` is given no policy.
DEFAULT_RETRY = reliability.DEFAULT_POLICY


@dataclass(frozen=True)
class RunResult:
    """A written product: its indicator table (what a rerun reproduces), headline, Item and footprint."""

    path: Path
    table: pd.DataFrame
    headline: str
    item: dict
    footprint: footprint.Footprint | None = None
    blocks: Blocks | None = None  # None: run without resume records


@dataclass(frozen=True)
class Blocks:
    """Block tasks of a run: computed now, or reused from the killed run it resumed."""

    computed: int
    reused: int

    def describe(self) -> str:
        return f"{self.computed} computed" + (f", {self.reused} reused from the killed run" if self.reused else "")


class ResumeError(SdgcubeError):
    """``--resume`` with nothing to resume."""


def default_catalog() -> str:
    """The embedded demo catalog, built on first use."""
    from catalog.demo import ensure_demo_catalog

    return str(ensure_demo_catalog())


def run(recipe: Recipe, *, catalog: str | None = None, out: Path = Path("outputs"), progress: bool = True,
        run_id: str | None = None, retry: RetryPolicy | None = None,
        grid_intensity: float = footprint.DEFAULT_GRID_INTENSITY, resume: str = "auto") -> RunResult:
    """Search, load, compute and write one product.

    Transient STAC and COG faults are retried per ``retry`` (default ``DEFAULT_RETRY``). An
    asset that still cannot be read fails the run with ``catalog.reliability.AssetReadError``
    (nothing is written), or, with ``inputs.<name>.on_unreadable: nodata``, is read as nodata
    and reported on stderr and in ``provenance["warnings"]`` of the product.

    The run meters itself (``pipeline.footprint``): time, CPU, I/O, memory, energy and
    CO2e at ``grid_intensity`` gCO2e/kWh land in the table, the Item and the report.

    ``resume``: ``auto`` finishes a killed run of the same recipe, catalog and code when one is
    there (``pipeline.staging``), computing only its missing blocks; ``require`` fails when there
    is none; ``off`` starts afresh and saves no blocks.
    """
    if resume not in RESUME_MODES:
        raise ValueError(f"resume={resume!r}; one of {RESUME_MODES}")
    with footprint.Meter(grid_intensity=grid_intensity, remote=cluster.worker_counters) as meter:
        return _run(recipe, catalog=catalog, out=out, progress=progress, run_id=run_id, retry=retry, meter=meter,
                    resume=resume)


RESUME_MODES = ("auto", "require", "off")


def _run(recipe: Recipe, *, catalog: str | None, out: Path, progress: bool, run_id: str | None,
         retry: RetryPolicy | None, meter: footprint.Meter, resume: str) -> RunResult:
    started = provenance.now()
    policy = retry or DEFAULT_RETRY
    reliability.protect_logs()
    memory.bound_allocator()  # peak RSS set by the chunk: freed chunk buffers go back to the OS
    reliability.clear_http_cache()  # GDAL remembers failed URLs: a recovered server must get a new try
    catalog = catalog or default_catalog()
    indicator = get_indicator(recipe.sdg)
    for stale in staging.sweep(Path(out)):
        print(f"removed {stale}: the staging directory of a run that no longer runs", file=sys.stderr)
    identity = staging.identity(recipe.text, catalog)
    adopted = staging.adopt(Path(out) / recipe.sdg, identity) if resume != "off" else None
    if adopted is None and resume == "require":
        raise ResumeError(f"no killed run of this recipe and catalog to resume under {Path(out) / recipe.sdg}",
                          hint="run without --resume to start afresh")
    if adopted is not None:
        run_id, started = adopted[1]["run_id"], datetime.fromisoformat(adopted[1]["started"])
        print(f"resuming run {run_id}: {adopted[2]} finished blocks of the killed run are reused", file=sys.stderr)
    for kept in staging.waiting(Path(out)):
        print(f"kept {kept}: a killed run's finished blocks; the same command resumes it (or remove it)",
              file=sys.stderr)
    aoi = recipe.aoi.shape()  # one piece, longitudes beyond 180 if it crosses the antimeridian
    recipe, crs_choice = _resolve_crs(recipe, aoi)
    if progress:
        print(f"grid CRS: {crs_choice}", file=sys.stderr)
    if aoi.bounds[2] > 180 and CRS.from_user_input(recipe.grid.crs).is_geographic:
        raise GridError(f"the AOI crosses the antimeridian, which a geographic grid ({recipe.grid.crs}) cannot hold in "
                        "one piece", hint="use a projected grid.crs there, e.g. its UTM zone (EPSG:32601 or 32660 "
                        "north, 32701 or 32760 south)")
    margin = indicator.margin_m(recipe.parameters) if indicator.margin_m is not None else 0.0
    geobox = make_geobox(aoi, recipe.grid.crs, recipe.grid.resolution, margin)
    west, south, east, north = aoi_in_crs(aoi, geobox).bounds
    size = guard.check_grid(geobox, recipe.grid.chunk, recipe.grid.max_blocks, max(east - west, north - south))
    search_area = wrapped(aoi if not margin else aoi.buffer(margin / 111_320.0 / max(
        math.cos(math.radians(max(abs(aoi.bounds[1]), abs(aoi.bounds[3])))), 0.01), join_style="mitre"))
    zones = load_zones(recipe, geobox)
    first, last = recipe.periods.years
    cubes, inputs, read = {}, {}, []
    for name, spec in recipe.inputs.items():
        found = _find(name, spec, catalog, search_area, (first, last), policy)  # (items, profile, source) each
        cubes[name] = _load(found, spec, geobox, recipe.grid.chunk, policy, indicator.load_all_dates)
        records = [provenance.input_record(source, items, [profile.asset(b) for b in spec.bands]
                                           + ([profile.asset(profile.mask.band)] if profile.mask else []))
                   for items, profile, source in found]
        inputs[name] = {**records[0], "items": [record for r in records for record in r["items"]]}
        if len(found) > 1:
            inputs[name]["collections"] = {profile.collection: len(items) for items, profile, _ in found}
        if cubes[name].harmonisation is not None:
            inputs[name]["harmonisation"] = dict(cubes[name].harmonisation or {})
        read.append((name, [item for items, _, _ in found for item in items]))
    assets = reliability.AssetIndex(read)
    ctx = Context(recipe=recipe, cubes=cubes, geobox=geobox, zones=zones)
    plan = indicator.plan(ctx)
    size = guard.estimate(plan.steps, {k: c.data for k, c in cubes.items()}, size,
                          dask.config.get("num_workers", None) or os.cpu_count() or 1)
    if progress:
        print(size.describe(), file=sys.stderr)
    guard.check_memory(size, recipe.grid.max_memory_gib)
    run_id = run_id or new_run_id(started, recipe)
    final = Path(out) / recipe.sdg / run_id
    with product.atomic_directory(final, adopted[0] if adopted else None) as partial, \
            product.output_errors(Path(out)):
        saved = (staging.record(partial, identity=identity, run_id=run_id, started=started.isoformat())
                 if resume != "off" else None)
        before = checkpoints.completed(saved) if saved is not None else set()
        cluster.worker_read_failures()  # a long-lived cluster's workers may hold an earlier run's
        with reliability.capture_read_failures() as failures:
            try:
                built = engine.build(plan.steps, engine.Setting(
                    geobox=geobox, aoi=aoi_in_crs(aoi, geobox), cubes={k: c.data for k, c in cubes.items()},
                    zones=zones, chunk=recipe.grid.chunk, checkpoints=saved), product_layer)
                built.layers.attrs.update(_global_attrs(recipe, indicator.name, inputs, started, run_id, zones))
                built.layers.attrs["grid_crs_choice"] = crs_choice
                stats = product.compute_and_write(built, partial, progress=progress)
            except Exception as exc:
                error = reliability.asset_read_error(exc, _read_failures(failures, assets), assets, policy)
                if error is None:
                    raise
                raise error from None  # the original names no asset and may carry a signed href
        blocks = None
        if saved is not None:
            after = checkpoints.completed(saved)
            blocks = Blocks(computed=len(after - before), reused=len(after & before))
            staging.forget(partial)
            if progress or blocks.reused:
                print(f"blocks: {blocks.describe()}", file=sys.stderr)
        skipped = reliability.skipped_assets(_read_failures(failures, assets), assets, policy)
        for warning in skipped:
            print(f"warning: {warning['message']}", file=sys.stderr)
        table, item = product.finish(
            partial, plan=plan, stats=stats, recipe=recipe, run_id=run_id, aoi_geometry=wrapped(aoi),
            indicator_name=indicator.name, zones=zones,
            footprint_of=lambda directory: meter.read(product_dir=directory, aoi_km2=footprint.aoi_area_km2(aoi),
                                                      tasks=engine.graph.last_task_count),
            provenance_of=lambda: {**provenance.provenance(recipe=recipe, inputs=inputs, started=started,
                                                           finished=provenance.now()),
                                   "warnings": skipped})
    return RunResult(path=final, table=table, headline=plan.headline(table), item=item, footprint=meter.result,
                     blocks=blocks)


def _read_failures(log: reliability.ReadFailureLog, assets: reliability.AssetIndex) -> list[reliability.ReadFailure]:
    """This process's read failures, then the workers' that concern this run's assets (a shared cluster
    may run other runs' tasks too)."""
    return [*log.failures, *(f for f in cluster.worker_read_failures() if assets.lookup(f.uri) is not None)]


def _resolve_crs(recipe: Recipe, aoi) -> tuple[Recipe, str]:
    """The recipe with its grid CRS chosen (``auto``) or checked against the AOI (a fixed one), and why."""
    from dataclasses import replace

    if recipe.grid.crs == AUTO:
        crs, why = choose_crs(aoi)
        short = crs if crs.startswith("EPSG:") else "LAEA"
        return replace(recipe, grid=replace(recipe.grid, crs=crs)), f"{short} (auto: {why})"
    problem = crs_misfit(aoi, recipe.grid.crs)
    if problem:
        raise GridError(f"grid.crs {recipe.grid.crs} does not suit this AOI: {problem}",
                        hint="use grid.crs: auto (the AOI's UTM zone, or an equal-area projection across zones), or a "
                             "CRS made for this place")
    return recipe, f"{recipe.grid.crs} (the recipe's)"


def new_run_id(started: datetime, recipe: Recipe) -> str:
    """Start time, recipe hash and a random part: two runs started in the same second never share an id."""
    return f"{started:%Y%m%dT%H%M%SZ}-{recipe.sha256[:8]}-{secrets.token_hex(3)}"


def _find(name: str, spec: Input, catalog: str, aoi, years: tuple[int, int],
          policy: RetryPolicy) -> list[tuple[list[pystac.Item], Profile, str]]:
    """The items of one input, per collection, with their profile and source: STAC searches (one per
    collection; of several, one without items is left out, all without is an error), or the input's
    local files."""
    from catalog.search import NoItemsFound

    files = spec.local_files
    if files is not None:
        outside = [y for y in files if y is not None and not years[0] <= y <= years[1]]
        if outside:
            raise RecipeError(f"inputs.{name}.files: years {outside} lie outside periods.years {list(years)}; "
                              "widen periods.years or drop those files")
        items = file_items(name, files, spec.bands[0])
        return [(items, file_profile(name, items, spec.bands[0], spec.categorical), "local files")]
    assert spec.collections  # Input requires a collection or files
    found, empty = [], []
    for collection in spec.collections:
        profile = get_profile(collection)
        try:
            items = search(catalog, SearchRequest(
                collection=collection, intersects=aoi,
                start=datetime(years[0], 1, 1, tzinfo=UTC), end=datetime(years[1], 12, 31, 23, 59, 59, tzinfo=UTC),
                max_cloud_cover=spec.max_cloud_cover, cloud_cover_property=profile.cloud_cover_property),
                policy=policy)
        except NoItemsFound as exc:
            if len(spec.collections) == 1:
                raise
            empty.append(exc)
            continue
        found.append((items, get_profile(collection, items), catalog))  # the catalog's flavour (asset keys)
    if not found:
        raise NoItemsFound(f"inputs.{name}: none of its collections has items ({'; '.join(map(str, empty))})")
    return found


def load_zones(recipe: Recipe, geobox: GeoBox) -> Zones | None:
    """The recipe's zones on the grid's CRS (checked: ``pipeline.zones.ZonesError`` says what to fix)."""
    spec = recipe.zones
    if spec is None:
        return None
    return read_zones(spec.path, id_field=spec.id_field, name_field=spec.name_field, layer=spec.layer,
                      make_valid=spec.make_valid, aoi=recipe.aoi.shape(), crs=str(geobox.crs))


def _load(found: Sequence[tuple[Sequence[pystac.Item], Profile, str]], spec: Input, geobox: GeoBox, chunk: int,
          policy: RetryPolicy, all_dates: bool = False) -> Cube:
    """``load_cube`` (one collection) or ``load_collections`` (several, or ``harmonise``) with the
    policy's GDAL HTTP options and the input's ``on_unreadable``. Snow is no observation of the
    surface: a profile's ``snow`` bit (Landsat QA_PIXEL bit 5) is masked, as the Sentinel-2
    profiles mask SCL class 11.

    odc-stac captures the calling thread's rasterio environment into the graph, so the
    GDAL options given here apply to every read at compute time (and nowhere else).
    """
    from catalog.load import Part, load_collections

    def snow(profile: Profile) -> tuple[str, ...]:
        return ("snow",) if profile.mask is not None and "snow" in profile.mask.bits else ()

    fail = spec.on_unreadable != "nodata"
    with rasterio.Env(**policy.gdal_options()):
        if len(found) == 1 and spec.harmonise == "none":
            items, profile, _ = found[0]
            return load_cube(items, profile, spec.bands, geobox, chunk=chunk, all_dates=all_dates,
                             fail_on_error=fail, also_invalid=snow(profile))
        return load_collections([Part(items, profile, snow(profile)) for items, profile, _ in found], spec.bands,
                                geobox, chunk, harmonise=spec.harmonise, fail_on_error=fail, all_dates=all_dates)


def _global_attrs(recipe: Recipe, name: str, inputs: dict, started: datetime, run_id: str,
                  zones: Zones | None) -> dict:
    zone_attrs = {} if zones is None else {"zones_source": zones.source, "zone_ids": list(zones.ids),
                                           "zone_names": list(zones.names)}
    return {
        **zone_attrs,
        "Conventions": "CF-1.10",
        "title": f"SDG {recipe.sdg}: {name}",
        "summary": recipe.title,
        "sdg_indicator": recipe.sdg,
        "aoi_name": recipe.aoi.name,
        "aoi_geometry": mapping(wrapped(recipe.aoi.shape())),
        "license": recipe.licence,
        "run_id": run_id,
        "recipe_sha256": recipe.sha256,
        "source": "; ".join(f"{k}: {len(v['items'])} STAC items from {v['catalog']}" for k, v in inputs.items()),
        "input_items": {k: [i["id"] for i in v["items"]] for k, v in inputs.items()},
        "software": provenance.software_versions(),
        "history": f"{started.isoformat()} sdgcube run {recipe.source}",
    }
