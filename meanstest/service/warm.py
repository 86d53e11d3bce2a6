"""The warm-up before a server says SERVING: the engine once on synthetic households.

Each input path (bundle-like tables, protobuf-converted, Arrow IPC) hands the kernels
its own array layouts; running each once compiles (or loads from numba's cache) what
the first real call would otherwise wait for.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa

from meanstest import schema
from meanstest.errors import MeansTestError
from meanstest.pipeline import assess
from meanstest.service import convert, small
from meanstest.service.chunks import chunks_to_tables, tables_to_chunks
from meanstest.service.small_engine import PackCache

if TYPE_CHECKING:
    from meanstest.service.call import ServiceConfig


def warm_up(config: ServiceConfig) -> None:
    """Run the engine once on a few synthetic households (compiles or loads the kernels)."""
    from meanstest import synth

    packs = list(config.library.packs)
    if not packs:
        raise MeansTestError("the policy library has no packs")
    pack = packs[0]
    tables = synth.generate(16, seed=0)
    hh = tables["households"]
    n = hh.num_rows
    hh = hh.set_column(
        hh.schema.get_field_index("jurisdiction"), "jurisdiction", pa.array([pack.jurisdiction] * n)
    )
    day = max(pack.effective_from, dt.date(2024, 7, 1))
    hh = hh.set_column(
        hh.schema.get_field_index("assessment_date"),
        "assessment_date",
        pa.array([day] * n, pa.date32()),
    )
    tables["households"] = hh
    # Each input path once (bundle-like, protobuf-converted, Arrow IPC): whatever array
    # layouts they hand the kernels are compiled (or loaded) before SERVING.
    via_proto = convert.households_to_tables(convert.tables_to_households(tables)).tables
    via_ipc = chunks_to_tables(tables_to_chunks(tables, 1 << 20), schema.TABLES)
    for t in (tables, via_proto, via_ipc):
        assess(t, config.library, engine=config.engine)
    if config.engine == "fast":  # the small-call path's serial kernel
        small.assess(convert.tables_to_households(tables)[:2], config.library, PackCache())
