"""Per-block science of 11.3.1: which pixels are built-up, and the people on each pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import kernels
from pipeline.engine import Block

UNKNOWN = kernels.NODATA_U8  # no built-up data, or outside the AOI


@dataclass(frozen=True)
class UrbanRule:
    band: str  # the built-up input's band: built_up (a fraction) or landcover (classes)
    threshold: float | None  # built-up fraction at or above which a pixel is built-up
    classes: tuple[int, ...]  # or: these land-cover classes are built-up
    built_nodata: float | None
    population_nodata: float | None


def _physical(block: Block, name: str, band: str, nodata: float | None) -> np.ndarray:
    """The year's first date of a band in physical units (float64; NaN where nodata)."""
    dn = block.stack(name, band)[0]
    coords = block.coords[name]
    scale = float(coords[f"scale_{band}"][0]) if f"scale_{band}" in coords else 1.0
    offset = float(coords[f"offset_{band}"][0]) if f"offset_{band}" in coords else 0.0
    value = dn.astype(np.float64) * scale + offset
    missing = ~np.isfinite(value)
    if nodata is not None:
        missing |= dn == nodata
    return np.where(missing, np.nan, value)


def urban_block(block: Block) -> dict[str, np.ndarray]:
    """Built-up (1/0, 255 unknown) and people per pixel (NaN unknown) of the block's year."""
    rule: UrbanRule = block.params
    if rule.threshold is not None:
        fraction = _physical(block, "built_up", rule.band, rule.built_nodata)
        built = np.where(np.isnan(fraction), np.uint8(UNKNOWN), (fraction >= rule.threshold).astype(np.uint8))
    else:
        classes = block.stack("built_up", rule.band)[0]
        unknown = classes == rule.built_nodata if rule.built_nodata is not None else np.zeros(classes.shape, bool)
        built = np.where(unknown, np.uint8(UNKNOWN), np.isin(classes, rule.classes).astype(np.uint8))
    people = _physical(block, "population", "population", rule.population_nodata)
    return {"built_up": np.where(block.inside, built, np.uint8(UNKNOWN)),
            "population": people.astype(np.float32)}
