"""Known SDG 15.2.1 values: FAO's compound rate of the constructed forest areas (truth_15_1_1's)."""

from __future__ import annotations

import itertools


def fao_rate(start_km2: float, end_km2: float, years: int) -> float | None:
    """((A_t2 / A_t1) ** (1 / years) - 1) x 100; None where there is no start forest."""
    return ((end_km2 / start_km2) ** (1 / years) - 1) * 100 if start_km2 > 0 else None


def truth_15_2_1(forest_years: dict[str, dict[str, float]]) -> dict:
    """Rates between the first and last year and between consecutive years, from ``{year: {forest_area_km2}}``."""
    years = sorted(int(y) for y in forest_years)
    area = {y: forest_years[str(y)]["forest_area_km2"] for y in years}
    first, last = years[0], years[-1]
    return {"formula": "((A_t2 / A_t1) ** (1 / (t2 - t1)) - 1) * 100",
            "forest_area_km2": {str(y): area[y] for y in years},
            "rate": {f"{first}-{last}": fao_rate(area[first], area[last], last - first)},
            "annual": {f"{a}-{b}": fao_rate(area[a], area[b], b - a) for a, b in itertools.pairwise(years)}}
