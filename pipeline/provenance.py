"""What a product was made from and with: inputs, recipe, software, host, times.

Signed URLs (SAS tokens, presigned S3) must never be stored: hrefs lose their query
string before they reach provenance.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pystac

from catalog.reliability import strip_token

PACKAGES = ("sdgcube", "numpy", "numba", "xarray", "dask", "odc-stac", "odc-geo", "rasterio", "pyproj",
            "pystac", "pystac-client", "zarr", "pandas", "pyarrow")


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import rasterio

        versions["gdal"] = rasterio.__gdal_version__
    except ImportError:
        pass
    return versions


def host() -> dict[str, object]:
    """Where the product was computed: results can differ in the last bits across CPUs/GPUs."""
    return {"system": platform.system(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "cpu_model": cpu_model(),
            "gpus": gpus(), "python": sys.version.split()[0]}


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU model name from /proc/cpuinfo (Linux; x86 "model name", ARM "Hardware"/"Model")."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    for key in ("model name", "Hardware", "Model", "cpu model"):
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return None


def gpus() -> list[dict[str, str]]:
    """GPUs as nvidia-smi lists them (name, driver, memory); [] without nvidia-smi or a GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fields = ("name", "driver", "memory")
    rows = [line for line in out.splitlines() if line.strip()]
    return [dict(zip(fields, (v.strip() for v in line.split(",")), strict=False)) for line in rows]


def now() -> datetime:
    return datetime.now(UTC)


def _item_datetime(item: pystac.Item) -> datetime:
    """The item's datetime, or the start of its range (STAC requires one of them)."""
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise ValueError(f"STAC item {item.id!r} has neither 'datetime' nor 'start_datetime'")
    return when


def input_record(catalog: str, items: Sequence[pystac.Item], assets: Sequence[str]) -> dict:
    """Input items of one collection: ids, datetimes and the asset hrefs actually read."""
    return {
        "catalog": strip_token(catalog),
        "items": [
            {"id": item.id, "collection": item.collection_id,
             "datetime": _item_datetime(item).isoformat(),
             "assets": {key: strip_token(item.assets[key].href) for key in assets if key in item.assets}}
            for item in items
        ],
    }


def provenance(*, recipe, inputs: Mapping[str, dict], started: datetime, finished: datetime) -> dict:
    return {
        "recipe": {"path": recipe.source, "sha256": recipe.sha256, "text": recipe.text},
        "inputs": dict(inputs),
        "software": software_versions(),
        "host": host(),
        "started": started.isoformat(),
        "finished": finished.isoformat(),
    }
