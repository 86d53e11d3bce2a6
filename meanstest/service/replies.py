"""What the servicer's methods share to read a request and answer it: the AssessRequest
parser, the checks of a policy request's jurisdiction and date, and the deterministic
bytes of Explain and policy answers, journaled."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from meanstest.service import wire
from meanstest.service.call import _Call
from meanstest.service.errors import InvalidArgument, ResourceExhausted, id_length, parse
from meanstest.service.wire import COLUMNS, NESTED_FIELDS, Decoded
from meanstest.v1 import meanstest_pb2 as pb

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIVISION_CODE = re.compile(r"[0-9]{6}")  # ASCII digits only (\d takes full-width ones)


def _division_code(jurisdiction: str) -> None:
    """INVALID_ARGUMENT unless `jurisdiction` is a division code as DATA.md requires: a
    malformed one (15A422) was NOT_FOUND "no policy pack for jurisdiction 15A422", as
    if a well-formed code merely lacked a pack (a blind integration check)."""
    if not _DIVISION_CODE.fullmatch(jurisdiction):
        raise InvalidArgument(
            f"jurisdiction {jurisdiction[:100]!r} is not a division code (6 ASCII digits)",
            field="jurisdiction",
        )


def _journaled(call: _Call, response, **fields) -> bytes:
    """The bytes of an Explain or policy answer, once journaled: its deterministic
    serialisation, which is what is sent, so output_digest is the SHA-256 of the bytes
    the client receives (it was of a re-serialisation: Explain's `inputs` map made the
    bytes sent differ; a client developer's check). Successful policy reads had no
    entry (docs/service.md: every call past authentication has one)."""
    body = response.SerializeToString(deterministic=True)
    sendable(body, call.service.config.max_message_bytes)
    call.journal("OK", output_digest=hashlib.sha256(body).hexdigest(), **fields)
    return body


def sendable(body: bytes, limit: int) -> None:
    """Refuse an answer gRPC would not send (over --max-message-mb) before the journal
    says OK: a blind check's 7.5 MB request of 400,000 households was journaled OK while
    the client got RESOURCE_EXHAUSTED from gRPC (and an Explain of a large household
    too, found by the review of that fix)."""
    if len(body) > limit:
        raise ResourceExhausted(
            f"the answer is {len(body):,} bytes, over --max-message-mb ({limit:,} bytes): "
            "send fewer households per call, or use AssessStream or AssessArrow"
        )


# The least an assessed household's answer takes, in bytes: its results row holds two
# 64-character digests (67 bytes each with tag and length), a status, a transition, a
# policy_id and the engine_version; its one member at least an 18-character person_id
# and an employment_basis. tests/test_service_limits.py builds the smallest such answer.
ANSWER_FLOOR = 160
# The least a valid row of a household's people, supporters or records takes on the
# wire: an 18-character ID with its tag and length, inside the row's own tag and length.
ROW_FLOOR = 20


def nested_rows(households: Iterable[pb.Household]) -> int:
    """The rows of parsed Household messages' people, supporters, records and programs."""
    return sum(
        sum(len(getattr(h, name)) for name in NESTED_FIELDS) + len(h.current_programs.names)
        for h in households
    )


def ids_answerable(households: Iterable[pb.Household]) -> None:
    """`errors.id_length` of every ID of parsed Household messages."""
    longest: dict[tuple[str, str], int] = {}

    def see(table: str, message) -> None:
        for field, value in message.ListFields():
            if field.name.endswith("_id"):
                key = (table, field.name)
                longest[key] = max(longest.get(key, 0), len(value.encode()))

    for h in households:
        see("households", h)
        for name in NESTED_FIELDS:
            for row in getattr(h, name):
                see(name, row)
    for (table, column), most in longest.items():
        id_length(table, column, most)


def decoded_ids_answerable(decoded: Decoded) -> None:
    """`errors.id_length` of every ID of a request read by `wire.decode`, from the
    lengths it found (no string is gathered)."""
    for m, table in enumerate(("households", *NESTED_FIELDS)):
        for c, column in enumerate(COLUMNS[m]):
            if column.endswith("_id") and len(decoded.lens[m]):
                id_length(table, column, int(decoded.lens[m][:, c].max()))


def answerable(households: int, limit: int) -> None:
    """Refuse, before anything is converted, a request message of more households than
    one per ANSWER_FLOOR bytes of --max-message-mb: their answer would not fit unless
    most were rejected, and the memory a message takes grows with its rows, not its
    bytes (~5 KB a rejected household or row): a 16 MB Assess of 8,000,000 empty
    households (two bytes each) ran the server out of 24 GB and was killed, where
    `sendable` refused its answer only after the work."""
    most = limit // ANSWER_FLOOR
    if households > most:
        raise ResourceExhausted(
            f"{households:,} households in one message, over the {most:,} that "
            f"--max-message-mb allows (one per {ANSWER_FLOOR} bytes of {limit:,}): "
            "send them in several messages (AssessStream) or with AssessArrow"
        )


SEVERAL = "send them in several messages (AssessStream) or with AssessArrow"
EXPLAIN = "no valid household has so many: check the request"


def rows_answerable(rows: int, limit: int, advice: str = SEVERAL) -> None:
    """`answerable` for the rows of a message's people, supporters, records and programs:
    one per ROW_FLOOR bytes, less than any valid row takes (one household of 300,000
    empty persons took 1.8 GB). Checked after the households, whose count is cheaper."""
    most = limit // ROW_FLOOR
    if rows > most:
        raise ResourceExhausted(
            f"{rows:,} rows of people, supporters, records and programs in one message, "
            f"over the {most:,} that --max-message-mb allows (one per {ROW_FLOOR} bytes "
            f"of {limit:,}: a valid row holds an 18-character ID): {advice}"
        )


def _parse(data: bytes) -> pb.AssessRequest:
    """An AssessRequest by the protobuf library; a string in it that is not UTF-8 (which
    the library refuses, the whole message) named by its field and household."""
    try:
        return parse(pb.AssessRequest, data, "households")
    except InvalidArgument as e:
        where = wire.not_utf8_field(data) if "UTF-8" in e.message else None
        if where is None:
            raise
        field, household = where
        raise InvalidArgument(
            f"{field} of {household} is not UTF-8 text, which a protobuf string must be "
            "(text read in another encoding, GB18030?): protobuf refuses the whole request",
            field=field,
        ) from None


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _canonical(params: dict) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _summary(p) -> pb.PolicySummary:
    return pb.PolicySummary(
        id=p.id,
        jurisdiction=p.jurisdiction,
        name=p.name,
        effective_from=p.effective_from.isoformat(),
        digest=p.digest,
    )
