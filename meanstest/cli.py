"""The `meanstest` command line. Errors are one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time

# Only light modules here (none imports pyarrow, numpy or numba): until main() is inside
# its `try`, a Ctrl-C is a KeyboardInterrupt traceback and exit -2, not "meanstest:
# interrupted" and 130 (D3: half a second of imports was that window). Every other
# module is imported where it is used, or in main() under the try.
from meanstest.errors import MeansTestError, interrupted, one_line
from meanstest.interrupts import interrupt_safely
from meanstest.limits import address_space_note, address_space_problem
from meanstest.progress import count

EXIT_USAGE = 2
EXIT_ERROR = 1
# The commands whose answer is a verdict (`check`: the engines agree with the case files;
# `reproduce`: the outputs are reproduced; `journal verify`: the chain holds) exit 1 for
# "checked, and it does not hold" and 2 when they could not check (a missing bundle, a
# broken policy library), as diff and cmp do: an auditor's script must not read "the
# bundle was not there" as "discrepancies found" (it did: both were 1).
EXIT_DIFFERS, EXIT_UNCHECKED = 1, 2
VERDICTS = frozenset({"check", "reproduce", "journal"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2 with usage; keep that
        self.print_usage(sys.stderr)
        print(f"meanstest: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


# Subcommands that live with their feature: name -> module with `HELP` (one line),
# `add_arguments(parser)` and `run(args) -> int` (raising MeansTestError on bad input).
FEATURES: dict[str, str] = {
    "check": "meanstest.cases",
    "serve": "meanstest.service.cli",
    "journal": "meanstest.service.journal_cli",
    "ingest": "meanstest.ingest",
    "regroup": "meanstest.review.regroup",
}


def _parser() -> argparse.ArgumentParser:
    from meanstest.pipeline import ENGINE_VERSION

    p = _Parser(prog="meanstest", description="Means-test verification and assessment.")
    p.add_argument("--version", action="version", version=ENGINE_VERSION)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("review", help="assess every household of a bundle")
    r.add_argument("bundle", help="bundle folder (<table>.parquet or .arrow files)")
    r.add_argument("--policies", help="policy library folder (default: packaged packs)")
    r.add_argument(
        "--out",
        required=True,
        help="output folder; an earlier review's outputs in it are removed first, so a"
        " review stopped midway leaves none (review into a new folder to keep them)",
    )
    r.add_argument(
        "--engine",
        choices=("fast", "reference", "spark"),
        default="fast",
        help="fast (kernels, default), reference (the readable calculator: an auditor's "
        "check, slow) or spark (province scale: docs/spark.md)",
    )
    r.add_argument("--master", help="Spark master URL for --engine spark (default: local[*])")
    r.add_argument(
        "--spark-conf",
        action="append",
        metavar="KEY=VALUE",
        help="--engine spark: a Spark setting for the session (repeatable), e.g. "
        "spark.driver.memory=12g",
    )
    r.add_argument(
        "--spark-shuffle",
        action="store_true",
        help="--engine spark: shuffle the rows by household even when the bundle could be "
        "read in place (a household-grouped Parquet bundle on a shared file system)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress and no summary")
    r.add_argument(
        "--chunk-size",
        type=int,
        help="households per chunk (default: as many as the memory limit allows in memory, "
        "200,000 when spooled; memory grows about 6 KB per household of a chunk)",
    )
    r.add_argument("--restart", action="store_true", help="discard an interrupted review")
    r.add_argument(
        "--memory-limit",
        type=_gib,
        metavar="GIB",
        help="review in memory when the bundle fits this many GiB (default: half the "
        "machine's memory, at most 8), else chunk by chunk (a bundle written household "
        "block by block is read in place, any other spooled to disk); it chooses the way "
        "by the measured peak of each, and is no cap on the process (chunk by chunk, a "
        "10M-household review peaked at 6.6 GiB)",
    )
    r.add_argument(
        "--spool",
        action="store_true",
        help="assess the bundle chunk by chunk, resumable after a kill (read in place when "
        "written household block by block, else spooled to disk)",
    )
    r.add_argument("--report", action="store_true", help="also write report.html")

    rr = sub.add_parser("reproduce", help="recompute a review's results and report mismatches")
    rr.add_argument("out_dir", nargs="?", help="review output folder")
    rr.add_argument("--journal", help="the service's audit journal, instead of a review folder")
    rr.add_argument("--bundle", required=True, help="the bundle the review was run on")
    rr.add_argument("--policies", help="policy library folder (default: packaged packs)")
    rr.add_argument(
        "--memory-limit",
        type=_gib,
        metavar="GIB",
        help="the recomputation's review takes chunks that fit this many GiB (default: half "
        "the machine's memory, at most 8); as `review --memory-limit`, no cap",
    )

    rp = sub.add_parser("report", help="write report.html for a review output folder")
    rp.add_argument("out_dir", help="a finished review's --out folder")

    e = sub.add_parser("explain", help="show the calculation of one household step by step")
    e.add_argument("bundle", help="bundle folder (<table>.parquet or .arrow files)")
    e.add_argument("household_id", help="the household's household_id in the bundle")
    e.add_argument("--policies", help="policy library folder (default: packaged packs)")
    e.add_argument(
        "--lang", choices=("zh", "en"), default="zh", help="document language (default: zh)"
    )
    e.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="text (default), json (the trace: every step's inputs and value, in fen), or "
        "html (the document to print and sign: docs/documents.md)",
    )

    s = sub.add_parser("synth", help="write a synthetic district bundle")
    s.add_argument("--households", type=int, required=True, help="how many households")
    s.add_argument(
        "--seed", type=int, default=0, help="random seed (default 0): same seed, same bundle"
    )
    s.add_argument("--out", required=True, help="bundle folder to write")
    s.add_argument(
        "--bad-fraction",
        type=float,
        default=0.0,
        help="share of households given an invalid row, to be rejected (default 0.0)",
    )
    s.add_argument(
        "--format", choices=("parquet", "arrow"), default="parquet", help="table file format"
    )
    s.add_argument("--raw", help="also write it as raw department exports + manifest here")

    for name, module in FEATURES.items():
        feature = importlib.import_module(module)
        feature.add_arguments(sub.add_parser(name, help=feature.HELP))
    return p


def summary_lines(s: dict) -> list[str]:
    """A review summary's statuses (code and name) and total benefit in yuan, for the
    console of every engine."""
    from meanstest import labels
    from meanstest.amounts import money

    lines = [
        f"  {status:<13} {n:>9,}  {labels.of(labels.STATUS, status, 'zh')}"
        for status, n in s["by_status"].items()
    ]
    lines.append(
        f"total monthly benefit {money(s['total_monthly_benefit'], 'zh', 'month')}; "
        f"provisional {s['provisional']:,}; unmatched source rows {s['unmatched_source_rows']:,}"
        + (
            f"; persons/supporters rows of no household {s['orphan_rows']:,}"
            if s.get("orphan_rows")
            else ""
        )
    )
    if absent := s.get("absent_source_tables"):  # the start's note has scrolled away
        lines.append(f"absent source tables, read as no rows: {', '.join(absent)}")
    return lines


def _gib(text: str) -> float:
    """--memory-limit: a finite number of GiB, 0 or more (0: spool every bundle; nan and
    inf were tracebacks)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GiB (0 or more)")
    return value


