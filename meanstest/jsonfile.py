"""JSON read back from a file the tools did not just write (summary.json, a review's
state, ingest.json, regroup.json, the audit journal's lines): damaged or forged, it is
reported by its reader, never a traceback (docs/RELIABILITY.md).

json.loads fails in ways besides JSONDecodeError: a text nested 100,000 deep raises
RecursionError, a number of 5,000 digits ValueError, bytes that are not UTF-8
UnicodeDecodeError; and "\\ud800" is valid JSON whose text has no UTF-8, so writing it
out again (a report, summary.json, a hash) raises UnicodeEncodeError later. Here every
one is a ValueError saying why.
"""

from __future__ import annotations

import json


class NotUTF8Text(ValueError):
    """A text of the JSON has no UTF-8 (a lone surrogate escape, "\\ud800")."""


def parse_json(data: str | bytes, *, texts: bool = True) -> object:
    """`data` read as JSON; ValueError saying why it is not (NotUTF8Text when a text has
    no UTF-8 and `texts` is set; the journal leaves that to its hash check)."""
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except RecursionError:  # json recurses per nesting level
        raise ValueError("nested too deeply") from None
    if texts:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            raise NotUTF8Text(str(e)) from None
    return value
