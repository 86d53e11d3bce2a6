"""One batch of households through validation and an engine, and the counts of a run.

`assess_batch` is the one assessment step of every front end: `pipeline.assess` (one
batch: the CLI's small runs, the service), the district review (a batch per chunk) and
the Spark worker (a batch per Arrow batch of co-located households). `Tally` holds a
batch's share of summary.json; tallies merge (in any grouping: the counts are sums), so
the review and Spark build the same summary from their batches.

Rank (§9) is over one run: a batch's results are ranked within the batch, which is the
run's rank when the run is one batch; the review and Spark rank again over the whole run.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.arith import rhu
from meanstest.engine import EngineInput, EngineOutput

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary
    from meanstest.validate import Validation

ENROLLED = ("TEKUN", "DIBAO", "DIBAO_SINGLE", "PHASE_OUT")
CHANGE_LISTS = ("NEW", "EXIT", "ADJUST", "PHASE_OUT")
CHANGE_COLUMNS = ("household_id", "status", "benefit", "transition", "pci", "circle")
CHANGES_SCHEMA = pa.schema(
    [schema.OUTPUTS["results"].field(c) for c in CHANGE_COLUMNS]
    + [("prev_status", pa.string()), ("prev_benefit", pa.int64())]
)
_JURISDICTION_COUNTS = ("households", "assessed", "enrolled", "benefit")
_NESTED_COUNTS = ("by_jurisdiction", "by_policy")  # dicts of dicts, not Counters


def reason_rule(reason: str) -> str:
    """'persons.health record=…: health outside 1..6 (9)' → 'persons.health: health outside
    1..6': a reject reason without its record and value, to count rejects by rule."""
    where, _, problem = reason.partition(": ")
    column = where.split(" record=")[0]
    return f"{column}: {problem.split(' (')[0]}"


def value_counts(values: pa.ChunkedArray | pa.Array) -> Counter:
    """value → count, by Arrow's value_counts (nulls are not counted)."""
    vc = pc.value_counts(values)
    if len(vc) == 0:
        return Counter()
    keys, counts = vc.field("values").to_pylist(), vc.field("counts").to_pylist()
    return Counter({k: c for k, c in zip(keys, counts, strict=True) if k is not None})


def reject_rules(reasons: pa.Array | pa.ChunkedArray) -> Counter:
    """Rejects by rule (`reason_rule`), a reject row counted once under each rule it
    breaks; `reasons`: the rejects' reasons column."""
    rules: Counter = Counter()
    for rs in reasons.to_pylist():  # rejects are few
        rules.update({reason_rule(r) for r in rs or []})
    return rules


def mean_benefit(total: int, enrolled: int) -> int:
    """The mean monthly benefit of the enrolled households, rounded half up (RULES.md §0,
    as every amount: it is cut to the fen); 0 with none."""
    return rhu(total, enrolled) if enrolled else 0


