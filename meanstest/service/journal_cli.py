"""`meanstest journal verify FILE`: check the audit journal's hash chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


HELP = "check the service's audit journal (hash chain)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="journal_command", required=True, help="what to do")
    v = sub.add_parser("verify", help="check every entry; report the first broken one")
    v.add_argument("file", help="the journal file (serve --journal)")
    v.add_argument("--head", help="expected hash of the last entry (detects a cut-off tail)")


def run(args: argparse.Namespace) -> int:
    from meanstest.service.journal import verify

    count, head, problem = verify(args.file)
    if problem:
        print(f"{args.file}: BROKEN at {problem} ({count} entries before it are intact)")
        return 1
    if args.head and args.head != head:
        print(f"{args.file}: {count} entries intact, but the head {head} is not {args.head}")
        return 1
    print(f"{args.file}: {count} entries, chain intact; head {head}")
    return 0
