"""15.1.1 as one engine step: per (year, block) forest with an exact MMU halo, and its areas."""

from __future__ import annotations

import warnings

from odc.geo.geobox import GeoBox

import kernels
from pipeline.engine import Areas, Layer, Period, Step
from pipeline.grid import smallest_pixel_area
from pipeline.indicators import Context, DataError, Legend, Plan
from pipeline.indicators.sdg15_1_1.legend import (
    COLOURS,
    FOREST_CLASSES,
    LANDCOVER_NODATA,
    WORLDCOVER,
    WORLDCOVER_COLOURS,
)
from pipeline.indicators.sdg15_1_1.parameters import Parameters
from pipeline.indicators.sdg15_1_1.science import ForestRule, forest_block, mmu_halo
from pipeline.indicators.sdg15_1_1.table import M2_PER_HA, headline, table


def plan(ctx: Context) -> Plan:
    params: Parameters = ctx.recipe.parameters
    cube = ctx.cubes["landcover"].data
    years = years_with_data([int(y) for y in cube["time"].dt.year.values], ctx.recipe.periods.all_years())
    return Plan(steps=(forest_step(params, years, ctx.geobox),), table=lambda stats: table(stats, params),
                headline=headline,
                legend=Legend(layer="forest", classes={k: (FOREST_CLASSES[k], COLOURS[k]) for k in FOREST_CLASSES}),
                series=("forest_area_pct",), map_series="forest_area_pct")


def forest_step(params: Parameters, years: list[int], geobox: GeoBox) -> Step:
    """Per (year, block): forest with an MMU halo exact for the grid's smallest pixel, its areas."""
    min_area = params.mmu_ha * M2_PER_HA
    rule = ForestRule(forest_classes=tuple(params.forest_classes), min_area=min_area,
                      eight_connected=params.connectivity == 8, lc_nodata=LANDCOVER_NODATA)
    forest = Layer("forest", "uint8", f"forest (classes {list(params.forest_classes)}, patches >= "
                   f"{params.mmu_ha:g} ha)", kernels.NODATA_U8, classes=FOREST_CLASSES, colours=COLOURS,
                   attrs={"comment": "255 = no land-cover data or outside the AOI", "mmu_ha": params.mmu_ha})
    landcover = Layer("landcover", "uint8", "land cover (input, on the product grid)", LANDCOVER_NODATA,
                      classes=WORLDCOVER, colours=WORLDCOVER_COLOURS)
    return Step(name="forest", inputs={"landcover": ("landcover",)}, block=forest_block,
                layers=(forest, landcover), reductions=(Areas("landcover", "landcover"), Areas("forest", "forest")),
                periods=tuple(Period.year(y) for y in years),
                halo=mmu_halo(min_area, smallest_pixel_area(geobox)), params=rule)


def years_with_data(present: list[int], years: list[int]) -> list[int]:
    found = [y for y in years if y in set(present)]
    if not found:
        raise DataError(f"no land-cover items for any of the years {years[0]}-{years[-1]}")
    missing = [y for y in years if y not in set(present)]
    if missing:
        warnings.warn(f"no land-cover items for years {missing}; they are left out of the table", stacklevel=2)
    return found

