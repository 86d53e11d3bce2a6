"""The bulk path of a call: meanstest.pipeline's steps on the call's tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from meanstest.pipeline import finish_results, run_engine

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

SERIAL_HOUSEHOLDS = 256  # bulk calls of at most this many households: serial kernels


def pipeline_tables(
    tables: dict[str, pa.Table],
    library: PolicyLibrary,
    engine: str,
    max_reasons: int | None = None,
    unreadable: dict | None = None,
) -> tuple[dict[str, pa.Table], int]:
    """The four tables of `meanstest.pipeline.assess` — the steps of batch.assess_batch:
    validation, engine, run-level columns — and the one count of the run's summary a
    call returns, its unmatched source rows (DATA.md: ignored and counted); without the
    rest of the summary and the change lists (tests compare the answers with
    meanstest.assess). `max_reasons`: validation's budget (row_checks.ReasonBudget);
    `unreadable`: a conversion's cells that did not fit (convert.Conversion)."""
    from meanstest.validate import validate

    validation = validate(tables, library, max_reasons=max_reasons, unreadable=unreadable)
    inp = validation.engine_input
    # a few hundred households take less time than waking the thread pool (on a busy
    # machine, milliseconds): the kernels run on this thread; the outputs are identical
    out = run_engine(inp, engine, threads=inp.households.num_rows > SERIAL_HOUSEHOLDS)
    outputs = {
        "results": finish_results(inp, out),
        "members": out.members,
        "findings": out.findings,
        "rejects": validation.rejects,
    }
    return outputs, validation.unmatched_source_rows
