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
    yearly_water_class,
)

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
]
