"""POLICY.md "Digest": the canonical form of a resolved pack and its SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import json


def digest_of(resolved: dict) -> str:
    """POLICY.md "Digest": SHA-256 of the canonical JSON of the resolved pack."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: object) -> object:
    """Fresh plain containers; dates as "YYYY-MM-DD" (POLICY.md "Digest")."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
