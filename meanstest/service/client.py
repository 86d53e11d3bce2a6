"""A small Python client for the MeansTest service.

from meanstest.service.client import MeansTestClient, ClientTLS
with MeansTestClient("localhost:50051", token="...", tls=ClientTLS.files("ca.pem")) as c:
    outputs = c.assess(tables)          # dict of results/members/findings/rejects tables
    outputs = c.assess_arrow("bundle/") # the Arrow path, for large batches
    print(c.explain(tables, "HH000000001", lang="en").text)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import grpc
import pyarrow as pa

from meanstest import schema
from meanstest.service import convert
from meanstest.service.chunks import chunks_to_tables, tables_to_chunks
from meanstest.v1 import meanstest_pb2 as pb
from meanstest.v1 import meanstest_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class ClientTLS:
    """Root CA to trust, and for mutual TLS the client's certificate and key (PEM bytes)."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None  # override the name checked in the server certificate

    @classmethod
    def files(
        cls,
        ca: str | os.PathLike[str],
        cert: str | os.PathLike[str] | None = None,
        key: str | os.PathLike[str] | None = None,
        server_name: str | None = None,
    ) -> ClientTLS:
        def read(p):
            return Path(p).read_bytes() if p else None

        return cls(read(ca), read(cert), read(key), server_name)


class MeansTestClient:
    def __init__(
        self,
        target: str,
        token: str | None = None,
        tls: ClientTLS | None = None,
        max_message_bytes: int = 16 << 20,
        timeout: float | None = None,
    ) -> None:
        opts = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls is None:
            self.channel = grpc.insecure_channel(target, options=opts)
        else:
            creds = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
            if tls.server_name:
                opts.append(("grpc.ssl_target_name_override", tls.server_name))
            self.channel = grpc.secure_channel(target, creds, options=opts)
        self.stub = pb_grpc.MeansTestStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self.chunk_bytes = max(1024, min(1 << 20, max_message_bytes - 4096))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _kw(self, timeout):
        return {"metadata": self.metadata, "timeout": timeout or self.timeout}

    def assess_households(
        self, households: Iterable[pb.Household], timeout: float | None = None
    ) -> pb.AssessResponse:
        return self.stub.Assess(pb.AssessRequest(households=households), **self._kw(timeout))

    def assess(
        self, tables: dict[str, pa.Table], timeout: float | None = None
    ) -> dict[str, pa.Table]:
        """Assess bundle tables through the protobuf path; the four output tables."""
        households = convert.tables_to_households(tables)
        return convert.response_to_tables(self.assess_households(households, timeout))

    def assess_stream(
        self, batches: Iterable[list[pb.Household]], timeout: float | None = None
    ) -> Iterator[pb.AssessResponse]:
        requests = (pb.AssessRequest(households=b) for b in batches)
        return self.stub.AssessStream(requests, **self._kw(timeout))

    def assess_arrow(
        self, bundle: str | Path | dict[str, pa.Table], timeout: float | None = None
    ) -> dict[str, pa.Table]:
        """Assess a bundle (folder or dict of tables) through the Arrow path."""
        if isinstance(bundle, (str, Path)):
            from meanstest.bundle import read_bundle

            bundle = read_bundle(bundle)
        chunks = tables_to_chunks(bundle, self.chunk_bytes)
        replies = self.stub.AssessArrow(chunks, **self._kw(timeout))
        out = chunks_to_tables(replies, schema.OUTPUTS)
        return {name: out.get(name, schema.OUTPUTS[name].empty_table()) for name in schema.OUTPUTS}

    def explain(
        self,
        tables: dict[str, pa.Table],
        household_id: str,
        lang: str = "zh",
        timeout: float | None = None,
    ) -> pb.Explanation:
        """The Explanation of one household of bundle tables. A household_id the tables
        do not hold, or hold on two households rows (a review rejects both), is a
        ValueError saying so, as `meanstest explain` refuses them."""
        match = [h for h in convert.tables_to_households(tables) if h.household_id == household_id]
        if len(match) != 1:
            raise ValueError(
                f"household {household_id!r} is not in the households table"
                if not match
                else f"household {household_id!r} is on {len(match)} rows of the households "
                "table: a review rejects every copy (duplicate household_id); no explanation"
            )
        request = pb.ExplainRequest(household=match[0], lang=lang)
        return self.stub.Explain(request, **self._kw(timeout))

    def list_policies(
        self, jurisdiction: str = "", timeout: float | None = None
    ) -> list[pb.PolicySummary]:
        request = pb.ListPoliciesRequest(jurisdiction=jurisdiction)
        return list(self.stub.ListPolicies(request, **self._kw(timeout)).policies)

    def get_policy(
        self,
        id: str = "",
        jurisdiction: str = "",
        date: str | dt.date | None = "",
        timeout: float | None = None,
    ) -> pb.PolicyPack:
        request = pb.GetPolicyRequest(id=id, jurisdiction=jurisdiction, date=str(date or ""))
        return self.stub.GetPolicy(request, **self._kw(timeout))
