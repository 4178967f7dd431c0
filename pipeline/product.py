"""Write a product: Zarr v3 layers, table, quicklook and a STAC Item, all or nothing.

Everything is written into a hidden ``.<run-id>.<random>.partial`` sibling and renamed into
place only when complete; any failure or interrupt removes the partial directory,
so ``outputs/`` never holds a half-written product (a killed run's is swept by the next run:
``pipeline.staging``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyproj
import pystac
import xarray as xr
from shapely.geometry import mapping

from catalog.errors import SdgcubeError
from pipeline import engine, memory, quicklook, report, staging, tables
from pipeline.checksums import array_checksums, file_checksums
from pipeline.engine import Built
from pipeline.footprint import Footprint
from pipeline.indicators import Plan
from pipeline.zones import Zones

ZARR, CSV, PARQUET, PNG, ITEM = "product.zarr", "table.csv", "table.parquet", "quicklook.png", "item.json"
FOOTPRINT_CSV = "footprint.csv"
# how any xarray user opens the Zarr asset (xarray-assets extension; publish uses it too)
ZARR_OPEN_KWARGS: dict[str, Any] = {"engine": "zarr", "consolidated": True, "zarr_format": 3}
ITEM_EXTENSIONS = (
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "https://stac-extensions.github.io/xarray-assets/v1.0.0/schema.json",
)


class OutputError(SdgcubeError, OSError):
    """The output root cannot hold a product (not a folder, not writable, full)."""


class ProductExistsError(SdgcubeError, FileExistsError):
    """A product's final directory is taken: products are never overwritten."""


@contextlib.contextmanager
def atomic_directory(final: Path, adopted: Path | None = None) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``final`` only if the block succeeds.

    ``adopted``: a killed run's staging directory, already locked by this process
    (``staging.adopt``), to finish instead of a new one.
    """
    if final.exists():
        raise ProductExistsError(f"{final} exists already; products are never overwritten")
    if adopted is not None:
        partial = adopted
    else:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            # a directory of this process's own: another run of the same id cannot write into it
            partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
        except OSError as exc:
            raise OutputError(f"cannot write a product under {final.parent}: {exc.strerror or exc}",
                              hint="give --out a writable folder (not a file), e.g. --out outputs") from None
        try:
            staging.lock(partial)  # a later run removes it only once this process is gone
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise OutputError(f"cannot write in {final.parent}: {exc.strerror or exc}",
                              hint="free space or choose another --out") from None
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield partial
        try:
            os.replace(partial, final)
        except OSError as exc:
            if not final.exists():
                raise
            raise ProductExistsError(f"{final} was written by another run while this one ran; products are never "
                                  "overwritten: run again for a new run id") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        staging.release(partial)
        with contextlib.suppress(OSError):  # no empty outputs/<sdg>/ left behind (kept if anything is in it)
            final.parent.rmdir()
        raise
    finally:
        staging.release(partial)
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def output_errors(root: Path) -> Iterator[None]:
    """A full, read-only or vanished output disk while writing is the environment, not a bug: one line."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO):
            raise
        raise OutputError(f"cannot write the product under {root}: {exc.strerror or exc} (nothing was kept)",
                          hint="free space, or give --out another folder") from None


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def compute_and_write(built: Built, directory: Path, *, progress: bool) -> dict[str, Any]:
    """Run the whole graph once: layers stream into Zarr, statistics come back small.

    A store left by a killed run is written again whole (its finished blocks come from their
    checkpoints, so this costs the writes only).
    """
    shutil.rmtree(directory / ZARR, ignore_errors=True)
    write = engine.zarr_write(built.layers, directory / ZARR, _encoding(built.layers))
    return engine.compute(write, built.stats, progress=progress, blocks=built.blocks)


def _encoding(ds: xr.Dataset) -> dict:
    enc = {}
    for name, var in ds.data_vars.items():
        chunks = var.data.chunks if hasattr(var.data, "chunks") else None
        enc[name] = {"chunks": tuple(c[0] for c in chunks) if chunks else None, **var.encoding}
    return enc


def finish(directory: Path, *, plan: Plan, stats: dict, recipe, provenance_of: Callable[[], dict],
           run_id: str, aoi_geometry, indicator_name: str, zones: Zones | None = None,
           footprint_of: Callable[[Path], Footprint] | None = None) -> tuple[Any, dict]:
    """Table, quicklook, STAC Item and report of a computed product; returns (table, item dict).

    ``footprint_of(directory)`` reads the run's meter just before the Item is written; it
    goes to ``footprint.csv`` and the Item, never into the indicator table (which is what
    a rerun reproduces).
    """
    table = plan.table(stats)
    memory.return_freed_memory()  # the figures below are drawn on top of what the compute left
    # no dask: the figures read a few strided slices, each straight from the store
    with xr.open_zarr(directory / ZARR, mask_and_scale=False, chunks=None) as ds:
        quicklook.draw(ds, plan.legend, table, plan.series, f"SDG {recipe.sdg}: {recipe.title}",
                       directory / PNG)
        years = _years(ds, table)
        shape = [int(ds.sizes["y"]), int(ds.sizes["x"])]
        layers = list(ds.data_vars)
        footprint = footprint_of(directory) if footprint_of is not None else None
        table.to_csv(directory / CSV, index=False)
        table.to_parquet(directory / PARQUET, index=False)
        if footprint is not None:
            footprint.frame().to_csv(directory / FOOTPRINT_CSV, index=False)
        provenance = provenance_of()
        item = _item(run_id, recipe, table, provenance, aoi_geometry, years, shape, layers, indicator_name,
                     footprint=footprint.to_dict() if footprint is not None else None,
                     store=directory / ZARR)
        report.write(directory, ds=ds, plan=plan, table=table, item=item.to_dict(), recipe=recipe,
                     headline=plan.headline(table), footprint=footprint, zones=zones)
    item.add_asset("report", pystac.Asset(report.REPORT, media_type=pystac.MediaType.HTML, roles=["overview"],
                                          title="report: values, trend, maps, provenance, footprint"))
    (directory / "recipe.yaml").write_text(recipe.text)
    # every other file, as written: publishing refuses a product edited since (a table, a flag_meanings)
    item.properties["sdgcube:file_checksums"] = file_checksums(directory, ZARR)
    item.set_self_href(str(directory / ITEM))
    item.make_asset_hrefs_relative()
    item.save_object(include_self_link=False, dest_href=str(directory / ITEM))
    return table, item.to_dict()


