"""Columnar protobuf (issue 13 item 2): the numba reader and writer of the wire format
against the protobuf library, on random and arbitrary messages.

- `convert.request_to_tables(wire.decode(bytes))` equals `convert.households_to_tables`
  of the parsed request: tables, the cells that did not fit, their values;
- bytes the reader declines (groups, truncation, bad UTF-8) are ones the protobuf
  library rejects or reads differently — the server then uses the library;
- `wire_out.encode_response` is byte for byte upb's deterministic serialisation;
- dates: the numba parser agrees with Arrow's on every shape of text.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_proto import messages

from meanstest import assess, schema, synth
from meanstest.service import convert, wire, wire_out
from meanstest.v1 import meanstest_pb2 as pb

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))


def read(data: bytes):
    """The reader's conversion, or None where it declines (as the server sees it)."""
    decoded = wire.decode(data)
    if decoded is None:
        return None
    try:
        return convert.request_to_tables(decoded)
    except wire.NotUTF8:
        return None


def same_conversion(data: bytes) -> None:
    got = read(data)
    try:
        request = pb.AssessRequest.FromString(data)
    except DecodeError:
        assert got is None  # what the library refuses, the reader refuses
        return
    if got is None:
        return  # declined: the server hands these bytes to the library
    want = convert.households_to_tables(request.households)
    for name in want.tables:
        assert got.tables[name].equals(want.tables[name]), name
    assert cells(got) == cells(want)


