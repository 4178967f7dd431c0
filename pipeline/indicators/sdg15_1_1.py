"""SDG 15.1.1: forest area as a proportion of total land area, per year.

Forest is the recipe's land-cover classes (default ESA WorldCover 10 tree cover and
95 mangroves, which FAO counts as forest) in patches of at least ``mmu_ha``; land area
is the AOI less permanent inland water, so a growing lake does not read as forest gain.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

import kernels
from pipeline import dispatch, tables
from pipeline.indicators import Context, Indicator, Legend, Plan, register
from pipeline.grid import smallest_pixel_area
from pipeline.layers import yearly_layer

NOT_FOREST, FOREST = 0, 1
FOREST_CLASSES = {NOT_FOREST: "not forest", FOREST: "forest"}
COLOURS = {NOT_FOREST: "#f2e8cf", FOREST: "#1b7837"}
WORLDCOVER = {10: "tree cover", 20: "shrubland", 30: "grassland", 40: "cropland", 50: "built-up",
              60: "bare or sparse vegetation", 70: "snow and ice", 80: "permanent water bodies",
              90: "herbaceous wetland", 95: "mangroves", 100: "moss and lichen"}
WORLDCOVER_COLOURS = {10: "#006400", 20: "#ffbb22", 30: "#ffff4c", 40: "#f096ff", 50: "#fa0000",  # ESA's legend
                      60: "#b4b4b4", 70: "#f0f0f0", 80: "#0064c8", 90: "#0096a0", 95: "#00cf75", 100: "#fae6a0"}
LANDCOVER_NODATA = 0
M2_PER_HA, M2_PER_KM2 = 1e4, 1e6


@dataclass(frozen=True)
class Parameters:
    forest_classes: tuple[int, ...] = (10, 95)
    water_classes: tuple[int, ...] = (80,)
    mmu_ha: float = 0.5
    connectivity: Literal[4, 8] = 8

    def __post_init__(self) -> None:
        for name in ("forest_classes", "water_classes"):
            bad = [c for c in getattr(self, name) if not 1 <= c <= 254]
            if bad or not getattr(self, name):
                raise ValueError(f"{name} must list land-cover class values within 1..254; got "
                                 f"{list(getattr(self, name))}")
        if set(self.forest_classes) & set(self.water_classes):
            raise ValueError("forest_classes and water_classes overlap")
        if self.mmu_ha < 0:
            raise ValueError(f"mmu_ha must be >= 0; got {self.mmu_ha}")


def required_inputs(params: Parameters) -> dict[str, tuple[str, ...]]:
    return {"landcover": ("landcover",)}


def plan(ctx: Context) -> Plan:
    recipe, params = ctx.recipe, ctx.recipe.parameters
    cube = ctx.cubes["landcover"].data["landcover"]
    years = _years_with_data(cube, recipe.periods.all_years())
    min_area = params.mmu_ha * M2_PER_HA
    depth = dispatch.mmu_depth(min_area, smallest_pixel_area(ctx.geobox)) if min_area else 0
    index = [int(np.flatnonzero(cube.time.dt.year.values == year)[0]) for year in years]
    # one task per year and block: AOI mask, forest with exact MMU, layers and areas together
    forest, landcover, lc_areas, forest_areas = dispatch.forest_products(
        cube.isel(time=index).data, geobox=ctx.geobox, aoi=recipe.aoi.shape(),
        forest_classes=list(params.forest_classes), min_area=min_area,
        eight_connected=params.connectivity == 8, depth=depth, lc_nodata=LANDCOVER_NODATA)
    forest_layer = yearly_layer(
        forest, years, ctx.geobox, long_name=f"forest (classes {list(params.forest_classes)}, "
        f"patches >= {params.mmu_ha:g} ha)", classes=FOREST_CLASSES, colours=COLOURS, fill_value=kernels.NODATA_U8,
        extra={"comment": "255 = no land-cover data or outside the AOI", "mmu_ha": params.mmu_ha})
    lc_layer = yearly_layer(
        landcover, years, ctx.geobox,
        long_name="land cover (input, on the product grid)", classes=WORLDCOVER, colours=WORLDCOVER_COLOURS,
        fill_value=LANDCOVER_NODATA)
    return Plan(
        layers=forest_layer.to_dataset(name="forest").assign(landcover=lc_layer),
        stats={"landcover": lc_areas, "forest": forest_areas},
        table=lambda stats: _table(stats, years, params),
        headline=_headline,
        legend=Legend(layer="forest", classes={k: (FOREST_CLASSES[k], COLOURS[k]) for k in FOREST_CLASSES}),
        series=("forest_area_pct",),
    )


def _years_with_data(cube, years: list[int]) -> list[int]:
    present = set(int(y) for y in cube.time.dt.year.values)
    found = [y for y in years if y in present]
    if not found:
        raise LookupError(f"no land-cover items for any of the years {years[0]}-{years[-1]}")
    missing = [y for y in years if y not in present]
    if missing:
        warnings.warn(f"no land-cover items for years {missing}; they are left out of the table", stacklevel=2)
    return found


def _table(stats, years: list[int], params: Parameters) -> "tables.pd.DataFrame":
    lc, forest = stats["landcover"] / M2_PER_KM2, stats["forest"] / M2_PER_KM2
    aoi = {y: float(lc[i, :255].sum()) for i, y in enumerate(years)}
    water = {y: float(lc[i, list(params.water_classes)].sum()) for i, y in enumerate(years)}
    nodata = {y: float(lc[i, LANDCOVER_NODATA]) for i, y in enumerate(years)}
    land = {y: aoi[y] - water[y] for y in years}
    forest_km2 = {y: float(forest[i, FOREST]) for i, y in enumerate(years)}
    pct = {y: forest_km2[y] / land[y] * 100 if land[y] else np.nan for y in years}
    return tables.frame(tables.yearly_rows("15.1.1", {
        "forest_area_pct": (pct, "percent", "forest area / land area x 100"),
        "forest_area": (forest_km2, "km2", f"classes {list(params.forest_classes)} in patches "
                        f">= {params.mmu_ha:g} ha"),
        "land_area": (land, "km2", f"AOI area less permanent inland water (classes {list(params.water_classes)})"),
        "permanent_water_area": (water, "km2", "permanent inland water, excluded from land area"),
        "no_data_area": (nodata, "km2", "AOI area without land-cover data"),
        "aoi_area": (aoi, "km2", "true area of the AOI on the ellipsoid"),
    }))


def _headline(table) -> str:
    pct = table[table.series == "forest_area_pct"].sort_values("end_year")
    first, last = pct.iloc[0], pct.iloc[-1]
    return (f"forest area {last.period}: {last.value:.2f} % of land area "
            f"({first.period}: {first.value:.2f} %)")


INDICATOR = register(Indicator(
    code="15.1.1",
    name="Forest area as a proportion of total land area",
    Parameters=Parameters,
    required_inputs=required_inputs,
    plan=plan,
))
