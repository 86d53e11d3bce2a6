"""`meanstest journal verify FILE`: check the audit journal's hash chain (and, with
`--key`, every entry's MAC)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


HELP = "check the service's audit journal (hash chain)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="journal_command", required=True, help="what to do")
    v = sub.add_parser("verify", help="check every entry; report the first broken one")
    v.add_argument("file", help="the journal file (serve --journal)")
    v.add_argument("--head", help="expected hash of the last entry (detects a cut-off tail)")
    v.add_argument(
        "--key",
        help="the journal's key file (serve --journal-key): check every entry's MAC too",
    )


def run(args: argparse.Namespace) -> int:
    from meanstest.errors import MeansTestError
    from meanstest.service.auth import check_file_mode
    from meanstest.service.journal import unfinished_bytes
    from meanstest.service.journal_check import check_chain
    from meanstest.service.journal_key import read_key

    if args.head is not None and not re.fullmatch("[0-9a-f]{64}", args.head):
        # not a head at all: nothing was checked (it was "the head … is not zz", exit 1)
        raise MeansTestError(f"--head {args.head!r}: a head is 64 lower-case hex digits")
    key = None
    if args.key:
        risk = "any local user could replace it with a key that a forged journal's MACs match"
        check_file_mode(args.key, "--key", risk, refusing="not checked")
        key = read_key(args.key, "--key")
    count, head, problem, macs = check_chain(args.file, key)
    if problem:
        verb = "is" if count == 1 else "are"
        print(f"{args.file}: BROKEN at {problem} ({_entries(count)} before it {verb} intact)")
        return 1
    if args.head and args.head != head:
        print(f"{args.file}: {_entries(count)} intact, but the head {head} is not {args.head}")
        return 1
    if key is not None:
        state = "chain and MACs intact"
    elif macs:
        state = f"chain intact ({macs} MACs present, not checked: give --key)"
    else:
        state = "chain intact"
    print(f"{args.file}: {_entries(count)}, {state}; head {head}")
    if cut := unfinished_bytes(Path(args.file)):
        print(
            f"{args.file}: then {cut:,} bytes of an unfinished write (the server stopped "
            "mid-write; no answer was sent for them): not an entry, and set aside to "
            f"{args.file}.unfinished when the server next starts"
        )
    return 0


def _entries(n: int) -> str:
    """'1 entry', '2 entries' (it said "1 entries", a blind user's check)."""
    from meanstest.progress import count

    return count(n, "entry", "entries")
