"""The SDG 15.3.1 rules (Trends.Earth's codes) for ONE series at a time, in plain Python and NumPy.

The demo's reference: written from the rules' statement, independent of pipeline/ and kernels/, so the
truth can catch their mistakes. None is no data everywhere. Thresholds are inclusive as in Trends.Earth.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import accumulate

import numpy as np

LEVELS_PCT = (10, 5, 1)  # Mann-Kendall significance levels a in percent: 90 %, 95 %, 99 % confidence
STABLE_SLOPE = 0.001  # NDVI per year
STATE_STABLE = 0.01  # NDVI
STATE_EXTENSION = 0.05  # of the baseline range
RECENT_YEARS = 3
PERFORMANCE_RATIO = 0.5
SOC_THRESHOLD_PCT = 10.0
SOC_YEARS = 20  # a transition moves the stock over this many years
SOC_REFERENCE_YEAR = 2000

# ESA CCI LCCS -> UNCCD 1 tree, 2 grassland, 3 cropland, 4 wetland, 5 artificial, 6 other, 7 water
UNCCD_OF_CCI = {
    **dict.fromkeys((50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100), 1),
    **dict.fromkeys((110, 120, 121, 122, 130, 140, 150, 151, 152, 153), 2),
    **dict.fromkeys((10, 11, 12, 20, 30, 40), 3), **dict.fromkeys((160, 170, 180), 4), 190: 5,
    **dict.fromkeys((200, 201, 202, 220), 6), 210: 7,
}
WATER_CLASS = 7
TRANSITIONS = (  # rows: initial UNCCD class, columns: final; -1 degraded, 0 stable, 1 improved
    (0, -1, -1, -1, -1, -1, 0),
    (1, 0, 1, -1, -1, -1, 0),
    (1, -1, 0, -1, -1, -1, 0),
    (-1, -1, -1, 0, -1, -1, 0),
    (1, 1, 1, 1, 0, 1, 0),
    (1, 1, 1, 1, -1, 0, 0),
    (0, 0, 0, 0, 0, 0, 0),
)
CROPLAND_FACTOR = {**dict.fromkeys((1, 3, 5, 7), 0.69), **dict.fromkeys((2, 4, 6, 8), 0.80), 9: 0.64,
                   10: 0.48, 11: 0.48, 12: 0.58}
LPD_OF = {  # (trajectory3, state, performance) -> LPD class; trajectory3 -1 is always 1 (declining)
    (0, -1, -1): 1, (0, -1, 0): 2, (0, 0, -1): 3, (0, 0, 0): 4, (0, 1, -1): 4, (0, 1, 0): 4,
    (1, -1, -1): 2, (1, -1, 0): 5, (1, 0, -1): 5, (1, 0, 0): 5, (1, 1, -1): 5, (1, 1, 0): 5,
}
SOC_FACTORS: tuple[tuple[float | str, ...], ...] = (  # rows: initial UNCCD class; "Fl": the cropland factor
    (1, 1, "Fl", 1, 0.1, 0.1, 1),
    (1, 1, "Fl", 1, 0.1, 0.1, 1),
    ("1/Fl", "1/Fl", 1, 1 / 0.71, 0.1, 0.1, 1),
    (1, 1, 0.71, 1, 0.1, 0.1, 1),
    (2, 2, 2, 2, 1, 1, 1),
    (2, 2, 2, 2, 1, 1, 1),
    (1, 1, 1, 1, 1, 1, 1),
)
STATUS_OF = {(-1, -1): 1, (-1, 0): 3, (-1, 1): 6, (0, -1): 2, (0, 0): 4, (0, 1): 6, (1, -1): 2, (1, 0): 5,
             (1, 1): 7}  # (baseline SDG, period SDG) -> status 1..7


# ---------------------------------------------------------------- productivity
Annual = dict[int, float | None]  # NDVI per year; None: no valid composite that year


def valid_values(annual: Annual, years: range) -> list[float]:
    return [v for y in years if (v := annual.get(y)) is not None]


@cache
def mahonian(n: int) -> tuple[int, ...]:
    """How many permutations of n distinct values have k inversions, k = 0..n(n-1)/2 (a DP over n)."""
    counts = [1]
    for m in range(2, n + 1):  # inserting the m-th value adds 0..m-1 inversions
        longer = [0] * (len(counts) + m - 1)
        for k, c in enumerate(counts):
            for extra in range(m):
                longer[k + extra] += c
        counts = longer
    return tuple(counts)


@cache
def mk_critical(n: int) -> tuple[int, int, int]:
    """k_a(n) for a in LEVELS_PCT: the largest s with P(S >= s) > a under H0 (no ties, exact).
    S = n(n-1)/2 - 2 * inversions, so P(S >= s) sums the counts of the fewest inversions."""
    counts = mahonian(n)
    total, pairs = sum(counts), n * (n - 1) // 2
    tails = list(accumulate(counts))  # tails[k] / total = P(S >= pairs - 2k); exact integers (n! is huge)
    first = [next(k for k, t in enumerate(tails) if t * 100 > pct * total) for pct in LEVELS_PCT]
    return pairs - 2 * first[0], pairs - 2 * first[1], pairs - 2 * first[2]


def mann_kendall_s(values: Sequence[float]) -> int:
    x = np.asarray(values, float)
    return int(sum(np.sign(x[k] - x[j]) for j in range(len(x)) for k in range(j + 1, len(x))))


def ols_slope(years: Sequence[int], values: Sequence[float]) -> float:
    x, y = np.asarray(years, float), np.asarray(values, float)
    dx = x - x.mean()
    return float((dx * (y - y.mean())).sum() / (dx * dx).sum())


def trajectory(annual: Annual, a: int, b: int) -> int | None:
    """-3..3 from the Mann-Kendall S and the OLS slope over the valid years of [a, b]."""
    years = [y for y in range(a, b + 1) if annual.get(y) is not None]
    if len(years) < 4:
        return None
    values = valid_values(annual, range(a, b + 1))
    s, slope = mann_kendall_s(values), ols_slope(years, values)
    k90, k95, k99 = mk_critical(len(years))
    code = 0
    if abs(s) > k90:
        code = (1 + (abs(s) >= k95) + (abs(s) >= k99)) * (1 if slope > 0 else -1)
    return 0 if abs(slope) <= STABLE_SLOPE else code


def trajectory3(code: int) -> int:
    return -1 if code <= -2 else 1 if code >= 2 else 0


def decile_class(deciles: np.ndarray, m: float) -> int:
    return 1 + int((deciles < m).sum())


def state(annual: Annual, a: int, b: int) -> int | None:
    """-1/0/1: the last RECENT_YEARS' mean against the deciles of the earlier years."""
    base = valid_values(annual, range(a, b + 1 - RECENT_YEARS))
    recent = valid_values(annual, range(b + 1 - RECENT_YEARS, b + 1))
    if not base or not recent:
        return None
    lo, hi = min(base), max(base)
    ext = np.array([*base, lo - STATE_EXTENSION * (hi - lo), hi + STATE_EXTENSION * (hi - lo)])
    deciles = np.percentile(ext, np.arange(10, 100, 10))
    m_base, m_recent = float(np.mean(base)), float(np.mean(recent))
    change = decile_class(deciles, m_recent) - decile_class(deciles, m_base)
    if abs(m_recent - m_base) <= STATE_STABLE:
        change = 0
    return -1 if change <= -2 else 1 if change >= 2 else 0