def _review(args) -> int:
    from meanstest.affected import quarantine_note
    from meanstest.unmatched import say_near_matches

    bundle = args.bundle
    if args.engine == "spark":  # a file: URI is this machine's folder; other URIs have no notes
        from meanstest.spark.inplace import local_folder

        bundle = local_folder(args.bundle)
    if not args.quiet and bundle is not None and (note := quarantine_note(bundle)):
        print(note)
    if args.engine == "spark":
        from meanstest.spark import review_cli

        return review_cli(args)
    from meanstest.pipeline import load_policies
    from meanstest.review import ReviewOptions, run_review

    started = time.perf_counter()
    limit = None if args.memory_limit is None else int(args.memory_limit * (1 << 30))
    options = ReviewOptions(
        chunk_size=args.chunk_size,
        engine=args.engine,
        quiet=args.quiet,
        restart=args.restart,
        memory_limit=limit,
        spool=args.spool,
    )
    s = run_review(args.bundle, args.out, load_policies(args.policies), options)
    if not args.quiet:
        elapsed = time.perf_counter() - started
        print(
            f"households read {s['households_read']:,}: assessed {s['assessed']:,}, "
            f"rejected {s['rejected']:,} ({elapsed:.2f} s, {count(s['chunks'], 'chunk')})"
        )
        print("\n".join(summary_lines(s)))
        say_near_matches(args.bundle, s["unmatched_source_rows"], s.get("orphan_rows", 0))
        print(f"outputs and summary.json in {args.out}")
    return review_ended(s, args.out if args.report else None, args.quiet)


