"""SDG 15.1.1: forest area as a proportion of total land area, per year (and per zone).

Forest is the recipe's land-cover classes (default ESA WorldCover 10 tree cover and
95 mangroves, which FAO counts as forest) in patches of at least ``mmu_ha``; land area
is the AOI less permanent inland water, so a growing lake does not read as forest gain.
"""

from pipeline.indicators import Indicator
from pipeline.indicators.sdg15_1_1.parameters import Parameters, required_inputs

INDICATOR = Indicator(
    code="15.1.1",
    name="Forest area as a proportion of total land area",
    Parameters=Parameters,
    required_inputs=required_inputs,
    module="pipeline.indicators.sdg15_1_1.plan",
)