def mean_ndvi(annual: Annual, a: int, b: int) -> float | None:
    values = valid_values(annual, range(a, b + 1))
    return float(np.mean(values)) if values else None


def performance(m: float | None, p90: float | None) -> int | None:
    if m is None or p90 is None or p90 <= 0:
        return None
    return -1 if m / p90 <= PERFORMANCE_RATIO else 0


def lpd(traj: int | None, st: int | None, perf: int | None) -> int | None:
    """LPD 1 declining, 2 early signs of decline, 3 stable but stressed, 4 stable, 5 increasing."""
    if traj is None or st is None or perf is None:
        return None
    t3 = trajectory3(traj)
    return 1 if t3 == -1 else LPD_OF[t3, st, perf]


def productivity3(lpd5: int | None) -> int | None:
    return None if lpd5 is None else -1 if lpd5 <= 2 else 1 if lpd5 == 5 else 0


# ---------------------------------------------------------------- land cover and SOC
def unccd(cci: int) -> int | None:
    return UNCCD_OF_CCI.get(cci)


def land_cover_degradation(cci0: int, cci1: int) -> int | None:
    c0, c1 = unccd(cci0), unccd(cci1)
    return None if c0 is None or c1 is None else TRANSITIONS[c0 - 1][c1 - 1]


def soc_factor(c0: int, c1: int, cropland: float) -> float:
    """IPCC land-use factor of a UNCCD transition (management and input factors 1)."""
    factor = SOC_FACTORS[c0 - 1][c1 - 1]
    return cropland if factor == "Fl" else 1 / cropland if factor == "1/Fl" else float(factor)


def soc_stocks(reference: float, cci: dict[int, int], climate: int, last: int) -> dict[int, float] | None:
    """Stock per year SOC_REFERENCE_YEAR..last: a transition starts a linear move to stock * F over
    SOC_YEARS years (from the stock at the transition); None if any input is no data."""
    cropland = CROPLAND_FACTOR.get(climate)
    mapped = {y: unccd(cci[y]) for y in range(SOC_REFERENCE_YEAR, last + 1)}
    classes = {y: c for y, c in mapped.items() if c is not None}
    if cropland is None or len(classes) < len(mapped):
        return None
    stock, rate, remaining = {SOC_REFERENCE_YEAR: float(reference)}, 0.0, 0
    for t in range(SOC_REFERENCE_YEAR, last):
        c0, c1 = classes[t], classes[t + 1]
        if c1 != c0:
            rate, remaining = stock[t] * (1 - soc_factor(c0, c1, cropland)) / SOC_YEARS, SOC_YEARS
        if remaining > 0:
            stock[t + 1], remaining = stock[t] - rate, remaining - 1
        else:
            stock[t + 1] = stock[t]
    return stock


def soc_change_pct(reference: float | None, cci: dict[int, int], climate: int, t0: int, t1: int) -> float | None:
    if reference is None or unccd(cci[t0]) in (None, WATER_CLASS):
        return None
    stock = soc_stocks(reference, cci, climate, t1)
    if stock is None or stock[t0] <= 0:
        return None
    return (stock[t1] - stock[t0]) / stock[t0] * 100


def soc_degradation(pct: float | None) -> int | None:
    if pct is None:
        return None
    return -1 if pct <= -SOC_THRESHOLD_PCT else 1 if pct >= SOC_THRESHOLD_PCT else 0


# ---------------------------------------------------------------- combined
def sdg(prod3: int | None, lc: int | None, soc: int | None) -> int | None:
    """One out, all out: no data beats degradation, degradation beats improvement."""
    parts = (prod3, lc, soc)
    if None in parts:
        return None
    return -1 if -1 in parts else 1 if 1 in parts else 0


def status(baseline: int | None, period: int | None) -> int | None:
    return None if baseline is None or period is None else STATUS_OF[baseline, period]


def status3(code: int | None) -> int | None:
    return None if code is None else -1 if code <= 3 else 0 if code == 4 else 1
