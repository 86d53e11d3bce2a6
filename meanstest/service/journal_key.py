"""The journal's key: a MAC on every entry of a keyed journal (docs/service.md).

The hash chain alone is tamper-evident only against a head kept elsewhere: whoever may
write the journal can edit an entry and recompute every later hash. With
`meanstest serve --journal-key FILE` each entry also gets `mac` = hex HMAC-SHA256(key,
the entry's `hash` as ASCII), added after the hash (which does not cover it), so the
chain still verifies without the key. Each hash chains every entry before it: an entry's
MAC vouches for the whole journal up to it, and the first entry whose MAC fails is the
first one forged.

A journal is keyed from its first entry or not at all: a server with a key refuses to
extend a journal whose last entry has no MAC (or one the key does not give), and a
server without a key refuses to extend one whose last entry has a MAC. An unkeyed
prefix would be vouched for by the first MAC written after it, so a server that
extended one would seal whatever a forger left there (every MAC stripped, the entries
rewritten): a key is added with a new journal file.

The key file holds at least 64 hex digits (32 bytes; `openssl rand -hex 32`), spaces
and newlines around and between the pairs of digits allowed.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from meanstest.errors import MeansTestError

KEY_BYTES = 32  # the least key material: HMAC-SHA256's output size
_VALID = (
    f"valid: at least {2 * KEY_BYTES} hex digits ({KEY_BYTES} bytes), "
    "e.g. from `openssl rand -hex 32`"
)


def read_key(path: str | Path, flag: str) -> bytes:
    """The key of a key file (hex digits); MeansTestError naming `flag` and the file if
    it cannot be read, is not hex, or is shorter than KEY_BYTES."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise MeansTestError(f"{flag} {path}: cannot read ({e.strerror})") from e
    try:
        key = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise MeansTestError(f"{flag} {path}: not hex digits; {_VALID}") from None
    if len(key) < KEY_BYTES:
        raise MeansTestError(f"{flag} {path}: {len(key)} bytes of key, too short; {_VALID}")
    return key


def entry_mac(key: bytes, entry_hash: str) -> str:
    """An entry's `mac`: hex HMAC-SHA256 of its `hash` (64 hex digits, ASCII)."""
    return hmac.new(key, entry_hash.encode("ascii"), hashlib.sha256).hexdigest()


def mac_problem(entry: dict, key: bytes | None) -> str | None:
    """What is wrong with an entry's `mac` (its hash already checked), or None. Without
    a key every entry passes: the MACs are not checked."""
    if key is None:
        return None
    mac = entry.get("mac")
    if mac is None:
        return "no mac (every entry of a keyed journal has one: removed, or not keyed)"
    ok = isinstance(mac, str) and mac.isascii()  # compare_digest: ASCII texts only
    if not (ok and hmac.compare_digest(mac, entry_mac(key, entry["hash"]))):
        return "mac does not match the key (forged, or not this journal's key)"
    return None


def check_last(entry: dict, key: bytes | None, path: Path) -> None:
    """The journal's last entry before a server extends it: keyed as the server is
    (module docstring), its MAC matching the key."""
    seq = entry.get("seq")
    if key is None and "mac" in entry:
        raise MeansTestError(
            f"{path}: last entry (seq {seq}) has a mac: the journal is keyed; "
            "give its --journal-key, or start a new journal"
        )
    problem = mac_problem(entry, key)
    if problem is not None and "mac" not in entry:
        raise MeansTestError(
            f"{path}: last entry (seq {seq}) has no mac: the journal was written without a "
            "key, and a MAC now would vouch for whatever it holds; start a new journal "
            "for --journal-key (keep this one, and its head hash)"
        )
    if problem is not None:
        raise MeansTestError(
            f"{path}: last entry (seq {seq}): {problem}; run `meanstest journal verify "
            "--key` and keep this file as evidence"
        )
