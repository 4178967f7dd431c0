"""Per-block science of 6.6.1: index, water test and yearly class in one fused pass.

Two water rules: "mndwi" (one normalized difference index above a threshold) and
"mndwi_awei" (MNDWI, an NDVI guard and AWEI_nsh in one fused multi-band kernel,
``kernels.classify_water_bands``); both feed the same yearly class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import kernels
from pipeline.engine import Block

# Scratch per strip of rows: dates x rows x width <= this many pixels, whatever the number of dates.
STRIP_PIXELS = 1 << 20


@dataclass(frozen=True)
class WaterRule:
    bands: tuple[str, ...]
    nodata: int
    threshold: float
    min_observations: int
    permanent_fraction: float
    kind: str = "mndwi"  # Parameters.water_rule; "mndwi_awei" reads the five bands of MNDWI_AWEI_BANDS
    ndvi_max: float = 0.0
    awei_threshold: float = -0.1


def water_block(block: Block) -> dict[str, np.ndarray]:
    """The year's water class; a year without any scene is NO_OBSERVATION everywhere."""
    rule: WaterRule = block.params
    if not block.data["optical"][rule.bands[0]]:
        return {"water_class": np.full(block.inside.shape, kernels.NO_OBSERVATION, dtype=np.uint8)}
    coords = block.coords["optical"]
    if rule.kind == "mndwi_awei":
        band_blocks = [block.data["optical"][band] for band in rule.bands]
        scale = np.stack([np.asarray(coords[f"scale_{band}"], np.float64) for band in rule.bands])
        offset = np.stack([np.asarray(coords[f"offset_{band}"], np.float64) for band in rule.bands])
        return {"water_class": yearly_classes_bands(band_blocks, scale=scale, offset=offset, rule=rule)}
    a_blocks, b_blocks = (block.data["optical"][band] for band in rule.bands)
    a, b = rule.bands
    scales = tuple(np.asarray(coords[k], np.float64) for k in (f"scale_{a}", f"offset_{a}", f"scale_{b}",
                                                               f"offset_{b}"))
    return {"water_class": yearly_classes(a_blocks, b_blocks, scales=scales, rule=rule)}


def yearly_classes(a_blocks: list[np.ndarray], b_blocks: list[np.ndarray], *, scales: tuple[np.ndarray, ...],
                   rule: WaterRule) -> np.ndarray:
    """Yearly classes of one block from its dates' DN blocks (lists of (k, y, x)).

    The blocks are never concatenated, and the float32 index and water masks exist for
    one strip of rows at a time (<= STRIP_PIXELS), so the scratch stays small whatever
    the number of dates.
    """
    a_scale, a_offset, b_scale, b_offset = scales
    nt = sum(blk.shape[0] for blk in a_blocks)
    ny, nx = a_blocks[0].shape[1:]
    out = np.empty((ny, nx), dtype=np.uint8)
    rows = max(1, STRIP_PIXELS // max(1, nt * nx))
    for r0 in range(0, ny, rows):
        r1 = min(ny, r0 + rows)
        index = np.empty((nt, r1 - r0, nx), dtype=np.float32)
        t = 0
        for a, b in zip(a_blocks, b_blocks, strict=True):
            k = a.shape[0]
            kernels.normalized_difference(np.ascontiguousarray(a[:, r0:r1]), np.ascontiguousarray(b[:, r0:r1]),
                                          a_scale[t:t + k], a_offset[t:t + k], b_scale[t:t + k],
                                          b_offset[t:t + k], rule.nodata, index[t:t + k])
            t += k
        water = np.empty(index.shape, dtype=np.uint8)
        kernels.classify_water(index, rule.threshold, water)
        kernels.yearly_water_class(water, rule.min_observations, rule.permanent_fraction, out[r0:r1])
    return out


def yearly_classes_bands(band_blocks: list[list[np.ndarray]], *, scale: np.ndarray, offset: np.ndarray,
                         rule: WaterRule) -> np.ndarray:
    """Yearly classes of one block under the multi-band rule.

    band_blocks: per band of ``rule.bands`` (green, red, nir, swir16, swir22), its dates'
    DN blocks (lists of (k, y, x)); scale, offset: float64 (5, t). The per-date water
    masks (uint8) exist for one strip of rows at a time (<= STRIP_PIXELS); there is no
    float temporary at all: reflectances and indices live in the kernel's registers.
    """
    nt = sum(blk.shape[0] for blk in band_blocks[0])
    ny, nx = band_blocks[0][0].shape[1:]
    out = np.empty((ny, nx), dtype=np.uint8)
    rows = max(1, STRIP_PIXELS // max(1, nt * nx))
    for r0 in range(0, ny, rows):
        r1 = min(ny, r0 + rows)
        water = np.empty((nt, r1 - r0, nx), dtype=np.uint8)
        t = 0
        for dates in zip(*band_blocks, strict=True):
            k = dates[0].shape[0]
            g, r, n, s1, s2 = (np.ascontiguousarray(blk[:, r0:r1]) for blk in dates)
            kernels.classify_water_bands(g, r, n, s1, s2, np.ascontiguousarray(scale[:, t:t + k]),
                                         np.ascontiguousarray(offset[:, t:t + k]), rule.nodata,
                                         rule.threshold, rule.ndvi_max, rule.awei_threshold, water[t:t + k])
            t += k
        kernels.yearly_water_class(water, rule.min_observations, rule.permanent_fraction, out[r0:r1])
    return out
