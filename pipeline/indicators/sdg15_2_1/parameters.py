"""The recipe's ``parameters`` for 15.2.1: 15.1.1's forest definition plus the decades FAO compares."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.indicators.sdg15_1_1.parameters import Parameters as ForestParameters


@dataclass(frozen=True)
class Parameters(ForestParameters):
    """``reporting`` and ``baseline`` are the decades of FAO's direction of change (reported when the
    recipe's years hold both ends of a decade; the rate over the recipe's first and last year always is)."""

    reporting: tuple[int, int] = (2010, 2020)
    baseline: tuple[int, int] = (2000, 2010)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("reporting", "baseline"):
            first, last = getattr(self, name)
            if not first < last:
                raise ValueError(f"{name} must be [first, last] with first < last; got {[first, last]}")
        if self.baseline[0] >= self.reporting[0]:
            raise ValueError(f"baseline {list(self.baseline)} must start before reporting {list(self.reporting)}")
