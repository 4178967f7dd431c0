"""Write a product: Zarr v3 layers, table, quicklook and a STAC Item, all or nothing.

Everything is written into a hidden ``.<run-id>.partial`` sibling and renamed into
place only when complete; any failure or interrupt removes the partial directory,
so ``outputs/`` never holds a half-written product.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import dask
import pystac
import xarray as xr
from dask.diagnostics import ProgressBar
from shapely.geometry import mapping

from pipeline import quicklook
from pipeline.indicators import Plan

ZARR, CSV, PARQUET, PNG, ITEM = "product.zarr", "table.csv", "table.parquet", "quicklook.png", "item.json"


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``final`` only if the block succeeds."""
    if final.exists():
        raise FileExistsError(f"{final} exists already; products are never overwritten")
    partial = final.parent / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield partial
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def compute_and_write(plan: Plan, directory: Path, *, progress: bool) -> dict[str, Any]:
    """Run the whole graph once: layers stream into Zarr, statistics come back small."""
    with warnings.catch_warnings():
        # consolidated metadata is a zarr-python extension to v3; it makes opening fast
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        write = plan.layers.to_zarr(directory / ZARR, mode="w-", zarr_format=3, consolidated=True,
                                    compute=False, encoding=_encoding(plan.layers))
    with ProgressBar(out=sys.stderr) if progress else contextlib.nullcontext(), _own_pool(write) as pool:
        _, stats = dask.compute(write, dict(plan.stats), **({"pool": pool} if pool is not None else {}))
    return stats


@contextlib.contextmanager
def _own_pool(collection) -> Iterator[Any]:
    """A private thread pool for dask's threaded scheduler, drained before an error leaves.

    When a task fails, dask raises at once while the tasks already running go on (a COG
    read retrying over HTTP, a chunk being written). With the shared pool they would write
    into the partial directory after ``atomic_directory`` removed it; here they finish
    first (queued ones are cancelled). Other schedulers (distributed) are left alone.
    """
    import dask.base
    import dask.threaded

    if dask.base.get_scheduler(collections=[collection]) is not dask.threaded.get:
        yield None
        return
    executor = getattr(dask.threaded, "ContextAwareThreadPoolExecutor", ThreadPoolExecutor)
    pool = executor(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)


def _encoding(ds: xr.Dataset) -> dict:
    enc = {}
    for name, var in ds.data_vars.items():
        chunks = var.data.chunks if hasattr(var.data, "chunks") else None
        enc[name] = {"chunks": tuple(c[0] for c in chunks) if chunks else None, **var.encoding}
    return enc


def finish(directory: Path, *, plan: Plan, stats: dict, recipe, provenance_of: Callable[[], dict],
           run_id: str, aoi_geometry, indicator_name: str) -> tuple[Any, dict]:
    """Table, quicklook and STAC Item for a computed product; returns (table, item dict)."""
    table = plan.table(stats)
    table.to_csv(directory / CSV, index=False)
    table.to_parquet(directory / PARQUET, index=False)
    with xr.open_zarr(directory / ZARR, mask_and_scale=False) as ds:
        quicklook.draw(ds, plan.legend, table, plan.series, f"SDG {recipe.sdg}: {recipe.title}", directory / PNG)
        years = [int(y) for y in ds.year.values]
        shape = [int(ds.sizes["y"]), int(ds.sizes["x"])]
        layers = list(ds.data_vars)
    provenance = provenance_of()
    item = _item(run_id, recipe, table, provenance, aoi_geometry, years, shape, layers, indicator_name)
    item.set_self_href(str(directory / ITEM))
    item.make_asset_hrefs_relative()
    item.save_object(include_self_link=False, dest_href=str(directory / ITEM))
    (directory / "recipe.yaml").write_text(recipe.text)
    return table, item.to_dict()


def _item(run_id, recipe, table, provenance, aoi_geometry, years, shape, layers, indicator_name) -> pystac.Item:
    start = datetime.fromisoformat(f"{years[0]}-01-01T00:00:00+00:00")
    end = datetime.fromisoformat(f"{years[-1]}-12-31T23:59:59+00:00")
    values = {f"{row.series}/{row.period}": row.value for row in table.itertuples()}
    item = pystac.Item(
        id=run_id, geometry=mapping(aoi_geometry), bbox=list(aoi_geometry.bounds), datetime=None,
        start_datetime=start, end_datetime=end,
        properties={
            "title": f"SDG {recipe.sdg} {recipe.aoi.name} {years[0]}-{years[-1]}",
            "description": indicator_name,
            "license": recipe.licence,
            "sdg:indicator": recipe.sdg,
            "sdg:values": values,
            "proj:code": recipe.grid.crs,
            "proj:shape": shape,
            "processing:software": provenance["software"],
            "processing:datetime": provenance["finished"],
            "sdgcube:recipe_sha256": recipe.sha256,
            "sdgcube:provenance": provenance,
        },
    )
    item.add_asset("zarr", pystac.Asset(ZARR, media_type="application/vnd+zarr", roles=["data"],
                                        title=f"layers: {', '.join(layers)} (Zarr v3)"))
    item.add_asset("table_csv", pystac.Asset(CSV, media_type="text/csv", roles=["data"], title="indicator table"))
    item.add_asset("table_parquet", pystac.Asset(PARQUET, media_type="application/vnd.apache.parquet",
                                                 roles=["data"], title="indicator table"))
    item.add_asset("quicklook", pystac.Asset(PNG, media_type=pystac.MediaType.PNG, roles=["overview"]))
    item.add_asset("recipe", pystac.Asset("recipe.yaml", media_type="application/yaml", roles=["metadata"]))
    return item


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
