"""Per-block science of 6.6.1: index, water test and yearly class in one fused pass.

Two water rules: "mndwi" (one normalized difference index above a threshold) and
"mndwi_awei" (MNDWI, an NDVI guard and AWEI_nsh in one fused multi-band kernel,
``kernels.classify_water_bands``); both feed the same yearly class.
"""

from __future__ import annotations

import math
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
    snow_ndsi: float = math.nan  # the SNOMAP snow test's thresholds (NaN: none; the input masks snow itself)
    snow_nir: float = 0.11
    snow_green: float = 0.10
    count_by: str | None = None  # a time coordinate ("sensor") whose values' clear observations are counted
    groups: tuple[str, ...] = ()  # its values, one count layer each
    count_layers: tuple[str, ...] = ()  # their layer names


def water_block(block: Block) -> dict[str, np.ndarray]:
    """The year's water class (and clear observations per sensor); a year without any scene is
    NO_OBSERVATION everywhere (and 0 observations)."""
    rule: WaterRule = block.params
    coords = block.coords["optical"]
    counts = np.zeros((len(rule.groups), *block.inside.shape), np.uint16) if rule.groups else None
    if not block.data["optical"][rule.bands[0]]:
        classes = np.full(block.inside.shape, kernels.NO_OBSERVATION, dtype=np.uint8)
    elif rule.kind == "mndwi_awei":
        band_blocks = [block.data["optical"][band] for band in rule.bands]
        scale = np.stack([np.asarray(coords[f"scale_{band}"], np.float64) for band in rule.bands])
        offset = np.stack([np.asarray(coords[f"offset_{band}"], np.float64) for band in rule.bands])
        classes = yearly_classes_bands(band_blocks, scale=scale, offset=offset, rule=rule,
                                       groups=_date_groups(coords, rule), counts=counts)
    else:
        a_blocks, b_blocks = (block.data["optical"][band] for band in rule.bands)
        a, b = rule.bands
        scales = tuple(np.asarray(coords[k], np.float64) for k in (f"scale_{a}", f"offset_{a}", f"scale_{b}",
                                                                   f"offset_{b}"))
        classes = yearly_classes(a_blocks, b_blocks, scales=scales, rule=rule, groups=_date_groups(coords, rule),
                                 counts=counts)
    out = {"water_class": classes}
    if counts is not None:
        out.update(zip(rule.count_layers, counts, strict=True))
    return out


def _date_groups(coords, rule: WaterRule) -> np.ndarray | None:
    """Per date of the block, the index of its group in ``rule.groups`` (-1: none); None: no counting."""
    if not rule.groups or rule.count_by is None:
        return None
    index = {group: i for i, group in enumerate(rule.groups)}
    return np.array([index.get(str(v), -1) for v in np.asarray(coords[rule.count_by])], np.int64)


def _count(water: np.ndarray, groups: np.ndarray | None, counts: np.ndarray | None, rows: slice) -> None:
    """Add each date's clear observations (water mask != 255) to its group's count, for a strip of rows."""
    if groups is None or counts is None:
        return
    for t, g in enumerate(groups):
        if g >= 0:
            counts[g, rows] += water[t] != kernels.NODATA_U8


def yearly_classes(a_blocks: list[np.ndarray], b_blocks: list[np.ndarray], *, scales: tuple[np.ndarray, ...],
                   rule: WaterRule, groups: np.ndarray | None = None, counts: np.ndarray | None = None) -> np.ndarray:
    """Yearly classes of one block from its dates' DN blocks (lists of (k, y, x)).

    The blocks are never concatenated, and the float32 index and water masks exist for
    one strip of rows at a time (<= STRIP_PIXELS), so the scratch stays small whatever
    the number of dates. ``groups`` (per date, a group index or -1) and ``counts``
    (uint16 (groups, y, x), zeroed) add each group's clear observations per pixel.
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
        _count(water, groups, counts, slice(r0, r1))
    return out


def yearly_classes_bands(band_blocks: list[list[np.ndarray]], *, scale: np.ndarray, offset: np.ndarray,
                         rule: WaterRule, groups: np.ndarray | None = None,
                         counts: np.ndarray | None = None) -> np.ndarray:
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
                                         rule.threshold, rule.ndvi_max, rule.awei_threshold, rule.snow_ndsi,
                                         rule.snow_nir, rule.snow_green, water[t:t + k])
            t += k
        kernels.yearly_water_class(water, rule.min_observations, rule.permanent_fraction, out[r0:r1])
        _count(water, groups, counts, slice(r0, r1))
    return out
