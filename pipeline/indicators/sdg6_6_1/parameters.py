"""The recipe's ``parameters`` for 6.6.1 (validated without importing the science)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

INDEX_BANDS = {"mndwi": ("green", "swir16"), "ndwi": ("green", "nir")}
# water_rule "mndwi_awei": the bands of MNDWI, the NDVI guard and AWEI_nsh, in the kernel's order.
MNDWI_AWEI_BANDS = ("green", "red", "nir", "swir16", "swir22")
SNOMAP = (0.4, 0.11, 0.10)  # snow: NDSI, near-infrared and green reflectance above these (Hall et al. 1995)


@dataclass(frozen=True)
class Parameters:
    """``water_rule`` "mndwi": water is ``index`` > ``water_threshold`` (the single-index rule).

    ``water_rule`` "mndwi_awei": water is MNDWI > ``water_threshold`` and not NDVI >
    ``ndvi_max`` and AWEI_nsh > ``awei_threshold`` (Feyisa et al. 2014, reflectance
    0..1); chosen against Geoscience Australia's WOfS output in tests/test_water_real.py
    (96.6 % agreement on 1,041 real Landsat pixels, where MNDWI > 0 alone has 82.3 %).

    ``observation_counts``: the product gets, per year, the clear observations of each pixel by
    each sensor (layers ``observations_<sensor>``: tm, etm, oli, msi, from the input's
    ``sensor`` coordinate, else its ``platform``); None (default) = when the input's ``sensor``
    axis holds more than one (several collections, or Landsat 5/7/8/9), false = never.

    ``snow_test`` (water_rule "mndwi_awei"): snow reads as water to every index here (bright green,
    dark SWIR); it is no observation, as JRC Global Surface Water treats it. Collections with a mask
    band mask it there (SCL 11, QA_PIXEL bit 5); by default (None) the SNOMAP test (NDSI > 0.4,
    near infrared > 0.11, green > 0.10; Hall et al. 1995) is added where the input has no mask band
    (local files, unmasked profiles); true: always, false: never (booleans: YAML reads a bare on/off
    as them).
    """

    water_rule: Literal["mndwi", "mndwi_awei"] = "mndwi"
    index: Literal["mndwi", "ndwi"] = "mndwi"
    water_threshold: float = 0.0
    ndvi_max: float = 0.0
    awei_threshold: float = -0.1
    min_observations: int = 3
    permanent_fraction: float = 1.0
    observation_counts: bool | None = None
    snow_test: bool | None = None

    def __post_init__(self) -> None:
        if not -1 <= self.water_threshold <= 1:
            raise ValueError(f"water_threshold must be within -1..1; got {self.water_threshold}")
        if not -1 <= self.ndvi_max <= 1:
            raise ValueError(f"ndvi_max must be within -1..1; got {self.ndvi_max}")
        if not math.isfinite(self.awei_threshold):
            raise ValueError(f"awei_threshold must be finite; got {self.awei_threshold}")
        if self.water_rule == "mndwi_awei" and self.index != "mndwi":
            raise ValueError(f"water_rule 'mndwi_awei' uses MNDWI; index must be 'mndwi', got {self.index!r}")
        if self.snow_test and self.water_rule != "mndwi_awei":
            raise ValueError("snow_test: true needs the near infrared: set water_rule: mndwi_awei")
        if self.min_observations < 1:
            raise ValueError(f"min_observations must be >= 1; got {self.min_observations}")
        if not 0 < self.permanent_fraction <= 1:
            raise ValueError(f"permanent_fraction must be within (0, 1]; got {self.permanent_fraction}")


def rule_bands(params: Parameters) -> tuple[str, ...]:
    """The optical bands the water rule reads, in the order science.py passes them on."""
    return MNDWI_AWEI_BANDS if params.water_rule == "mndwi_awei" else INDEX_BANDS[params.index]


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    return {"optical": rule_bands(params)}
