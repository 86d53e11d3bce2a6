"""The audit journal: hash chain, tamper detection (edit, delete, insert, reorder),
`meanstest journal verify`, and `meanstest reproduce --journal`."""

import itertools
import json
import re
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from meanstest import assess, synth
from meanstest.bundle import read_bundle, write_bundle
from meanstest.cli import main
from meanstest.errors import MeansTestError
from meanstest.service.journal import (
    GENESIS,
    Journal,
    canonical,
    entry_hash,
    households_section,
    result_digests,
)
from meanstest.service.journal_check import read_entries, verify


def _entry(i: int) -> dict:
    return {"caller": "t", "method": "Assess", "status": "OK", "households": [], "n": i}


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    for i in range(5):
        j.append(_entry(i))
    j.close()
    return path


def lines(path):
    return path.read_text().splitlines()


def write(path, rows):
    path.write_text("".join(r + "\n" for r in rows))


def test_chain_links_every_entry(journal):
    entries = [json.loads(x) for x in lines(journal)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after["prev"] == before["hash"] == entry_hash(before)
    assert lines(journal)[0] == canonical(entries[0])
    assert verify(journal) == (5, entries[-1]["hash"], None)


def test_reopened_journal_continues_the_chain(journal):
    j = Journal(journal)
    j.append(_entry(5))
    j.close()
    count, _head, problem = verify(journal)
    assert (count, problem) == (6, None)


def test_edit_is_detected(journal):
    rows = lines(journal)
    rows[2] = rows[2].replace('"n":2', '"n":7')
    write(journal, rows)
    count, _, problem = verify(journal)
    assert count == 2 and problem.startswith("line 3 (seq 3): edited")


def test_edit_with_a_recomputed_hash_is_detected(journal):
    rows = [json.loads(x) for x in lines(journal)]
    rows[2]["n"] = 7
    rows[2]["hash"] = entry_hash(rows[2])
    write(journal, [canonical(r) for r in rows])
    count, _, problem = verify(journal)
    assert count == 3 and problem.startswith("line 4 (seq 4): chain broken")


def test_delete_is_detected(journal):
    rows = lines(journal)
    write(journal, rows[:1] + rows[2:])
    _, _, problem = verify(journal)
    assert problem.startswith("line 2 (seq 3): chain broken")


def test_insert_is_detected(journal):
    rows = [json.loads(x) for x in lines(journal)]
    forged = _entry(99) | {"seq": 2, "prev": rows[0]["hash"], "time": rows[0]["time"]}
    forged["hash"] = entry_hash(forged)
    write(journal, [canonical(r) for r in rows[:1] + [forged] + rows[1:]])
    _, _, problem = verify(journal)
    assert problem.startswith("line 3 (seq 2): chain broken")


def test_reorder_is_detected(journal):
    rows = lines(journal)
    rows[1], rows[3] = rows[3], rows[1]
    write(journal, rows)
    _, _, problem = verify(journal)
    assert problem.startswith("line 2 (seq 4): chain broken")


DAMAGED_LINES = {  # a last line as damage or a forger may leave it, and what is said of it
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "not a JSON entry (nested too deeply)"),
    "a 5,000-digit number": (b'{"seq": 1' + b"0" * 5000 + b"}", "not a JSON entry (Exceeds the limit"),
    "not UTF-8": (b'{"caller": "\xff"}', "not a JSON entry ('utf-8' codec can't decode"),
    "a list": (b"[1, 2]", "not a JSON object"),
}  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGED_LINES)
def test_a_damaged_line_is_reported_by_verify_and_refused_by_the_server(journal, damage):
    """Each ended `journal verify`, or a server starting on the journal, in a traceback
    (RecursionError, ValueError, UnicodeDecodeError, AttributeError on a list)."""
    line, said = DAMAGED_LINES[damage]
    with open(journal, "ab") as f:
        f.write(line + b"\n")
    count, _, problem = verify(journal)
    assert count == 5 and problem.startswith(f"line 6: {said}")
    with pytest.raises(MeansTestError, match=rf"last entry is {re.escape(said)}"):
        Journal(journal)


