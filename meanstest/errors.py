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


# The same ID as people write it (a department's export, a caller's field): full-width
# digits, or groups of 3 or more split by a space (a no-break or ideographic one, a
# tab), a hyphen or dash (ASCII, full-width, en, em), a dot, a slash or an underscore
# ("150422 19700101 123X", "１５０４２２－…"), the last group possibly shorter and an X
# (or Ｘ) possibly standing alone ("1504 2219 7001 0112 3X"), 15 digits or more in all
# (two IDs in a row too). Dates (2024-07-01) and phone numbers are too short; a list of
# numbers split by single spaces, or a range of two dates (20240701-20250630), can be
# long enough, and is masked: a message shows less, never an ID. An ID is written with
# one kind of separator; a run mixing two (a file path: 150000/150422-2024.toml) is not
# masked, for an error must name its file.
_DIGIT = "0-9\uff10-\uff19"
_SEPARATORS = " \u00a0\u3000\t-\uff0d\u2013\u2014./_"
_SEP = re.escape(_SEPARATORS)
_WRITTEN = re.compile(
    f"(?<![{_DIGIT}])[{_DIGIT}]{{3,}}(?:[{_SEP}][{_DIGIT}]{{3,}})*"
    f"(?:[{_SEP}][{_DIGIT}]{{1,2}})?(?:[{_SEP}]?[XxＸｘ])?(?![{_DIGIT}XxＸｘ])"
)


def _mask_written(match: re.Match) -> str:
    """A run of _WRITTEN masked as `mask_id` masks it, its separators kept in place."""
    text = match.group(0)
    chars = [i for i, c in enumerate(text) if c not in _SEPARATORS]
    if len(chars) < 15 or (text.isascii() and text.isalnum()):
        return text  # shorter than an ID; or plain ASCII, which _ID has seen
    kinds = {" " if c.isspace() else c for c in text if c in _SEPARATORS}
    if len(kinds) > 1:  # a path (150000/150422-2024.toml), not an ID as people write one:
        return text  # a policy error's file name was masked (a policy author's blind test)
    shown = mask_id("".join(text[i] for i in chars))
    out = list(text)
    for i, c in zip(chars, shown, strict=True):
        out[i] = c
    return "".join(out)


def redact(text: str) -> str:
    """`text` with every ID-shaped run of digits masked, however it is written."""
    return _WRITTEN.sub(_mask_written, _ID.sub(lambda m: mask_id(m.group(0)), text))


class MeansTestError(Exception):
    """Root of every error meanstest raises on purpose (bad input, bad policy, bad usage).
    Its message never carries a full ID number (masked here, whatever the caller passed):
    messages reach stderr, logs and gRPC status details."""

    def __init__(self, message: str, **attrs: object) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.attrs = attrs


QUOTED = 200  # characters of a value a reason or an error quotes
SHOWN_KEY = 1024  # characters of a record's key a reason shows


def quoted(value: object) -> str:
    """repr(value), a text longer than QUOTED characters cut there with its length said: a
    reason quotes its row's value, and a source row's reasons reach every household of
    its person (an adversarial run: one 1 MB value quoted in the reasons of 4,000
    households took 3.2 GB and a traceback). Both validators quote through here."""
    if isinstance(value, str) and len(value) > QUOTED:
        return f"{value[:QUOTED]!r}… ({len(value):,} characters)"
    return repr(value)


def shown_key(key: str) -> str:
    """A record's key as a reason shows it: cut at SHOWN_KEY characters, its length said
    (a key of a megabyte repeated in the reasons of thousands of households; the
    service takes none longer than 1,024 bytes, so its reasons show keys whole)."""
    if len(key) > SHOWN_KEY:
        return f"{key[:SHOWN_KEY]}… ({len(key):,} characters)"
    return key


def one_line(text: str) -> str:
    """`text` with control characters written as escapes (a TOML key may hold a newline:
    the error naming it must still be one line)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def interrupted(e: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is in the chain of exceptions `e` came from: Ctrl-C
    can land inside a library that puts its own error in its place (numba's dispatcher
    gives a SystemError whose cause is the interrupt; pyspark a py4j error)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


class PolicyError(MeansTestError):
    """A policy pack or library is invalid: names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        message = f"{one_line(file)}: {one_line(key)}: {one_line(problem)}"
        super().__init__(message, file=file, key=key, problem=problem)
        self.file = file
        self.key = key
        self.problem = problem


class TooManyReasons(MeansTestError):
    """A validation given a budget of reasons (a service call's) found more: the texts
    are not built (meanstest.row_checks.ReasonBudget)."""


class BundleError(MeansTestError):
    """A bundle cannot be read at all (missing folder, unreadable file, wrong column type)."""
