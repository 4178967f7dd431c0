"""The recipe's ``parameters`` for 6.6.1 (validated without importing the science)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

INDEX_BANDS = {"mndwi": ("green", "swir16"), "ndwi": ("green", "nir")}


@dataclass(frozen=True)
class Parameters:
    index: Literal["mndwi", "ndwi"] = "mndwi"
    water_threshold: float = 0.0
    min_observations: int = 3
    permanent_fraction: float = 1.0

    def __post_init__(self) -> None:
        if not -1 <= self.water_threshold <= 1:
            raise ValueError(f"water_threshold must be within -1..1; got {self.water_threshold}")
        if self.min_observations < 1:
            raise ValueError(f"min_observations must be >= 1; got {self.min_observations}")
        if not 0 < self.permanent_fraction <= 1:
            raise ValueError(f"permanent_fraction must be within (0, 1]; got {self.permanent_fraction}")


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    return {"optical": INDEX_BANDS[params.index]}
