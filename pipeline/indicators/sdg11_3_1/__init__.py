"""SDG 11.3.1: ratio of land consumption rate to population growth rate, per zone.

Built-up area comes from a built-up surface above a threshold (GHS-BUILT-S-like) or from
land-cover classes (WorldCover 50); people from a population grid of counts per pixel,
summed over the same pixels (pixel-centre membership) as every other statistic.
"""

from pipeline.indicators import Indicator
from pipeline.indicators.sdg11_3_1.parameters import Parameters, required_inputs

INDICATOR = Indicator(
    code="11.3.1",
    name="Ratio of land consumption rate to population growth rate",
    Parameters=Parameters,
    required_inputs=required_inputs,
    module="pipeline.indicators.sdg11_3_1.plan",
)
