"""The district annual review (年审): chunked, bounded in memory, resumable, atomic.

How a review runs (all state under OUT/.review/):

1. plan — households are numbered in bundle order and cut into chunks of
   `chunk_size`; every row with the same household_id goes to the chunk of its first
   row (so duplicate ids are seen together). Each member's and supporter's person_id
   is keyed (`person_keys`) and mapped to its chunk(s).
2. spool — every table is streamed once in record batches; each row is routed to
   the chunk(s) of its household or person (a person in two chunks is copied to
   both) and appended to OUT/.review/spool/<chunk>/<table>.parquet. Each spooled
   chunk folder is itself a bundle. Source rows matching nobody are counted here.
3. assess — chunk by chunk: read the chunk bundle, validate, run the engine and
   write its parts atomically; a chunk is done when its marker file exists.
4. finish — the rank over the whole run is computed from every part's
   (household_id, difficulty_index), then the four outputs are written by streaming
   the parts, each to a temporary file renamed into place.

A review killed at any point and started again with the same arguments resumes
after its last completed step; if the inputs, the policies or the arguments changed,
it refuses (`--restart` starts over). Memory is bounded by the chunk, the person
key index (8 bytes + chunk per person) and the two rank columns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.bundle import check_table
from meanstest.errors import BundleError, MeansTestError
from meanstest.ids import StringIndex, id_keys, string_array, take
from meanstest.progress import Progress

STATE_DIR = ".review"
DONE_DIR = ".review.discarded"
OUTPUTS = ("results", "members", "findings", "rejects")


class ResumeRefused(MeansTestError):
    """An interrupted review exists for different inputs, policies or arguments."""


def fault_point(name: str) -> None:
    """Crash here (SIGKILL) when MEANSTEST_FAULT_AT names this point: the resume tests' hook."""
    if os.environ.get("MEANSTEST_FAULT_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# Person keys ------------------------------------------------------------------------------


def person_keys(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Exact int64 keys for well-formed IDs (17 digits + 0-9/X): int(17 digits)·11 + check.

    Returns (keys, odd): `odd` marks strings that are not of that shape; their key is
    a per-string code ≥ 2^62 from a small Python dict (they are rare: bad input).
    """
    keys = id_keys(ids)
    odd = keys < 0
    if odd.any():
        values = take(string_array(ids), np.flatnonzero(odd)).to_pylist()
        keys[odd] = [_odd_key(v) for v in values]
    return keys, odd


_ODD: dict[str | None, int] = {}


def _odd_key(value: str | None) -> int:
    if value not in _ODD:
        _ODD[value] = (1 << 62) + len(_ODD)
    return _ODD[value]


# Fingerprint and state --------------------------------------------------------------------


def bundle_files(bundle: Path) -> dict[str, Path]:
    files = {}
    for table in schema.TABLES:
        found = [p for p in (bundle / f"{table}.parquet", bundle / f"{table}.arrow") if p.exists()]
        if len(found) > 1:
            raise BundleError(f"{bundle}: both {table}.parquet and {table}.arrow exist")
        if found:
            files[table] = found[0]
    if "households" not in files:
        raise BundleError(f"{bundle}: no households table (households.parquet or .arrow)")
    return files


def fingerprint(files: dict[str, Path], library, chunk_size: int, engine: str) -> dict:
    """What a resumed review must share with the interrupted one."""
    from meanstest.pipeline import ENGINE_VERSION

    inputs = {}
    for table, path in sorted(files.items()):
        st = path.stat()
        inputs[table] = {
            "file": str(path.resolve()),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
        }
    return {
        "inputs": inputs,
        "policies": sorted([p.id, p.digest] for p in library.packs),
        "chunk_size": chunk_size,
        "engine": engine,
        "engine_version": ENGINE_VERSION,
    }


def _explain_change(old: dict, new: dict) -> str:
    for key in ("inputs", "policies", "chunk_size", "engine", "engine_version"):
        if old.get(key) != new.get(key):
            if key == "inputs":
                changed = [
                    t for t in set(old[key]) | set(new[key]) if old[key].get(t) != new[key].get(t)
                ]
                return "input tables changed since the interrupted review: " + ", ".join(
                    sorted(changed)
                )
            return f"{key.replace('_', ' ')} changed since the interrupted review"
    return "state differs"


class WriteFailed(MeansTestError):
    """An output or state file could not be written (disk full, read-only, quota)."""


@contextmanager
def writing(path: Path, *tmps: Path):
    """Name `path` in any write error and leave none of `tmps` behind when one happens."""
    try:
        yield
    except OSError as e:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise WriteFailed(f"{path}: cannot write: {reason}", file=str(path)) from None


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, tmp):
        pq.write_table(table, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _close_quietly(writers) -> None:
    """Close Parquet writers after a failure: their own errors add nothing to the first."""
    for w in writers:
        try:
            w.close()
        except OSError:
            pass


@dataclass
class ReviewOptions:
    chunk_size: int = 200_000  # peak memory about 2.5 GB (1M-household synthetic district)
    engine: str = "fast"
    quiet: bool = False
    restart: bool = False
    batch_rows: int = 262_144


# Plan ---------------------------------------------------------------------------------------


def _read_columns(path: Path, columns: list[str]) -> pa.Table:
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path, columns=columns)
        with pa.memory_map(str(path)) as src:
            return pa.ipc.open_file(src).read_all().select(columns)
    except (pa.ArrowException, OSError, KeyError) as e:
        first = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise BundleError(f"{path}: cannot read columns {', '.join(columns)}: {first}") from e


def _valid(batch: pa.RecordBatch) -> pa.RecordBatch:
    batch.validate(full=True)  # IPC trusts its offsets; a forged one must not reach kernels
    return batch


def _iter_batches(path: Path, batch_rows: int, table: str):
    """The file's rows in batches, conformed to the canonical schema here, so that a
    value that does not fit its column is an error naming the bundle's file."""
    conformer = check_table(path, table)
    src = None
    try:
        if path.suffix == ".parquet":
            batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        else:
            src = pa.memory_map(str(path))
            reader = pa.ipc.open_file(src)
            batches = (_valid(reader.get_batch(i)) for i in range(reader.num_record_batches))
        for batch in batches:
            yield from conformer.apply(batch).combine_chunks().to_batches()
    except (pa.ArrowException, OSError) as e:
        first = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise BundleError(f"{path}: cannot read (truncated or corrupt?): {first}") from e
    finally:
        if src is not None:
            src.close()


@dataclass
class Plan:
    n_households: int
    n_chunks: int
    household_chunk: np.ndarray  # per households row
    persons_chunk: np.ndarray  # per persons row, -1 = no households row
    supporters_chunk: np.ndarray
    keys: np.ndarray  # sorted person keys of members and supporters
    key_chunk: np.ndarray  # the chunk of each key entry (a key may repeat, one per chunk)
    duplicates: dict[str, list[str]]
    orphan_rows: int


def _chunk_of_household_id(hids: pa.Array, chunk_size: int) -> tuple[StringIndex, np.ndarray]:
    """Each households row's chunk: that of the first row with its household_id (so
    every row of a duplicated id lands in one chunk); a null id stays where it is."""
    index = StringIndex(hids)
    chunk_of_code = (index.first // chunk_size).astype(np.int32)
    own = (np.arange(len(hids), dtype=np.int64) // chunk_size).astype(np.int32)
    codes = index.codes
    if not len(chunk_of_code):  # every household_id is null
        return index, own
    return index, np.where(codes >= 0, chunk_of_code[np.maximum(codes, 0)], own)


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs sorted by a then b (np.unique(axis=0) without its copies)."""
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[new], b[new]


def make_plan(files: dict[str, Path], chunk_size: int) -> Plan:
    hids = _read_columns(files["households"], ["household_id"])["household_id"].combine_chunks()
    n = len(hids)
    index, household_chunk = _chunk_of_household_id(hids, chunk_size)
    people_keys, people_chunks, chunks = [], [], {}
    duplicates: dict[str, list[str]] = {}
    for table, id_col in (("persons", "person_id"), ("supporters", "supporter_id")):
        if table not in files:
            chunks[table] = np.zeros(0, np.int32)
            continue
        # one column at a time: at 10M households each is a gigabyte of strings
        homes = index.lookup(_read_columns(files[table], ["household_id"])["household_id"])
        first_chunk = household_chunk[index.first]  # empty when every household_id is null
        c = (
            np.where(homes >= 0, first_chunk[np.maximum(homes, 0)], -1)
            if len(first_chunk)
            else (np.full(len(homes), -1))
        )
        chunks[table] = c = c.astype(np.int32)
        ids = _read_columns(files[table], [id_col])[id_col]
        keys, _ = person_keys(ids)
        people_keys.append(keys[c >= 0])
        people_chunks.append(c[c >= 0])
        if table == "persons":
            duplicates = duplicate_members(ids, keys, homes, index)
        del ids, homes
    keys = np.concatenate(people_keys) if people_keys else np.zeros(0, np.int64)
    kchunk = np.concatenate(people_chunks) if people_chunks else np.zeros(0, np.int32)
    del people_keys, people_chunks
    keys, kchunk = _distinct_pairs(keys, kchunk)
    orphans = int(sum((c < 0).sum() for c in chunks.values()))
    return Plan(
        n,
        max(1, -(-n // chunk_size)),
        household_chunk,
        chunks["persons"],
        chunks["supporters"],
        keys,
        kchunk.astype(np.int32),
        duplicates,
        orphans,
    )


def duplicate_members(
    person_ids, keys: np.ndarray, homes: np.ndarray, index: StringIndex
) -> dict[str, list[str]]:
    """person_id → sorted distinct household_ids, for persons who are members of more
    than one households row of the bundle (§8). `keys` are the persons rows' person keys
    and `homes` their households' codes in `index` (-1: no households row; such rows do
    not count). The candidates found by key are regrouped by their exact strings."""
    row = np.flatnonzero(homes >= 0)
    order = row[np.argsort(keys[row], kind="stable")]
    del row
    k, h = keys[order], homes[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = k[1:] != k[:-1]
    run_start = np.maximum.accumulate(np.where(new, np.arange(len(k)), 0))
    multi = np.unique(k[h != h[run_start]])  # keys whose rows name two households
    del new, run_start, h
    if len(multi) == 0:
        return {}
    lo, hi = np.searchsorted(k, multi, side="left"), np.searchsorted(k, multi, side="right")
    rows = np.concatenate([order[a:b] for a, b in zip(lo.tolist(), hi.tolist())])
    pids = take(person_ids, rows).to_pylist()
    hids = index.values(homes[rows]).to_pylist()
    out: dict[str, set[str]] = {}
    for pid, hid in zip(pids, hids):
        out.setdefault(pid, set()).add(hid)
    return {pid: sorted(h) for pid, h in out.items() if len(h) > 1}


# Spool --------------------------------------------------------------------------------------


class _ChunkWriters:
    """One Parquet writer per chunk for one table, opened on first use, renamed on close."""

    def __init__(self, spool: Path, table: str) -> None:
        self.spool, self.table, self.writers = spool, table, {}

    def _tmp(self, chunk: int) -> Path:
        return self.spool / f"{chunk:06d}" / f"{self.table}.parquet.tmp"

    def write(self, chunk: int, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        tmp = self._tmp(chunk)
        with writing(tmp):
            w = self.writers.get(chunk)
            if w is None:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                w = pq.ParquetWriter(tmp, batch.schema)
                self.writers[chunk] = w
            w.write_table(batch)

    def close(self) -> None:
        for chunk, w in self.writers.items():
            tmp = self._tmp(chunk)
            with writing(tmp):
                w.close()
                os.replace(tmp, tmp.with_suffix(""))
        self.writers = {}

    def abort(self) -> None:
        _close_quietly(self.writers.values())
        for chunk in self.writers:
            self._tmp(chunk).unlink(missing_ok=True)
        self.writers = {}


def _route_by_row(batch: pa.RecordBatch, chunk_of_row: np.ndarray, writers: _ChunkWriters):
    t = pa.Table.from_batches([batch])
    for chunk in np.unique(chunk_of_row):
        if chunk >= 0:
            writers.write(int(chunk), t.filter(pa.array(chunk_of_row == chunk)))


def _route_by_person(batch: pa.RecordBatch, plan: Plan, writers: _ChunkWriters) -> int:
    """Route source rows to the chunks of their person; returns rows matching nobody."""
    keys, _ = person_keys(batch.column("person_id"))
    lo = np.searchsorted(plan.keys, keys, side="left")
    hi = np.searchsorted(plan.keys, keys, side="right")
    counts = hi - lo
    rows = np.repeat(np.arange(len(keys)), counts)
    # entry index for every (row, chunk) copy: lo[row] + position within its run
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    chunks = plan.key_chunk[np.repeat(lo, counts) + within]
    t = pa.Table.from_batches([batch])
    for chunk in np.unique(chunks):
        writers.write(int(chunk), t.take(pa.array(rows[chunks == chunk])))
    return int((counts == 0).sum())


def spool(
    files: dict[str, Path],
    plan: Plan,
    spool_dir: Path,
    batch_rows: int,
    progress: Progress | None = None,
) -> int:
    """Write every table's rows into the chunk bundles; returns unmatched source rows."""
    unmatched = 0
    for table, path in files.items():
        writers = _ChunkWriters(spool_dir, table)
        start = 0
        try:
            for batch in _iter_batches(path, batch_rows, table):
                if table == "households":
                    rows = plan.household_chunk[start : start + batch.num_rows]
                    _route_by_row(batch, rows, writers)
                elif table in ("persons", "supporters"):
                    rows = plan.persons_chunk if table == "persons" else plan.supporters_chunk
                    _route_by_row(batch, rows[start : start + batch.num_rows], writers)
                else:
                    unmatched += _route_by_person(batch, plan, writers)
                start += batch.num_rows
            writers.close()
        except BaseException:
            writers.abort()
            raise
        fault_point(f"spool:{table}")
    return unmatched


# Assess one chunk ---------------------------------------------------------------------------

CHANGE_LISTS = ("NEW", "EXIT", "ADJUST", "PHASE_OUT")


def assess_chunk(folder: Path, parts: Path, library, plan: Plan, engine: str) -> dict:
    """Assess one spooled chunk and write its parts; returns the chunk's accounting."""
    import dataclasses

    from meanstest.bundle import read_bundle
    from meanstest.pipeline import finish_results, run_engine
    from meanstest.validate import validate

    parts.mkdir(parents=True, exist_ok=True)
    if not (folder / "households.parquet").exists():
        tables = {t: schema.empty_table(t) for t in schema.TABLES}
    else:
        tables = read_bundle(folder)
    validation = validate(tables, library)
    inp = validation.engine_input
    wanted = set(inp.persons["person_id"].to_pylist()) & set(plan.duplicates)
    inp = dataclasses.replace(inp, duplicates={k: plan.duplicates[k] for k in wanted})
    out = run_engine(inp, engine)
    results = finish_results(inp, out)
    prev = inp.households.select(["household_id", "prev_status", "prev_benefit"])
    changes = results.select(
        ["household_id", "status", "benefit", "transition", "pci", "circle"]
    ).append_column("prev_status", prev["prev_status"])
    changes = changes.append_column("prev_benefit", prev["prev_benefit"])
    changes = changes.filter(pc.is_in(changes["transition"], pa.array(CHANGE_LISTS)))
    for name, table in (
        ("results", results),
        ("members", out.members),
        ("findings", out.findings),
        ("rejects", validation.rejects),
        ("changes", changes),
    ):
        write_parquet_atomic(table, parts / f"{name}.parquet")
    fault_point(f"chunk:{folder.name}")
    return {
        "by_jurisdiction": by_jurisdiction(tables["households"], inp.households, results),
        "households_read": validation.households_read,
        "assessed": results.num_rows,
        "rejected": validation.rejects.num_rows,
        "unmatched_source_rows": validation.unmatched_source_rows,
    }


def by_jurisdiction(all_households: pa.Table, assessed: pa.Table, results: pa.Table) -> dict:
    """Per jurisdiction: households read, assessed, enrolled, total monthly benefit."""
    out: dict[str, dict[str, int]] = {}
    for j in all_households["jurisdiction"].to_pylist():
        key = j if j is not None else "(null)"
        out.setdefault(key, {"households": 0, "assessed": 0, "enrolled": 0, "benefit": 0})
        out[key]["households"] += 1
    enrolled = ("TEKUN", "DIBAO", "DIBAO_SINGLE", "PHASE_OUT")
    for j, st, b in zip(
        assessed["jurisdiction"].to_pylist(),
        results["status"].to_pylist(),
        results["benefit"].to_pylist(),
    ):
        out[j]["assessed"] += 1
        out[j]["enrolled"] += st in enrolled
        out[j]["benefit"] += b
    return out


def _merge_jurisdictions(chunks) -> dict:
    merged: dict[str, dict[str, int]] = {}
    for c in chunks:
        for j, counts in c["by_jurisdiction"].items():
            m = merged.setdefault(j, dict.fromkeys(counts, 0))
            for k, v in counts.items():
                m[k] += v
    return dict(sorted(merged.items()))


# Finish -------------------------------------------------------------------------------------


def _reason_rule(reason: str) -> str:
    """'persons.health record=…: health outside 1..6 (9)' → 'persons.health: health outside 1..6'."""
    where, _, problem = reason.partition(": ")
    column = where.split(" record=")[0]
    return f"{column}: {problem.split(' (')[0]}"


def summarise_parts(part_dirs: list[Path], accounting: dict) -> dict:
    from collections import Counter

    status, circle, transition, veto, reasons = (
        Counter(),
        Counter(),
        Counter(),
        Counter(),
        Counter(),
    )
    total_benefit = provisional = assessed = 0
    for d in part_dirs:
        r = pq.read_table(
            d / "results.parquet",
            columns=["status", "circle", "transition", "vetoes", "benefit", "provisional"],
        )
        assessed += r.num_rows
        status.update(r["status"].to_pylist())
        circle.update(str(c) for c in r["circle"].to_pylist())
        transition.update(r["transition"].to_pylist())
        veto.update(pc.list_flatten(r["vetoes"]).to_pylist())
        total_benefit += int(pc.sum(r["benefit"]).as_py() or 0)
        provisional += int(pc.sum(pc.cast(r["provisional"], pa.int64())).as_py() or 0)
        for rs in pq.read_table(d / "rejects.parquet")["reasons"].to_pylist():
            reasons.update({_reason_rule(x) for x in rs})
    read = accounting["households_read"]
    return {
        **accounting,
        "accounting_closes": read == accounting["assessed"] + accounting["rejected"],
        "by_status": {s: status.get(s, 0) for s in schema.STATUSES},
        "by_circle": {str(c): circle.get(str(c), 0) for c in range(5)},
        "by_transition": {t: transition.get(t, 0) for t in schema.TRANSITIONS},
        "by_veto": {v: veto.get(v, 0) for v in schema.VETO_CODES},
        "total_monthly_benefit": total_benefit,
        "mean_monthly_benefit_of_recipients": (
            total_benefit
            // max(1, sum(status[s] for s in ("TEKUN", "DIBAO", "DIBAO_SINGLE", "PHASE_OUT")))
        ),
        "provisional": provisional,
        "rejects_by_reason": dict(sorted(reasons.items())),
    }


def finish(part_dirs: list[Path], out: Path) -> None:
    """Global rank, then stream the parts into the final outputs (each renamed into place)."""
    from meanstest.pipeline import rank

    keys = [
        pq.read_table(d / "results.parquet", columns=["household_id", "difficulty_index"])
        for d in part_dirs
    ]
    all_keys = (
        pa.concat_tables(keys)
        if keys
        else pa.table(
            {
                "household_id": pa.array([], pa.string()),
                "difficulty_index": pa.array([], pa.int32()),
            }
        )
    )
    ranks = rank(all_keys)
    tmp = {name: out / f"{name}.parquet.tmp" for name in OUTPUTS}
    writers = {}
    try:
        change_tables = _stream_parts(part_dirs, ranks, tmp, writers)
        for name, w in writers.items():
            with writing(tmp[name]):
                w.close()
        writers = {}
        changes = pa.concat_tables(change_tables) if change_tables else None
        for t in CHANGE_LISTS:
            path = out / f"changes_{t.lower()}.parquet"
            table = (
                changes.filter(pc.equal(changes["transition"], t))
                if changes is not None
                else (pa.table({"household_id": pa.array([], pa.string())}))
            )
            write_parquet_atomic(table, path)
        for name in OUTPUTS:
            with writing(out / f"{name}.parquet", tmp[name]):
                with open(tmp[name], "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp[name], out / f"{name}.parquet")
            fault_point(f"finish:{name}")
    except BaseException:
        _close_quietly(writers.values())
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise


def _stream_parts(part_dirs, ranks, tmp: dict, writers: dict) -> list[pa.Table]:
    """Append every part to the outputs' temporary files, results with their global rank;
    returns the parts' change lists. Opens the writers into `writers` (the caller closes)."""
    for name in OUTPUTS:
        with writing(tmp[name]):
            writers[name] = pq.ParquetWriter(tmp[name], schema.OUTPUTS[name])
    change_tables = []
    offset = 0
    for d in part_dirs:
        r = pq.read_table(d / "results.parquet")
        i = r.schema.get_field_index("rank")
        r = r.set_column(i, "rank", ranks.slice(offset, r.num_rows))
        offset += r.num_rows
        with writing(tmp["results"]):
            writers["results"].write_table(r.cast(schema.OUTPUTS["results"]))
        for name in ("members", "findings", "rejects"):
            part = pq.read_table(d / f"{name}.parquet").cast(schema.OUTPUTS[name])
            with writing(tmp[name]):
                writers[name].write_table(part)
        fault_point("finish:partial")  # outputs half-written, still under .tmp names
        change_tables.append(pq.read_table(d / "changes.parquet"))
    return change_tables


def _output_names() -> list[str]:
    """Every file a review writes into its output folder (each via `<name>.tmp`)."""
    changes = [f"changes_{t.lower()}.parquet" for t in CHANGE_LISTS]
    return [*(f"{n}.parquet" for n in OUTPUTS), *changes, "summary.json"]


def _discard(folder: Path) -> None:
    """Remove a state folder so that a kill at any moment leaves it whole or gone: it is
    renamed first (atomic), then deleted; a leftover is deleted by the next run."""
    if folder.exists() and folder.name != DONE_DIR:
        trash = folder.with_name(DONE_DIR)
        if trash.exists():
            shutil.rmtree(trash)
        os.replace(folder, trash)
        fault_point("discard")  # renamed, not yet deleted
        folder = trash
    if folder.exists():
        shutil.rmtree(folder)


# The review ---------------------------------------------------------------------------------


def run_review(bundle, out, library, options: ReviewOptions | None = None) -> dict:
    """Review a bundle into `out`; resumes an interrupted review of the same inputs."""
    opts = options or ReviewOptions()
    if opts.chunk_size < 1:
        raise MeansTestError("chunk size must be at least 1 household")
    bundle, out = Path(bundle), Path(out)
    if not bundle.is_dir():
        raise BundleError(f"bundle folder not found: {bundle}")
    files = bundle_files(bundle)
    for table, path in files.items():  # schemas first: a bad table creates no output
        check_table(path, table)
    out.mkdir(parents=True, exist_ok=True)
    state_dir = out / STATE_DIR
    state_path = state_dir / "state.json"
    fp = fingerprint(files, library, opts.chunk_size, opts.engine)
    _discard(out / DONE_DIR)  # a finished review's state, killed while being removed
    for name in _output_names():  # a killed run's outputs, never renamed into place
        (out / f"{name}.tmp").unlink(missing_ok=True)
    if opts.restart and state_dir.exists():
        _discard(state_dir)
    state = None
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state["fingerprint"] != fp:
            raise ResumeRefused(
                f"{out} holds an interrupted review that cannot be resumed: "
                f"{_explain_change(state['fingerprint'], fp)}; rerun with --restart to start over"
            )
    elif state_dir.exists():
        _discard(state_dir)  # killed before its state was first written
    if state is None:
        state_dir.mkdir(parents=True)
        state = {"fingerprint": fp, "spooled": False, "chunks": {}}
        write_json_atomic(state_path, state)

    plan = make_plan(files, opts.chunk_size)
    spool_dir, parts_dir = state_dir / "spool", state_dir / "parts"
    progress = Progress(plan.n_households, quiet=opts.quiet)
    if not state["spooled"]:
        if spool_dir.exists():
            shutil.rmtree(spool_dir)
        state["unmatched_spool"] = spool(files, plan, spool_dir, opts.batch_rows)
        state["spooled"] = True
        write_json_atomic(state_path, state)

    done = sum(c["households_read"] for c in state["chunks"].values())
    progress.update(done, force=True)
    for chunk in range(plan.n_chunks):
        key = f"{chunk:06d}"
        if key in state["chunks"]:
            continue
        parts = parts_dir / key
        if parts.exists():
            shutil.rmtree(parts)
        state["chunks"][key] = assess_chunk(spool_dir / key, parts, library, plan, opts.engine)
        write_json_atomic(state_path, state)
        done += state["chunks"][key]["households_read"]
        progress.update(done)
    progress.close()

    part_dirs = [parts_dir / f"{c:06d}" for c in range(plan.n_chunks)]
    chunks = state["chunks"].values()
    accounting = {
        "households_read": plan.n_households,
        "assessed": sum(c["assessed"] for c in chunks),
        "rejected": sum(c["rejected"] for c in chunks),
        "unmatched_source_rows": state["unmatched_spool"]
        + sum(c["unmatched_source_rows"] for c in chunks),
        "orphan_rows": plan.orphan_rows,
        "by_jurisdiction": _merge_jurisdictions(chunks),
        "chunks": plan.n_chunks,
        "chunk_size": opts.chunk_size,
    }
    summary = summarise_parts(part_dirs, accounting)
    finish(part_dirs, out)
    write_json_atomic(out / "summary.json", summary)
    _discard(state_dir)
    return summary