def test_a_text_with_a_lone_surrogate_is_an_edit(journal):
    """ "\\ud800" is valid JSON and a Python text with no UTF-8: hashing it ended
    `journal verify`, and a server starting on the journal, in a UnicodeEncodeError."""
    rows = [json.loads(x) for x in lines(journal)]
    rows[-1]["caller"] = "\ud800"
    write(journal, lines(journal)[:-1] + [json.dumps(rows[-1])])
    count, _, problem = verify(journal)
    assert count == 4 and problem == "line 5 (seq 5): edited (hash does not match)"
    with pytest.raises(MeansTestError, match=r"last entry \(seq 5\) fails its hash"):
        Journal(journal)


def test_a_last_entry_whose_seq_is_not_a_number_is_refused(journal):
    """Its hash recomputed (the chain alone allows it): a server extending the journal
    read its seq with int() and stopped on a ValueError."""
    rows = [json.loads(x) for x in lines(journal)]
    rows[-1]["seq"] = "five"
    rows[-1]["hash"] = entry_hash(rows[-1])
    write(journal, [canonical(r) for r in rows])
    with pytest.raises(MeansTestError, match=r"last entry's seq is 'five', not a number from 1"):
        Journal(journal)


def test_journal_will_not_extend_a_tampered_tail(journal):
    rows = lines(journal)
    write(journal, rows[:-1] + [rows[-1].replace('"n":4', '"n":5')])
    with pytest.raises(MeansTestError, match="fails its hash"):
        Journal(journal)


def test_a_line_rewritten_with_the_same_content_is_found(journal, capsys):
    """Each line is the canonical JSON the server writes; a line re-serialised with the
    same content (spaces after the separators) passed `journal verify` as intact (a
    blind auditor's check): the file is not the one the server wrote."""
    rows = lines(journal)
    rows[1] = json.dumps(json.loads(rows[1]), ensure_ascii=False)  # ", " and ": "
    write(journal, rows)
    assert main(["journal", "verify", str(journal)]) == 1
    assert "line 2 (seq 2): rewritten: not the canonical JSON" in capsys.readouterr().out


def test_verify_cli(journal, capsys):
    head = json.loads(lines(journal)[-1])["hash"]
    assert main(["journal", "verify", str(journal)]) == 0
    assert f"5 entries, chain intact; head {head}" in capsys.readouterr().out
    assert main(["journal", "verify", str(journal), "--head", head]) == 0
    write(journal, lines(journal)[:-1])  # a cut-off tail shows only against a kept head
    assert main(["journal", "verify", str(journal), "--head", head]) == 1
    rows = lines(journal)
    write(journal, [rows[0], rows[2], rows[1], rows[3]])
    assert main(["journal", "verify", str(journal)]) == 1
    assert "BROKEN at line 2 (seq 3)" in capsys.readouterr().out


# reproduce --journal ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A bundle and a journal of two answered calls on its households (as the server
    writes them: households_section of the pipeline's outputs)."""
    tmp_path = tmp_path_factory.mktemp("served")
    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(80, seed=21, bad_fraction=0.05), bundle)
    tables = read_bundle(bundle)
    ids = tables["households"]["household_id"]
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    for part in (pc.less(ids, "HH000000040"), pc.greater_equal(ids, "HH000000040")):
        sub = {name: t for name, t in tables.items()}
        sub["households"] = tables["households"].filter(part)
        out = assess(sub)
        section = households_section(out.results, out.members, out.rejects)
        j.append({"caller": "t", "method": "Assess", "status": "OK"} | section)
    j.append({"caller": "t", "method": "Assess", "status": "PERMISSION_DENIED", "households": []})
    j.close()
    return bundle, path


@pytest.fixture
def served(pristine, tmp_path):
    """A private copy of the pristine bundle and journal (tests edit them)."""
    bundle, path = pristine
    shutil.copytree(bundle, tmp_path / "bundle")
    shutil.copy(path, tmp_path / "journal.jsonl")
    return tmp_path / "bundle", tmp_path / "journal.jsonl"


def test_journal_reproduces(served, capsys):
    bundle, path = served
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 0
    entries = [json.loads(x) for x in lines(path)]
    answered = sum(len(e["households"]) for e in entries)
    rejected = sum(len(e.get("rejects", [])) for e in entries)
    assert answered > 60 and rejected > 0
    said = f"reproduced {answered + rejected:,} households; 0 discrepancies"
    assert said in capsys.readouterr().out


