"""meanstest against the independent oracle (tests/oracle.py) on the oracle's own random
households: drawn by a generator of its own (not tests/strategies.py, written beside the
engine, which may share its blind spots), with values on the default pack's limits and
every pack of strategies.packs. The comparison is test_oracle.py's (`check_input`)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import strategies
from builders import engine_input, household, person, record, supporter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_oracle import PACKS, _years_before, check_input

from meanstest import schema

# -- (f) the oracle's own households (not tests/strategies.py: other blind spots) -------

_AMOUNTS = (0, 1, 5, 6, 11, 499, 500, 501, 100000, 299999, 300000, 300001, 5000000,
            5000001, 10000001, 50000001, 123456789)  # fmt: skip
_DAYS = (-800, -732, -731, -730, -366, -365, -364, -1, 0, 1, -10000)


@st.composite
def own_household(draw, hid: str, programs: list[str]):
    """One household of 1..4 members and 0..2 supporters with a few records each, its
    values drawn on the limits of the default pack."""
    d = draw(st.sampled_from(strategies.DATES))
    pick = lambda xs: draw(st.sampled_from(xs))
    when = lambda: d + dt.timedelta(days=pick(_DAYS))
    members, supporters, records = [], [], []
    for _ in range(draw(st.integers(1, 4))):
        born = _years_before(d, pick(strategies.AGES), pick((-1, 0, 1)))
        members.append(person(
            born, health=pick(range(1, 7)), student_level=pick(schema.STUDENT_LEVELS),
            occupation=pick(schema.OCCUPATIONS), refused_job_offers=pick((0, 1, 2, 3)),
            tuition=pick(_AMOUNTS),
        ))  # fmt: skip
    for _ in range(draw(st.integers(0, 2))):
        supporters.append(supporter(
            _years_before(d, pick((15, 16, 35, 61))), health=pick(range(1, 7)),
            employment_sector=pick(schema.SECTORS), supported_count=pick((1, 2, 3)),
            exempt_reason=pick(("none", "none", "dibao", "student")),
        ))  # fmt: skip
    for who in members + supporters:
        for _ in range(draw(st.integers(0, 4))):
            table = pick(schema.SOURCE_TABLES)
            kw = {
                "tax_income": lambda: {"income_type": pick(schema.INCOME_TYPES),
                                       "amount": pick(_AMOUNTS)},
                "business_registration": lambda: {"role": pick(schema.ROLES),
                                                  "annual_turnover": pick(_AMOUNTS),
                                                  "employees": pick((0, 1))},
                "bank": lambda: {"balance": pick(_AMOUNTS), "interest": pick(_AMOUNTS)},
                "vehicle": lambda: {"plate": pick(("A1", "A2", "A3")), "value": pick(_AMOUNTS),
                                    "vehicle_type": pick(schema.VEHICLE_TYPES),
                                    "registered_on": when()},
                "property": lambda: {"property_id": pick(("P1", "P2", "P3")),
                                     "use": pick(schema.PROPERTY_USES),
                                     "area": pick((0, 2500, 5000, 5001, 10001)),
                                     "share": pick((1, 333, 500, 1000)),
                                     "acquisition": pick(schema.ACQUISITIONS),
                                     "acquired_on": (a := when()),
                                     "disposed_on": pick((None, a, a + dt.timedelta(days=400))),
                                     "rental_income": pick(_AMOUNTS)},
                "social_insurance": lambda: {"record_type": pick(schema.RECORD_TYPES),
                                             "amount": pick(_AMOUNTS),
                                             "reimbursed": pick(_AMOUNTS),
                                             "scheme": pick(schema.SCHEMES),
                                             "employer_type": pick(schema.EMPLOYER_TYPES)},
            }[table]()  # fmt: skip
            records.append(record(table, who, **kw))
    declared = lambda: pick((None, 0, 1, 2, 50000))
    hh = household(
        household_id=hid, assessment_date=d, area=pick(("urban", "rural")),
        consent_signed=pick((True, True, False)), checked_bank=pick((True, False)),
        declared_income_monthly=declared(), declared_vehicles=declared(),
        declared_properties=declared(), declared_financial_assets=declared(),
        prev_status=pick(schema.PREV_STATUSES), prev_benefit=pick((0, 57000, 171000, 99)),
        current_programs=pick((None, [], programs[:1], programs[-2:] * 2)),
    )  # fmt: skip
    return hh, members, supporters, records


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(range(len(PACKS))), min_size=1, max_size=4), st.data())
def test_own_households_engine_equals_oracle(pack_index, data):
    hhs, ms, ss, recs = [], [], [], []
    for k, p in enumerate(pack_index):
        programs = sorted(PACKS[p].params.get("programs") or {})
        hh, members, supporters, records = data.draw(own_household(f"H{k}", programs))
        hhs.append(hh)
        ms += [{"household_id": hh["household_id"], **m} for m in members]
        ss += [{"household_id": hh["household_id"], **s} for s in supporters]
        recs += records
    inp = engine_input(hhs, ms, ss, recs, PACKS)
    inp = dataclasses.replace(inp, policy_index=np.array(pack_index, np.int32))
    check_input(inp)