@dataclass
class Tally:
    """A batch's (or a run's) counts for summary.json. Every field is a sum over
    households, so `merge` in any order and grouping gives the run's counts."""

    households_read: int = 0
    assessed: int = 0
    rejected: int = 0
    unmatched_source_rows: int = 0
    orphan_rows: int = 0
    total_monthly_benefit: int = 0
    provisional: int = 0
    by_jurisdiction: dict = field(default_factory=dict)
    # policy_id → {"policy_digest", "assessed"}: the packs the results were assessed by
    by_policy: dict = field(default_factory=dict)
    by_status: Counter = field(default_factory=Counter)
    by_circle: Counter = field(default_factory=Counter)
    by_transition: Counter = field(default_factory=Counter)
    by_veto: Counter = field(default_factory=Counter)
    rejects_by_reason: Counter = field(default_factory=Counter)
    # rejected households rows that were being paid (prev dibao / tekun / phase_out with a
    # previous benefit): their payment needs a decision the review cannot make
    rejected_paid_benefit: int = 0
    rejected_paid_ids: list = field(default_factory=list)  # one per households row

    @classmethod
    def of(cls, households: pa.Table, validation: Validation, results: pa.Table) -> Tally:
        """The counts of one batch: `households` as read (rejected rows included), its
        validation and its results."""
        assessed = validation.engine_input.households
        reasons = reject_rules(validation.rejects["reasons"])
        paid_benefit, paid_ids = _rejected_paid(households, validation.rejects["household_id"])
        used = np.bincount(
            np.asarray(validation.engine_input.policy_index, np.int64),  # assessed rows' packs
            minlength=len(validation.engine_input.policies),
        )
        by_policy = {
            p.id: {"policy_digest": p.digest, "assessed": int(n)}
            for p, n in zip(validation.engine_input.policies, used.tolist(), strict=True)
            if n
        }
        return cls(
            households_read=validation.households_read,
            assessed=results.num_rows,
            rejected=validation.rejects.num_rows,
            unmatched_source_rows=validation.unmatched_source_rows,
            orphan_rows=validation.orphan_rows,
            total_monthly_benefit=int(pc.sum(results["benefit"]).as_py() or 0),
            provisional=int(pc.sum(pc.cast(results["provisional"], pa.int64())).as_py() or 0),
            by_jurisdiction=_by_jurisdiction(households["jurisdiction"], assessed, results),
            by_policy=by_policy,
            by_status=value_counts(results["status"]),
            by_circle=Counter({str(k): v for k, v in value_counts(results["circle"]).items()}),
            by_transition=value_counts(results["transition"]),
            by_veto=value_counts(pc.list_flatten(results["vetoes"])),
            rejects_by_reason=reasons,
            rejected_paid_benefit=paid_benefit,
            rejected_paid_ids=paid_ids,
        )

    def merge(self, other: Tally) -> Tally:
        """The counts of both batches (a new Tally)."""
        merged = Tally()
        for f in dataclasses.fields(Tally):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "by_jurisdiction":
                out = {j: dict(c) for j, c in a.items()}
                for j, counts in b.items():
                    m = out.setdefault(j, dict.fromkeys(_JURISDICTION_COUNTS, 0))
                    for k, v in counts.items():
                        m[k] += v
                setattr(merged, f.name, out)
            elif f.name == "by_policy":  # one library: an id has one digest
                out = {k: dict(v) for k, v in a.items()}
                for k, v in b.items():
                    out.setdefault(k, {"policy_digest": v["policy_digest"], "assessed": 0})
                    out[k]["assessed"] += v["assessed"]
                setattr(merged, f.name, out)
            elif isinstance(a, Counter):
                setattr(merged, f.name, a + b)
            elif isinstance(a, list):  # household ids: sorted, so any order merges alike
                setattr(merged, f.name, sorted(a + b, key=str))
            else:
                setattr(merged, f.name, a + b)
        return merged

    def to_json(self) -> str:
        # not dataclasses.asdict: it rebuilds a Counter from its (key, count) pairs
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Tally:
        data = json.loads(text)
        for f in dataclasses.fields(cls):
            if f.name.startswith(("by_", "rejects_")) and f.name not in _NESTED_COUNTS:
                data[f.name] = Counter(data.get(f.name, {}))
        return cls(**data)

    def summary(
        self,
        chunks: int,
        chunk_size: int,
        ingest_notes: Sequence[str] = (),
        absent_tables: Sequence[str] = (),
    ) -> dict:
        """summary.json: what a director reads first (counts, money in fen); the source
        tables the bundle did not have (`schema.absent_source_tables`), read as no rows;
        and what the ingest of the bundle said about it (`affected.ingest_notes`)."""
        from meanstest.pipeline import ENGINE_VERSION

        enrolled = sum(self.by_status.get(s, 0) for s in ENROLLED)
        return {
            "households_read": self.households_read,
            "assessed": self.assessed,
            "rejected": self.rejected,
            "unmatched_source_rows": self.unmatched_source_rows,
            "orphan_rows": self.orphan_rows,
            "by_jurisdiction": dict(sorted(self.by_jurisdiction.items())),
            # what produced the results, as each row carries it: an auditor compares the
            # digests with the published packs' (an edited pack may keep its id)
            "by_policy": dict(sorted(self.by_policy.items())),
            "engine_version": ENGINE_VERSION,
            "chunks": chunks,
            "chunk_size": chunk_size,
            "accounting_closes": self.households_read == self.assessed + self.rejected,
            "by_status": {s: self.by_status.get(s, 0) for s in schema.STATUSES},
            "by_circle": {str(c): self.by_circle.get(str(c), 0) for c in range(5)},
            "by_transition": {t: self.by_transition.get(t, 0) for t in schema.TRANSITIONS},
            "by_veto": {v: self.by_veto.get(v, 0) for v in schema.VETO_CODES},
            "total_monthly_benefit": self.total_monthly_benefit,
            "mean_monthly_benefit_of_recipients": mean_benefit(
                self.total_monthly_benefit, enrolled
            ),
            "provisional": self.provisional,
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "rejected_previously_paid": paid_section(
                self.rejected_paid_benefit, self.rejected_paid_ids
            ),
            "absent_source_tables": list(absent_tables),
            "ingest_notes": list(ingest_notes),
        }


