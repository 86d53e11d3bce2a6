"""Policy packs (POLICY.md): strict TOML loader, inheritance, selection, digest.

(The loader is being written; the Policy dataclass below is the stable interface.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass


def digest_of(resolved: dict) -> str:
    """POLICY.md "Digest": SHA-256 of the canonical JSON of the resolved pack."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class Policy:
    """One fully resolved, validated pack.

    params: the resolved pack as plain dicts/lists/ints/strings, dates as "YYYY-MM-DD",
    without `extends` (exactly what the digest is computed over). Sections as in
    POLICY.md: policy, standards, imputation, support, deductions, veto, addons,
    phaseout, circles, programs (optional: absent stays absent, so the digest
    matches other implementations; use the `programs` property), index.
    """

    id: str
    jurisdiction: str
    name: str
    effective_from: dt.date
    params: dict
    digest: str
    path: str = ""

    @property
    def programs(self) -> dict:
        return self.params.get("programs", {})
