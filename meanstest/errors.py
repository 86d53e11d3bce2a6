"""One exception root for the whole engine, with structured attributes."""

from __future__ import annotations


class MeansTestError(Exception):
    """Root of every error meanstest raises on purpose (bad input, bad policy, bad usage)."""

    def __init__(self, message: str, **attrs: object) -> None:
        super().__init__(message)
        self.message = message
        self.attrs = attrs


class PolicyError(MeansTestError):
    """A policy pack or library is invalid: names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}", file=file, key=key, problem=problem)
        self.file = file
        self.key = key
        self.problem = problem


class BundleError(MeansTestError):
    """A bundle cannot be read at all (missing folder, unreadable file, wrong column type)."""
