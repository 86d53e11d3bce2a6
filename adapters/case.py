"""The case system export (低保业务系统): households, their members and the supporters
(赡养、抚养、扶养义务人). Household ids lose inner spaces; the jurisdiction is kept as
exported (a malformed one is the validator's to reject, with the household)."""

from meanstest.adapters.base import Adapter, no_whitespace

ADAPTER = Adapter(
    department="case",
    tables=("households", "persons", "supporters"),
    flag=None,
    cleaners={
        "households.household_id": no_whitespace,
        "persons.household_id": no_whitespace,
        "supporters.household_id": no_whitespace,
    },
    description="低保业务系统 家庭、成员、赡养人",
)
