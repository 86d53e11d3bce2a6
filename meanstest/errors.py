"""One exception root for the whole engine, with structured attributes."""

from __future__ import annotations

import re

# A resident ID (18 characters, or the old 15-digit form's 17-digit neighbours) inside
# any text: error messages and logs show it masked, 150422********123X.
_ID = re.compile(r"(?<![0-9])[0-9]{6}([0-9]{7,8})([0-9]{3}[0-9Xx])(?![0-9])")  # not in longer runs


def mask_id(value: str) -> str:
    """A resident ID as messages and logs may show it: first 6 and last 4 kept."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


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
