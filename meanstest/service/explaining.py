"""The Explain RPC's work (meanstest.explain for one household of a call): the request
read and bounded, the household validated within the call's budget of reasons, assessed
by the bulk pipeline, and explained in its language; the answer journaled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meanstest.service import convert
from meanstest.service.call import _Call
from meanstest.service.errors import InvalidArgument, max_reasons, parse, reasons_named
from meanstest.service.journal import households_section
from meanstest.service.replies import (
    EXPLAIN,
    _journaled,
    _json,
    ids_answerable,
    nested_rows,
    rows_answerable,
)
from meanstest.v1 import meanstest_pb2 as pb

if TYPE_CHECKING:
    from meanstest.service.server import MeansTestService


def explain_call(service: MeansTestService, call: _Call, data: bytes) -> bytes:
    """An ExplainRequest (serialised) → its Explanation (serialised), journaled."""
    from meanstest.explain import explain_household, render
    from meanstest.validate import validate

    request = parse(pb.ExplainRequest, data, "household")
    if not request.HasField("household"):
        raise InvalidArgument("no household to explain", field="household")
    h = request.household
    rows_answerable(nested_rows([h]), service.config.max_message_bytes, EXPLAIN)
    ids_answerable([h])
    lang = request.lang or "zh"
    if lang not in ("zh", "en"):
        raise InvalidArgument(f"unknown lang {lang!r} (zh or en)", field="lang")
    call.caller.check(
        h.jurisdiction if h.HasField("jurisdiction") else None,
        "Explain",
        h.household_id if h.HasField("household_id") else None,
    )
    conv = convert.households_to_tables([h])
    bound = service.config.max_call_households
    with service._engine, reasons_named(bound):  # validation runs parallel regions too
        validation = validate(
            conv.tables,
            service.config.library,
            max_reasons=max_reasons(bound),
            unreadable=conv.unreadable,
        )
    if validation.rejects.num_rows:
        reasons = validation.rejects["reasons"][0].as_py()
        raise InvalidArgument("household is rejected: " + "; ".join(reasons), field="household")
    outputs = service._assess_tables(call, conv.tables)
    with service._engine:  # the input digest runs a parallel region
        explanation = explain_household(validation.engine_input, h.household_id)
    response = convert.outputs_to_response(outputs)
    out = pb.Explanation(
        household_id=explanation["household_id"],
        policy_id=explanation["policy_id"],
        policy_digest=explanation["policy_digest"],
        policy_name=explanation["policy_name"],
        result=response.results[0],
        members=response.members,
        findings=response.findings,
        text=render(explanation, lang, "text"),
    )
    for s in explanation["steps"]:
        out.steps.add(
            section=s["section"],
            label=s["label"],
            value_json=_json(s["value"]),
            inputs={k: _json(v) for k, v in s["inputs"].items()},
        )
    return _journaled(
        call,
        out,
        **households_section(
            outputs["results"], outputs["members"], outputs["rejects"], call.digests
        ),
    )