def _rejected_in_journal(path) -> str:
    return next(r["household_id"] for x in lines(path) for r in json.loads(x).get("rejects", []))


def _reproduced_with(tables, bundle, path, capsys) -> str:
    """What `reproduce --journal` says once the bundle holds `tables` (exit 1: a
    discrepancy)."""
    write_bundle(tables, bundle)
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 1
    return capsys.readouterr().out


def _prev_benefit(households: pa.Table, hid: str, change) -> pa.Table:
    """`households` with household `hid`'s prev_benefit changed by `change`."""
    i = households["household_id"].to_pylist().index(hid)
    prev = households["prev_benefit"].to_pylist()
    prev[i] = change(prev[i])
    at = households.schema.get_field_index("prev_benefit")
    return households.set_column(at, "prev_benefit", pa.array(prev, pa.int64()))


def test_a_rejects_changed_reasons_are_reported(served, capsys):
    """A journaled reject holds the digest of its reasons: a household rejected now for
    other reasons is a discrepancy (a blind auditor's check found it ignored)."""
    bundle, path = served
    victim = _rejected_in_journal(path)
    tables = read_bundle(bundle)
    tables["households"] = _prev_benefit(tables["households"], victim, lambda _: -7)
    said = _reproduced_with(tables, bundle, path, capsys)  # -7: one more reason
    assert f"{victim}: entry 1 (Assess): rejected then and now, for other reasons" in said


def test_a_reject_missing_from_the_bundle_is_reported(served, capsys):
    bundle, path = served
    victim = _rejected_in_journal(path)
    tables = read_bundle(bundle)
    hh = tables["households"]
    tables["households"] = hh.filter(pc.not_equal(hh["household_id"], victim))
    said = _reproduced_with(tables, bundle, path, capsys)
    assert f"{victim}: entry 1 (Assess): rejected then, not in the bundle now" in said


def test_an_answered_household_rejected_now_or_gone_is_said_which(served, capsys):
    """A household answered then and rejected by the bundle now is "rejected now"; one
    missing from it is "not in the bundle" (a sweep: the two were not told apart)."""
    bundle, path = served
    first = json.loads(lines(path)[0])["households"][0]["household_id"]
    tables = read_bundle(bundle)
    hh = tables["households"]
    tables["households"] = _prev_benefit(hh, first, lambda _: -7)  # negative money: rejected
    said = _reproduced_with(tables, bundle, path, capsys)
    assert f"{first}: entry 1 (Assess): not assessed now (rejected now)" in said
    tables["households"] = hh.filter(pc.not_equal(hh["household_id"], first))
    said = _reproduced_with(tables, bundle, path, capsys)
    assert f"{first}: entry 1 (Assess): not assessed now (not in the bundle)" in said


def test_changed_input_is_reported(served, capsys):
    bundle, path = served
    first = json.loads(lines(path)[0])["households"][0]["household_id"]
    tables = read_bundle(bundle)
    tables["households"] = _prev_benefit(tables["households"], first, lambda v: v + 100)
    write_bundle(tables, bundle)
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 1
    assert f"{first}: entry 1 (Assess): input changed" in capsys.readouterr().out


def _rewrite_chain(path, rows) -> None:
    """Write edited entries back with every hash recomputed, as a forger would."""
    prev = GENESIS
    for r in rows:
        r["prev"] = prev
        r["hash"] = prev = entry_hash(r)
    write(path, [canonical(r) for r in rows])
    assert verify(path)[2] is None


def test_forged_result_is_reported(served, capsys):
    bundle, path = served
    rows = [json.loads(x) for x in lines(path)]
    victim = rows[1]["households"][0]
    victim["benefit"] += 1000
    victim["result_digest"] = "0" * 64  # a forger who also rewrites the whole chain
    _rewrite_chain(path, rows)
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert f"{victim['household_id']}: entry 2 (Assess): result differs (result_digest)" in out


