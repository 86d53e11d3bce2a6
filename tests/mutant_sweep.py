"""Every comparison of the reference calculator, mutated: does a rules test fail? (`make mutants`)

tests/mutants.py holds mutants chosen by hand, one per rule. This sweep makes them
mechanically, so that a boundary nobody thought of is tried too: each comparison of
the reference's modules flipped at its boundary (`<` and `<=`, `>` and `>=`, `==` and
`!=`, `in` and `not in`), each `min` made `max` and back, each `and` made `or` and back.
The rules' tests and the case files (mutants.TESTS) must fail for each; a mutant they
let pass is listed and the run exits 1, unless ALIVE says why it may live (it changes
nothing a rule reads, or nothing at all). Comparisons inside trace notes and f-strings
(explain's words, not the outputs) are not mutated.

The first sweep (2026-12-07: 174 mutants, about 3 s each) found two rules without a
test, TEKUN's "age < 16" and §0's "acquired_on <= D"; both have one now. The kernels
are not swept: a kernel mutant recompiles for about a minute, and NUMBA_DISABLE_JIT
changes their integer arithmetic; the hand-made mutants cover their boundaries.
`python tests/mutant_sweep.py [FILE …]` sweeps some files only.
"""

from __future__ import annotations

import argparse
import ast
import copy
import subprocess
import sys
import time
from collections.abc import Iterator

from mutants import ROOT, run

SWEPT = (
    "meanstest/arith.py",
    "meanstest/reference/model.py",
    "meanstest/reference/income.py",
    "meanstest/reference/veto.py",
    "meanstest/reference/outcome.py",
    "meanstest/reference/__init__.py",
)
FLIP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
SYMBOL = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
}

_USED_RECORDS = "the records explain lists as used, not a sum"
_ADDON_KINDS = "the add-on's category explain names, not its amount (§7.3's max is addon())"
_WORKERS = "how many processes the reference uses, not what they compute"
# (file, the mutated line's text, the mutation): why no rules test need fail
# fmt: off
ALIVE = {
    ("meanstest/reference/income.py", '"tax_income": lambda r: r["income_type"] in ("wage", "labour", "business", "other"),', "in → not in"): _USED_RECORDS,
    ("meanstest/reference/income.py", '"social_insurance": lambda r: r["record_type"] in imp["counted_transfers"],', "in → not in"): _USED_RECORDS,
    ("meanstest/reference/outcome.py", "best = max(qualifying.values())", "max → min"): _ADDON_KINDS,
    ("meanstest/reference/outcome.py", "return [k for k, v in qualifying.items() if v == best and v > 0]", "and → or"): _ADDON_KINDS,
    ("meanstest/reference/outcome.py", "return [k for k, v in qualifying.items() if v == best and v > 0]", "== → !="): _ADDON_KINDS,
    ("meanstest/reference/outcome.py", "return [k for k, v in qualifying.items() if v == best and v > 0]", "> → >="): _ADDON_KINDS,
    ("meanstest/reference/outcome.py", 'income_points = rhu((s - pci) * ix["income_max"], s) if pci < s else 0', "< → <="): "equivalent: at pci = S the points are rhu(0, S) = 0 either way",
    ("meanstest/reference/__init__.py", "processes = max(1, min(processes, n // max(1, PARALLEL_FROM // 2)))", "max → min"): _WORKERS,
    ("meanstest/reference/__init__.py", "processes = max(1, min(processes, n // max(1, PARALLEL_FROM // 2)))", "min → max"): _WORKERS,
    ("meanstest/reference/__init__.py", "if processes < 2 or n < PARALLEL_FROM:", "or → and"): _WORKERS,
    ("meanstest/reference/__init__.py", "if processes < 2 or n < PARALLEL_FROM:", "< → <="): _WORKERS,
    ("meanstest/reference/__init__.py", "if code != 0 or not data:", "or → and"): "a worker process's failure, which the rules' tests do not cause",
    ("meanstest/reference/__init__.py", "if code != 0 or not data:", "!= → =="): "a worker process's failure, which the rules' tests do not cause",
    ("meanstest/reference/__init__.py", 'if kind == "error":', "== → !="): "a worker process's failure, which the rules' tests do not cause",
    ("meanstest/arith.py", "if a < 0 or b <= 0:", "<= → <"): "rhu's guard: b = 0 then fails as a ZeroDivisionError instead",
}
# fmt: on


def _quiet_nodes(tree: ast.AST) -> set[int]:
    """Nodes inside trace notes (`tr.note(...)`) and f-strings: words, not outputs."""
    quiet = set()
    for node in ast.walk(tree):
        noted = isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "note"
        if noted or isinstance(node, ast.JoinedStr):
            quiet.update(id(n) for n in ast.walk(node))
    return quiet


def mutants(file: str) -> Iterator[tuple[str, int, str, str]]:
    """(the mutation, its line, the original text, the mutated module's text), in the
    order ast.walk visits the nodes."""
    text = (ROOT / file).read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    quiet = _quiet_nodes(tree)
    for i, node in enumerate(ast.walk(tree)):
        if id(node) in quiet:
            continue
        if isinstance(node, ast.Compare):
            changes = [k for k, op in enumerate(node.ops) if type(op) in FLIP]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("min", "max"):
            changes = [-1]
        elif isinstance(node, ast.BoolOp):
            changes = [-2]
        else:
            continue
        for k in changes:
            mutated = copy.deepcopy(tree)
            target = list(ast.walk(mutated))[i]
            if k >= 0:
                old = type(target.ops[k])
                target.ops[k] = FLIP[old]()
                what = f"{SYMBOL[old]} → {SYMBOL[FLIP[old]]}"
            elif k == -1:
                new = "max" if target.func.id == "min" else "min"
                what, target.func.id = f"{target.func.id} → {new}", new
            else:
                new_op = ast.Or() if isinstance(target.op, ast.And) else ast.And()
                what = "and → or" if isinstance(new_op, ast.Or) else "or → and"
                target.op = new_op
            yield what, node.lineno, lines[node.lineno - 1].strip(), ast.unparse(mutated) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=list(SWEPT))
    args = parser.parse_args(argv)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *args.files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if dirty:
        raise SystemExit(f"uncommitted changes in files to mutate:\n{dirty}")
    survivors, count = [], 0
    for file in args.files:
        original = (ROOT / file).read_text(encoding="utf-8")
        for what, line, source, mutated in mutants(file):
            count += 1
            started = time.perf_counter()
            killed, _ = run((f"{file}:{line} {what}", file, original, mutated))
            excused = ALIVE.get((file, source, what))
            verdict = "killed  " if killed else ("alive   " if excused else "SURVIVED")
            took = time.perf_counter() - started
            print(f"{verdict} {took:4.0f} s  {file}:{line} {what}  {source[:80]}", flush=True)
            if not killed and not excused:
                survivors.append(f"{file}:{line} {what}: {source}")
    print(f"{count} mutants, {len(survivors)} alive without a reason", flush=True)
    for s in survivors:
        print(f"no rules test fails when this changes: {s}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
