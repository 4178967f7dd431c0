"""SDG 15.4.2: Mountain Green Cover Index (a) and the proportion of degraded mountain land (b), 2023 method.

Mountains are UNEP-WCMC's (Kapos 2000) six classes from a DEM: elevation, slope and the elevation range
within 7 km, which reads terrain beyond the AOI (the grid carries that margin) and across chunk borders
(a halo). Land cover maps to the 10 SEEA classes; green cover and FAO's transition matrix follow.
"""

from pipeline.indicators import Indicator
from pipeline.indicators.sdg15_4_2.parameters import Parameters, check_recipe, margin_m, required_inputs

INDICATOR = Indicator(
    code="15.4.2",
    name="Mountain Green Cover Index",
    Parameters=Parameters,
    required_inputs=required_inputs,
    module="pipeline.indicators.sdg15_4_2.plan",
    check=check_recipe,
    margin_m=margin_m,
)
