"""Numba kernels: pure NumPy/Numba functions that write into caller-supplied ``out`` arrays.

Importing this package imports only numpy and numba. Every kernel is an
``@numba.njit(cache=True)`` dispatcher returning None; the first call per
argument-type combination compiles (or loads from the on-disk cache).
"""

from kernels.areas import class_area_sums
from kernels.components import mmu_filter
from kernels.composites import nan_median, nan_percentiles
from kernels.degradation import (
    NODATA_I8,
    annual_means,
    productivity_state,
    productivity_trajectory,
    soc_stocks,
    valid_mean,
)
from kernels.indices import normalized_difference
from kernels.landcover import percentile_classes, transition_lookup
from kernels.terrain import focal_range, slope_degrees
from kernels.timeseries import mann_kendall, ols_slope, theil_sen, valid_count
from kernels.water import (
    NO_OBSERVATION,
    NODATA_U8,
    NOT_WATER,
    PERMANENT,
    SEASONAL,
    classify_water,
    classify_water_bands,
    water_frequency,
    yearly_water_class,
)
from kernels.zonal import (
    float_key_histogram,
    ratio_to_zone_value,
    zone_class_area_sums,
    zone_histogram,
    zone_value_sums,
)

__all__ = [
    "NODATA_I8",
    "NODATA_U8",
    "NOT_WATER",
    "NO_OBSERVATION",
    "PERMANENT",
    "SEASONAL",
    "annual_means",
    "class_area_sums",
    "classify_water",
    "classify_water_bands",
    "float_key_histogram",
    "focal_range",
    "mann_kendall",
    "mmu_filter",
    "nan_median",
    "nan_percentiles",
    "normalized_difference",
    "ols_slope",
    "percentile_classes",
    "productivity_state",
    "productivity_trajectory",
    "ratio_to_zone_value",
    "slope_degrees",
    "soc_stocks",
    "theil_sen",
    "transition_lookup",
    "valid_count",
    "valid_mean",
    "water_frequency",
    "yearly_water_class",
    "zone_class_area_sums",
    "zone_histogram",
    "zone_value_sums",
]
