"""Per-block science of 15.1.1: forest patches of at least the MMU, exact across block borders."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import kernels
from pipeline.engine import Block

UNKNOWN = kernels.NODATA_U8  # no land cover, or outside the AOI


@dataclass(frozen=True)
class ForestRule:
    forest_classes: tuple[int, ...]
    min_area: float  # m²
    eight_connected: bool
    lc_nodata: int


def mmu_halo(min_area: float, smallest_pixel_area: float) -> int:
    """Halo (pixels) that makes block-wise MMU filtering exact.

    A component smaller than ``min_area`` has fewer than n = ceil(min_area / smallest
    pixel area) pixels, so it lies within n-1 pixels (Chebyshev) of any of its pixels
    and is seen whole in a block grown by n; a larger component reaching the halo edge
    shows >= n+1 pixels there and is kept. Either way the block decides correctly.
    """
    return max(1, math.ceil(min_area / smallest_pixel_area)) if min_area else 0


def forest_block(block: Block) -> dict[str, np.ndarray]:
    """Forest (1/0, 255 unknown) and the land cover on the grid, from the year's first land-cover date."""
    rule: ForestRule = block.params
    if not block.data["landcover"]["landcover"]:
        raise ValueError(f"no land cover for {block.period}")  # plan() keeps only years with items
    window = block.stack("landcover", "landcover")[0]
    lc = np.where(block.inside, window, np.uint8(UNKNOWN))
    unknown = (lc == rule.lc_nodata) | (lc == UNKNOWN)
    forest = np.where(unknown, np.uint8(UNKNOWN), np.isin(lc, rule.forest_classes).astype(np.uint8))
    if rule.min_area:
        filtered = np.empty(forest.shape, dtype=np.uint8)
        kernels.mmu_filter(np.ascontiguousarray(forest), np.ascontiguousarray(block.area), float(rule.min_area),
                           bool(rule.eight_connected), filtered)
        forest = filtered
    return {"forest": forest, "landcover": lc}  # the engine sets the layers' fill values outside the AOI
