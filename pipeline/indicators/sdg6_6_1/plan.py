"""6.6.1 as one engine step: per (year, block) water classes and their areas."""

from __future__ import annotations

import re

import numpy as np
import xarray as xr

import kernels
from pipeline.engine import Areas, Layer, Period, Step
from pipeline.indicators import Context, Legend, Plan
from pipeline.indicators.sdg6_6_1.parameters import SNOMAP, Parameters, rule_bands
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
    counted = observation_groups(params, cube)
    loaded = ctx.cubes["optical"]
    unmasked = any(p.mask is None for p in (loaded.profiles or (loaded.profile,)))
    snow = params.water_rule == "mndwi_awei" and (unmasked if params.snow_test is None else params.snow_test)
    return Plan(steps=(water_step(params, recipe.periods.all_years(), nodata, counted, snow),),
                table=lambda stats: table(stats, recipe.periods), headline=headline,
                legend=Legend(layer="water_class", classes={k: (CLASSES[k], COLOURS[k]) for k in CLASSES}),
                series=("permanent_water_area", "seasonal_water_area"), map_series="permanent_water_pct")


def observation_groups(params: Parameters, cube: xr.Dataset) -> tuple[str | None, tuple[str, ...]]:
    """(time coordinate, its values in order of first date) the observation counts are made by:
    the input's ``sensor`` (else ``platform``); (None, ()) when the parameters ask for none."""
    coord = next((c for c in ("sensor", "platform") if c in cube.coords and cube[c].dims == ("time",)), None)
    values = tuple(dict.fromkeys(str(v) for v in np.asarray(cube[coord].values))) if coord else ()
    # by default only across sensors: Sentinel-2A and 2B of one collection are one sensor (no ``sensor`` axis)
    wanted = params.observation_counts if params.observation_counts is not None else (
        coord == "sensor" and len(values) > 1)
    return (coord, values) if wanted and coord else (None, ())


def count_layer(group: str) -> str:
    return "observations_" + re.sub(r"[^0-9a-zA-Z]+", "_", group).strip("_").lower()


def water_step(params: Parameters, years: list[int], nodata: int,
               counted: tuple[str | None, tuple[str, ...]] = (None, ()), snow_test: bool = False) -> Step:
    """Per (year, block): the year's water class from all its scenes (DN ``nodata`` skipped), its areas,
    and with ``counted`` (a time coordinate and its values) each value's clear observations per pixel."""
    bands = rule_bands(params)
    coord, groups = counted
    rule = WaterRule(bands=bands, nodata=nodata, threshold=params.water_threshold,
                     min_observations=params.min_observations, permanent_fraction=params.permanent_fraction,
                     kind=params.water_rule, ndvi_max=params.ndvi_max, awei_threshold=params.awei_threshold,
                     count_by=coord, groups=groups, count_layers=tuple(count_layer(g) for g in groups),
                     **(dict(zip(("snow_ndsi", "snow_nir", "snow_green"), SNOMAP, strict=True)) if snow_test else {}))
    counts = tuple(Layer(name, "uint16", f"clear observations of the year by {coord} {group}",
                         float(np.iinfo(np.uint16).max), units="1",
                         attrs={coord or "group": group, "comment": "clear = valid in every band the water rule "
                                "reads, after the collection's mask; 65535 = outside the AOI"})
                   for name, group in zip(rule.count_layers, groups, strict=True))
    layer = Layer("water_class", "uint8", "yearly surface water class (JRC GSW yearly history style)",
                  kernels.NODATA_U8, classes=CLASSES, colours=COLOURS,
                  attrs={"index": params.index, "water_threshold": params.water_threshold,
                         **({"water_rule": params.water_rule, "ndvi_max": params.ndvi_max,
                             "awei_threshold": params.awei_threshold,
                             "snow": "SNOMAP test (NDSI > 0.4, NIR > 0.11, green > 0.10) is no observation" if snow_test
                             else "masked by the collection's mask band"} if params.water_rule == "mndwi_awei" else {}),
                         "comment": "255 = outside the AOI"})
    return Step(name="water", inputs={"optical": bands}, block=water_block, layers=(layer, *counts),
                reductions=(Areas("areas", "water_class"),), periods=tuple(Period.year(y) for y in years),
                params=rule)