@pytest.mark.parametrize(
    "edit, said",
    [
        (lambda e: e.update(households="abc"), "its households and rejects are not lists"),
        (lambda e: e.update(households=[1, 2]), "a household without its household_id"),
        (lambda e: e["households"][0].pop("household_id"), "a household without its"),
        (lambda e: e["households"][0].update(input_digest=5), "a household without its"),
        (lambda e: e.update(rejects=[3]), "a reject without its household_id as text"),
        (lambda e: e.update(rejects=[{"reasons": []}]), "a reject without its household_id"),
    ],
    ids=[
        "households a text",
        "households numbers",
        "no household_id",
        "a digest a number",
        "rejects numbers",
        "a reject without the key",
    ],
)
def test_a_forged_entry_of_another_shape_is_a_discrepancy(served, capsys, edit, said):
    """Its chain rewritten, as a forger can without a key: an entry whose households or
    rejects were not lists of the service's objects ended `reproduce --journal` in a
    TypeError or KeyError."""
    bundle, path = served
    rows = [json.loads(x) for x in lines(path)]
    edit(rows[1])
    _rewrite_chain(path, rows)
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 1
    assert f"journal: entry 2 (Assess): {said}" in capsys.readouterr().out


def test_a_reject_of_a_household_sent_without_its_id_reproduces(served, capsys):
    """The service answers a household sent without household_id as a reject (with
    household_id "") and journals null for it; `reproduce --journal` called such a
    correct journal a discrepancy (a blind integration test)."""
    bundle, path = served
    rows = [json.loads(x) for x in lines(path)]
    rows[1].setdefault("rejects", []).append({"household_id": None, "reasons": ["x"]})
    _rewrite_chain(path, rows)
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 0


def test_broken_chain_is_reported(served, capsys):
    bundle, path = served
    rows = lines(path)
    write(path, [rows[1], rows[0], rows[2]])
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 1
    assert "journal: hash chain broken at line 1" in capsys.readouterr().out


def test_reproduce_needs_one_source(served, capsys):
    bundle, _path = served
    assert main(["reproduce", "--bundle", str(bundle)]) == 2  # nothing to check
    assert "give a review folder or --journal" in capsys.readouterr().err


def _documented_result_digests(results: pa.Table, members: pa.Table) -> list[str]:
    """docs/service.md, read literally: results row without rank and engine_version, plus
    members rows, as canonical lines (docs/digests.md), sorted, LF-ended; SHA-256 hex."""
    import hashlib

    def text(v):
        if v is None:
            return "\\N"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return ",".join(text(x) for x in v)
        return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    by_household: dict = {}
    for m in members.to_pylist():
        by_household.setdefault(m["household_id"], []).append(m)
    want = []
    for row in results.to_pylist():
        keep = [v for k, v in row.items() if k not in ("rank", "engine_version")]
        lines = ["\t".join(["results"] + [text(v) for v in keep])]
        lines += [
            "\t".join(["members"] + [text(v) for v in m.values()])
            for m in by_household.get(row["household_id"], [])
        ]
        body = "".join(x + "\n" for x in sorted(lines, key=str.encode))
        want.append(hashlib.sha256(body.encode()).hexdigest())
    return want


def test_result_digest_is_the_documented_text():
    from meanstest.service.journal import result_digests

    out = assess(synth.generate(60, seed=2, bad_fraction=0.1))
    assert result_digests(out.results, out.members) == _documented_result_digests(
        out.results, out.members
    )


def test_result_digests_of_a_large_call_are_the_documented_text(large):
    """Past 1,024 households the digests run in parallel blocks: the same texts."""
    from meanstest.service.journal import result_digest_bytes

    got = result_digest_bytes(large["results"], large["members"])
    assert [bytes(d).hex() for d in got] == _documented_result_digests(
        large["results"], large["members"]
    )


@pytest.mark.parametrize("households", [40, 1300])
def test_section_is_the_same_from_hex_or_raw_digests(households, large):
    from meanstest.service.journal import result_digest_bytes, result_digests

    out = large if households > 1000 else assess(synth.generate(40, seed=5)).tables()
    args = (out["results"], out["members"], out["rejects"])
    raw = households_section(*args, result_digest_bytes(*args[:2]))
    hexes = households_section(*args, result_digests(*args[:2]))
    for key in ("households", "rejects"):
        a, b = raw[key], hexes[key]
        assert a.equals(b) if isinstance(a, pa.Table) else a == b, key


