"""6.6.1 as one engine step: per (year, block) water classes and their areas."""

from __future__ import annotations

import kernels
from pipeline.engine import Areas, Layer, Period, Step
from pipeline.indicators import Context, Legend, Plan
from pipeline.indicators.sdg6_6_1.parameters import Parameters, rule_bands
from pipeline.indicators.sdg6_6_1.science import WaterRule, water_block
from pipeline.indicators.sdg6_6_1.table import headline, table

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


def plan(ctx: Context) -> Plan:
    recipe = ctx.recipe
    params: Parameters = recipe.parameters
    cube = ctx.cubes["optical"].data
    nodata = int(cube[rule_bands(params)[0]].attrs.get("nodata", 0))
    return Plan(steps=(water_step(params, recipe.periods.all_years(), nodata),),
                table=lambda stats: table(stats, recipe.periods), headline=headline,
                legend=Legend(layer="water_class", classes={k: (CLASSES[k], COLOURS[k]) for k in CLASSES}),
                series=("permanent_water_area", "seasonal_water_area"), map_series="permanent_water_pct")


def water_step(params: Parameters, years: list[int], nodata: int) -> Step:
    """Per (year, block): the year's water class from all its scenes (DN ``nodata`` skipped), its areas."""
    bands = rule_bands(params)
    rule = WaterRule(bands=bands, nodata=nodata, threshold=params.water_threshold,
                     min_observations=params.min_observations, permanent_fraction=params.permanent_fraction,
                     kind=params.water_rule, ndvi_max=params.ndvi_max, awei_threshold=params.awei_threshold)
    layer = Layer("water_class", "uint8", "yearly surface water class (JRC GSW yearly history style)",
                  kernels.NODATA_U8, classes=CLASSES, colours=COLOURS,
                  attrs={"index": params.index, "water_threshold": params.water_threshold,
                         **({"water_rule": params.water_rule, "ndvi_max": params.ndvi_max,
                             "awei_threshold": params.awei_threshold} if params.water_rule == "mndwi_awei" else {}),
                         "comment": "255 = outside the AOI"})
    return Step(name="water", inputs={"optical": bands}, block=water_block, layers=(layer,),
                reductions=(Areas("areas", "water_class"),), periods=tuple(Period.year(y) for y in years),
                params=rule)
