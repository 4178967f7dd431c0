"""SDG 6.6.1 (lakes and rivers): permanent and seasonal surface water area per year (and per zone).

Water is a normalized difference index above a threshold on every clear scene; each
pixel's year is classed as in JRC Global Surface Water's yearly history: permanent
(water on at least ``permanent_fraction`` of its clear observations), seasonal (water
on some), not water, or no observation (fewer than ``min_observations`` clear scenes).
The series reported is the change of the reporting-period mean against the baseline
mean; negative = loss.
"""

from pipeline.indicators import Indicator
from pipeline.indicators.sdg6_6_1.parameters import Parameters, required_inputs

INDICATOR = Indicator(
    code="6.6.1",
    name="Change in the extent of water-related ecosystems over time (lakes and rivers)",
    Parameters=Parameters,
    required_inputs=required_inputs,
    module="pipeline.indicators.sdg6_6_1.plan",
)
