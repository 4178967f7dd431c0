"""15.2.1 as 15.1.1's forest step (the same layer and areas), with its own table."""

from __future__ import annotations

from pipeline.indicators import Context, DataError, Legend, Plan
from pipeline.indicators.sdg15_1_1.legend import COLOURS, FOREST_CLASSES
from pipeline.indicators.sdg15_1_1.plan import forest_step, years_with_data
from pipeline.indicators.sdg15_2_1.parameters import Parameters
from pipeline.indicators.sdg15_2_1.table import headline, table


def plan(ctx: Context) -> Plan:
    params: Parameters = ctx.recipe.parameters
    cube = ctx.cubes["landcover"].data
    years = years_with_data([int(y) for y in cube["time"].dt.year.values], ctx.recipe.periods.all_years())
    if len(years) < 2:
        raise DataError(f"a change rate needs land cover for two years; only {years} have items: widen "
                          "periods.years or add land-cover items")
    return Plan(steps=(forest_step(params, years, ctx.geobox),), table=lambda stats: table(stats, params),
                headline=headline,
                legend=Legend(layer="forest", classes={k: (FOREST_CLASSES[k], COLOURS[k]) for k in FOREST_CLASSES}),
                series=("forest_area",), map_series="forest_change_rate")