def review_ended(s: dict, report_out: str | os.PathLike[str] | None, quiet: bool) -> int:
    """The end of `meanstest review` on either engine: report.html when asked for
    (`report_out`, the output folder), then the exit code, an error when the run's
    counts do not close."""
    if report_out is not None:
        from meanstest.report import write_report

        path = write_report(report_out)
        if not quiet:
            print(f"report: {path}")
    if not s["accounting_closes"]:
        print(
            "meanstest: error: accounting does not close (read != assessed + rejected)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return 0


def _explain(args) -> int:
    from meanstest import labels
    from meanstest.affected import assessed_without_rows, tables_without_export
    from meanstest.bundle import absent_tables, read_bundle
    from meanstest.explain import explain_household, render
    from meanstest.pipeline import load_policies
    from meanstest.validate import validate

    validation = validate(read_bundle(args.bundle, households=True), load_policies(args.policies))
    rejected = dict(
        zip(
            validation.rejects["household_id"].to_pylist(),
            validation.rejects["reasons"].to_pylist(),
        )
    )
    hid, zh = args.household_id, args.lang == "zh"
    if hid in rejected:  # the reasons as rejects.parquet has them, in words
        reasons = ("；" if zh else "; ").join(
            labels.reject_rule(r, args.lang) for r in rejected[hid]
        )
        raise MeansTestError(
            f"家庭 {hid} 的数据未通过校验，未予核算：{reasons}"
            if zh
            else f"household {hid} is rejected (not assessed): {reasons}"
        )
    if hid not in set(validation.engine_input.households["household_id"].to_pylist()):
        raise MeansTestError(
            f"家庭 {hid} 不在数据包 {args.bundle} 中"
            if zh
            else f"household {hid} is not in the bundle {args.bundle}"
        )
    explanation = explain_household(validation.engine_input, args.household_id)
    lacking, unattributed = assessed_without_rows(args.bundle)
    explanation["quarantined_rows"] = hid in lacking
    explanation["unattributed_quarantined_rows"] = unattributed
    explanation["absent_source_tables"] = absent_tables(args.bundle)
    explanation["tables_without_export"] = tables_without_export(args.bundle)
    sys.stdout.write(render(explanation, args.lang, args.format))
    return 0


def _reproduce(args) -> int:
    from meanstest.outputs import review_folder
    from meanstest.pipeline import load_policies
    from meanstest.reproduce import reproduce_journal, reproduce_review

    if (args.out_dir is None) == (args.journal is None):
        raise MeansTestError("reproduce: give a review folder or --journal FILE (one of them)")
    moved = []
    if args.out_dir is not None:
        review_folder(args.out_dir)
    if args.journal:
        ok, problems = reproduce_journal(args.journal, args.bundle, load_policies(args.policies))
    else:
        limit = None if args.memory_limit is None else int(args.memory_limit * (1 << 30))
        ok, problems, moved = reproduce_review(
            args.out_dir, args.bundle, load_policies(args.policies), quiet=False,
            memory_limit=limit,
        )  # fmt: skip
    if any(" → " in str(p) for p in problems):  # the order was told in docs alone
        print("(values: stored → recomputed)")
    for p in problems:
        print(p)
    if moved:
        print(
            f"rank only: {count(len(moved), 'household')} reproduced but moved in the ranking because "
            "other households changed (not discrepancies): "
            + ", ".join(map(str, moved[:20]))
            + (f", … and {len(moved) - 20} more" if len(moved) > 20 else "")
        )
    print(
        f"reproduced {count(ok, 'household')}; {count(len(problems), 'discrepancy', 'discrepancies')}"
    )
    return EXIT_DIFFERS if problems else 0


def _report(args) -> int:
    from meanstest.outputs import review_folder
    from meanstest.report import write_report

    print(write_report(review_folder(args.out_dir)))
    return 0


def _synth(args) -> int:
    from meanstest.outputs import check_output_folder, output_folder
    from meanstest.synth import write_synth

    if args.households < 1:
        raise MeansTestError("--households must be at least 1")
    if not 0.0 <= args.bad_fraction <= 1.0:
        raise MeansTestError("--bad-fraction must be between 0 and 1")
    if args.raw:  # both checked before either folder is made
        check_output_folder(args.raw, "--raw")
    output_folder(args.out)
    if args.raw:
        output_folder(args.raw, "--raw")
    counts = write_synth(
        args.out, args.households, args.seed, bad_fraction=args.bad_fraction, format=args.format
    )
    print(", ".join(f"{t} {n}" for t, n in counts.items()) + f" → {args.out}")
    if args.raw:
        from meanstest.bundle import read_bundle
        from meanstest.rawsynth import write_raw

        print(f"raw exports → {write_raw(args.raw, read_bundle(args.out), args.seed)}")
    return 0


class _NoPandasYet:
    """A finder that refuses pandas, installed only while pyarrow looks for it once."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("meanstest hands pyarrow no pandas objects")


def pyarrow_without_pandas() -> None:
    """Let pyarrow's first look for pandas find none, unless pandas is already imported.

    pyarrow imports pandas, when it is installed (the Spark extra installs it), the first
    time it converts a Python object — `pa.array` of a list, `pa.scalar`, `fill_null(0)`
    — only to ask whether the object is a pandas one: 0.2-0.3 s of a one-million-household
    review, in the middle of validation, holding the GIL. meanstest never hands pyarrow a
    pandas object. Afterwards pyarrow converts pandas objects as if pandas were absent
    (a Series' NaN stays NaN, not null) until an explicit pandas call of pyarrow's
    (`to_pandas`, `from_pandas`) imports it: so only the `meanstest` command's own
    process does this (main() without argv), never a program that calls main(argv) or
    imports meanstest (tests/test_cli_pandas.py)."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _NoPandasYet()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's shim remembers that it looked (pyarrow 26: pandas-shim.pxi)
    finally:
        sys.meta_path.remove(finder)


def arrow_memory_pool() -> str:
    """Give Arrow's buffers jemalloc (when this pyarrow has it) unless the operator chose a
    pool with ARROW_DEFAULT_MEMORY_POOL; the name of the pool in use.

    With pyarrow's default, mimalloc, a one-million-household review spent about twice
    the system time and took 13-35% longer on the 2-core test machine
    (benches/ANALYSIS.md, "The review's memory pool"); the outputs are the same. Like
    `pyarrow_without_pandas`, only the `meanstest` command's own process does this: a
    program that imports meanstest keeps the pool it chose."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows wheels)
        return pa.default_memory_pool().backend_name
    pa.set_memory_pool(pool)
    return pool.backend_name


def main(argv: list[str] | None = None) -> int:
    # Everything under the try, the imports of pyarrow and of the subcommands' modules
    # (building the parser imports meanstest.pipeline, numba with it) included: a Ctrl-C
    # while they load is "meanstest: interrupted" and 130 like one at any later moment.
    if argv is None:  # the command's own process (the console script, python -m)
        interrupt_safely()
    failed = EXIT_ERROR  # a verdict command's once its arguments are read
    try:
        problem = address_space_problem()  # before the libraries that crash under it load
        asked = sys.argv[1:] if argv is None else argv
        if problem is not None and not {"-h", "--help", "--version"} & set(asked):
            raise MeansTestError(problem)
        if argv is None:
            pyarrow_without_pandas()
            arrow_memory_pool()
        args = _parser().parse_args(argv)
        failed = EXIT_UNCHECKED if args.command in VERDICTS else EXIT_ERROR
        from meanstest.outputs import check_output_folder

        for flag in ("out", "raw"):  # "" would be the current folder
            if getattr(args, flag, None) == "":
                check_output_folder("", f"--{flag}")
        if args.command in FEATURES:
            return importlib.import_module(FEATURES[args.command]).run(args)
        return {
            "review": _review,
            "synth": _synth,
            "explain": _explain,
            "report": _report,
            "reproduce": _reproduce,
        }[args.command](args)
    except MeansTestError as e:
        print(f"meanstest: error: {e.message}", file=sys.stderr)
        return failed
    except OSError as e:
        print(
            f"meanstest: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return failed
    except MemoryError as e:  # pyarrow's ArrowMemoryError too
        # a few KB can decode to gigabytes (a 1 MB value in a dictionary column used by
        # thousands of rows, one person in thousands of households): a traceback of 13
        # frames said so (an adversarial run); one line says what and where to look
        said = one_line(str(e))[:200] or type(e).__name__
        why = address_space_note() or (
            ": the input decodes to more than this machine holds; a long value used by many "
            "rows, or one person in many households, can take far more memory than the "
            "files' size (docs/RELIABILITY.md)"
        )
        print(f"meanstest: error: out of memory ({said}){why}", file=sys.stderr)
        return failed
    except KeyboardInterrupt:
        print("meanstest: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if not interrupted(e):
            raise
        # Ctrl-C inside a library that raised its own error in its place (numba's
        # dispatcher: "SystemError: ... returned a result with an exception set")
        print("meanstest: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
