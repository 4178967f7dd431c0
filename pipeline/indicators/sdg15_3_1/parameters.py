"""The recipe's ``parameters`` for 15.3.1 (validated without importing the science).

Defaults follow Trends.Earth (te_algorithms) and the UNCCD good practice guidance; where
we differ, ``legends.py`` and the shipped recipe say where and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.indicators.sdg15_3_1.legends import SOURCE_LEGENDS, TRANSITIONS, UNCCD

CLIMATE_FACTORS = {"temperate dry": 0.80, "temperate moist": 0.69, "tropical dry": 0.58, "tropical moist": 0.48,
                   "tropical montane": 0.64}


@dataclass(frozen=True)
class PeriodSpec:
    """One assessment period: the years of its productivity series and of its land-cover (and SOC) change."""

    name: str
    productivity: tuple[int, int]
    land_cover: tuple[int, int]

    def __post_init__(self) -> None:
        a, b = self.productivity
        if b - a + 1 < 4:
            raise ValueError(f"period {self.name!r}: productivity {list(self.productivity)} needs >= 4 years "
                             "(the Mann-Kendall test and the state's 3 recent years)")
        t0, t1 = self.land_cover
        if not t0 < t1:
            raise ValueError(f"period {self.name!r}: land_cover {list(self.land_cover)} must be [initial, final] "
                             "with initial < final")

    @property
    def years(self) -> tuple[int, int]:
        """First and last calendar year the period reads."""
        return min(self.productivity[0], self.land_cover[0]), max(self.productivity[1], self.land_cover[1])


TE_2026 = (PeriodSpec("baseline", (2001, 2015), (2000, 2015)),
           PeriodSpec("2016-2019", (2004, 2019), (2015, 2019)),
           PeriodSpec("2020-2023", (2008, 2023), (2015, 2023)))


@dataclass(frozen=True)
class Parameters:
    periods: tuple[PeriodSpec, ...] = TE_2026  # the first is the baseline; the others are progress periods
    productivity: Literal["computed", "given"] = "computed"  # from NDVI, or a 5-class LPD input
    land_cover_legend: str = "esa-cci"  # a shipped table (legends.SOURCE_LEGENDS), or 'custom'
    land_cover_table: Mapping[int, int] | None = None  # source class -> UNCCD 1..7 (0 = no data): custom legends
    transitions: tuple[tuple[int, ...], ...] | None = None  # 7x7 of -1/0/1 (rows initial), default UNCCD's
    soc: Literal["reference", "given"] = "reference"  # a reference stock moved by IPCC factors, or given stocks
    soc_reference_year: int = 2000
    cropland_factor: float | str | None = None  # one value or climate name for the whole AOI; None: climate layer
    soc_horizon_years: int = 20
    soc_threshold_pct: float = 10.0
    stable_slope: float = 0.001  # NDVI per year
    state_stable_change: float = 0.01  # NDVI
    state_extension: float = 0.05  # of the baseline range, below and above
    performance_percentile: float = 90.0
    performance_ratio: float = 0.5

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("periods must list the baseline and any progress periods")
        names = [p.name for p in self.periods]
        if len(set(names)) != len(names):
            raise ValueError(f"period names must differ; got {names}")
        if self.land_cover_legend == "custom":
            if not self.land_cover_table:
                raise ValueError("land_cover_legend 'custom' needs land_cover_table: {source class: UNCCD class}")
        elif self.land_cover_legend not in SOURCE_LEGENDS:
            raise ValueError(f"land_cover_legend {self.land_cover_legend!r} is not shipped; use one of "
                             f"{', '.join(SOURCE_LEGENDS)} or 'custom' with land_cover_table")
        bad = {k: v for k, v in (self.land_cover_table or {}).items() if v not in (0, *UNCCD)}
        if bad:
            raise ValueError(f"land_cover_table maps to UNCCD classes 1..7 (0 = no data); got {bad}")
        if self.transitions is not None and (len(self.transitions) != 7 or any(
                len(r) != 7 or set(r) - {-1, 0, 1} for r in self.transitions)):
            raise ValueError("transitions must be 7 rows of 7 values in -1, 0, 1 (rows: initial class 1..7)")
        if isinstance(self.cropland_factor, str) and self.cropland_factor not in CLIMATE_FACTORS:
            raise ValueError(f"cropland_factor {self.cropland_factor!r}: give a number or one of "
                             f"{', '.join(CLIMATE_FACTORS)}")
        if isinstance(self.cropland_factor, float) and not 0 < self.cropland_factor <= 2:
            raise ValueError(f"cropland_factor must be within (0, 2]; got {self.cropland_factor}")
        if self.soc == "reference" and self.soc_reference_year > min(p.land_cover[0] for p in self.periods):
            raise ValueError(f"soc_reference_year {self.soc_reference_year} is after a period's initial land-cover "
                             "year: the stock is moved forward from the reference year only")
        if not 0 < self.performance_ratio < 1 or not 0 < self.performance_percentile <= 100:
            raise ValueError("performance_ratio must be within (0, 1) and performance_percentile within (0, 100]")
        if self.soc_horizon_years < 1 or self.soc_threshold_pct <= 0:
            raise ValueError("soc_horizon_years must be >= 1 and soc_threshold_pct > 0")

    @property
    def table(self) -> dict[int, int]:
        """Source class -> UNCCD class (0 = no data)."""
        return dict(self.land_cover_table) if self.land_cover_table else dict(SOURCE_LEGENDS[self.land_cover_legend])

    @property
    def matrix(self) -> tuple[tuple[int, ...], ...]:
        return self.transitions or TRANSITIONS

    @property
    def baseline(self) -> PeriodSpec:
        return self.periods[0]

    @property
    def factor(self) -> float | None:
        """The one cropland factor of the recipe, if given (by value or climate name)."""
        if isinstance(self.cropland_factor, str):
            return CLIMATE_FACTORS[self.cropland_factor]
        return self.cropland_factor


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    needed: dict[str, tuple[str, ...]] = {"landcover": ("landcover",)}
    if params.productivity == "computed":
        needed.update(ndvi=("ndvi",), soil_units=("soil_unit",))
    else:
        needed["lpd"] = ("lpd",)
    if params.soc == "reference":
        needed["soc"] = ("soc",)
        if params.factor is None:
            needed["climate"] = ("climate_zone",)
    else:
        needed["soc_stock"] = ("soc",)
    return needed


def check_recipe(recipe: Any) -> str | None:
    """What is wrong with the recipe as a whole (None if nothing): every year a period reads must be searched."""
    params: Parameters = recipe.parameters
    starts = [p.years[0] for p in params.periods] + ([params.soc_reference_year] if params.soc == "reference" else [])
    first, last = min(starts), max(p.years[1] for p in params.periods)
    have = recipe.periods.years
    if first < have[0] or last > have[1]:
        return (f"parameters.periods read {first}-{last} but periods.years is {list(have)}; widen periods.years to "
                f"[{min(first, have[0])}, {max(last, have[1])}]")
    return None
