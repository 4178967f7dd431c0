"""Real administrative boundaries offline: the world's countries as Debian's ``r-cran-spdata`` ships them.

``spData/shapes/world.gpkg`` (CC0-1.0, from Natural Earth): 177 countries in EPSG:4326
with ``iso_a2`` and ``name_long``; a real zones file to run indicators per country.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from catalog.samples.build import DEFAULT_DIR, SamplesError, fetch_packages

PACKAGE = "r-cran-spdata"
WORLD = "spData/shapes/world.gpkg"


def ensure_world_boundaries(out_dir: Path = DEFAULT_DIR) -> Path:
    """``world.gpkg`` under ``out_dir``, unpacked from the Debian package once."""
    target = Path(out_dir) / "world.gpkg"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = fetch_packages(Path(tmp), (PACKAGE,))
        source = site / WORLD
        if not source.is_file():
            raise SamplesError(f"{PACKAGE} has no {WORLD}; the package layout changed")
        partial = target.with_suffix(".gpkg.partial")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return target
