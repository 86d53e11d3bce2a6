"""The keyed journal (docs/service.md, "Audit journal"): with `serve --journal-key` every
entry has `mac` = HMAC-SHA256(key, its hash), so a forger who may write the journal but
lacks the key cannot rewrite an entry and recompute the chain unseen. The chain itself,
and `meanstest journal verify` without a key, are as before."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import grpc
import pytest

from meanstest import synth
from meanstest.bundle import write_bundle
from meanstest.cli import main
from meanstest.errors import MeansTestError
from meanstest.service import server
from meanstest.service.journal import (
    GENESIS,
    Journal,
    canonical,
    entry_hash,
    households_section,
)
from meanstest.service.journal_check import read_entries, verify
from meanstest.service.server import SERVICE
from meanstest.v1 import meanstest_pb2 as pb

REAL_START = server.start
KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
# _entries() at their fixed clock (the second caller's name not ASCII): the SHA-256 of
# the file the journal wrote before keys existed (commit 69a9e4f). A journal written
# without a key must stay byte for byte what it was.
UNKEYED_SHA256 = "4fa449663b4ae1b0c6edd25882ca111ff3bcda9a323b25db499824513e6f1dd1"


def _entries() -> list[dict]:
    return [
        {"caller": caller, "method": "Assess", "status": "OK", "households": [], "rejects": []}
        | {"n": i, "time": f"2026-12-02T13:30:2{i}.123456+00:00"}
        for i, caller in enumerate(["township-03", "巴林左旗 民政局", "t"])
    ]


def _write(path, key=None, entries=None):
    j = Journal(path, key)
    for e in _entries() if entries is None else entries:
        j.append(e)
    j.close()
    return path


def _key_file(folder, key=KEY, mode=0o600, text=None):
    path = folder / "journal.key"
    path.write_text(key.hex() + "\n" if text is None else text)
    path.chmod(mode)
    return path


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def _save(path, rows):
    path.write_text("".join(canonical(r) + "\n" for r in rows))


def _rewrite_chain(path, rows):
    """Entries written back with every hash recomputed from the first, as a forger who
    may write the file would: their MACs are left as they were (no key to redo them)."""
    prev = GENESIS
    for r in rows:
        r["prev"] = prev
        r["hash"] = prev = entry_hash(r)
    _save(path, rows)


# entries and verify ----------------------------------------------------------------------


def test_without_a_key_the_entries_are_the_bytes_they_were(tmp_path):
    for key in ("omitted", None):
        path = tmp_path / f"{key}.jsonl"
        j = Journal(path) if key == "omitted" else Journal(path, key=None)
        for e in _entries():
            j.append(e)
        j.close()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == UNKEYED_SHA256


def test_a_keyed_entry_is_the_unkeyed_one_and_its_mac(tmp_path):
    plain = _write(tmp_path / "plain.jsonl").read_text().splitlines()
    keyed = _write(tmp_path / "keyed.jsonl", KEY).read_text().splitlines()
    for before, after in zip(plain, keyed, strict=True):
        entry = json.loads(after)
        mac = entry.pop("mac")
        assert canonical(entry) == before  # hash and prev as without a key
        assert mac == hmac.new(KEY, entry["hash"].encode("ascii"), hashlib.sha256).hexdigest()


def test_keyed_entries_verify_with_and_without_the_key(tmp_path, capsys):
    path = _write(tmp_path / "j.jsonl", KEY)
    head = _rows(path)[-1]["hash"]
    assert verify(path, KEY) == verify(path) == (3, head, None)
    key = _key_file(tmp_path)
    assert main(["journal", "verify", str(path), "--key", str(key), "--head", head]) == 0
    assert f"3 entries, chain and MACs intact; head {head}" in capsys.readouterr().out
    assert main(["journal", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"3 entries, chain intact (3 MACs present, not checked: give --key); head {head}" in out


def test_a_rewritten_entry_passes_the_chain_but_not_its_mac(tmp_path, capsys):
    path = _write(tmp_path / "j.jsonl", KEY, [_entries()[0]] * 2 + _entries())  # 5 entries
    rows = _rows(path)
    rows[2]["status"] = "PERMISSION_DENIED"
    _rewrite_chain(path, rows)
    assert verify(path)[2] is None  # the chain alone cannot tell
    count, _, problem = verify(path, KEY)
    assert count == 2
    why = "mac does not match the key (forged, or not this journal's key)"
    assert problem == f"line 3 (seq 3): {why}"
    key = _key_file(tmp_path)
    assert main(["journal", "verify", str(path)]) == 0
    assert main(["journal", "verify", str(path), "--key", str(key)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at line 3 (seq 3): mac does not match the key" in out
    assert "(2 entries before it are intact)" in out


def test_a_forger_who_removes_the_macs_is_named_at_the_first(tmp_path):
    path = _write(tmp_path / "j.jsonl", KEY)
    rows = _rows(path)
    rows[1]["n"] = 9
    for r in rows[1:]:
        del r["mac"]
    _rewrite_chain(path, rows)
    assert verify(path)[2] is None
    assert verify(path, KEY)[2] == (
        "line 2 (seq 2): no mac (every entry of a keyed journal has one: removed, or not keyed)"
    )


def test_a_wrong_key_fails_at_entry_1(tmp_path, capsys):
    path = _write(tmp_path / "j.jsonl", KEY)
    count, head, problem = verify(path, OTHER)
    assert (count, head) == (0, GENESIS)
    assert problem.startswith("line 1 (seq 1): mac does not match the key")
    assert main(["journal", "verify", str(path), "--key", str(_key_file(tmp_path, OTHER))]) == 1
    assert "BROKEN at line 1 (seq 1)" in (said := capsys.readouterr().out)
    assert said.rstrip().endswith("(0 entries before it are intact)")


def test_an_unkeyed_journal_fails_the_keyed_verify_at_entry_1(tmp_path):
    """A journal is keyed from its first entry: an unkeyed one (or an unkeyed prefix),
    checked with a key, has its first entry named."""
    path = _write(tmp_path / "j.jsonl")
    assert verify(path, KEY)[2].startswith("line 1 (seq 1): no mac")
    rows = _rows(path)
    rows[2]["mac"] = hmac.new(KEY, rows[2]["hash"].encode(), hashlib.sha256).hexdigest()
    _save(path, rows)  # entries 1 and 2 unkeyed, entry 3 keyed: still entry 1
    assert verify(path)[2] is None
    assert verify(path, KEY)[2].startswith("line 1 (seq 1): no mac")


def test_a_mac_that_is_not_a_hex_text_is_refused(tmp_path):
    path = _write(tmp_path / "j.jsonl", KEY)
    for bad in (7, "ü" * 64, None):
        rows = _rows(path)
        rows[1]["mac"] = bad
        _save(path, rows)
        assert verify(path)[2] is None
        assert verify(path, KEY)[2].startswith("line 2 (seq 2): ")


def test_read_entries_checks_the_macs_given_a_key(tmp_path):
    path = _write(tmp_path / "j.jsonl", KEY)
    assert [e["mac"] for e in read_entries(path, KEY)] == [r["mac"] for r in _rows(path)]
    assert len(read_entries(path)) == 3
    with pytest.raises(MeansTestError, match="line 1 .seq 1.: mac does not match"):
        read_entries(path, OTHER)


def test_a_keyed_journal_of_a_large_call_reproduces(tmp_path, capsys, monkeypatch):
    """`meanstest reproduce --journal` reads a keyed journal (blobs too) as any other."""
    from meanstest import assess
    from meanstest.service import journal

    monkeypatch.setattr(journal, "INLINE_ROWS", 10)  # the households as a blob
    tables = synth.generate(30, seed=5)
    write_bundle(tables, tmp_path / "bundle")
    out = assess(tables)
    section = households_section(out.results, out.members, out.rejects)
    path = _write(
        tmp_path / "j.jsonl", KEY, [{"caller": "t", "method": "Assess", "status": "OK"} | section]
    )
    assert "households_blob" in _rows(path)[0] and verify(path, KEY)[2] is None
    flags = ["--journal", str(path), "--bundle", str(tmp_path / "bundle")]
    assert main(["reproduce", *flags]) == 0
    assert f"reproduced {out.results.num_rows} households" in capsys.readouterr().out


# a journal extended after a restart ---------------------------------------------------------


def test_a_keyed_journal_continues_with_its_key(tmp_path):
    path = _write(tmp_path / "j.jsonl", KEY)
    _write(path, KEY, _entries()[:1])
    count, _, problem = verify(path, KEY)
    assert (count, problem) == (4, None)


@pytest.mark.parametrize(
    "written, opened, message",
    [
        (None, KEY, "last entry .seq 3. has no mac: the journal was written without a key"),
        (KEY, None, "last entry .seq 3. has a mac: the journal is keyed"),
        (KEY, OTHER, "last entry .seq 3.: mac does not match the key"),
    ],
    ids=["unkeyed-then-keyed", "keyed-then-unkeyed", "another-key"],
)
def test_a_journal_is_not_extended_with_another_key(tmp_path, written, opened, message):
    """A MAC vouches for every entry before it: a server that keyed an unkeyed journal
    would seal whatever a forger left there (the MACs stripped, entries rewritten). A
    journal is keyed from its first entry or never; a new key is a new journal."""
    path = _write(tmp_path / "j.jsonl", written)
    before = path.read_bytes()
    with pytest.raises(MeansTestError, match=message):
        Journal(path, opened)
    assert path.read_bytes() == before


def test_a_keyed_journal_with_a_forged_tail_is_not_extended(tmp_path):
    path = _write(tmp_path / "j.jsonl", KEY)
    rows = _rows(path)
    rows[0]["n"] = 5
    _rewrite_chain(path, rows)
    with pytest.raises(MeansTestError, match=r"seq 3.: mac does not match.*verify --key"):
        Journal(path, KEY)


# the key file ------------------------------------------------------------------------------


def _refused_by_serve_and_verify(tmp_path, capsys, key) -> tuple[str, str]:
    """What `serve --journal-key key` and `journal verify --key key` say, each refusing
    the key (serve exit 1; verify 2: it could not check, where 1 is a broken journal);
    serve refuses before the journal is written."""
    journal = tmp_path / "j.jsonl"
    argv = ["serve", "--plaintext-loopback", "--no-auth", "--journal", str(journal)]
    assert main([*argv, "--journal-key", str(key)]) == 1
    served = capsys.readouterr().err
    assert not journal.exists()
    _write(journal, KEY)
    assert main(["journal", "verify", str(journal), "--key", str(key)]) == 2
    return served, capsys.readouterr().err


@pytest.mark.parametrize(
    "text, message",
    [
        ("ab" * 31 + "\n", "31 bytes of key, too short"),
        ("", "0 bytes of key, too short"),
        ("zz" * 32, "not hex digits"),
        ("abc" * 31, "not hex digits"),  # an odd number of digits
        ("\u00e9" * 64, "not hex digits"),
    ],
    ids=["31-bytes", "empty", "not-hex", "odd-digits", "not-ascii"],
)
def test_a_short_or_malformed_key_is_refused(tmp_path, capsys, text, message):
    key = _key_file(tmp_path, text=text)
    served, verified = _refused_by_serve_and_verify(tmp_path, capsys, key)
    assert f"--journal-key {key}: {message}; valid: at least 64 hex digits (32 bytes)" in served
    assert f"--key {key}: {message}" in verified


def test_key_files_in_pairs_of_hex_digits_and_longer_keys_are_read(tmp_path):
    from meanstest.service.journal_key import read_key

    spaced = " ".join(f"{b:02X}" for b in KEY)
    assert read_key(_key_file(tmp_path, text=f"\n{spaced}\n"), "--journal-key") == KEY
    long = bytes(range(64))
    assert read_key(_key_file(tmp_path, long), "--journal-key") == long
    with pytest.raises(MeansTestError, match="--journal-key .*: cannot read"):
        read_key(tmp_path / "absent", "--journal-key")
    with pytest.raises(MeansTestError, match="a journal key of 16 bytes; 32 or more"):
        Journal(tmp_path / "j.jsonl", bytes(16))


@pytest.mark.parametrize("mode", [0o620, 0o660, 0o602], ids="{:04o}".format)
def test_a_key_file_other_users_may_write_is_refused(tmp_path, capsys, mode):
    key = _key_file(tmp_path, mode=mode)
    served, verified = _refused_by_serve_and_verify(tmp_path, capsys, key)
    assert f"--journal-key {key}: other users may write it (mode {mode:04o})" in served
    assert "forge entries; refusing to start" in served and "Traceback" not in served
    assert f"--key {key}: other users may write it" in verified


# serve --journal-key, end to end ----------------------------------------------------------


class _Served(Exception):
    """Raised once the in-process server has answered: `meanstest serve` stops there."""


def _serve_one_call(tmp_path, monkeypatch, *flags):
    """`meanstest serve FLAGS` in-process: the server it builds is started (port 0),
    answers one ListPolicies call and is stopped; returns the journal's path."""

    def start(config, address, credentials=None, warm=True):
        running = REAL_START(config, address, credentials, warm=False)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                call = channel.unary_unary(f"/{SERVICE}/ListPolicies")
                assert call(pb.ListPoliciesRequest().SerializeToString(), timeout=30)
        finally:
            running.stop(None).wait()
            config.journal.close()
        raise _Served

    monkeypatch.setattr(server, "start", start)
    journal = tmp_path / "j.jsonl"
    argv = ["serve", "--plaintext-loopback", "--no-auth", "--port", "0", "--journal", str(journal)]
    with pytest.raises(_Served):
        main([*argv, *flags])
    return journal


def test_serve_with_a_journal_key_writes_macs(tmp_path, monkeypatch, caplog, capsys):
    key = _key_file(tmp_path, mode=0o640)  # its group may read it: served, with a warning
    with caplog.at_level(logging.WARNING, logger="meanstest.service"):
        journal = _serve_one_call(tmp_path, monkeypatch, "--journal-key", str(key))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"--journal-key {key}: other users may read it (mode 0640); chmod 600 it" in warnings
    (entry,) = _rows(journal)
    assert entry["method"] == "ListPolicies" and entry["status"] == "OK"
    assert entry["mac"] == hmac.new(KEY, entry["hash"].encode(), hashlib.sha256).hexdigest()
    assert verify(journal, KEY) == (1, entry["hash"], None)
    # restarted with the key, the server goes on with the same journal
    assert _serve_one_call(tmp_path, monkeypatch, "--journal-key", str(key)) == journal
    assert verify(journal, KEY)[0::2] == (2, None)
    # and without it, it refuses to extend the keyed journal
    capsys.readouterr()
    assert main(["serve", "--plaintext-loopback", "--no-auth", "--journal", str(journal)]) == 1
    assert "last entry (seq 2) has a mac: the journal is keyed" in capsys.readouterr().err
