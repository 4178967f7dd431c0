"""The recipe's ``parameters`` for 15.1.1 (validated without importing the science)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Parameters:
    forest_classes: tuple[int, ...] = (10, 95)
    water_classes: tuple[int, ...] = (80,)
    mmu_ha: float = 0.5
    connectivity: Literal[4, 8] = 8

    def __post_init__(self) -> None:
        for name in ("forest_classes", "water_classes"):
            bad = [c for c in getattr(self, name) if not 1 <= c <= 254]
            if bad or not getattr(self, name):
                raise ValueError(f"{name} must list land-cover class values within 1..254; got "
                                 f"{list(getattr(self, name))}")
        if set(self.forest_classes) & set(self.water_classes):
            raise ValueError("forest_classes and water_classes overlap")
        if self.mmu_ha < 0:
            raise ValueError(f"mmu_ha must be >= 0; got {self.mmu_ha}")


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    return {"landcover": ("landcover",)}