PAID_BEFORE = ("dibao", "tekun", "phase_out")
NOT_PAID = tuple(s for s in schema.PREV_STATUSES if s not in PAID_BEFORE)


def paid_section(prev_benefit: int, ids: list) -> dict:
    """summary.json's `rejected_previously_paid`: households rows, their previous benefits'
    total and the first 50 ids in order."""
    first = sorted(ids, key=str)[:50]
    return {"households": len(ids), "prev_benefit": prev_benefit, "first_household_ids": first}


def rejected_paid_section(households: pa.Table, rejected_ids: pa.Array | pa.ChunkedArray) -> dict:
    """`rejected_previously_paid` of a bundle's households rows and the rejected ids, as
    the review counts it (`meanstest reproduce` checks the stored one with it)."""
    return paid_section(*_rejected_paid(households, rejected_ids))


def _rejected_paid(households: pa.Table, rejected_ids) -> tuple[int, list]:
    """(previous benefits' total, sorted household_ids) of the households rows of rejected
    households that were being paid, or may have been: a previous benefit above 0 and a
    prev_status of dibao, tekun or phase_out — or one that is no prev_status at all (null,
    or a value outside DATA.md's: the bad data may be the status itself; a blind test's
    household paid 784 元 with prev_status 'unknown' was rejected and missing here)."""
    rows = households.select(["household_id", "prev_status", "prev_benefit"])
    if len(rejected_ids) == 0 or rows.num_rows == 0:
        return 0, []
    if isinstance(rejected_ids, pa.ChunkedArray):
        rejected_ids = rejected_ids.combine_chunks()
    # dibao, tekun, phase_out, null or no status of DATA.md's: all but none and low_income
    unpaid = pc.fill_null(pc.is_in(rows["prev_status"], value_set=pa.array(NOT_PAID)), False)
    maybe_paid = pc.invert(unpaid)
    mask = pc.and_(
        pc.and_(
            pc.is_in(rows["household_id"], value_set=rejected_ids.cast(pa.string())),
            maybe_paid,
        ),
        pc.greater(rows["prev_benefit"], 0),
    )
    paid = rows.filter(pc.fill_null(mask, False))
    total = int(pc.sum(paid["prev_benefit"]).as_py() or 0)
    return total, sorted(paid["household_id"].to_pylist(), key=str)


def _by_jurisdiction(all_jurisdictions, assessed: pa.Table, results: pa.Table) -> dict:
    """Per jurisdiction: households read (a null code counts as "(null)"), assessed,
    enrolled and their total monthly benefit."""
    out: dict[str, dict[str, int]] = {}
    for j, n in value_counts(pc.fill_null(all_jurisdictions, "(null)")).items():
        out[j] = {"households": n, "assessed": 0, "enrolled": 0, "benefit": 0}
    if results.num_rows == 0:
        return out
    enrolled = pc.cast(pc.is_in(results["status"], pa.array(ENROLLED)), pa.int64())
    grouped = (
        pa.table(
            {"j": assessed["jurisdiction"], "e": enrolled, "b": results["benefit"]},
        )
        .group_by("j")
        .aggregate([("j", "count"), ("e", "sum"), ("b", "sum")])
    )
    for j, n, e, b in zip(*(grouped[c].to_pylist() for c in ("j", "j_count", "e_sum", "b_sum"))):
        out[j].update(assessed=n, enrolled=e, benefit=b)
    return out


@dataclass
class Batch:
    """The outputs of one batch: the four tables of DATA.md (results ranked within the
    batch), the change lists' rows and the batch's tally."""

    results: pa.Table
    members: pa.Table
    findings: pa.Table
    rejects: pa.Table
    changes: pa.Table
    tally: Tally
    engine_input: EngineInput


