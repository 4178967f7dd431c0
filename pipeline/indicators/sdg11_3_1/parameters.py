"""The recipe's ``parameters`` for 11.3.1 (validated without importing the science)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Parameters:
    """``built_up``: ``fraction`` (a built-up surface as a fraction of the cell, built-up at or above
    ``threshold``) or ``classes`` (land-cover classes ``built_up_classes``). ``lcr``: ``current``, UN-Habitat's
    metadata (Urb_t2 - Urb_t1) / Urb_t1 / years, or ``log``, ln(Urb_t2 / Urb_t1) / years (the older form)."""

    built_up: Literal["fraction", "classes"] = "fraction"
    threshold: float = 0.5
    built_up_classes: tuple[int, ...] = (50,)
    lcr: Literal["current", "log"] = "current"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and 0 < self.threshold <= 1):
            raise ValueError(f"threshold is a built-up fraction within (0, 1]; got {self.threshold}")
        bad = [c for c in self.built_up_classes if not 0 <= c <= 65535]
        if bad or not self.built_up_classes:
            raise ValueError(f"built_up_classes must list class values within 0..65535; got "
                             f"{list(self.built_up_classes)}")


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    band = "built_up" if params.built_up == "fraction" else "landcover"
    return {"built_up": (band,), "population": ("population",)}
