"""Indicator tables in a long, self-describing layout (like the UN SDG database).

One row per series, zone and period: ``indicator, series, zone, zone_name, period,
start_year, end_year, value, lower, upper, ci_level, unit, note``. The AOI total is
zone ``all``; ``lower``/``upper``/``ci_level`` hold an interval where a series has one
(empty otherwise). A reader needs no other file to know what a number means.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import xarray as xr

COLUMNS = ["indicator", "series", "zone", "zone_name", "period", "start_year", "end_year", "value", "lower",
           "upper", "ci_level", "unit", "note"]
ALL, OUTSIDE_ZONES, AOI_NAME = "all", "outside zones", "AOI"  # the zones every table and statistic has
FLOATS = ("value", "lower", "upper", "ci_level")


def zones_of(stat: xr.DataArray) -> Iterator[tuple[str, str, xr.DataArray]]:
    """(zone id, zone name, the statistic of that zone) for every zone of a labelled statistic."""
    names = stat["zone_name"].values if "zone_name" in stat.coords else stat["zone"].values
    for zone, name in zip(stat["zone"].values, names, strict=True):
        yield str(zone), str(name), stat.sel(zone=zone)


def warn_empty(indicator: str, empty: list[str]) -> None:
    """Say which zones have no area to divide by: their shares are NaN, never 0."""
    if empty:
        shown = ", ".join(empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        warnings.warn(f"SDG {indicator}: zones {shown} have no area in the AOI (or no land); "
                      "their percentages are NaN", stacklevel=3)


def yearly_rows(indicator: str, series: Mapping[str, tuple[Mapping[int, float], str, str]], *,
                zone: str = ALL, zone_name: str = AOI_NAME) -> list[dict]:
    """Rows for ``{series: ({year: value}, unit, note)}`` of one zone."""
    rows = []
    for name, (values, unit, note) in series.items():
        for year, value in sorted(values.items()):
            rows.append(dict(indicator=indicator, series=name, zone=zone, zone_name=zone_name, period=str(year),
                             start_year=year, end_year=year, value=float(value), unit=unit, note=note))
    return rows


def period_mean(values: Mapping[int, float], span: tuple[int, int]) -> float:
    """Mean over the years of ``span`` that have a value (NaN when none has)."""
    inside = [v for y, v in values.items() if span[0] <= y <= span[1] and np.isfinite(v)]
    return float(np.mean(inside)) if inside else float("nan")


def _years_used(what: str, values: Mapping[int, float], span: tuple[int, int]) -> str:
    """Which years of ``span`` a period mean used: a year without a value is left out, never a zero."""
    years = range(span[0], span[1] + 1)
    used = [y for y in years if np.isfinite(values.get(y, np.nan))]
    note = f"mean of the {what} years ({len(used)} of {len(years)} with a value"
    missing = [y for y in years if y not in used]
    return note + (f"; none in {', '.join(map(str, missing))})" if missing else ")")


def change_rows(indicator: str, name: str, values: Mapping[int, float], unit: str,
                baseline: tuple[int, int], reporting: tuple[int, int], *, zone: str = ALL,
                zone_name: str = AOI_NAME) -> list[dict]:
    """Baseline mean, reporting mean and the % change between them (negative = loss)."""
    base, rep = period_mean(values, baseline), period_mean(values, reporting)
    change = (rep - base) / base * 100.0 if base and np.isfinite(base) else float("nan")
    b, r = f"{baseline[0]}-{baseline[1]}", f"{reporting[0]}-{reporting[1]}"
    where = dict(indicator=indicator, zone=zone, zone_name=zone_name)
    return [
        dict(where, series=f"{name}_mean", period=f"baseline {b}", start_year=baseline[0],
             end_year=baseline[1], value=base, unit=unit, note=_years_used("baseline", values, baseline)),
        dict(where, series=f"{name}_mean", period=f"reporting {r}", start_year=reporting[0],
             end_year=reporting[1], value=rep, unit=unit, note=_years_used("reporting", values, reporting)),
        dict(where, series=f"{name}_change", period=f"{r} vs {b}", start_year=baseline[0],
             end_year=reporting[1], value=change, unit="percent",
             note="(reporting mean - baseline mean) / baseline mean x 100; negative = loss"),
    ]


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({"start_year": "int64", "end_year": "int64", **dict.fromkeys(FLOATS, "float64")})


def value(table: pd.DataFrame, series: str, period: str, zone: str = ALL) -> float:
    """One value of a table, e.g. ``value(t, "forest_area_pct", "2024")`` (the AOI's unless ``zone``)."""
    hit = table[(table.series == series) & (table.period == period) & (table.zone == zone)]
    if len(hit) != 1:
        raise KeyError(f"table has {len(hit)} rows for series {series!r}, period {period!r}, zone {zone!r}")
    return float(hit.value.iloc[0])
