"""Every comparison of the reference and of validation (and, asked, of the kernels), mutated: does a test fail? (`make mutants`)

tests/mutants.py holds mutants chosen by hand, one per rule. This sweep makes them
mechanically, so that a boundary nobody thought of is tried too: each comparison of
the reference's modules flipped at its boundary (`<` and `<=`, `>` and `>=`, `==` and
`!=`, `in` and `not in`), each `min` made `max` and back, each `and` made `or` and back.
The rules' tests and the case files (mutants.TESTS) must fail for each; a mutant they
let pass is listed and the run exits 1, unless ALIVE says why it may live (it changes
nothing a rule reads, or nothing at all). Comparisons inside trace notes and f-strings
(explain's words, not the outputs) are not mutated.

Validation (validate.py, row_checks.py) is swept the same way against test_validate.py
and the case files, for DATA.md's list of what is invalid.

The first sweeps (2026-12-07: 174 mutants of the reference and 74 of validation, a few
seconds each) found rules without a test: TEKUN's "age < 16", §0's "acquired_on <= D",
validation of the bundle's first household and person, a supporter's rows in the int64
total, a disposal on the acquisition day, the jurisdiction 000000; each has one now.

The kernels' rule modules are swept only when asked (`--kernels`, or their files by
name): a kernel mutant recompiles the kernels, about a minute each (NUMBA_DISABLE_JIT
would be quicker, but changes their integer arithmetic), so their 221 mutants take
nearly four hours. Their first sweep (2026-12-07) found four boundaries without a test:
a declared income of 0, V09's purchase on D, a distinct count over more than 16 rows
(the heapsort) and one whose smallest code is not the household's first.

What unseen inputs reach first and what the outputs are made of are swept when asked,
each file against its own tests: `--inputs` (the policy packs' checks and choice, the
adapters, ingest) and `--outputs` (the input digests' lines, a bundle's reading, output
folders, reproduce, amounts). Their first sweeps (2026-12-08) found about sixty
behaviours without a test, each now with one, and one defect: a chain of packs too deep
named the wrong pack when its last child's file sorted first.
`python tests/mutant_sweep.py [FILE …]` sweeps some files only.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
import time
from collections.abc import Iterator

from mutants import ROOT, TESTS, finish, refuse_uncommitted, run

VALIDATION = ["tests/test_validate.py", "tests/test_cases.py"]

# the files swept, each with the tests that hold its rules: RULES.md's in the reference,
# DATA.md's list of what is invalid in validation
SWEPT = {
    "meanstest/arith.py": TESTS,
    "meanstest/reference/model.py": TESTS,
    "meanstest/reference/income.py": TESTS,
    "meanstest/reference/veto.py": TESTS,
    "meanstest/reference/outcome.py": TESTS,
    "meanstest/reference/__init__.py": TESTS,
    "meanstest/validate.py": VALIDATION,
    "meanstest/row_checks.py": VALIDATION,
}
# the kernels' modules of RULES.md's sections, against the same tests (both engines); their
# calendar (§0) against its own tests too, which compare it with meanstest.arith's dates
CALENDAR = [
    "tests/test_kernels.py::test_calendar_twins_agree_with_arith",
    "tests/test_kernels.py::test_calendar_far_from_today",
]
KERNELS = {
    f"kernels/{name}.py": TESTS + (CALENDAR if name == "arith" else [])
    for name in ("veto", "income", "household", "records", "outcome", "arith")
}
# the inputs' own rules, swept when asked (`--inputs`, or their files by name): POLICY.md's
# pack checks and choice against the policy tests and the case files; DATA.md's adapter
# profiles and ingest against the adapters' and ingest's tests
POLICY = ["tests/test_policy.py", "tests/test_fuzz_policy.py", "tests/test_cases.py"]
ADAPTERS = [
    *sorted(f"tests/{p.name}" for p in (ROOT / "tests").glob("test_adapters_*.py")),
    "tests/test_ingest.py",
]
SERVICE = [
    "tests/test_service_convert.py",
    "tests/test_service_wire.py",
    "tests/test_service_proto.py",
]
INPUTS = {
    **{f"meanstest/policy/{name}.py": POLICY for name in ("validation", "load", "library")},
    **{
        f"adapters/{name}.py": ADAPTERS
        for name in ("mapping", "profile", "readers", "csv_quotes", "csv_export", "raw")
    },
    "meanstest/ingest.py": ADAPTERS,
    # a case system's protobuf calls (and Flight's nested tables), decoded and converted
    **{f"meanstest/service/{name}.py": SERVICE for name in ("convert", "text_columns")},
    "meanstest/service/wire.py": [*SERVICE, "tests/test_fuzz_proto.py"],
    "meanstest/service/nested.py": [
        "tests/test_service_flight.py",
        "tests/test_fuzz_flight.py",
        "tests/test_service_convert.py",
    ],
}
# what the outputs are made of, swept when asked (`--outputs`, or by name): the input
# digests' canonical lines (docs/digests.md), a bundle's reading, the output folders,
# the auditor's recomputation and the amounts documents show
REPRODUCE = ("__init__", "discrepancy", "journal", "rows", "summary", "tables")
OUTPUTS = {
    **{f"meanstest/{name}.py": ["tests/test_digest.py", "tests/test_example.py"]
       for name in ("digest", "lines")},
    "meanstest/conform.py": ["tests/test_bundle.py", "tests/test_validate.py"],
    "meanstest/outputs.py": ["tests/test_output_files.py", "tests/test_review_folder.py",
                             "tests/test_report.py", "tests/test_cli_human.py"],
    # the journal's reproduction is tested with the service's journal
    **{f"meanstest/reproduce/{name}.py": ["tests/test_reproduce.py"]
       + (["tests/test_service_journal.py"] if name == "journal" else []) for name in REPRODUCE},
    "meanstest/amounts.py": ["tests/test_labels.py", "tests/test_explain.py", "tests/test_report.py"],
}  # fmt: skip
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
_THREADS = "whether validation runs on threads, not what it finds"
_PREFILTER = "a cheap bound that picks candidates; an exact check of each follows"
_EQUAL_KEYS = "equal codes moved or swapped: the same sorted codes, the same distinct count"
_EQUAL_ADDONS = "equivalent: of two equal add-ons either is the largest (§7.3 takes the value)"
_SAME_CELLS = "the typed or dictionary fast path or the text path: the same cells"
_PROGRESS = "whether or how far progress is drawn, not what is read"
_PAST_THE_PIECE = "reads one byte past the piece (numba checks no bounds); the loop ends there unless it is a line break or a quote"
_BOM_IN_HEADER = "the BOM lies in the header line, which the pass skips (one shorter than 3 bytes: a one-column export)"
_PARALLEL = "serial, parallel or in segments: the same lines in the same places"
_SLABS = "slab by slab or all at once: the same digests (tests take both ways)"
_UNREAD_ROWS = "whether the rows no household reads are left out first: the same digests"
_SHA256 = (
    "which SHA-256 runs, OpenSSL's or (its self-check failing) the numba one: the same digests"
)
_SPARK_CHANGES = "a change list lacks its transition column only in a Spark review's folders (tests/test_spark.py reproduces them); a single machine writes every list with it"
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
    ("meanstest/validate.py", "if engine_input.households.num_rows + rejects.num_rows != n or (used < 0).any():", "or → and"): "validation's check that it lost no row, which fails only on its own bug",
    ("meanstest/validate.py", "if households >= THREADED_FROM and reentrant_layer():", "and → or"): _THREADS,
    ("meanstest/validate.py", "if households >= THREADED_FROM and reentrant_layer():", ">= → >"): _THREADS,
    ("meanstest/validate.py", 'return numba.threading_layer() in ("omp", "tbb")', "in → not in"): _THREADS,
    ("meanstest/validate.py", "p_rows = np.flatnonzero(p_in & values_at(count > 1, p_code))", "> → >="): _PREFILTER,
    ("meanstest/validate.py", "s_rows = np.flatnonzero(s_in & values_at(count > 1, s_code))", "> → >="): _PREFILTER,
    ("meanstest/validate.py", "rows = np.flatnonzero(p_in & values_at(count > 1, p_code))", "> → >="): _PREFILTER,
    ("meanstest/validate.py", "keep = np.repeat(sizes > 1, sizes)", "> → >="): "adds people of one household (twice in it), which is rejected and has no findings",
    ("meanstest/validate.py", "cells += np.bincount(p_home[p_home >= 0], minlength=len(cells))  # tuition", ">= → >"): _PREFILTER,
    ("meanstest/validate.py", "for h in np.flatnonzero(cells > MAX_TOTAL // MAX_AMOUNT).tolist():", "> → >="): _PREFILTER,
    ("meanstest/validate.py", "people[s_code[(s_home == h) & (s_code >= 0)]] = True", ">= → >"): "people code 0 is the first member's, never only a supporter's",
    ("meanstest/validate.py", "for h in np.flatnonzero((rows_of > 0) & (members_of == 0)).tolist():", "> → >="): "equivalent: every household code has a households row",
    ("adapters/mapping.py", 'has_record_id = any(c.name == "record_id" for c in schema.TABLES[table])', "== → !="): "equivalent: a table without record_id would get a file:line key, the name its quarantine rows have anyway, and not write it",
    ("adapters/mapping.py", "if has_record_id and key.null_count:", "and → or"): "equivalent: a profile maps record_id only where its table has one",
    ("adapters/mapping.py", "people = [(h, p) for h, p in pairs if h is not None and p is not None]", "and → or"): "equivalent: both cells are required and not bad, so never null",
    ("adapters/mapping.py", 'if k in ("money", "area", "integer"):  # mostly distinct values, and a fast kernel', "in → not in"): _SAME_CELLS,
    ("adapters/mapping.py", 'return kind(profile.table, column) != "text" or column.name in profile.values', "in → not in"): "equivalent: a text column's cell is never wrong, mapped or not",
    ("adapters/mapping.py", 'k == "integer" or (k in ("money", "area") and profile.unit(c.name) in ("fen", "centi_m2"))', "or → and"): _SAME_CELLS,
    ("adapters/mapping.py", 'k == "integer" or (k in ("money", "area") and profile.unit(c.name) in ("fen", "centi_m2"))', "in → not in"): _SAME_CELLS + " (the line's other 'in' is killed)",
    ("adapters/profile.py", 'return self.units.get(column, "fen" if k == "money" else "centi_m2")', "== → !="): "equivalent: fen and centi-m² are each read as the column's integer",
    ("meanstest/ingest.py", 'size, "bytes", quiet=quiet or size < PROGRESS_BYTES, stream=stream', "or → and"): _PROGRESS,
    ("meanstest/ingest.py", 'size, "bytes", quiet=quiet or size < PROGRESS_BYTES, stream=stream', "< → <="): _PROGRESS,
    ("meanstest/ingest.py", "if e.filename is not None or e.errno not in _FULL:", "or → and"): "which path a disk-full error names, the folder or Arrow's file, not whether it is raised",
    ("meanstest/ingest.py", "raise OSError(e.errno, e.strerror or str(e), str(folder)) from None", "or → and"): "the words of an OSError without a strerror",
    ("adapters/readers.py", 'at = next((i for i, c in enumerate(text) if ord(c) >= 0x80 and c != "\\ufeff"), 0)', ">= → >"): "where the message's example starts when the first non-ASCII character is U+0080",
    ("adapters/readers.py", "if len(chunk) == JSONL_LINES:", "== → !="): "how many lines a batch holds, not what they say",
    ("adapters/readers.py", "return {raw for raw, k in kinds.items() if k <= set(NUMERIC_KINDS)}", "<= → <"): "differs only for one raw key mapped to a money, an area and an integer column at once",
    ("adapters/readers.py", "total = max(1, self._file.metadata.num_rows)", "max → min"): _PROGRESS,
    ("adapters/readers.py", "why = (str(e).strip() or type(e).__name__).splitlines()[0]", "or → and"): "the words of an Arrow error whose message is empty",
    ("adapters/csv_quotes.py", "if k == 0 or swallowing[k - 1, 0] != st[_RECORD] or swallowing[k - 1, 1] != st[_FIELD]:", "== → !="): "the first candidate of a piece is compared with a row never written (zeros, no line): added either way, and found is a set",
    ("adapters/csv_quotes.py", "if st[_BREAKS] > 0 and width > 1 and st[_FIRST] >= width - 1 - k and st[_INNER] >= k:", "> → >="): "(width > 1) a one-column export, every other column a constant: a field across lines becomes a candidate the reader judges (the line's other '>' is killed)",
    ("adapters/csv_quotes.py", "while i < n and st[_SKIP] > 0:  # title and header lines: pyarrow ignores quotes there", "< → <="): _PAST_THE_PIECE,
    ("adapters/csv_quotes.py", "while i < n and data[i] != 34 and data[i] != 10 and data[i] != 13:", "< → <="): _PAST_THE_PIECE,
    ("adapters/csv_quotes.py", "while at < len(data):", "< → <="): "equivalent: at the end the window is empty and the end is returned",
    ("adapters/csv_quotes.py", "window = min(window * 2, 1 << 22)", "min → max"): "how far each look for a line feed reaches, not where it finds one",
    ("adapters/csv_quotes.py", 'start = 3 if name == "utf-8" and data[:3].tobytes() == codecs.BOM_UTF8 else 0', "and → or"): _BOM_IN_HEADER,
    ("adapters/csv_quotes.py", 'start = 3 if name == "utf-8" and data[:3].tobytes() == codecs.BOM_UTF8 else 0', "== → !="): _BOM_IN_HEADER,
    ("adapters/csv_quotes.py", 'if first and text.startswith("\\ufeff"):', "and → or"): _BOM_IN_HEADER,
    ("adapters/csv_quotes.py", "if kind == _GB and 0x81 <= c <= 0xFE:", "<= → <"): "(<= 0xFE) inside quotes a second byte misread can only count one more delimiter toward a candidate, which the reader judges by its cells (the line's other '<=' is killed)",
    ("adapters/csv_quotes.py", "i += 4 if i + 1 < n and 0x30 <= data[i + 1] <= 0x39 else 2", "< → <="): _PAST_THE_PIECE,
    ("adapters/csv_quotes.py", "step = 4 if i + 1 < n and 0x30 <= data[i + 1] <= 0x39 else 2", "< → <="): _PAST_THE_PIECE,
    ("adapters/csv_quotes.py", "if st[_BREAKS] > 0 and width > 1 and st[_INNER] >= width - 1:", "> → >="): "(width > 1) a one-column export, every other column a constant: a line inside a quote becomes a candidate the reader judges (the line's other '>' is killed)",
    ("adapters/csv_quotes.py", "if k < len(mapped) and mapped[k]:", "< → <="): "a field past the header's in a record of the wrong width (a bad row anyway): one flag read past mapped",
    ("adapters/csv_quotes.py", "if st[_FLAGGED] < len(out):", "< → <="): "the 65,537th flagged record written one past out, which the file's refusal then ignores",
    ("adapters/csv_export.py", "if batch is not None and (n == 0 or number_bad > number[-1]):", "> → >="): "equivalent: a record is bad or valid, never both, so no bad record has a valid one's number",
    ("adapters/csv_export.py", 'if "straddl" in why:  # pyarrow\'s words for a record longer than a block', "in → not in"): "killed by tests/test_corpus.py (a record longer than 8 MB), which the sweep does not run",
    ("adapters/csv_export.py", 'if isinstance(args.exc_value, UnicodeDecodeError) and handler.startswith("CsvExport."):', "and → or"): "which unraisable exceptions are kept off stderr, not what is read",
    ("adapters/csv_export.py", "if columns and n:", "and → or"): "equivalent: a CSV batch has a column, and one of no rows no blank row",
    ("adapters/csv_export.py", "if k >= n or header[k] in canonical:", ">= → >"): "a quoted field past the header's cells in a record pyarrow read with the header's count: only a scanner that disagreed with pyarrow would give one",
    ("adapters/csv_export.py", "if len(first) - 1 >= after and len(last) - 1 >= k:", "and → or"): "a cut from the first and last lines when only one side holds its cells: the candidate is one the middle lines' cuts judge",
    ("meanstest/digest.py", "parallel = threads and n > K.BLOCK", "and → or"): _PARALLEL,
    ("meanstest/digest.py", "parallel = threads and n > K.BLOCK", "> → >="): _PARALLEL,
    ("meanstest/digest.py", "segments = numba.get_num_threads() if threads and len(code) > (1 << 16) else 1", "and → or"): _PARALLEL,
    ("meanstest/digest.py", "segments = numba.get_num_threads() if threads and len(code) > (1 << 16) else 1", "> → >="): _PARALLEL,
    ("meanstest/digest.py", "if segments == 1:", "== → !="): _PARALLEL,
    ("meanstest/digest.py", "if total <= SLAB_LINES:", "<= → <"): _SLABS,
    ("meanstest/digest.py", "if int((hi - lo).sum()) > SLAB_SPREAD * total:", "> → >="): _SLABS,
    ("meanstest/digest.py", "if len(code) < 4096:  # a few rows: rendering them is cheaper than choosing", "< → <="): _UNREAD_ROWS,
    ("meanstest/digest.py", "read = households_of[np.where(read, code, -1)] > 0", "> → >="): _UNREAD_ROWS,
    ("meanstest/digest.py", "if count * 4 >= len(code) * 3:", ">= → >"): _UNREAD_ROWS,
    ("meanstest/digest.py", "init(context) == 1", "and → or"): _SHA256,
    ("meanstest/digest.py", "init(context) == 1", "== → !="): _SHA256,
    ("meanstest/digest.py", "and update(context, message, len(message)) == 1", "== → !="): _SHA256,
    ("meanstest/digest.py", "and final(md, context) == 1", "== → !="): _SHA256,
    ("meanstest/digest.py", "and md.raw == hashlib.sha256(message).digest()", "== → !="): _SHA256,
    ("meanstest/digest.py", "homes = {k: np.where((h >= 0) & (h < named), h, -1) for k, h in homes.items()}", "< → <="): "a home code equal to the count of named households, which only owners of more households than these could give",
    ("meanstest/digest.py", "if table is None or table.num_rows == 0:", "or → and"): "equivalent: an empty source table adds no line",
    ("meanstest/lines.py", "if line_off[-1] < 2**31:", "< → <="): "a text of exactly 2 GiB (int32 offsets would overflow): too large to test",
    ("meanstest/lines.py", "run = R.render_parallel if threads and base > WINDOW else R.render_serial", "and → or"): _PARALLEL,
    ("meanstest/lines.py", "run = R.render_parallel if threads and base > WINDOW else R.render_serial", "> → >="): _PARALLEL,
    ("meanstest/lines.py", "if a is None or len(a) < size:", "< → <="): "equivalent: a scratch array of exactly the size asked for is made anew",
    ("meanstest/lines.py", "if items.null_count and item_bits is not None:", "and → or"): "equivalent: a list's item bitmap with no null in it marks every item valid",
    ("meanstest/conform.py", "if pa.types.is_integer(column.type) and pa.types.is_integer(field.type):", "and → or"): "equivalent: the casts that can fail are integer to integer and date64 to date32, neither side an integer in the second",
    ("meanstest/conform.py", "if said and int(said[1]) < data.num_columns:", "and → or"): "an Arrow validation error that names no column: each the tests meet names one",
    ("meanstest/conform.py", "if said and int(said[1]) < data.num_columns:", "< → <="): "equivalent: Arrow numbers only the columns there are",
    ("meanstest/outputs.py", "reason = e.strerror or type(e).__name__", "or → and"): "the words of an OSError without a strerror",
    ("meanstest/outputs.py", 'if {"policy_id", "policy_digest"} <= names and "by_policy" in summary:', "<= → <"): "equivalent: a results table has more columns than these two",
    ("meanstest/outputs.py", 'if not isinstance(rejects, int) and "reasons" in rejects.column_names:', "and → or"): "no caller passes the rejects as a count (the int form is unused)",
    ("meanstest/digest.py", "edges.append(min(n_groups, max(g1, g0 + 1)))", "max → min"): _SLABS,
    ("meanstest/reproduce/__init__.py", 'same_types = all(_types(stored[n]) == _types(again[n]) for n in ("members", "findings"))', "== → !="): "a rewritten column type is reported by the type check (mistyped), whichever way the rows then compare",
    ("meanstest/reproduce/__init__.py", 'typed = typed and set(schema.OUTPUTS["results"].names) <= set(stored["results"].column_names)', "and → or"): "summary.json also checked against rows read back in other types, which are reported as not the review's either way",
    ("meanstest/reproduce/rows.py", "return (same_types and (a or []) == (b or [])) or _rows_of(a) == _rows_of(b)", "or → and"): "(the outer or) with the same types both comparisons agree, and other types are reported by the type check (the inner ones are killed)",
    ("meanstest/reproduce/rows.py", 'if not {"rank", "difficulty_index", "household_id"} <= set(results.column_names):', "<= → <"): "equivalent: a results table has more columns than these three",
    ("meanstest/reproduce/tables.py", 'if table is not None and "transition" not in table.column_names:', "and → or"): _SPARK_CHANGES,
    ("meanstest/reproduce/tables.py", 'if table is not None and "transition" not in table.column_names:', "not in → in"): _SPARK_CHANGES,
    ("meanstest/reproduce/tables.py", "if table is None or table.num_rows == 0:", "or → and"): "an empty table gives no rows either way; an absent one would end in an AttributeError, and none reaches here in any test",
    ("kernels/outcome.py", "if age >= 70 and par[P_ADDON_ELDERLY] > best:", "> → >="): _EQUAL_ADDONS,
    ("kernels/outcome.py", "if health == 6 and par[P_ADDON_SEVERE] > best:", "> → >="): _EQUAL_ADDONS,
    ("kernels/outcome.py", "if health == 5 and par[P_ADDON_SERIOUS] > best:", "> → >="): _EQUAL_ADDONS,
    ("kernels/outcome.py", "if age < 16 and par[P_ADDON_CHILD] > best:", "> → >="): _EQUAL_ADDONS,
    ("kernels/outcome.py", "income = rhu((standard - pci) * par[P_INCOME_MAX], standard) if pci < standard else 0", "< → <="): "equivalent: at pci = S the points are rhu(0, S) = 0 either way",
    ("kernels/outcome.py", "extra = residential - 1 if residential > 1 else 0", "> → >="): "equivalent: one residential property is 1 - 1 = 0 extra either way",
    ("kernels/income.py", "return kind < 3 and (par[P_COUNTED_TRANSFERS] >> kind) & 1 == 1", "< → <="): "equivalent: counted_transfers holds transfer types only (codes 0..2); bit 3 is never set",
    ("meanstest/policy/load.py", "if len(chain) >= MAX_EXTENDS_DEPTH:  # before the recursion gets deep,", ">= → >"): "a recursion guard a level later: the depth check after it refuses the same pack",
    ("meanstest/policy/library.py", "if len(self._memo) >= 1 << 20:  # bound memory on adversarial inputs", ">= → >"): "when the choice's memo is emptied, not what it chooses",
    ("kernels/arith.py", "if a > INT64_MAX // b:", "> → >="): "the threshold moves by less than b below int64's maximum: above every sum validation admits (10^18)",
    ("kernels/arith.py", "if a > INT64_MAX - b:", "> → >="): "equivalent: a sum of exactly int64's maximum is that maximum either way",
    ("kernels/arith.py", "if k <= 1:", "<= → <"): "a fast path: one value counts 1 either way",
    ("kernels/arith.py", "if k <= 16:", "<= → <"): "insertion sort or heapsort: the same count either way",
    ("kernels/arith.py", "if buf[root] >= buf[child]:", ">= → >"): _EQUAL_KEYS,
    ("kernels/arith.py", "if child + 1 < end and buf[child] < buf[child + 1]:", "< → <="): _EQUAL_KEYS + " (the line's other '<' is killed)",
    ("kernels/arith.py", "while j >= 0 and buf[j] > v:", "> → >="): _EQUAL_KEYS,
    ("kernels/arith.py", "if n < 0:", "< → <="): "equivalent: at n = 0 the general conversion gives the same date (the calendar tests compare the two)",
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
    tests = SWEPT | KERNELS | INPUTS | OUTPUTS
    # no `choices`: argparse checks a '*' argument's default list against them as one
    # value, and `make mutants` (no files named) ended in "invalid choice" (2026-12-07)
    parser.add_argument(
        "files", nargs="*", help=f"of: {', '.join(tests)} (default: the reference, validation)"
    )
    parser.add_argument(
        "--kernels", action="store_true", help="the kernels' files too (about four hours)"
    )
    parser.add_argument(
        "--inputs", action="store_true", help="the policy packs' and adapters' files too"
    )
    parser.add_argument(
        "--outputs", action="store_true", help="the digests', outputs' and reproduce's too"
    )
    args = parser.parse_args(argv)
    if unknown := [f for f in args.files if f not in tests]:
        parser.error(f"not a swept file: {', '.join(unknown)}")
    args.files = args.files or [
        *SWEPT,
        *(KERNELS if args.kernels else []),
        *(INPUTS if args.inputs else []),
        *(OUTPUTS if args.outputs else []),
    ]
    refuse_uncommitted(args.files)
    survivors, count = [], 0
    for file in args.files:
        original = (ROOT / file).read_text(encoding="utf-8")
        for what, line, source, mutated in mutants(file):
            count += 1
            started = time.perf_counter()
            killed, _ = run((f"{file}:{line} {what}", file, original, mutated), tests[file])
            excused = ALIVE.get((file, source, what))
            verdict = "killed  " if killed else ("alive   " if excused else "SURVIVED")
            took = time.perf_counter() - started
            print(f"{verdict} {took:4.0f} s  {file}:{line} {what}  {source[:80]}", flush=True)
            if not killed and not excused:
                survivors.append(f"{file}:{line} {what}: {source}")
    summary = f"{count} mutants, {len(survivors)} alive without a reason"
    return finish(summary, survivors, "no rules test fails when this changes")


if __name__ == "__main__":
    sys.exit(main())
