"""SDG 15.3.1 (proportion of land that is degraded), Trends.Earth-compatible, per period and zone.

Three sub-indicators, each coded -1 degraded / 0 stable / 1 improved: productivity (the
5-class land productivity dynamics, computed from a yearly NDVI series by trajectory,
state and performance, or given), land cover (a transition matrix over the UNCCD
classes) and soil organic carbon (a reference stock moved by IPCC land-use factors, or
given stocks). One out, all out combines them; no data in any gives no data. Progress
periods get a status against the baseline.
"""

from pipeline.indicators import Indicator
from pipeline.indicators.sdg15_3_1.parameters import Parameters, check_recipe, required_inputs

INDICATOR = Indicator(
    code="15.3.1",
    name="Proportion of land that is degraded over total land area",
    Parameters=Parameters,
    required_inputs=required_inputs,
    module="pipeline.indicators.sdg15_3_1.plan",
    check=check_recipe,
    load_all_dates=True,  # each task reads a period's whole NDVI and land-cover series of its block
)
