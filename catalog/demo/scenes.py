"""When the demo is observed: its years, the acquisition dates, platforms and processing baselines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

YEARS = tuple(range(2016, 2025))
MONTHS = (1, 3, 5, 7, 9, 11)  # six kept dates per year
WET_MONTHS = frozenset({11, 12, 1, 2, 3, 4})  # Mato Grosso wet season: Nov-Apr
HEAVY_CLOUD_DATES = {2017: (2, 16), 2019: (12, 3), 2021: (4, 11), 2023: (10, 28)}
OVERPASS = time(14, 12, 9, 25_000)  # ~10:30 local solar time, both tiles
S2B_FIRST_DATE = date(2017, 7, 1)
BASELINES = (  # (first date, processing baseline); Earth Search v1 style
    (date(2016, 1, 1), "02.04"), (date(2017, 1, 1), "02.05"), (date(2018, 1, 1), "02.07"),
    (date(2019, 1, 1), "02.13"), (date(2020, 1, 1), "02.14"), (date(2021, 1, 1), "03.00"),
    (date(2021, 7, 1), "03.01"), (date(2022, 1, 25), "04.00"), (date(2023, 1, 1), "05.09"),
    (date(2024, 1, 1), "05.10"),
)
OFFSET_BASELINE = "04.00"  # from this baseline on: reflectance = DN * 0.0001 - 0.1
DN_SCALE, BOA_OFFSET = 0.0001, -0.1


@dataclass(frozen=True)
class Scene:
    """One acquisition date (both tiles, same datetime)."""

    when: datetime
    heavy: bool

    @property
    def wet(self) -> bool:
        return self.when.month in WET_MONTHS

    @property
    def key(self) -> tuple[int, int, int]:
        return self.when.year, self.when.month, self.when.day

    @property
    def platform(self) -> str:
        return "S2A" if self.when.date() < S2B_FIRST_DATE or self.when.month in (1, 5, 9) else "S2B"

    @property
    def baseline(self) -> str:
        return [b for start, b in BASELINES if start <= self.when.date()][-1]

    @property
    def offset(self) -> float:
        return BOA_OFFSET if self.baseline >= OFFSET_BASELINE else 0.0

    def item_id(self, tile: str) -> str:
        return f"{self.platform}_{tile}_{self.when:%Y%m%d}_0_L2A"


def _day_of_month(year: int, month: int) -> int:
    """A fixed, irregular-looking day (4..24); 2022-01 falls before the 04.00 switch."""
    return 4 + (7 * year + 5 * month) % 21


def _all_scenes() -> tuple[Scene, ...]:
    found = [Scene(datetime.combine(date(y, m, _day_of_month(y, m)), OVERPASS, UTC), heavy=False)
             for y in YEARS for m in MONTHS]
    found += [Scene(datetime.combine(date(y, m, d), OVERPASS, UTC), heavy=True)
              for y, (m, d) in HEAVY_CLOUD_DATES.items()]
    return tuple(sorted(found, key=lambda s: s.when))


SCENES = _all_scenes()  # every acquisition, in time order (the same for every seed and scale)
