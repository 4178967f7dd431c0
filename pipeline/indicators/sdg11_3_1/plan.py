"""11.3.1 as one engine step: per (year, block) the built-up pixels and the people, and their sums per zone."""

from __future__ import annotations

import warnings

from pipeline.engine import Areas, Layer, Period, Step, ValueSums
from pipeline.indicators import Context, DataError, Legend, Plan, band_nodata
from pipeline.indicators.sdg11_3_1.parameters import Parameters, required_inputs
from pipeline.indicators.sdg11_3_1.science import UNKNOWN, UrbanRule, urban_block
from pipeline.indicators.sdg11_3_1.table import headline, table

BUILT_CLASSES = {0: "not built-up", 1: "built-up"}
BUILT_COLOURS = {0: "#f2e8cf", 1: "#c0392b"}


def plan(ctx: Context) -> Plan:
    params: Parameters = ctx.recipe.parameters
    bands = required_inputs(params)
    years = _common_years(ctx)
    rule = UrbanRule(band=bands["built_up"][0], threshold=params.threshold if params.built_up == "fraction" else None,
                     classes=tuple(params.built_up_classes),
                     built_nodata=band_nodata(ctx.cubes["built_up"].data, bands["built_up"][0]),
                     population_nodata=band_nodata(ctx.cubes["population"].data, "population"))
    what = (f"built-up fraction >= {params.threshold:g}" if rule.threshold is not None
            else f"land-cover classes {list(params.built_up_classes)}")
    layers = (Layer("built_up", "uint8", f"built-up ({what})", UNKNOWN, classes=BUILT_CLASSES, colours=BUILT_COLOURS,
                    attrs={"comment": "255 = no built-up data or outside the AOI"}),
              Layer("population", "float32", "population on the product's pixels", float("nan"),
                    units="people per pixel", attrs={"comment": "NaN = no population data or outside the AOI; "
                                                                "counts rescaled by the pixel-area ratio"}))
    step = Step(name="urban", inputs=bands, block=urban_block, layers=layers,
                reductions=(Areas("built_up", "built_up"), ValueSums("population", "population")),
                periods=tuple(Period.year(y) for y in years), params=rule)
    return Plan(steps=(step,), table=lambda stats: table(stats, params, what), headline=headline,
                legend=Legend(layer="built_up", classes={k: (v, BUILT_COLOURS[k]) for k, v in BUILT_CLASSES.items()}),
                series=("built_up_area", "population", "built_up_per_capita"), map_series="lcrpgr")


def _common_years(ctx: Context) -> list[int]:
    """Years with both a built-up and a population date, within periods.years."""
    wanted = ctx.recipe.periods.all_years()
    have = {name: {int(y) for y in ctx.cubes[name].data["time"].dt.year.values} for name in ("built_up", "population")}
    years = [y for y in wanted if y in have["built_up"] and y in have["population"]]
    one_only = sorted((have["built_up"] ^ have["population"]) & set(wanted))
    if one_only:
        warnings.warn(f"SDG 11.3.1: years {one_only} have only one of built-up and population; they are left out",
                      stacklevel=2)
    if len(years) < 2:
        raise DataError(f"SDG 11.3.1 needs built-up and population for two years within {wanted[0]}-{wanted[-1]}; "
                          f"found both for {years or 'none'}: widen periods.years or add items")
    return years
