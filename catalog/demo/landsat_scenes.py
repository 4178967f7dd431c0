"""When Landsat sees the demo lake: 2000-2024, the platforms of each year, their dates, SLC-off, the lake's history.

The constellation as it flew: Landsat 5 TM to 2011, Landsat 7 ETM+ to 2021 (its scan line corrector
failed on 2003-05-31: every later scene has wedge-shaped gaps of no data), Landsat 8 OLI from 2013,
Landsat 9 OLI-2 from 2022; 2012 had Landsat 7 alone. Each year the primary platform is seen four
times (two wet-season and two dry-season dates) and the other one 8 days after each (Landsat 7
alone in 2012: six dates). The lake of 2016-2024 is the Sentinel-2 design's (``world``); before
2016 it is ``LAKE_HISTORY`` (larger in the 2000-2004 baseline, shrinking since).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from catalog.demo.scenes import WET_MONTHS
from catalog.demo.world import PERMANENT_SCALE, SEASONAL_SCALE

LANDSAT_YEARS = tuple(range(2000, 2025))
SLC_FAILURE = date(2003, 5, 31)  # Landsat 7 ETM+ scan line corrector off from this day on
PLATFORM_YEARS = {"landsat-5": (2000, 2011), "landsat-7": (2000, 2021), "landsat-8": (2013, 2024),
                  "landsat-9": (2022, 2024)}
SENSOR = {"landsat-5": "tm", "landsat-7": "etm", "landsat-8": "oli", "landsat-9": "oli"}
INSTRUMENTS = {"landsat-5": ["tm"], "landsat-7": ["etm+"], "landsat-8": ["oli", "tirs"], "landsat-9": ["oli", "tirs"]}
ID_PREFIX = {"landsat-5": "LT05", "landsat-7": "LE07", "landsat-8": "LC08", "landsat-9": "LC09"}
PRIMARY_MONTHS = (2, 5, 8, 11)  # two wet (Feb, Nov), two dry (May, Aug)
SOLE_MONTHS = (1, 3, 5, 7, 9, 11)  # a year with one platform (2012): three wet, three dry
SECOND_PLATFORM_DAYS = 8  # the other platform passes 8 days later (the 16-day cycles are offset)
OVERPASS = {"landsat-5": time(13, 44, 10), "landsat-7": time(13, 44, 40), "landsat-8": time(13, 50, 20),
            "landsat-9": time(13, 50, 50)}
WRS_PATH, WRS_ROW = "227", "069"
HEAVY_CLOUD = {2002: ("landsat-7", 4, 9), 2009: ("landsat-5", 10, 6), 2014: ("landsat-8", 3, 15),
               2023: ("landsat-9", 9, 20)}  # one heavily clouded extra scene: excluded by max_cloud_cover
# Lake scales (semi-axes x scale) before 2016, like world.PERMANENT_SCALE / SEASONAL_SCALE. Every
# seasonal scale stays <= max(SEASONAL_SCALE): the lake never reaches beyond the grassland laid out for it.
LAKE_HISTORY = {  # year: (permanent, seasonal)
    2000: (1.10, 1.21), 2001: (1.09, 1.20), 2002: (1.11, 1.21), 2003: (1.08, 1.19), 2004: (1.07, 1.20),
    2005: (1.06, 1.18), 2006: (1.07, 1.19), 2007: (1.05, 1.17), 2008: (1.04, 1.18), 2009: (1.05, 1.19),
    2010: (1.03, 1.16), 2011: (1.04, 1.17), 2012: (1.02, 1.18), 2013: (1.03, 1.19), 2014: (1.01, 1.17),
    2015: (1.02, 1.18),
}


def lake_scales(year: int) -> tuple[float, float]:
    """(permanent, seasonal) ellipse scales of ``year``: the Sentinel-2 design from 2016, the history before."""
    if year in PERMANENT_SCALE:
        return PERMANENT_SCALE[year], SEASONAL_SCALE[year]
    return LAKE_HISTORY[year]


def platforms_of(year: int) -> tuple[str, ...]:
    """The platforms flying in ``year``, the primary first."""
    flying = [p for p, (a, b) in PLATFORM_YEARS.items() if a <= year <= b]
    if "landsat-8" in flying:
        flying.remove("landsat-8")
        flying.insert(0, "landsat-8")
    return tuple(flying)


@dataclass(frozen=True)
class LandsatScene:
    """One Landsat acquisition over the demo (one scene covers the whole demo area)."""

    platform: str
    when: datetime
    heavy: bool = False

    @property
    def sensor(self) -> str:
        return SENSOR[self.platform]

    @property
    def wet(self) -> bool:
        return self.when.month in WET_MONTHS

    @property
    def key(self) -> tuple[int, int, int, int]:
        return int(self.platform[-1]), self.when.year, self.when.month, self.when.day

    @property
    def slc_off(self) -> bool:
        return self.platform == "landsat-7" and self.when.date() >= SLC_FAILURE

    @property
    def item_id(self) -> str:
        """Planetary Computer style: LC08_L2SP_227069_20200101_02_T1."""
        return f"{ID_PREFIX[self.platform]}_L2SP_{WRS_PATH}{WRS_ROW}_{self.when:%Y%m%d}_02_T1"


def _day(year: int, month: int) -> int:
    """A fixed, irregular-looking day (3..19) of the primary platform; the other one is 8 days later."""
    return 3 + (5 * year + 7 * month) % 17


def _all_scenes() -> tuple[LandsatScene, ...]:
    found = []
    for year in LANDSAT_YEARS:
        flying = platforms_of(year)
        months = PRIMARY_MONTHS if len(flying) > 1 else SOLE_MONTHS
        for month in months:
            first = datetime.combine(date(year, month, _day(year, month)), OVERPASS[flying[0]], UTC)
            found.append(LandsatScene(flying[0], first))
            for platform in flying[1:]:
                later = datetime.combine(first.date() + timedelta(days=SECOND_PLATFORM_DAYS), OVERPASS[platform], UTC)
                found.append(LandsatScene(platform, later))
    for year, (platform, month, day) in HEAVY_CLOUD.items():
        found.append(LandsatScene(platform, datetime.combine(date(year, month, day), OVERPASS[platform], UTC), True))
    return tuple(sorted(found, key=lambda s: s.when))


LANDSAT_SCENES = _all_scenes()  # every acquisition, in time order (the same for every seed and scale)
