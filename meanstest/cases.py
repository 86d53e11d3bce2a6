"""Case files: hand-worked households in TOML, checked against both engines.

A case file holds one household's input rows (with defaults, so a case is short), the
policy pack it is assessed under (or overrides of its parameters) and the outputs an
auditor worked out by hand from RULES.md. `meanstest check CASES...` runs every case
through the reference calculator and the kernels (`meanstest.pipeline.assess`) and
prints each difference as `file: [engine] field: expected X, got Y`.
The format is documented in docs/cases.md. Exit status: 0 all cases pass, 1 a case
differs, 2 a case file is malformed (the error names the file and the key).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from meanstest.case_file import RESULT_FIELDS, Case, CaseError, load_case
from meanstest.errors import PolicyError
from meanstest.progress import count

if TYPE_CHECKING:
    import argparse

    from meanstest.policy import PolicyLibrary

HELP = "run hand-worked case files through both engines and report differences"
EXIT_DIFFERS, EXIT_MALFORMED = 1, 2
ENGINES = ("reference", "fast")


@dataclass(frozen=True)
class Difference:
    path: str
    engine: str
    field: str
    expected: object
    got: object

    def __str__(self) -> str:
        return f"{self.path}: [{self.engine}] {self.field}: expected {self.expected!r}, got {self.got!r}"


# -- running ------------------------------------------------------------------------------


def case_library(case: Case, library: PolicyLibrary) -> PolicyLibrary:
    """The policy library a case is assessed under: the whole library when the case
    names no pack and overrides nothing, else a library of that one pack (overridden)."""
    from meanstest.policy import library_from_dicts

    if case.pack is None and not case.overrides:
        return library
    if case.pack is not None:
        try:
            chosen = library.by_id(case.pack)
        except PolicyError as e:
            raise CaseError(case.path, "policy.pack", e.problem) from None
        for h in case.tables["households"].to_pylist():
            if h["assessment_date"] < chosen.effective_from:
                raise CaseError(
                    case.path,
                    "policy.pack",
                    f"pack {chosen.id} is effective from {chosen.effective_from}, after "
                    f"household {h['household_id']}'s assessment_date {h['assessment_date']}",
                )
    else:
        h = case.tables["households"].to_pylist()[0]
        chosen = library.select(h["jurisdiction"] or "150422", h["assessment_date"])
        if chosen is None:
            raise CaseError(case.path, "policy", "no pack in force for the household to override")
    params = copy.deepcopy(chosen.params)
    params["policy"]["effective_from"] = dt.date.fromisoformat(params["policy"]["effective_from"])
    if case.overrides:
        params["policy"]["id"] = f"{chosen.id}+case"
        params = _merge(params, case.overrides)
    try:
        return library_from_dicts({case.path: params}, case.path)
    except PolicyError as e:
        raise CaseError(case.path, f"policy.overrides.{e.key}", e.problem) from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _with_jurisdiction(case: Case, lib) -> dict[str, pa.Table]:
    """Households without a jurisdiction get the pack's (150422 when selecting)."""
    tables = dict(case.tables)
    hh = tables["households"]
    packs = list(lib)
    fill = packs[0].jurisdiction if len(packs) == 1 else "150422"
    rows = [{**r, "jurisdiction": r["jurisdiction"] or fill} for r in hh.to_pylist()]
    tables["households"] = pa.Table.from_pylist(rows, schema=hh.schema)
    return tables


def run_case(
    case: Case, library: PolicyLibrary | str | Path | None = None, engines: Iterable[str] = ENGINES
) -> list[Difference]:
    """Every difference between the case's expected values and each engine's output."""
    from meanstest.pipeline import assess, load_policies

    lib = case_library(case, load_policies(library))
    tables = _with_jurisdiction(case, lib)
    diffs = []
    for engine in engines:
        out = assess(tables, lib, engine=engine)
        diffs += _compare(case, engine, out)
    return diffs


