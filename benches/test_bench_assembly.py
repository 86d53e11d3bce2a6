"""Assembly: bundle tables → kernel arrays, against a pyarrow group-by/join pipeline.

`meanstest.assemble.assemble` encodes IDs, joins every source row to its person, sorts
each table by (person, record_id), encodes enumerations and builds household offsets.
The baseline does the same aggregation the way one would with pyarrow alone: person
IDs dictionary-encoded, source rows joined to persons (`index_in`) and sorted by
(person, record_id), per-person sums and counts of every table by `group_by`
(the §3 sums by income/record type, balances, interest, vehicle and property counts),
and household member/supporter offsets by a join and a group-by count.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from bench_data import engine_input, rounds_for

from meanstest.assemble import assemble

# per table: (columns summed, column grouped by beside the person, if any)
AGGREGATES = {
    "tax_income": (["amount"], "income_type"),
    "business_registration": (["annual_turnover", "employees"], "role"),
    "bank": (["balance", "interest"], None),
    "vehicle": (["value"], "vehicle_type"),
    "property": (["area", "rental_income"], "use"),
    "social_insurance": (["amount", "reimbursed"], "record_type"),
}


def _offsets(households: pa.Table, rows: pa.Table) -> np.ndarray:
    """Rows per household in households order, as offsets (join + group-by count)."""
    order = pa.table(
        {
            "household_id": households["household_id"],
            "_h": pa.array(np.arange(households.num_rows)),
        }
    )
    counts = rows.group_by("household_id").aggregate([("household_id", "count")])
    joined = order.join(counts, "household_id", join_type="left outer").sort_by("_h")
    off = np.zeros(households.num_rows + 1, np.int64)
    np.cumsum(pc.fill_null(joined["household_id_count"], 0).to_numpy(), out=off[1:])
    return off


def pyarrow_pipeline(inp) -> dict:
    people = pa.concat_arrays(
        [
            inp.persons["person_id"].combine_chunks(),
            inp.supporters["supporter_id"].combine_chunks(),
        ]
    )
    dictionary = pc.unique(people)
    out = {
        "member_off": _offsets(inp.households, inp.persons),
        "supporter_off": _offsets(inp.households, inp.supporters),
        "person_codes": pc.index_in(people, value_set=dictionary),
    }
    for name, (sums, by) in AGGREGATES.items():
        table = inp.sources[name]
        code = pc.index_in(table["person_id"], value_set=dictionary)
        table = table.append_column("_p", code).filter(pc.is_valid(code))
        table = table.sort_by([("_p", "ascending"), ("record_id", "ascending")])
        keys = ["_p"] + ([by] if by else [])
        aggs = [(c, "sum") for c in sums] + [("record_id", "count")]
        out[name] = table.group_by(keys).aggregate(aggs)
    return out


def test_assembly(benchmark, households):
    inp = engine_input(households)
    benchmark.pedantic(assemble, args=(inp,), rounds=rounds_for(households, 3, 2))
    benchmark.extra_info.update(households=households, versus=["test_pyarrow_pipeline"])


def test_pyarrow_pipeline(benchmark, households):
    inp = engine_input(households)
    out = benchmark.pedantic(pyarrow_pipeline, args=(inp,), rounds=rounds_for(households, 3, 2))
    # the baseline joined every source row that assembly joined
    a = assemble(inp) if households <= 100_000 else None
    if a is not None:
        for name in AGGREGATES:
            joined = int(pc.sum(out[name]["record_id_count"]).as_py() or 0)
            assert joined == len(a.record_ids[name]), name
    benchmark.extra_info.update(households=households)
