"""Public security traffic police (公安交管): registered motor vehicles (`vehicle`).
Answers households.checked_vehicle. Plates lose inner spaces and are upper-cased
("蒙d 12345" → "蒙D12345"), as a plate is written on the registration certificate."""

import pyarrow as pa
import pyarrow.compute as pc
from meanstest.adapters.base import Adapter, no_whitespace


def plate(values: pa.StringArray) -> pa.StringArray:
    return pc.ascii_upper(no_whitespace(values))


ADAPTER = Adapter(
    department="vehicle",
    tables=("vehicle",),
    flag="checked_vehicle",
    cleaners={
        "vehicle.plate": plate,
    },
    description="公安交管 机动车登记",
)