def _compare(case: Case, engine: str, out) -> list[Difference]:
    exp, hid = case.expected, case.household_id
    diff = []

    def d(name, want, got):
        if want != got:
            diff.append(Difference(case.path, engine, name, want, got))

    rejected = dict(
        zip(out.rejects["household_id"].to_pylist(), out.rejects["reasons"].to_pylist())
    )
    if hid in rejected:
        return [
            Difference(
                case.path, engine, "household", "assessed", "rejected: " + "; ".join(rejected[hid])
            )
        ]
    result = next(r for r in out.results.to_pylist() if r["household_id"] == hid)
    for name in RESULT_FIELDS:
        if name in exp:
            d(name, exp[name], result[name])
    rows = {m["person_id"]: m for m in out.members.to_pylist() if m["household_id"] == hid}
    for label, values in exp.get("members", {}).items():
        row = rows[case.members[label]]
        for name, want in values.items():
            d(f"members.{label}.{name}", want, row[name])
    found = [f for f in out.findings.to_pylist() if f["household_id"] == hid]
    if "findings" in exp:
        d("findings", sorted(exp["findings"]), sorted(f["code"] for f in found))
    for i, ev in enumerate(exp.get("evidence", [])):
        want = {k: v for k, v in ev.items() if k not in ("person", "null")}
        if "person" in ev:
            want["person_id"] = case.people[ev["person"]]
        want.update({k: None for k in ev.get("null", [])})
        same = [f for f in found if f["code"] == ev["code"]]
        if not any(all(f[k] == v for k, v in want.items()) for f in same):
            got = [{k: f[k] for k in want} for f in same] or "no finding with this code"
            d(f"evidence[{i}]", want, got)
    return diff


# -- command line -------------------------------------------------------------------------


def case_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The case files named: files as given, folders searched for *.toml (sorted); a
    CaseError for the first path that names none."""
    files, unfound = _named(paths)
    if unfound:
        raise unfound[0]
    return files


def _named(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[CaseError]]:
    """(the case files named, a CaseError for each path that names none)."""
    files, unfound = [], []
    for p in map(Path, paths):
        if p.is_dir():
            # a folder that cannot be read is a case that could not be checked (rglob
            # passed over it, and check exited 0: a blind recheck)
            unreadable: list[OSError] = []
            found = sorted(
                Path(top) / name
                for top, _, names in os.walk(p, onerror=unreadable.append)
                for name in names
                if name.endswith(".toml") and not name.startswith(".")
            )
            for e in unreadable:
                why = e.strerror or type(e).__name__
                unfound.append(CaseError(str(e.filename), "(folder)", f"cannot read: {why}"))
            if not found and not unreadable:
                unfound.append(CaseError(str(p), "(folder)", "no *.toml case files in this folder"))
            files += found
        elif p.is_file():
            files.append(p)
        else:
            unfound.append(CaseError(str(p), "(file)", "no such file or folder"))
    return files, unfound


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cases", nargs="+", help="case files or folders of *.toml case files")
    parser.add_argument("--policies", help="policy library folder (default: packaged packs)")
    parser.add_argument(
        "--engine",
        choices=(*ENGINES, "both"),
        default="both",
        help="run the cases on one engine or on both (default), which must agree",
    )
    parser.add_argument("--quiet", action="store_true", help="print only differences")


def run(args: argparse.Namespace) -> int:
    import sys

    from meanstest.pipeline import load_policies

    engines = ENGINES if args.engine == "both" else (args.engine,)
    library = load_policies(args.policies)  # a bad library: nothing checked (cli, exit 2)
    # a path that names no case file is malformed, and the others still run (an empty
    # folder beside valid files ended the run: a blind auditor's check)
    files, unfound = _named(args.cases)
    for e in unfound:
        print(f"meanstest: error: {e.message}", file=sys.stderr)
    malformed, failed = len(unfound), 0
    for f in files:
        try:
            diffs = run_case(load_case(f), library, engines)
        except CaseError as e:
            print(f"meanstest: error: {e.message}", file=sys.stderr)
            malformed += 1
            continue
        failed += bool(diffs)
        for diff in diffs:
            print(diff)
        if not diffs and not args.quiet:
            print(f"{f}: ok ({', '.join(engines)})")
    passed = len(files) + len(unfound) - failed - malformed
    print(
        f"{count(len(files) + len(unfound), 'case')}: {passed} passed, {failed} differ, "
        f"{malformed} malformed"
    )
    return EXIT_MALFORMED if malformed else EXIT_DIFFERS if failed else 0