def _item(run_id, recipe, table, provenance, aoi_geometry, years, shape, layers, indicator_name,
          footprint: dict | None = None, store: Path | None = None) -> pystac.Item:
    """The product's STAC Item: values, processing extension, full provenance, array checksums."""
    start = datetime.fromisoformat(f"{years[0]}-01-01T00:00:00+00:00")
    end = datetime.fromisoformat(f"{years[-1]}-12-31T23:59:59+00:00")
    values = {f"{row.series}/{row.period}" + ("" if row.zone == tables.ALL else f"/{row.zone}"): row.value
              for row in table.itertuples()}
    provenance = {**provenance, "recipe": {**provenance["recipe"], "parameters": _parameters(recipe)}}
    item = pystac.Item(
        id=run_id, geometry=mapping(aoi_geometry), bbox=list(aoi_geometry.bounds), datetime=None,
        start_datetime=start, end_datetime=end, stac_extensions=list(ITEM_EXTENSIONS),
        properties={
            "title": f"SDG {recipe.sdg} {recipe.aoi.name} {years[0]}-{years[-1]}",
            "description": indicator_name,
            "license": recipe.licence,
            "sdg:indicator": recipe.sdg,
            "sdg:values": values,
            **({"proj:code": recipe.grid.crs} if recipe.grid.crs.upper().startswith(("EPSG:", "OGC:"))
               else {"proj:wkt2": recipe.grid.crs}),
            "proj:shape": shape,
            "processing:software": provenance["software"],
            "processing:datetime": provenance["finished"],
            "processing:level": "L4",  # derived from analyses of lower-level data
            "processing:lineage": _lineage(recipe, provenance, indicator_name),
            "sdgcube:recipe_sha256": recipe.sha256,
            "sdgcube:provenance": provenance,
            **({"sdgcube:footprint": footprint} if footprint is not None else {}),
            **({"sdgcube:array_checksums": array_checksums(store)} if store is not None else {}),
        },
    )
    item.add_asset("zarr", pystac.Asset(ZARR, media_type="application/vnd+zarr", roles=["data"],
                                        title=f"layers: {', '.join(layers)} (Zarr v3)",
                                        extra_fields={"xarray:open_kwargs": dict(ZARR_OPEN_KWARGS)}))
    item.add_asset("table_csv", pystac.Asset(CSV, media_type="text/csv", roles=["data"], title="indicator table"))
    item.add_asset("table_parquet", pystac.Asset(PARQUET, media_type="application/vnd.apache.parquet",
                                                 roles=["data"], title="indicator table"))
    if footprint is not None:
        item.add_asset("footprint", pystac.Asset(FOOTPRINT_CSV, media_type="text/csv", roles=["metadata"],
                                                 title="run footprint: time, bytes, memory, energy, CO2e"))
    item.add_asset("quicklook", pystac.Asset(PNG, media_type=pystac.MediaType.PNG, roles=["overview"]))
    item.add_asset("recipe", pystac.Asset("recipe.yaml", media_type="application/yaml", roles=["metadata"]))
    return item


def _years(ds: xr.Dataset, table: pd.DataFrame) -> list[int]:
    """First and last year the product describes (its layers' years, else its table's)."""
    if "year" in ds.coords:
        return [int(y) for y in ds.year.values]
    return [int(table.start_year.min()), int(table.end_year.max())]


def _parameters(recipe) -> Any:
    """The indicator's parameters as plain JSON values (they are a frozen dataclass)."""
    return _plain(recipe.parameters)


def _plain(value: Any) -> Any:
    """Dataclasses, mappings (recipes hold read-only ones) and tuples as JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}  # JSON keys are strings
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _lineage(recipe, provenance: dict, indicator_name: str) -> str:
    """One sentence a catalogue reader can follow without the provenance block."""
    inputs = "; ".join(f"{len(v['items'])} items of {', '.join(sorted({i['collection'] for i in v['items']}))}"
                       f" from {v['catalog']}" for v in provenance["inputs"].values())
    return (f"SDG {recipe.sdg} ({indicator_name}) computed by sdgcube from {inputs or 'no inputs'}, with recipe "
            f"sha256 {recipe.sha256[:12]} on a {_crs_name(recipe.grid.crs)} grid at {recipe.grid.resolution:g} m.")


def _crs_name(crs: str) -> str:
    return crs if len(crs) < 40 else (pyproj.CRS.from_user_input(crs).name or "custom")


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
