"""Numba kernels: pure NumPy/Numba functions that write into caller-supplied ``out`` arrays.

Importing this package imports only numpy and numba. Every kernel is an
``@numba.njit(cache=True)`` dispatcher returning None; the first call per
argument-type combination compiles (or loads from the on-disk cache).
"""

from kernels.areas import class_area_sums
from kernels.components import mmu_filter
from kernels.indices import normalized_difference
from kernels.water import (
    NODATA_U8,
    NO_OBSERVATION,
    NOT_WATER,
    PERMANENT,
    SEASONAL,
    classify_water,
    water_frequency,
    yearly_water_class,
)
from kernels.composites import nan_median, nan_percentiles
from kernels.landcover import percentile_classes, ratio_to_zone_percentile, transition_lookup
from kernels.timeseries import mann_kendall, ols_slope, theil_sen, valid_count

__all__ = [
    "NODATA_U8",
    "NOT_WATER",
    "NO_OBSERVATION",
    "PERMANENT",
    "SEASONAL",
    "class_area_sums",
    "classify_water",
    "mmu_filter",
    "normalized_difference",
    "yearly_water_class",
    "mann_kendall",
    "nan_median",
    "nan_percentiles",
    "ols_slope",
    "percentile_classes",
    "ratio_to_zone_percentile",
    "theil_sen",
    "transition_lookup",
    "valid_count",
    "water_frequency",
]
