"""The case system export (低保业务系统): households, their members and the supporters
(赡养、抚养、扶养义务人). Household ids lose inner spaces and their full-width forms of
ASCII (`base.ascii_key`); the jurisdiction is kept as
exported (a malformed one is the validator's to reject, with the household)."""

from meanstest.adapters.base import Adapter, ascii_key

ADAPTER = Adapter(
    department="case",
    tables=("households", "persons", "supporters"),
    flag=None,
    cleaners={
        "households.household_id": ascii_key,
        "persons.household_id": ascii_key,
        "supporters.household_id": ascii_key,
    },
    description="低保业务系统 家庭、成员、赡养人",
)
