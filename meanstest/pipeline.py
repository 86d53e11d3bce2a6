"""The assessment pipeline: bundle → validation → engine → run-level columns → outputs.

The CLI, the service and the notebooks all call `assess`; nothing here is a rule of one
household (those live in `reference/` and `kernels/`). What belongs to the whole run
is here: the difficulty-index rank, digests, the engine version, the summary.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import ids, schema
from meanstest.digest import Owners, input_digest_array
from meanstest.engine import EngineInput, EngineOutput
from meanstest.errors import MeansTestError
from meanstest.kernels import join

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

ENGINE_VERSION = "meanstest 0.1.0"
ENGINES = ("fast", "reference")
MAX_INDEX = 1000  # §9: the difficulty index is 0..1000


@dataclass
class Assessment:
    """The four output tables of DATA.md and the run's accounting."""

    results: pa.Table
    members: pa.Table
    findings: pa.Table
    rejects: pa.Table
    summary: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        return {
            "results": self.results,
            "members": self.members,
            "findings": self.findings,
            "rejects": self.rejects,
        }


def load_policies(policies: PolicyLibrary | str | Path | None = None) -> PolicyLibrary:
    """A PolicyLibrary from a library object, a folder path, or None (packaged packs)."""
    from meanstest import policy

    if policies is None:
        return policy.default_library()
    if isinstance(policies, (str, Path)):
        return policy.load_library(policies)
    return policies


def run_engine(
    inp: EngineInput, engine: str = "fast", *, threads: bool = True, release: bool = False
) -> EngineOutput:
    """Run `engine` on validated input (`threads=False`: the kernels on this thread only;
    `release`: `inp`'s ID pass may be freed once the engine has read it)."""
    if engine == "fast":
        from meanstest import fast

        return fast.run(inp, threads=threads, release=release)
    if engine == "reference":
        from meanstest import reference

        return reference.run(inp, processes=len(os.sched_getaffinity(0)) if threads else 1)
    raise MeansTestError(f"unknown engine {engine!r} (choose one of {', '.join(ENGINES)})")


def rank(results: pa.Table) -> pa.Array:
    """§9 rank: difficulty_index descending, then household_id ascending; 1 = most difficult.

    A stable counting sort on the index (0..1000) of the rows in household_id order:
    the rows themselves when their household_ids already ascend (a bundle written in
    household_id order), else Arrow's sort of the household_ids alone. Arrow's sort on
    both keys, much slower at 1M rows, ranks whatever is left (nulls, an index out of
    range: not in validated results) — the same order."""
    hid = ids.string_array(results.column("household_id"))
    index = results.column("difficulty_index")
    n = len(hid)
    key = None
    if n and not hid.null_count and not index.null_count:
        key = MAX_INDEX - index.to_numpy().astype(np.int64)
    if key is None or not 0 <= key.min() <= key.max() <= MAX_INDEX:
        order = pc.sort_indices(
            results, [("difficulty_index", "descending"), ("household_id", "ascending")]
        ).to_numpy()
    else:
        if join.strings_ascend(ids._offsets(hid), ids._data(hid)):
            by_id = np.arange(n, dtype=np.int64)
        else:
            by_id = pc.sort_indices(hid).to_numpy().astype(np.int64)
        within, _ = join.counting_sort(key[by_id], MAX_INDEX + 1)
        order = by_id[within]
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return pa.array(ranks)


def input_digest_column(
    inp: EngineInput, *, threads: bool = True, owners: Owners | None = None
) -> pa.Array:
    """input_digest of every household of `inp`, with the codes of validation's ID pass
    when it describes these tables (no ID is hashed again). `owners`: those codes taken
    beforehand (`digest_owners`), by a caller whose engine may release the pass while
    the digests run on another thread."""
    if owners is None:
        owners = digest_owners(inp)
    return input_digest_array(
        inp.households, inp.persons, inp.supporters, inp.sources, owners, threads=threads
    )


def digest_owners(inp: EngineInput) -> Owners | None:
    """The digests' codes of validation's ID pass, as arrays of their own reference (an
    IdPass released later leaves them whole); None when the pass does not describe
    `inp`'s tables (the digests then compute their own)."""
    ids = inp.ids
    if ids is None or not ids.describes(inp.households, inp.persons, inp.supporters, inp.sources):
        return None
    return Owners(
        household_code=ids.household_code,
        person_home=ids.person_home,
        supporter_home=ids.supporter_home,
        person_code=ids.person_code,
        supporter_code=ids.supporter_code,
        source_code=dict(ids.source_code),
    )


def _repeat(values: list[str], index: np.ndarray) -> pa.Array:
    """values[index] as a string array, without a Python string per row."""
    return pa.array(values or [""], pa.string()).take(pa.array(index, pa.int64()))


def finish_results(
    inp: EngineInput, out: EngineOutput, input_digest: pa.Array | None = None
) -> pa.Table:
    """Add the run-level columns (rank, policy id/digest, input digest, engine version).
    `input_digest`: input_digest_column(inp), when already computed."""
    res = out.results
    rows = res.num_rows
    idx = np.asarray(inp.policy_index, dtype=np.int64) if rows else np.zeros(0, np.int64)
    if input_digest is None:
        input_digest = input_digest_column(inp)
    extra = {
        "rank": rank(res),
        "policy_id": _repeat([p.id for p in inp.policies], idx),
        "policy_digest": _repeat([p.digest for p in inp.policies], idx),
        "input_digest": input_digest,
        "engine_version": _repeat([ENGINE_VERSION], np.zeros(rows, np.int64)),
    }
    cols = [
        res.column(n) if n in res.column_names else extra[n]
        for n in schema.OUTPUTS["results"].names
    ]
    return pa.Table.from_arrays(cols, schema=schema.OUTPUTS["results"])


def assess(
    bundle_or_tables: str | Path | Mapping[str, pa.Table],
    policies: PolicyLibrary | str | Path | None = None,
    engine: str = "fast",
) -> Assessment:
    """Assess every household of a bundle (folder path or dict of Arrow tables).

    Bad households are rejected with every reason (never raised); the call raises only
    when the bundle cannot be read at all or the policy library is invalid.
    """
    from meanstest.affected import ingest_notes
    from meanstest.batch import assess_batch
    from meanstest.bundle import absent_tables, read_bundle

    library = load_policies(policies)
    if isinstance(bundle_or_tables, (str, Path)):
        absent = absent_tables(bundle_or_tables)
        tables = read_bundle(bundle_or_tables)
    else:
        tables = dict(bundle_or_tables)
        absent = schema.absent_source_tables(tables)
    batch = assess_batch(tables, library, engine)
    summary = batch.tally.summary(
        chunks=1,
        chunk_size=batch.tally.households_read,
        ingest_notes=ingest_notes(bundle_or_tables),
        absent_tables=absent,
    )
    return Assessment(batch.results, batch.members, batch.findings, batch.rejects, summary)


def write_outputs(assessment: Assessment, out_dir: str | os.PathLike[str]) -> None:
    """Write results, members, findings, rejects as Parquet, each atomically."""
    from meanstest.bundle import write_table_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in assessment.tables().items():
        write_table_atomic(
            table, out / f"{name}.parquet", schema.output_parquet_options(table.schema)
        )
