"""11.3.1's table: built-up area, people and built-up per person per year; LCR, PGR and their ratio
between years, per zone. A ratio that does not exist is NaN with the reason, never a division error."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline import tables
from pipeline.indicators import Stats
from pipeline.indicators.sdg11_3_1.parameters import Parameters

M2_PER_KM2 = 1e6
LCR_FORMS = {"current": "(Urb_t2 - Urb_t1) / Urb_t1 / years (UN-Habitat's current metadata)",
             "log": "ln(Urb_t2 / Urb_t1) / years (the older form)"}


def land_consumption_rate(u1: float, u2: float, years: int, form: str = "current") -> float:
    """Per year; NaN without built-up at t1 (and, in the log form, at t2)."""
    if not u1 > 0 or years <= 0:
        return math.nan
    if form == "log":
        return math.log(u2 / u1) / years if u2 > 0 else math.nan
    return (u2 - u1) / u1 / years


def population_growth_rate(p1: float, p2: float, years: int) -> float:
    """ln(Pop_t2 / Pop_t1) / years; NaN without people at either end."""
    return math.log(p2 / p1) / years if p1 > 0 and p2 > 0 and years > 0 else math.nan


def ratio(lcr: float, pgr: float) -> tuple[float, str]:
    """LCR / PGR and what to know about it (empty when nothing)."""
    if not np.isfinite(pgr):
        return math.nan, "no value: no population at one end, the growth rate does not exist"
    if pgr == 0:
        return math.nan, "no value: the population did not change (PGR = 0), the ratio is undefined"
    if not np.isfinite(lcr):
        return math.nan, "no value: no built-up area at the start, the land consumption rate does not exist"
    note = "population fell (PGR < 0): a negative ratio, read it with the PGR" if pgr < 0 else ""
    return lcr / pgr, note


def table(stats: Stats, params: Parameters, what: str) -> pd.DataFrame:
    rows: list[dict] = []
    flagged: list[str] = []
    people_by_zone = {z: p for z, _, p in tables.zones_of(stats["population"])}
    for zone, name, built in tables.zones_of(stats["built_up"] / M2_PER_KM2):
        years = sorted(int(p) for p in built.period.values)
        urb = {y: float(built.sel({"period": str(y), "class": 1})) for y in years}
        people = {y: float(people_by_zone[zone].sel(period=str(y), stat="sum")) for y in years}
        unknown = {y: float(built.sel(period=str(y)).values[2:].sum()) for y in years}  # classes other than 0/1
        per_capita = {y: urb[y] * M2_PER_KM2 / people[y] if people[y] > 0 else math.nan for y in years}
        rows += tables.yearly_rows("11.3.1", {
            "built_up_area": (urb, "km2", f"built-up: {what}"),
            "population": (people, "persons", "sum of the population grid's pixels whose centre lies in the zone"),
            "built_up_per_capita": (per_capita, "m2 per person", "built-up area / population (NaN: no people)"),
            "built_up_no_data_area": (unknown, "km2", "area without built-up data"),
        }, zone=zone, zone_name=name)
        where = dict(indicator="11.3.1", zone=zone, zone_name=name)
        rows += _pair_rows(where, urb, people, years[0], years[-1], params.lcr, "")
        if len(years) > 2:
            for a, b in itertools.pairwise(years):
                rows += _pair_rows(where, urb, people, a, b, params.lcr, "_by_interval")
        if any(r["series"].startswith("lcrpgr") and ("no value" in r["note"] or "population fell" in r["note"])
               for r in rows if r["zone"] == zone):
            flagged.append(zone)
    if flagged:
        warnings.warn(f"SDG 11.3.1: zones {', '.join(flagged)} have a ratio that is undefined or comes from a "
                      "falling population; see the table's notes", stacklevel=2)
    return tables.frame(rows)


def _pair_rows(where: Mapping, urb: Mapping[int, float], people: Mapping[int, float], a: int, b: int, form: str,
               suffix: str) -> list[dict]:
    years = b - a
    lcr = land_consumption_rate(urb[a], urb[b], years, form)
    pgr = population_growth_rate(people[a], people[b], years)
    value, note = ratio(lcr, pgr)
    span = dict(where, period=f"{a}-{b}", start_year=a, end_year=b)
    lcr_note = LCR_FORMS[form] + ("" if np.isfinite(lcr) else "; no value: no built-up area at the start")
    pgr_note = "ln(Pop_t2 / Pop_t1) / years" + ("" if np.isfinite(pgr) else "; no value: no population at one end")
    if np.isfinite(pgr) and pgr < 0:
        pgr_note += "; negative: the population fell"
    return [
        dict(span, series=f"lcrpgr{suffix}", value=value, unit="1",
             note="; ".join(filter(None, ["LCR / PGR", note]))),
        dict(span, series=f"lcr{suffix}", value=lcr, unit="per year", note=lcr_note),
        dict(span, series=f"pgr{suffix}", value=pgr, unit="per year", note=pgr_note),
        dict(span, series=f"built_up_change{suffix}", value=urb[b] - urb[a], unit="km2",
             note="built-up area at t2 - at t1"),
    ]


def headline(table: pd.DataFrame) -> str:
    aoi = table[table.zone == tables.ALL]
    row = aoi[aoi.series == "lcrpgr"].iloc[0]
    lcr = aoi[(aoi.series == "lcr")].value.iloc[0]
    pgr = aoi[(aoi.series == "pgr")].value.iloc[0]
    return f"LCRPGR {row.period}: {row.value:.3f} (LCR {lcr * 100:.2f} %/yr, PGR {pgr * 100:.2f} %/yr)"