def changes_of(inp: EngineInput, results: pa.Table) -> pa.Table:
    """The rows of the change lists (NEW, EXIT, ADJUST, PHASE_OUT) with prev status."""
    changes = results.select(list(CHANGE_COLUMNS))
    changes = changes.append_column("prev_status", inp.households["prev_status"])
    changes = changes.append_column("prev_benefit", inp.households["prev_benefit"])
    return changes.filter(pc.is_in(changes["transition"], pa.array(CHANGE_LISTS)))


def assess_batch(
    tables: dict[str, pa.Table],
    library: PolicyLibrary,
    engine: str = "fast",
    *,
    duplicates: dict[str, list[str]] | None = None,
    places: dict[str, np.ndarray] | None = None,
    threads: bool = True,
    overlap: bool = False,
    release: bool = False,
    emit: Callable[[str, pa.Table], None] | None = None,
) -> Batch:
    """Validate and assess one batch of households (a bundle's tables, or a part of one
    holding every row of its households and of their members' and supporters' records).

    `duplicates`: the run's DUPLICATE_PERSON list (person_id → households) when the
    batch is part of a larger run; by default the batch's own. `places`: each row's
    place in its bundle table when the batch is part of a bundle (validate: a reject's
    "(row N)" names the bundle's row). `overlap`: compute the
    input digests on a thread of their own while the engine runs (when numba's
    threading layer allows it: `validate.reentrant_layer`). `release`: empty the dict
    `tables` once validated, so that the rows the engine does not read (those of
    rejected households, copied out by validation) are freed before it runs, and the
    input's ID pass once the engine has assembled its arrays. `emit`:
    called with ("rejects", table) once validated, ("members", …), ("findings", …)
    once the engine is done — before the digests are — so that a caller can write them
    while the digests still run, and ("results", …) once the digests are in, before the
    tally and change rows are counted (the Batch holds them all too)."""
    from meanstest.pipeline import digest_owners, finish_results, input_digest_column, run_engine
    from meanstest.validate import reentrant_layer, validate

    validation = validate(tables, library, places)
    households = tables["households"].select(
        ["household_id", "jurisdiction", "prev_status", "prev_benefit"]
    )  # all Tally.of reads
    if release:
        tables.clear()
    if emit is not None:
        emit("rejects", validation.rejects)
    inp = validation.engine_input
    if duplicates is not None:
        inp = _with_duplicates(inp, duplicates)
    if overlap and threads and reentrant_layer():
        # the digests' kernels run while the engine's Python and Arrow steps hold one
        # core; a bundle written household by household is digested a slab at a time,
        # so their text is a slab's, not the batch's
        with ThreadPoolExecutor(1, "digests") as pool:
            # the digests' codes taken here, before the engine may release the ID pass
            owners = digest_owners(inp)
            pending = pool.submit(input_digest_column, inp, threads=True, owners=owners)
            out: EngineOutput = run_engine(inp, engine, threads=threads, release=release)
            _emit_engine(emit, out)
            digests = pending.result()
    else:
        # digests before the engine: their text (about the bundle's decoded size) is
        # freed before the engine's outputs exist, which lowers the batch's peak memory
        digests = input_digest_column(inp, threads=threads)
        out = run_engine(inp, engine, threads=threads, release=release)
        _emit_engine(emit, out)
    results = finish_results(inp, out, digests)
    if emit is not None:
        emit("results", results)
    return Batch(
        results,
        out.members,
        out.findings,
        validation.rejects,
        changes_of(inp, results),
        Tally.of(households, validation, results),
        inp,
    )


def _emit_engine(emit, out: EngineOutput) -> None:
    if emit is not None:
        emit("members", out.members)
        emit("findings", out.findings)


def _with_duplicates(inp: EngineInput, duplicates: dict[str, list[str]]) -> EngineInput:
    """`inp` with the run's DUPLICATE_PERSON entries of its own members only."""
    if not duplicates:
        return dataclasses.replace(inp, duplicates={})
    ids = inp.persons["person_id"]
    found = pc.filter(ids, pc.is_in(ids, value_set=pa.array(list(duplicates), pa.string())))
    wanted = sorted(set(pc.unique(found).to_pylist()))
    return dataclasses.replace(inp, duplicates={k: duplicates[k] for k in wanted})
