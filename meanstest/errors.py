"""One exception root for the whole engine, with structured attributes."""

from __future__ import annotations

import re

# A resident ID inside any text: every run of 15 or more digits (the last may be an X):
# the 18-character ID, the first generation's 15 digits, and an ID with a digit lost or
# typed twice (16, 17, 19 or more). Error messages and logs show it masked,
# 150422********123X. An amount that long is above the 10^14 fen ceiling (10^14 itself
# aside), a value the message names as refused: masked, the message still says why.
_ID = re.compile(r"(?<![0-9])[0-9]{14,}[0-9Xx](?![0-9])")


def mask_id(value: str) -> str:
    """A resident ID as messages and logs may show it: the region (first 6) and the last
    4 (sequence and check character) kept, the birth date masked. A 15-digit ID of the
    first generation (region, birth date YYMMDD, sequence; no check character) keeps its
    last 3, so that no digit of its birth date is shown; 10 characters or fewer are all
    masked."""
    if len(value) <= 10:
        return "*" * len(value)
    kept = 3 if len(value) == 15 else 4
    return value[:6] + "*" * (len(value) - 6 - kept) + value[-kept:]


def redact(text: str) -> str:
    """`text` with every ID-shaped run of digits masked."""
    return _ID.sub(lambda m: mask_id(m.group(0)), text)


class MeansTestError(Exception):
    """Root of every error meanstest raises on purpose (bad input, bad policy, bad usage).
    Its message never carries a full ID number (masked here, whatever the caller passed):
    messages reach stderr, logs and gRPC status details."""

    def __init__(self, message: str, **attrs: object) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.attrs = attrs


def one_line(text: str) -> str:
    """`text` with control characters written as escapes (a TOML key may hold a newline:
    the error naming it must still be one line)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PolicyError(MeansTestError):
    """A policy pack or library is invalid: names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        message = f"{one_line(file)}: {one_line(key)}: {one_line(problem)}"
        super().__init__(message, file=file, key=key, problem=problem)
        self.file = file
        self.key = key
        self.problem = problem


class BundleError(MeansTestError):
    """A bundle cannot be read at all (missing folder, unreadable file, wrong column type)."""
