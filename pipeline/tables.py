"""Indicator tables in a long, self-describing layout (like the UN SDG database).

One row per series and period: ``indicator, series, period, start_year, end_year,
value, unit, note``. A reader needs no other file to know what a number means.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

COLUMNS = ["indicator", "series", "period", "start_year", "end_year", "value", "unit", "note"]


def yearly_rows(indicator: str, series: Mapping[str, tuple[Mapping[int, float], str, str]]) -> list[dict]:
    """Rows for ``{series: ({year: value}, unit, note)}``."""
    rows = []
    for name, (values, unit, note) in series.items():
        for year, value in sorted(values.items()):
            rows.append(dict(indicator=indicator, series=name, period=str(year), start_year=year,
                             end_year=year, value=float(value), unit=unit, note=note))
    return rows


def period_mean(values: Mapping[int, float], span: tuple[int, int]) -> float:
    """Mean over the years of ``span`` that have a value (NaN when none has)."""
    inside = [v for y, v in values.items() if span[0] <= y <= span[1] and np.isfinite(v)]
    return float(np.mean(inside)) if inside else float("nan")


def change_rows(indicator: str, name: str, values: Mapping[int, float], unit: str,
                baseline: tuple[int, int], reporting: tuple[int, int]) -> list[dict]:
    """Baseline mean, reporting mean and the % change between them (negative = loss)."""
    base, rep = period_mean(values, baseline), period_mean(values, reporting)
    change = (rep - base) / base * 100.0 if base else float("nan")
    b, r = f"{baseline[0]}-{baseline[1]}", f"{reporting[0]}-{reporting[1]}"
    return [
        dict(indicator=indicator, series=f"{name}_mean", period=f"baseline {b}", start_year=baseline[0],
             end_year=baseline[1], value=base, unit=unit, note="mean of the baseline years"),
        dict(indicator=indicator, series=f"{name}_mean", period=f"reporting {r}", start_year=reporting[0],
             end_year=reporting[1], value=rep, unit=unit, note="mean of the reporting years"),
        dict(indicator=indicator, series=f"{name}_change", period=f"{r} vs {b}", start_year=baseline[0],
             end_year=reporting[1], value=change, unit="percent",
             note="(reporting mean - baseline mean) / baseline mean x 100; negative = loss"),
    ]


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({"start_year": "int64", "end_year": "int64", "value": "float64"})


def value(table: pd.DataFrame, series: str, period: str) -> float:
    """One value of a table, e.g. ``value(t, "forest_area_pct", "2024")``."""
    hit = table[(table.series == series) & (table.period == period)]
    if len(hit) != 1:
        raise KeyError(f"table has {len(hit)} rows for series {series!r}, period {period!r}")
    return float(hit.value.iloc[0])