def cells(conv: convert.Conversion) -> dict:
    """A conversion's cells that did not fit, as plain values."""
    return {
        (name, column): (u.rows.tolist(), u.rule, u.details)
        for name, columns in conv.unreadable.items()
        for column, u in columns.items()
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_district_requests_read_alike(seed):
    msgs = convert.tables_to_households(synth.generate(300, seed=seed, bad_fraction=0.1))
    same_conversion(pb.AssessRequest(households=msgs).SerializeToString())


@SETTINGS
@given(st.lists(messages(pb.Household.DESCRIPTOR), max_size=5))
def test_any_households_read_alike(households):
    same_conversion(pb.AssessRequest(households=households).SerializeToString())


@SETTINGS
@given(st.lists(messages(pb.Household.DESCRIPTOR), min_size=1, max_size=3), st.data())
def test_repeated_and_unknown_fields_read_alike(households, data):
    """Wire-level oddities a client may send: a field twice (last wins; Programs merge),
    unknown fields, fields in any order (upb's parse is the definition)."""
    raw = pb.AssessRequest(households=households).SerializeToString()
    extra = pb.Household(
        jurisdiction=data.draw(st.sampled_from(["150422", "x"])),
        current_programs=pb.Programs(names=["a"]),
    ).SerializeToString()
    unknown = bytes([0x98, 0x06, 0x07, 0xA2, 0x06, 0x02, 0x68, 0x69])  # fields 99 and 100
    # a household message concatenated with more fields is the same message merged
    body = pb.AssessRequest(households=households[:1]).SerializeToString()[2:]
    size = len(body) + len(extra) + len(unknown)
    merged = bytes([0x0A]) + _varint(size) + body[len(_varint(len(body))) :] + extra + unknown
    same_conversion(raw + merged + unknown)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 128:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_field_numbers_beyond_protobufs_limit_are_declined_as_by_the_library():
    """Field 2^29 - 1 is an unknown field to skip; 2^29 + 15 is corrupt to the library
    (DecodeError), so the reader must not read it as an unknown field."""
    largest = b"\xfd\xff\xff\xff\x0f\x00\x00\x00\x00"
    beyond = b"\xfd\x80\x80\x80\x10\x00\x00\x00\x00"
    assert read(largest) is not None
    with pytest.raises(DecodeError):
        pb.AssessRequest.FromString(beyond)
    assert read(beyond) is None
    household = pb.AssessRequest(households=[pb.Household(household_id="H")]).SerializeToString()
    inner = pb.Household(household_id="H").SerializeToString() + beyond
    nested = b"\x0a" + bytes([len(inner)]) + inner
    assert read(household) is not None and read(nested) is None
    same_conversion(nested)


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_read_alike_or_are_declined(data):
    same_conversion(data)


def test_bad_utf8_is_declined():
    raw = pb.AssessRequest(households=[pb.Household(household_id="HH1")]).SerializeToString()
    broken = raw.replace(b"HH1", b"H\xff1")
    assert read(broken) is None
    with pytest.raises(DecodeError):
        pb.AssessRequest.FromString(broken)


def _utf8_like_python(data: bytes) -> None:
    try:
        data.decode("utf-8")
        want = True
    except UnicodeDecodeError:
        want = False
    assert wire.utf8_ok(data) == want, data


# bytes near UTF-8's edges: lead bytes of every length, continuation bytes, surrogates
_EDGE_BYTES = bytes.fromhex("00417f808f909fa0bfc0c1c2dfe0e1ecedeeeff0f1f3f4f5ff")
_EDGES = st.lists(st.sampled_from(list(_EDGE_BYTES)), max_size=8).map(bytes)


@SETTINGS
@given(st.one_of(st.binary(max_size=40), _EDGES, st.text(max_size=20).map(str.encode)))
def test_the_utf8_check_is_python_s(data):
    """The reader checks UTF-8 itself (while gathering strings): as strictly as the
    decoders of Python and upb, so it declines exactly the texts the library refuses."""
    _utf8_like_python(data)


@SETTINGS
@given(st.lists(st.text(max_size=6), min_size=1, max_size=4), st.data())
def test_a_bad_byte_in_any_text_column_is_declined(texts, data):
    """One string of any nested table made invalid: the whole request is declined."""
    household = pb.Household(household_id="§HH1", jurisdiction="150422")
    for t in texts:
        household.persons.add(person_id="P" + t, occupation=t + "§occ")
        household.bank.add(record_id="§rec" + t, person_id="P" + t)
    raw = pb.AssessRequest(households=[household]).SerializeToString()
    assert read(raw) is not None
    marker = data.draw(st.sampled_from(["§HH1", "§occ", "§rec"])).encode()
    at = raw.index(marker)  # the lead byte of § (C2 A7) made an overlong form's: C0 A7
    broken = raw[:at] + b"\xc0" + raw[at + 1 :]
    assert read(broken) is None


@pytest.mark.parametrize("seed", [3, 4])
def test_response_bytes_are_the_library_s(seed):
    out = assess(synth.generate(200, seed=seed, bad_fraction=0.2)).tables()
    want = convert.outputs_to_response(out).SerializeToString(deterministic=True)
    assert wire_out.encode_response(out) == want


def test_response_edge_values():
    """Zero and negative numbers, empty strings, present-but-empty optional strings,
    empty lists, non-ASCII text."""
    out = {name: schema.OUTPUTS[name].empty_table() for name in schema.OUTPUTS}
    row = {f.name: None for f in schema.OUTPUTS["results"]}
    row |= {"household_id": "户1", "status": "", "benefit": -5, "circle": -1, "rank": 0}
    row |= {"vetoes": [], "eligible_programs": ["", "医疗救助"], "provisional": True}
    row |= {"difficulty_index": -(1 << 31), "pci": (1 << 63) - 1, "phaseout_months": 0}
    cols = {k: v if v is not None else 0 for k, v in row.items()}
    cols |= {k: "" for k in ("transition", "policy_id", "policy_digest", "input_digest")}
    cols["engine_version"] = "e"
    out["results"] = pa.Table.from_pylist([cols], schema=schema.OUTPUTS["results"])
    finding = {"household_id": "h", "code": "c", "severity": "", "person_id": "",
               "source": "s", "record_id": None, "detail": "d\n"}  # fmt: skip
    out["findings"] = pa.Table.from_pylist([finding], schema=schema.OUTPUTS["findings"])
    out["rejects"] = pa.Table.from_pylist(
        [{"household_id": "r", "reasons": []}, {"household_id": "", "reasons": ["x", ""]}],
        schema=schema.OUTPUTS["rejects"],
    )
    want = convert.outputs_to_response(out).SerializeToString(deterministic=True)
    assert wire_out.encode_response(out) == want


DATE_TEXTS = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.text(alphabet="0123456789-x ", max_size=14),
    st.text(max_size=12),
)


@SETTINGS
@given(st.lists(st.one_of(st.none(), DATE_TEXTS), max_size=20))
def test_dates_parse_as_arrow_parses_them(texts):
    text = pa.array(texts, pa.string())
    col = next(c for c in schema.TABLES["persons"] if c.name == "birth_date")
    cells = convert._Cells()
    got = convert._dates(col, text, cells)
    parsed = pa.compute.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    same = pa.compute.equal(pa.compute.strftime(parsed, format="%Y-%m-%d"), text)
    shaped = pa.compute.match_substring_regex(text, convert._DATE.pattern)
    ok = pa.compute.and_(pa.compute.fill_null(shaped, False), pa.compute.fill_null(same, False))
    want = pa.compute.if_else(ok, pa.compute.cast(parsed, pa.date32()), None)
    assert got.equals(want.cast(pa.date32()))
    flags = ok.to_pylist()
    bad = [i for i, (t, k) in enumerate(zip(texts, flags, strict=True)) if t is not None and not k]
    listed = cells.by_column.get("birth_date")
    assert (listed.rows.tolist() if listed else []) == bad
    assert (listed.details if listed else []) == [repr(texts[i]) for i in bad]
