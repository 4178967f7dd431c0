"""15.3.1 as engine steps: land units (found in the data), their global productivity percentiles, then
every sub-indicator per period in one pass."""

from __future__ import annotations

from pipeline.engine import Areas, Distinct, Layer, Period, Quantiles, Step
from pipeline.indicators import Context, Legend, Plan, band_nodata
from pipeline.indicators.sdg15_3_1.legends import (
    DEGRADATION,
    DEGRADATION_COLOURS,
    LPD,
    LPD_COLOURS,
    PERFORMANCE,
    PERFORMANCE_COLOURS,
    STATUS,
    STATUS_COLOURS,
    TRAJECTORY,
    TRAJECTORY_COLOURS,
    UNCCD,
    UNCCD_COLOURS,
)
from pipeline.indicators.sdg15_3_1.parameters import Parameters, required_inputs
from pipeline.indicators.sdg15_3_1.science import (
    LPD_NODATA,
    NODATA_I8,
    STATUS_NODATA,
    Rule,
    degradation_block,
    legend_block,
    performance_block,
    units_block,
)
from pipeline.indicators.sdg15_3_1.table import headline, table

STATIC = ("soil_units", "soc", "climate", "lpd", "soc_stock")  # read whole: few maps, picked by year
NODATA_COMMENT = "-128 = no data (or outside the AOI)"


def plan(ctx: Context) -> Plan:
    params: Parameters = ctx.recipe.parameters
    nodata = {name: band_nodata(ctx.cubes[name].data, bands[0]) for name, bands in required_inputs(params).items()}
    rule = Rule(params=params, nodata=nodata)
    legend = Step(name="legend", inputs=_inputs(ctx, "landcover"), block=legend_block,
                  reductions=(Distinct("landcover_classes", "classes"),), params=rule)
    steps = [legend]
    if params.productivity == "computed":
        steps += [Step(name="land-units", inputs=_inputs(ctx, "landcover", "soil_units"), block=units_block,
                       reductions=(Distinct("units", "units"),), uses=("landcover_classes",), params=rule),
                  Step(name="performance", inputs=_inputs(ctx, "ndvi", "landcover", "soil_units"),
                       block=performance_block, uses=("units",), params=rule,
                       reductions=(Quantiles("p90", "mean_ndvi", (params.performance_percentile,), by="unit_label",
                                             labels_from="units", stack=len(params.periods)),))]
    steps.append(degradation_step(ctx, rule))
    return Plan(steps=tuple(steps), table=lambda stats: table(stats, params), headline=headline,
                legend=Legend(layer="sdg", classes={k: (DEGRADATION[k], DEGRADATION_COLOURS[k]) for k in DEGRADATION}),
                series=("degraded_pct",), map_series="degraded_pct")


def degradation_step(ctx: Context, rule: Rule) -> Step:
    params = rule.params
    baseline = params.baseline
    reference = params.soc_reference_year if params.soc == "reference" else baseline.land_cover[0]
    periods = []
    for p, spec in enumerate(params.periods):
        spans = [spec.years, baseline.years] if p else [spec.years]  # a progress period needs the baseline too
        periods.append(Period(spec.name, min(reference, *(s[0] for s in spans)), max(s[1] for s in spans)))
    layers = _layers(params)
    names = list(required_inputs(params))
    return Step(name="land-degradation", inputs=_inputs(ctx, *names), block=degradation_block, layers=layers,
                reductions=tuple(Areas(layer.name, layer.name, signed=layer.dtype == "int8") for layer in layers
                                 if layer.classes is not None),
                periods=tuple(periods), static=tuple(n for n in STATIC if n in names),
                uses=("landcover_classes", "units", "p90") if params.productivity == "computed"
                else ("landcover_classes",), params=rule)


def _layers(params: Parameters) -> tuple[Layer, ...]:
    def signed(name: str, long_name: str, classes: dict[int, str], colours: dict[int, str] | None = None,
               **attrs) -> Layer:
        return Layer(name, "int8", long_name, NODATA_I8, classes=classes, colours=colours,
                     attrs={"comment": NODATA_COMMENT, **attrs})

    layers = []
    if params.productivity == "computed":
        layers += [signed("trajectory", "productivity trajectory (Mann-Kendall significance of the NDVI trend)",
                          TRAJECTORY, TRAJECTORY_COLOURS, stable_slope_ndvi_per_year=params.stable_slope),
                   signed("state", "productivity state (recent vs baseline deciles)", DEGRADATION,
                          DEGRADATION_COLOURS),
                   signed("performance", f"productivity performance (mean NDVI / {params.performance_percentile:g}th "
                          "percentile of its land unit)", PERFORMANCE, PERFORMANCE_COLOURS,
                          ratio=params.performance_ratio)]
    layers += [
        Layer("lpd", "uint8", "land productivity dynamics (5 classes)", LPD_NODATA, classes=LPD, colours=LPD_COLOURS,
              attrs={"comment": "0 = no data (or outside the AOI)", "source": params.productivity}),
        signed("productivity", "productivity sub-indicator", DEGRADATION, DEGRADATION_COLOURS),
        Layer("land_cover_initial", "uint8", "UNCCD land cover at the period's initial year", 0, classes=UNCCD,
              colours=UNCCD_COLOURS, attrs={"comment": "0 = no data (or outside the AOI)"}),
        Layer("land_cover_final", "uint8", "UNCCD land cover at the period's final year", 0, classes=UNCCD,
              colours=UNCCD_COLOURS, attrs={"comment": "0 = no data (or outside the AOI)"}),
        signed("land_cover_degradation", "land-cover sub-indicator (UNCCD transition matrix)", DEGRADATION,
               DEGRADATION_COLOURS),
        Layer("soc_change", "float32", "soil organic carbon stock change over the period", float("nan"),
              units="percent", attrs={"comment": "NaN = no data (water at the initial year, no stock)"}),
        signed("soc_degradation", f"SOC sub-indicator (change <= -{params.soc_threshold_pct:g} % degraded)",
               DEGRADATION, DEGRADATION_COLOURS),
        signed("sdg", "SDG 15.3.1: degraded if any sub-indicator is (one out, all out)", DEGRADATION,
               DEGRADATION_COLOURS),
        Layer("status", "uint8", "progress status against the baseline (7 classes)", STATUS_NODATA, classes=STATUS,
              colours=STATUS_COLOURS, attrs={"comment": "0 = no data, outside the AOI, or the baseline itself"}),
        signed("status3", "progress status against the baseline (3 classes)", DEGRADATION, DEGRADATION_COLOURS),
    ]
    return tuple(layers)


def _inputs(ctx: Context, *names: str) -> dict[str, tuple[str, ...]]:
    needed = required_inputs(ctx.recipe.parameters)
    return {n: needed[n] for n in names if n in needed}
