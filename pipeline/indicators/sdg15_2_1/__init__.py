"""SDG 15.2.1 (sub-indicator 1): forest area annual net change rate, per zone.

FAO's compound rate between two years, from the very forest layer of 15.1.1 (same
classes, same minimum mapping unit, one implementation): a change of rate is then a
change of forest, never of method.
"""

from pipeline.indicators import Indicator
from pipeline.indicators.sdg15_1_1.parameters import required_inputs
from pipeline.indicators.sdg15_2_1.parameters import Parameters

INDICATOR = Indicator(
    code="15.2.1",
    name="Progress towards sustainable forest management: forest area annual net change rate",
    Parameters=Parameters,
    required_inputs=required_inputs,
    module="pipeline.indicators.sdg15_2_1.plan",
)
