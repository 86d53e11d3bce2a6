"""The TLS files of `meanstest serve`, checked before the server starts.

grpcio takes any bytes as a certificate and a key and fails only when it binds:
"Failed to bind to address 0.0.0.0:0" and a Python traceback, for a key that does not
match its certificate as for a file that is no certificate at all (a blind security
review). An expired certificate was served, and every client refused it. Each problem
is one line here naming the files, from Python's `ssl` module (OpenSSL) and a reading
of the certificates' validity (X.509, RFC 5280 §4.1).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import ssl
from pathlib import Path

from meanstest.errors import MeansTestError

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_KEY = re.compile(rb"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----")
# OpenSSL's default security level (2) refuses what gRPC's BoringSSL would still serve
_REASONS = {
    "EE_KEY_TOO_SMALL": "the key is too small (EE_KEY_TOO_SMALL: RSA needs 2048 bits or more)",
    "CA_MD_TOO_WEAK": "the certificate is signed with a weak digest (CA_MD_TOO_WEAK: MD5, SHA-1)",
}


def check_files(cert: str, key: str, client_ca: str | None = None) -> None:
    """MeansTestError naming the files unless `cert` holds PEM certificates valid now,
    the first of them the one `key` belongs to, `key` an unencrypted PEM private key
    OpenSSL accepts, and `client_ca` (if any) PEM certificates."""
    now = dt.datetime.now(dt.UTC)
    ders = _certificates(cert, "--tls-cert")
    # the server's own certificate only: an expired extra one in a full chain (the old
    # Let's Encrypt layout) is one gRPC serves and clients that trust the root accept
    start, end = _validity(ders[0], f"--tls-cert {cert}: the certificate")
    span = f"valid from {_when(start)} to {_when(end)}"
    if now < start:
        raise MeansTestError(f"--tls-cert {cert}: the certificate is not valid yet ({span})")
    if now > end:
        raise MeansTestError(f"--tls-cert {cert}: the certificate has expired ({span})")
    text = _read(key, "--tls-key")
    found = _KEY.search(text)
    if not found:
        raise MeansTestError(f"--tls-key {key}: not a PEM private key (no BEGIN … PRIVATE KEY)")
    if found.group(1) == b"ENCRYPTED " or b"Proc-Type: 4,ENCRYPTED" in text:
        raise MeansTestError(f"--tls-key {key}: an encrypted key (gRPC needs it unencrypted)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:  # with a password given, an encrypted key fails here: OpenSSL never asks the terminal
        context.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as e:
        pair = f"--tls-cert {cert} and --tls-key {key}"
        if e.reason == "KEY_VALUES_MISMATCH":
            raise MeansTestError(f"{pair}: the key does not match the certificate") from e
        problem = _REASONS.get(e.reason or "", f"OpenSSL cannot use them ({e.reason or e})")
        raise MeansTestError(f"{pair}: {problem}") from e
    if client_ca:
        _certificates(client_ca, "--tls-client-ca")
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError as e:
            raise MeansTestError(
                f"--tls-client-ca {client_ca}: OpenSSL cannot read it ({e.reason or e})"
            ) from e


def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise MeansTestError(f"{flag} {path}: cannot read ({e.strerror})") from e


def _certificates(path: str, flag: str) -> list[bytes]:
    """The DER bytes of every PEM certificate in the file."""
    blocks = _PEM.findall(_read(path, flag))
    if not blocks:
        raise MeansTestError(
            f"{flag} {path}: not a PEM certificate (no -----BEGIN CERTIFICATE----- block)"
        )
    try:
        return [base64.b64decode(b"".join(b.split()), validate=True) for b in blocks]
    except (binascii.Error, ValueError) as e:
        raise MeansTestError(f"{flag} {path}: a PEM certificate that is not base64 ({e})") from e


def _element(der: bytes, i: int, tags: tuple[int, ...] | None) -> tuple[int, int, int]:
    """(tag, start, end) of the contents of the DER element at `i`, one of `tags` (None:
    any tag)."""
    if i + 2 > len(der) or (tags is not None and der[i] not in tags):
        raise ValueError(f"byte {i}: not the element expected")
    tag, size, i = der[i], der[i + 1], i + 2
    if size & 0x80:
        octets = size & 0x7F
        if not 1 <= octets <= 4 or i + octets > len(der):
            raise ValueError(f"byte {i}: a bad length")
        size, i = int.from_bytes(der[i : i + octets], "big"), i + octets
    if i + size > len(der):
        raise ValueError(f"byte {i}: cut short")
    return tag, i, i + size


_SEQUENCE, _VERSION, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0xA0, 0x17, 0x18


def _validity(der: bytes, what: str) -> tuple[dt.datetime, dt.datetime]:
    """notBefore and notAfter of a certificate: Certificate ::= SEQUENCE { tbsCertificate
    SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity SEQUENCE
    { notBefore, notAfter }, … }, … }."""
    try:
        _, start, _ = _element(der, 0, (_SEQUENCE,))
        _, i, _ = _element(der, start, (_SEQUENCE,))
        if der[i : i + 1] == bytes([_VERSION]):
            i = _element(der, i, (_VERSION,))[2]
        for _ in range(3):  # serialNumber, signature, issuer
            i = _element(der, i, None)[2]
        _, i, _ = _element(der, i, (_SEQUENCE,))
        times = []
        for _ in range(2):
            tag, start, i = _element(der, i, (_UTC_TIME, _GENERALIZED_TIME))
            times.append(_time(der[start:i].decode("ascii"), tag == _UTC_TIME))
    except (ValueError, IndexError) as e:  # UnicodeDecodeError is a ValueError
        raise MeansTestError(f"{what} is not an X.509 certificate ({e})") from e
    return times[0], times[1]


def _time(text: str, utc_time: bool) -> dt.datetime:
    """RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY below 50 is 20YY), GeneralizedTime
    YYYYMMDDHHMMSSZ."""
    if utc_time:
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    when = dt.datetime.strptime(text, "%Y%m%d%H%M%SZ")
    return when.replace(tzinfo=dt.UTC)


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
