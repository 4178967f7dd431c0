"""15.4.2 as engine steps: the land-cover classes found (to check the table), the mountain classes once
(static layers), then one task per (year, block): SEEA cover, green cover and the transition status, with
their areas by mountain class. The terrain is recomputed in every year's task: the engine shares inputs
between steps, not outputs."""

from __future__ import annotations

import math

import numpy as np

from pipeline.engine import Areas, Distinct, Layer, Period, Step
from pipeline.grid import row_metres
from pipeline.indicators import Context, DataError, Legend, Plan, band_nodata
from pipeline.indicators.sdg15_4_2.legends import (
    GREEN_CLASSES,
    GREEN_COLOURS,
    MOUNTAIN,
    MOUNTAIN_COLOURS,
    NO_LAND_COVER,
    NO_STATUS,
    SEEA,
    SEEA_COLOURS,
    STATUS,
    STATUS_COLOURS,
    UNKNOWN,
)
from pipeline.indicators.sdg15_4_2.parameters import Parameters, required_inputs
from pipeline.indicators.sdg15_4_2.science import MountainRule, cover_block, legend_block, mountain_block
from pipeline.indicators.sdg15_4_2.table import headline, table

IMPACT_CODES = {"D": -1, "S": 0, "I": 1}


def plan(ctx: Context) -> Plan:
    params: Parameters = ctx.recipe.parameters
    inputs = required_inputs(params)
    rule = _rule(ctx, params)
    halo = _halo(rule)
    _check_years(ctx, params)
    weight = "surface" if params.area == "surface" else None
    cover_inputs = {name: inputs[name] for name in inputs}
    reductions = [Areas("cover", "cover_code", weight=weight), Areas("status", "status_code", weight=weight)]
    if params.belts:
        reductions.append(Areas("belt_cover", "belt_code", weight=weight))
    b0 = params.baseline[0]
    steps = (
        Step(name="legend", inputs={"landcover": inputs["landcover"]}, block=legend_block,
             reductions=(Distinct("landcover_classes", "classes"),), params=rule),
        Step(name="mountains", inputs={"dem": inputs["dem"]}, block=mountain_block, layers=_static_layers(params),
             halo=halo, params=rule),
        Step(name="cover", inputs=cover_inputs, block=cover_block, layers=_year_layers(),
             reductions=tuple(reductions), periods=tuple(Period(str(y), b0, y) for y in params.years), halo=halo,
             uses=("landcover_classes",), static=tuple(n for n in ("dem", "belts") if n in inputs), params=rule),
    )
    return Plan(steps=steps, table=lambda stats: table(stats, params), headline=headline,
                legend=Legend(layer="mountain", classes={k: (v, MOUNTAIN_COLOURS[k]) for k, v in MOUNTAIN.items()}),
                series=("mgci",), map_series="mgci")


def _rule(ctx: Context, params: Parameters) -> MountainRule:
    dy, dx = row_metres(ctx.geobox)
    lc = ctx.cubes["landcover"].data["landcover"]
    legend = params.legend()
    lut = np.zeros(256 if lc.dtype.itemsize == 1 else 65536, np.uint8)
    for code, seea in legend.items():
        if code < lut.size:
            lut[code] = seea
    impact = np.zeros((11, 11), np.int8)
    for i, row in enumerate(params.impact):
        impact[i + 1, 1:] = [IMPACT_CODES[c] for c in row]
    return MountainRule(dy_m=dy, dx_rows=dx, grid_top=float(ctx.geobox.affine.f), grid_step=float(ctx.geobox.affine.e),
                        radius_m=params.local_range_radius_m, range_m=params.local_range_m,
                        dem_nodata=band_nodata(ctx.cubes["dem"].data, "elevation"), lc_lut=lut,
                        lc_nodata=band_nodata(ctx.cubes["landcover"].data, "landcover"), impact=impact,
                        baseline=params.baseline, surface=params.area == "surface")


def _halo(rule: MountainRule) -> int:
    """Pixels of the disc's reach (the widest, east-west, in pixels of the shortest row) and one for the slope."""
    return max(math.ceil(rule.radius_m / float(rule.dx_rows.min())), math.ceil(rule.radius_m / rule.dy_m)) + 1


def _check_years(ctx: Context, params: Parameters) -> None:
    have = {int(y) for y in ctx.cubes["landcover"].data["time"].dt.year.values}
    missing = [y for y in params.years if y not in have]
    if missing:
        raise DataError(f"SDG 15.4.2 reads land cover of {list(params.years)} (baseline and reporting_years) but "
                          f"there are no land-cover items for {missing}: add them or change the parameters")
    dem = ctx.cubes["dem"]
    if dem.data["elevation"].dtype.kind in "iu" and band_nodata(dem.data, "elevation") is None:
        raise DataError("inputs.dem is an integer raster without a nodata value: beyond its edge (the grid reaches "
                        f"{params.local_range_radius_m:g} m past the AOI) it would read as 0 m and make mountains; "
                        "give it one, e.g. gdal_edit.py -a_nodata -32768 FILE")
    if "elevation" in dem.profile.categorical:
        raise DataError("inputs.dem is read as classes (an integer file): add 'categorical: false' to inputs.dem "
                        "so a coarser grid averages elevations instead of taking the most frequent one")
    if ctx.cubes["dem"].data.sizes["time"] != 1:
        raise DataError(f"inputs.dem found {ctx.cubes['dem'].data.sizes['time']} dates; a DEM is one surface: "
                          "narrow the search (one item, or tiles of one date)")


def _static_layers(params: Parameters) -> tuple[Layer, ...]:
    return (
        Layer("mountain", "uint8", "mountain class (UNEP-WCMC 2002)", UNKNOWN, classes=MOUNTAIN,
              colours=MOUNTAIN_COLOURS, attrs={"comment": "255 = no elevation or outside the AOI",
                                               "local_range_radius_m": params.local_range_radius_m}),
        Layer("slope", "float32", "slope (Horn's method, true ground distances)", math.nan, units="degree"),
        Layer("local_range", "float32", f"elevation range within {params.local_range_radius_m:g} m", math.nan,
              units="m"),
    )


def _year_layers() -> tuple[Layer, ...]:
    return (
        Layer("land_cover_seea", "uint8", "land cover, SEEA classes of the 2023 method", NO_LAND_COVER,
              classes={NO_LAND_COVER: "no land cover", **SEEA}, colours={NO_LAND_COVER: "#000000", **SEEA_COLOURS}),
        Layer("green", "uint8", "green cover (SEEA classes 2-6)", UNKNOWN, classes=GREEN_CLASSES, colours=GREEN_COLOURS,
              attrs={"comment": "255 = no land cover or outside the AOI"}),
        Layer("degradation", "int8", "land-cover transition status (FAO's matrix; later years combined with the "
              "baseline's)", NO_STATUS, classes=STATUS, colours=STATUS_COLOURS,
              attrs={"comment": "-128 = no data, or the baseline's first year"}),
    )
