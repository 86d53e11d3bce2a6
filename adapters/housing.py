"""Housing and real-estate registration (不动产登记中心): property rights (`property`),
areas usually in m². Answers households.checked_housing. Property certificate numbers
lose inner spaces."""

from meanstest.adapters.base import Adapter, no_whitespace

ADAPTER = Adapter(
    department="housing",
    tables=("property",),
    flag="checked_housing",
    cleaners={
        "property.property_id": no_whitespace,
    },
    description="不动产登记 房屋产权",
)
