"""Callers, bearer tokens and jurisdictions; TLS credentials.

Tokens file (TOML), one table per caller; only the SHA-256 of a token is stored:

    [[caller]]
    name = "township-03"
    token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    jurisdictions = ["150422"]      # exact codes, prefixes such as "1504*", or "*"
    client_cert_sha256 = "3b1f…"    # optional: usable only with this client certificate

`client_cert_sha256` (one SHA-256 of a certificate's DER encoding, or a list of them
while a certificate is renewed) binds the token to the client certificates of mutual
TLS that may present it: a token copied to another machine, whose certificate the same
CA signed, is refused there (a security review's leftover). The server sees the
certificate over gRPC only (`presented_cert_sha256`); Flight refuses a bound caller.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import ssl
import stat
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from meanstest.errors import MeansTestError, one_line
from meanstest.service import tls
from meanstest.service.errors import InvalidArgument, PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("meanstest.service")

_PATTERN = re.compile(r"\*|[0-9]{1,5}\*|[0-9]{6}")
_HEX = re.compile(r"[0-9a-f]{64}")
_KEYS = {"name", "token_sha256", "jurisdictions"}
_BINDING = "client_cert_sha256"
_BINDING_VALID = (
    "valid: the SHA-256 of a client certificate's DER encoding, 64 lower-case hex digits "
    "(openssl x509 -in client.pem -outform DER | sha256sum), or a non-empty list of them"
)
# What a refused token is told when the tokens file binds any caller to a certificate:
# the same words for a wrong token and for a right one without its certificate, which
# must not learn that it is right (the log names the caller).
UNKNOWN_OR_UNBOUND = (
    "unknown bearer token, or one bound to a client certificate this call did not present"
)
_NAME = 'valid: a non-empty string of printable characters, spaces only between them, not "-"'


@dataclass(frozen=True)
class Caller:
    name: str
    jurisdictions: tuple[str, ...]
    # SHA-256 of the DER of each client certificate that may present the token; () = any
    client_cert_sha256: tuple[str, ...] = ()

    def presented_by(self, cert_sha256: str | None) -> bool:
        """Whether a call that presented the certificate of this SHA-256 (None: none, or
        none the server could see) may be this caller."""
        return not self.client_cert_sha256 or cert_sha256 in self.client_cert_sha256

    def allows(self, jurisdiction: str) -> bool:
        return any(
            p == "*" or p == jurisdiction or (p.endswith("*") and jurisdiction.startswith(p[:-1]))
            for p in self.jurisdictions
        )

    def check(self, jurisdiction: str | None, what: str, household: object = None) -> None:
        """PERMISSION_DENIED unless the caller may see a well-formed jurisdiction. A malformed
        or absent one is left to validation, which rejects that household (no result).
        `household`: the (first) household of that jurisdiction, named in the message (a
        case system was left to search its batch of 200 for it, a blind test)."""
        well_formed = bool(jurisdiction) and re.fullmatch(r"[0-9]{6}", jurisdiction)
        if well_formed and not self.allows(jurisdiction):
            whose = "" if household is None else f"household {household}, "
            raise PermissionDenied(
                f"caller {self.name} may not assess jurisdiction {jurisdiction} ({whose}{what})",
                field="jurisdiction",
            )

    def check_column(self, jurisdictions: pa.Array, households: pa.Array | None, what: str) -> None:
        """check() for every distinct jurisdiction of a request's households, naming the
        first household of one the caller may not see (`households`: their ids, or None)."""
        import pyarrow.compute as pc

        for j in pc.unique(jurisdictions).to_pylist():
            if j is None or self.allows(j):
                continue
            at = pc.index(jurisdictions, j).as_py()
            self.check(j, what, None if households is None else households[at].as_py())

    def check_table(self, table: pa.Table, what: str) -> None:
        """check() for every distinct jurisdiction of a request table (AssessArrow's
        households, Flight's request), before the engine reads it: a column that is not
        text, or is there twice, is INVALID_ARGUMENT, not a TypeError ending the call
        INTERNAL (found by an adversarial gRPC run)."""
        import pyarrow as pa

        found = table.column_names.count("jurisdiction")
        if found > 1:
            raise InvalidArgument(
                f"column jurisdiction appears {found} times", field="jurisdiction"
            )
        if not found:
            return
        column = table["jurisdiction"]
        t = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
        if not any(is_text(t) for is_text in text) and not pa.types.is_null(t):
            raise InvalidArgument(
                f"column jurisdiction: expected string, found {column.type}", field="jurisdiction"
            )
        ids = table["household_id"] if table.column_names.count("household_id") == 1 else None
        if ids is not None and not pa.types.is_string(ids.type):
            ids = None  # named only when it is text (the engine's checks refuse the rest)
        self.check_column(
            column.combine_chunks().dictionary_decode()
            if pa.types.is_dictionary(column.type)
            else column.combine_chunks(),
            None if ids is None else ids.combine_chunks(),
            what,
        )


ANONYMOUS = Caller("anonymous", ("*",))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _name(name: object, where: str, taken: list[str]) -> str:
    """A caller's name, which the log and the journal know it by: unique, one line that
    reads as one name, and not "-" (the log's caller of a refused call). A name with a
    newline forged a log line; two callers of one name were told apart nowhere."""
    if not isinstance(name, str):
        raise MeansTestError(f"{where}.name: not a string; {_NAME}")
    if not name:
        raise MeansTestError(f"{where}.name: empty; {_NAME}")
    if name == "-":
        raise MeansTestError(f'{where}.name: "-" is how the log names a refused caller; {_NAME}')
    if not name.isprintable():  # controls, and every space but U+0020 (U+3000, NBSP, ...)
        raise MeansTestError(
            f'{where}.name: "{one_line(name)}" holds a control character or whitespace '
            f"other than a plain space; {_NAME}"
        )
    if name != name.strip(" "):
        raise MeansTestError(f'{where}.name: "{name}" begins or ends with a space; {_NAME}')
    if name in taken:
        raise MeansTestError(
            f"{where}.name: the same name as caller[{taken.index(name)}] (the log and the "
            f"journal could not tell them apart); {_NAME}"
        )
    return name


def _binding(value: object, where: str, mutual_tls: bool) -> tuple[str, ...]:
    """A caller's `client_cert_sha256`, one fingerprint or a list of them (a renewal
    needs the old certificate's and the new one's at once), each once."""
    found = [value] if isinstance(value, str) else value
    if (
        not isinstance(found, list)
        or not found
        or not all(isinstance(f, str) and _HEX.fullmatch(f) for f in found)
    ):
        raise MeansTestError(f"{where}.{_BINDING}: not 64 lower-case hex digits; {_BINDING_VALID}")
    if len(set(found)) < len(found):
        raise MeansTestError(f"{where}.{_BINDING}: the same certificate twice; {_BINDING_VALID}")
    if not mutual_tls:
        raise MeansTestError(
            f"{where}.{_BINDING}: the server has no mutual TLS (serve --tls-client-ca), so "
            "no call could present the certificate and the caller could never be used; "
            f"give --tls-client-ca, or remove {_BINDING}"
        )
    return tuple(found)


def presented_cert_sha256(context: grpc.ServicerContext) -> str | None:
    """The SHA-256 of the DER encoding of the client certificate a gRPC call presented,
    None without one (plain TLS, plaintext). gRPC verified it against --tls-client-ca
    before the call began: `server_credentials` requires and verifies a client
    certificate whenever it is given a CA, and hands none over otherwise."""
    pem = context.auth_context().get("x509_pem_cert")
    if not pem:
        return None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem[0].decode("ascii"))).hexdigest()


class Tokens:
    """token hash -> Caller, from a tokens file."""

    def __init__(self, callers: dict[str, Caller]) -> None:
        self.callers = callers

    @property
    def bound(self) -> bool:
        """Whether any caller is bound to client certificates."""
        return any(c.client_cert_sha256 for c in self.callers.values())

    @classmethod
    def load(cls, path: str | Path, mutual_tls: bool = True) -> Tokens:
        """The callers of a tokens file; MeansTestError naming the file, the entry and
        what is valid. `mutual_tls` False (a server without --tls-client-ca) refuses a
        caller bound to a certificate: no call could ever present it."""
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise MeansTestError(f"{path}: cannot read the tokens file ({e})") from e
        unknown = set(raw) - {"caller"}
        if unknown:
            raise MeansTestError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        callers: dict[str, Caller] = {}
        for i, entry in enumerate(raw.get("caller", [])):
            where = f"{path}: caller[{i}]"
            if not isinstance(entry, dict) or set(entry) - {_BINDING} != _KEYS:
                raise MeansTestError(
                    f"{where}: needs exactly the keys {', '.join(sorted(_KEYS))}, "
                    f"and may have {_BINDING}"
                )
            digest, js = entry["token_sha256"], entry["jurisdictions"]
            if not isinstance(digest, str) or not _HEX.fullmatch(digest):
                raise MeansTestError(f"{where}.token_sha256: not 64 lower-case hex digits")
            if digest in callers:
                raise MeansTestError(f"{where}.token_sha256: the same token as another caller")
            if (
                not isinstance(js, list)
                or not js
                or not all(isinstance(j, str) and _PATTERN.fullmatch(j) for j in js)
            ):
                raise MeansTestError(
                    f"{where}.jurisdictions: a non-empty list of 6-digit codes, "
                    'prefixes ending in * (e.g. "1504*") or "*"'
                )
            name = _name(entry["name"], where, [c.name for c in callers.values()])
            bound = _binding(entry[_BINDING], where, mutual_tls) if _BINDING in entry else ()
            callers[digest] = Caller(name, tuple(js), bound)
        if not callers:
            raise MeansTestError(f"{path}: no [[caller]] entries")
        return cls(callers)

    def reload(self, path: str | Path, mutual_tls: bool = True) -> int:
        """The callers of `path` in place of these (`meanstest serve` on SIGHUP): a token
        removed from the file stops working at once, for every holder of this object, and
        so does a certificate removed from a caller's binding. A file that does not load
        raises, and the callers stay as they were."""
        self.callers = Tokens.load(path, mutual_tls).callers
        return len(self.callers)

    def authenticate(
        self,
        metadata: Iterable[tuple[str, str]] | None,
        cert_sha256: str | None = None,
        peer: str = "-",
    ) -> Caller:
        """The caller of the call's bearer token, if the call may be it: a caller bound to
        certificates only when the call presented one of them (`cert_sha256`, the
        SHA-256 of its DER; None: none). Unauthenticated otherwise, in words that do not
        tell a right token without its certificate from a wrong one; the log line of
        the first names the caller and `peer`."""
        token = None
        for key, value in metadata or ():
            if key == "authorization":
                scheme, _, rest = value.partition(" ")
                if scheme.lower() == "bearer" and rest.strip():
                    token = rest.strip()
        if token is None:
            raise Unauthenticated("missing bearer token (metadata authorization: Bearer <token>)")
        digest, caller = token_hash(token), None
        for stored, who in self.callers.items():  # every entry, in constant time each
            if hmac.compare_digest(stored, digest):
                caller = who
        refused = UNKNOWN_OR_UNBOUND if self.bound else "unknown bearer token"
        if caller is None:
            raise Unauthenticated(refused)
        if not caller.presented_by(cert_sha256):
            log.warning(
                "authentication: the token of caller %s came without a client certificate it "
                "is bound to (the call's: %s) peer=%s",
                caller.name,
                cert_sha256 or "none; Flight never has one",
                peer,
            )
            raise Unauthenticated(refused)
        return caller


def check_file_mode(
    path: str, flag: str, risk: str, secret: bool = True, refusing: str = "refusing to start"
) -> None:
    """Refuse a file the server trusts that users other than its owner (its group
    included) may write, `risk` saying what they could do; a `secret` one they may read
    is served with a warning in the log naming the file and its mode. The mode is the
    file's, a symbolic link followed (a Kubernetes secret is one)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise MeansTestError(f"{flag} {path}: cannot read ({e.strerror})") from e
    if mode & 0o022:
        raise MeansTestError(
            f"{flag} {path}: other users may write it (mode {mode:04o}): {risk}; "
            f"{refusing} (chmod go-w {path})"
        )
    if secret and mode & 0o044:
        log.warning("%s %s: other users may read it (mode %04o); chmod 600 it", flag, path, mode)


def server_credentials(cert: str, key: str, client_ca: str | None = None) -> grpc.ServerCredentials:
    """TLS (and mutual TLS when `client_ca` is given) from PEM files, checked first
    (`tls.check_files`: grpcio fails only when it binds, with a traceback)."""
    tls.check_files(cert, key, client_ca)

    def read(p: str) -> bytes:
        try:
            return Path(p).read_bytes()
        except OSError as e:
            raise MeansTestError(f"{p}: cannot read ({e.strerror})") from e

    return grpc.ssl_server_credentials(
        [(read(key), read(cert))],
        root_certificates=read(client_ca) if client_ca else None,
        require_client_auth=client_ca is not None,
    )