# issue 13: group commit, blobs for large calls -------------------------------------------


def test_concurrent_appends_share_commits(tmp_path):
    import threading

    j = Journal(tmp_path / "j.jsonl")
    barrier = threading.Barrier(16)

    def append(i):
        barrier.wait()
        for k in range(5):
            j.append(_entry(i * 10 + k))

    threads = [threading.Thread(target=append, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    count, _, problem = verify(tmp_path / "j.jsonl")
    assert (count, problem) == (80, None)
    assert j.commits < 80  # entries of concurrent calls went out together
    assert sorted(json.loads(x)["n"] for x in lines(tmp_path / "j.jsonl")) == sorted(
        i * 10 + k for i in range(16) for k in range(5)
    )


@pytest.fixture(scope="module")
def large():
    out = assess(synth.generate(1300, seed=21, bad_fraction=0.0)).tables()
    return out


def test_a_large_call_s_households_are_a_blob(tmp_path, large):
    from meanstest.service.journal import INLINE_ROWS
    from meanstest.service.journal_check import read_entries

    section = households_section(large["results"], large["members"], large["rejects"])
    assert large["results"].num_rows > INLINE_ROWS
    j = Journal(tmp_path / "j.jsonl")
    j.append({"caller": "t", "method": "AssessArrow", "status": "OK"} | section)
    j.append(_entry(1))
    j.close()
    line = lines(tmp_path / "j.jsonl")[0]
    assert len(line) < 2000 and '"households_blob"' in line  # not a list of 1,300 dicts
    assert verify(tmp_path / "j.jsonl")[2] is None
    entry = read_entries(tmp_path / "j.jsonl")[0]
    from meanstest.service.journal import _expand

    assert entry["households"] == _expand(section["households"].to_pylist())
    assert (
        entry["households"][0]["result_digest"]
        == result_digests(
            large["results"].slice(0, 1),
            large["members"].filter(
                pa.compute.equal(
                    large["members"]["household_id"], entry["households"][0]["household_id"]
                )
            ),
        )[0]
    )
    assert len(entry["households"]) == large["results"].num_rows


def test_an_edited_blob_is_detected(tmp_path, large):
    section = households_section(large["results"], large["members"], large["rejects"])
    j = Journal(tmp_path / "j.jsonl")
    j.append({"caller": "t", "method": "AssessArrow", "status": "OK"} | section)
    j.close()
    blob = tmp_path / "j.jsonl.blobs"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1
    blob.write_bytes(bytes(data))
    count, _, problem = verify(tmp_path / "j.jsonl")
    assert count == 0 and "households_blob does not match its sha256" in problem


def _forged_blob(tmp_path, large, ref=None, data=None):
    """A journal of one large call whose households_blob reference (and blob bytes) are
    replaced, the entry's hash recomputed, as anyone who can write an unkeyed journal
    can: what verify and read_entries are given to judge."""
    import hashlib

    section = households_section(large["results"], large["members"], large["rejects"])
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.append({"caller": "t", "method": "AssessArrow", "status": "OK"} | section)
    j.close()
    entry = json.loads(lines(path)[0])
    if data is not None:
        (tmp_path / "j.jsonl.blobs").write_bytes(data)
        ref = {"offset": 0, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    entry["households_blob"] = ref
    entry["hash"] = entry_hash(entry)
    write(path, [canonical(entry)])
    return path


@pytest.mark.parametrize(
    "offset, size, said",
    [
        (0, 2**62, "bytes 0 to 4,611,686,018,427,387,904 of a file of"),  # was a MemoryError
        (2**40, 10, "bytes 1,099,511,627,776 to"),
        (0, -1, "are not byte counts"),
        ("0", 10, "are not byte counts"),
        (1.5, 10, "are not byte counts"),
    ],
)
def test_a_blob_reference_outside_the_blobs_file_is_reported(tmp_path, large, offset, size, said):
    path = _forged_blob(tmp_path, large, {"offset": offset, "bytes": size, "sha256": "0" * 64})
    count, _, problem = verify(path)
    assert count == 0 and problem.startswith("line 1 (seq 1): households_blob unreadable")
    assert said in problem


def _stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_a_forged_blob_is_refused_before_its_rows_are_read(tmp_path, large):
    """Its sha256 matches (the forger wrote both), so verify passes; its household_id
    offsets go down and up again, each within the data, which IPC reading accepts and a
    reader of the rows follows out of bounds."""
    from meanstest.service.journal_check import read_entries

    offsets = pa.array([0, 4, 0, 4], pa.int32()).buffers()[1]
    ids = pa.StringArray.from_buffers(3, offsets, pa.py_buffer(b"H001"))
    path = _forged_blob(tmp_path, large, data=_stream(pa.table({"household_id": ids})))
    assert verify(path)[2] is None
    with pytest.raises(MeansTestError, match=r"households_blob of seq 1 is not a valid Arrow"):
        read_entries(path)


def test_a_blob_whose_digests_are_not_digests_is_refused(tmp_path, large):
    from meanstest.service.journal_check import read_entries

    table = pa.table({"household_id": ["H001"], "result_digest": ["ab" * 32]})
    path = _forged_blob(tmp_path, large, data=_stream(table))
    with pytest.raises(MeansTestError, match=r"column result_digest is string with 0 nulls"):
        read_entries(path)


def test_a_failed_write_stops_the_journal(tmp_path, monkeypatch):
    import os as _os

    j = Journal(tmp_path / "j.jsonl")
    j.append(_entry(0))

    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_os, "fdatasync", broken)
    with pytest.raises(OSError):
        j.append(_entry(1))
    monkeypatch.undo()
    with pytest.raises(OSError, match="failed earlier"):
        j.append(_entry(2))
    j.close()


def test_forged_benefit_and_status_with_the_digest_kept_are_reported(served, capsys):
    """The entry's readable figures are not covered by its result_digest: a forger who
    edits them and rewrites the chain went unreported (an adversarial auditor run)."""
    bundle, path = served
    rows = [json.loads(x) for x in lines(path)]
    victim = rows[1]["households"][0]
    benefit = victim["benefit"]
    victim["benefit"] += 1000
    _rewrite_chain(path, rows)
    assert main(["reproduce", "--journal", str(path), "--bundle", str(bundle)]) == 1
    out = capsys.readouterr().out
    hid = victim["household_id"]
    assert f"{hid}: entry 2 (Assess): result differs (benefit: {benefit + 1000} → {benefit})" in out


def test_a_journal_that_cannot_be_written_turns_health_not_serving(tmp_path, caplog):
    """A blind security review filled the journal's disk: every call was INTERNAL while
    health still said SERVING, so a load balancer kept sending calls there. And each
    such call logged 35 lines of two chained tracebacks (a blind operator's check): one
    line says the entry was not journaled, and why."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from meanstest.policy import default_library
    from meanstest.service.server import SERVICE, ServiceConfig, start
    from meanstest.v1 import meanstest_pb2 as pb

    journal = Journal(tmp_path / "journal.jsonl")
    config = ServiceConfig(default_library(), journal=journal)
    running = start(config, "127.0.0.1:0", warm=False)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            ask = health_pb2.HealthCheckRequest(service=SERVICE)
            assert health.Check(ask, timeout=10).status == health_pb2.HealthCheckResponse.SERVING
            call = channel.unary_unary(f"/{SERVICE}/ListPolicies")
            assert call(pb.ListPoliciesRequest().SerializeToString(), timeout=10)

            def full(entry):
                raise OSError(28, "No space left on device")

            journal.append = full
            with pytest.raises(grpc.RpcError) as e:
                call(pb.ListPoliciesRequest().SerializeToString(), timeout=10)
            assert e.value.code() == grpc.StatusCode.INTERNAL
            reply = health.Check(ask, timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        running.stop(None).wait()
    said = [r for r in caplog.records if "not journaled" in r.getMessage()]
    assert said and not any(r.exc_info for r in said), said
    assert "No space left on device" in said[0].getMessage()


def test_an_entry_after_close_is_refused_not_written_to_a_closed_descriptor(tmp_path):
    """A Flight exchange still running when the server's grace ran out appended after the
    journal was closed: os.write to a closed (perhaps reused) descriptor. close waits for
    the entries being written and then refuses any more; closing twice is harmless."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.append({"method": "ListPolicies", "status": "OK"})
    journal.close()
    journal.close()
    with pytest.raises(OSError, match="journal closed"):
        journal.append({"method": "ListPolicies", "status": "OK"})
    count, _, problem = verify(tmp_path / "j.jsonl")
    assert problem is None and count == 1


def test_an_unfinished_last_write_is_no_entry_and_is_set_aside_at_the_next_start(tmp_path, capsys):
    """A SIGKILL can end a write() between pages: CI run 173 killed the server mid-write
    and its journal ended in half an entry. `journal verify` called it BROKEN, and the
    server refused to start on it ("last entry is not a JSON entry"). Bytes after the
    last line ending are a write whose fdatasync never returned (no answer was sent):
    verify and reproduce read the entries before them and say what follows; the server
    moves them to <journal>.unfinished and goes on from the last entry."""
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    for _ in range(3):
        journal.append({"method": "ListPolicies", "status": "OK"})
    journal.close()
    whole = path.read_bytes()
    fragment = whole.splitlines(keepends=True)[-1][:40]  # half of another entry
    path.write_bytes(whole + fragment)
    count, head, problem = verify(path)
    assert (count, problem) == (3, None)
    assert main(["journal", "verify", str(path)]) == 0
    said = capsys.readouterr().out
    assert "3 entries, chain intact" in said and "then 40 bytes of an unfinished write" in said
    assert len(read_entries(path)) == 3

    journal = Journal(path)  # what a restarted server does
    assert (journal.seq, journal.head) == (3, head)
    assert (tmp_path / "j.jsonl.unfinished").read_bytes() == fragment + b"\n"
    journal.append({"method": "ListPolicies", "status": "OK"})
    journal.close()
    assert verify(path)[0::2] == (4, None)
    assert path.read_bytes().startswith(whole)


def test_a_full_disk_at_start_names_the_journal(tmp_path, monkeypatch):
    """A blind operator restarted the server on a still-full disk: "No space left on
    device", no file named. The error names the journal, and the journal is unchanged."""
    from meanstest.service import journal as journal_module

    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append({"method": "ListPolicies", "status": "OK"})
    journal.close()
    path.write_bytes(path.read_bytes() + b'{"seq": 2, "half')
    before = path.read_bytes()

    def full(fd, data, where):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module, "_write_all", full)
    with pytest.raises(MeansTestError, match=r"j\.jsonl: cannot set aside its unfinished"):
        Journal(path)
    assert path.read_bytes() == before


def test_a_journal_opened_on_a_full_disk_or_in_a_new_folder_says_so(tmp_path, monkeypatch, caplog):
    """A blind operator's check: a server started on a full disk said SERVING and
    nothing else until its first call failed; a mistyped journal path started a new chain
    in folders it created, silently. Both are warnings at start now."""
    import ctypes
    import errno

    from meanstest.service import journal as journal_module

    def full(fd, offset, length):
        ctypes.set_errno(errno.ENOSPC)
        return False

    monkeypatch.setattr(journal_module, "_reserve", full)
    caplog.set_level("WARNING", logger="meanstest.service")
    Journal(tmp_path / "new" / "folder" / "j.jsonl").close()
    said = [r.getMessage() for r in caplog.records]
    assert any("its folder did not exist and is created" in m for m in said), said
    assert any("no room to reserve 64 MiB ahead" in m for m in said), said


def test_the_whole_chain_is_checked_when_the_server_starts(tmp_path, caplog):
    """Only the last entry stops a start; a blind operator edited the first entry and the
    server extended the journal without a word. serve checks the whole chain beside
    its serving, and logs a broken one as an error."""
    from meanstest.service.cli import check_journal_at_start

    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    for _ in range(3):
        journal.append({"method": "ListPolicies", "status": "OK"})
    journal.close()
    caplog.set_level("INFO", logger="meanstest.service")
    assert check_journal_at_start(path, None)
    rows = lines(path)
    rows[0] = rows[0].replace('"status":"OK"', '"status":"XX"')
    write(path, rows)
    Journal(path).close()  # the last entry is intact: the server starts
    assert not check_journal_at_start(path, None)
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("BROKEN at line 1 (seq 1): edited" in m for m in said), said
