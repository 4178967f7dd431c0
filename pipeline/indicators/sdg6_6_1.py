"""SDG 6.6.1 (lakes and rivers): permanent and seasonal surface water area per year.

Water is a normalized difference index above a threshold on every clear scene; each
pixel's year is classed as in JRC Global Surface Water's yearly history: permanent
(water on at least ``permanent_fraction`` of its clear observations), seasonal (water
on some), not water, or no observation (fewer than ``min_observations`` clear scenes).
The series reported is the change of the reporting-period mean against the baseline
mean; negative = loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

import kernels
from pipeline import dispatch, tables
from pipeline.indicators import Context, Indicator, Legend, Plan, register
from pipeline.layers import yearly_layer

INDEX_BANDS = {"mndwi": ("green", "swir16"), "ndwi": ("green", "nir")}
CLASSES = {
    kernels.NO_OBSERVATION: "no observation",
    kernels.NOT_WATER: "not water",
    kernels.SEASONAL: "seasonal water",
    kernels.PERMANENT: "permanent water",
}
COLOURS = {
    kernels.NO_OBSERVATION: "#bdbdbd",
    kernels.NOT_WATER: "#f7f4e9",
    kernels.SEASONAL: "#7fcdff",
    kernels.PERMANENT: "#08519c",
}
M2_PER_KM2 = 1e6


@dataclass(frozen=True)
class Parameters:
    index: Literal["mndwi", "ndwi"] = "mndwi"
    water_threshold: float = 0.0
    min_observations: int = 3
    permanent_fraction: float = 1.0

    def __post_init__(self) -> None:
        if not -1 <= self.water_threshold <= 1:
            raise ValueError(f"water_threshold must be within -1..1; got {self.water_threshold}")
        if self.min_observations < 1:
            raise ValueError(f"min_observations must be >= 1; got {self.min_observations}")
        if not 0 < self.permanent_fraction <= 1:
            raise ValueError(f"permanent_fraction must be within (0, 1]; got {self.permanent_fraction}")


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    return {"optical": INDEX_BANDS[params.index]}


def plan(ctx: Context) -> Plan:
    recipe, params = ctx.recipe, ctx.recipe.parameters
    years = recipe.periods.all_years()
    cube = ctx.cubes["optical"].data
    first, second = (cube[b] for b in INDEX_BANDS[params.index])
    # one task per year and block: classes, AOI mask and areas together (memory set by the chunk)
    classes, areas = dispatch.water_class_products(
        first, second, years, geobox=ctx.geobox, aoi=recipe.aoi.shape(), threshold=params.water_threshold,
        min_observations=params.min_observations, permanent_fraction=params.permanent_fraction)
    layer = yearly_layer(
        classes, years, ctx.geobox, long_name="yearly surface water class (JRC GSW yearly history style)",
        classes=CLASSES, colours=COLOURS, fill_value=kernels.NODATA_U8,
        extra={"index": params.index, "water_threshold": params.water_threshold,
               "comment": "255 = outside the AOI"})
    return Plan(
        layers=layer.to_dataset(name="water_class"),
        stats={"areas": areas},
        table=lambda stats: _table(stats["areas"], years, recipe),
        headline=_headline,
        legend=Legend(layer="water_class", classes={k: (CLASSES[k], COLOURS[k]) for k in CLASSES}),
        series=("permanent_water_area", "seasonal_water_area"),
    )


def _table(areas: np.ndarray, years: list[int], recipe) -> "tables.pd.DataFrame":
    km2 = areas / M2_PER_KM2
    inside = km2[:, :255].sum(axis=1)
    per_year = lambda cls: {y: float(km2[i, cls]) for i, y in enumerate(years)}  # noqa: E731
    permanent, seasonal = per_year(kernels.PERMANENT), per_year(kernels.SEASONAL)
    total = {y: permanent[y] + seasonal[y] for y in years}
    aoi = {y: float(inside[i]) for i, y in enumerate(years)}
    pct = lambda values: {y: values[y] / aoi[y] * 100 if aoi[y] else np.nan for y in years}  # noqa: E731
    rows = tables.yearly_rows("6.6.1", {
        "permanent_water_area": (permanent, "km2", "water on all clear observations of the year"),
        "seasonal_water_area": (seasonal, "km2", "water on some clear observations of the year"),
        "total_water_area": (total, "km2", "permanent + seasonal"),
        "permanent_water_pct": (pct(permanent), "percent", "of the AOI's total area (land + inland water)"),
        "seasonal_water_pct": (pct(seasonal), "percent", "of the AOI's total area (land + inland water)"),
        "no_observation_area": (per_year(kernels.NO_OBSERVATION), "km2",
                                "too few clear observations to class; excluded from water areas"),
        "aoi_area": (aoi, "km2", "true area of the AOI on the ellipsoid"),
    })
    periods = recipe.periods
    if periods.baseline and periods.reporting:
        for name, values in (("permanent_water_area", permanent), ("seasonal_water_area", seasonal),
                             ("total_water_area", total)):
            rows += tables.change_rows("6.6.1", name, values, "km2", periods.baseline, periods.reporting)
    return tables.frame(rows)


def _headline(table) -> str:
    last = table[table.series == "permanent_water_area"].sort_values("end_year").iloc[-1]
    seasonal = tables.value(table, "seasonal_water_area", last.period)
    text = f"permanent water {last.period}: {last.value:.3f} km², seasonal {seasonal:.3f} km²"
    change = table[table.series == "permanent_water_area_change"]
    if len(change):
        text += f"; permanent change {change.period.iloc[0]}: {change.value.iloc[0]:+.2f} %"
    return text


INDICATOR = register(Indicator(
    code="6.6.1",
    name="Change in the extent of water-related ecosystems over time (lakes and rivers)",
    Parameters=Parameters,
    required_inputs=required_inputs,
    plan=plan,
))
