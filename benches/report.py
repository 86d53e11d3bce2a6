"""Write benches/RESULTS.md from pytest-benchmark JSON files (`make bench` does both).

    python benches/report.py BENCH.json [MORE.json ...] benches/RESULTS.md

Several files are merged into one run (e.g. the review at 1M and the service at 100k, run
back to back as separate pytest sessions): the date and the load at the start are the
first file's, the load at the end the last file's; a benchmark in two files is an error.

Every figure is the minimum over the rounds of one run (the least disturbed by other
processes), and every ratio is between two figures of that same run on the same data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

TARGETS_DOC = "issues 7, 12 and 13"


def machine() -> dict:
    info = {"cpu": platform.processor() or "?", "cores": os.cpu_count(), "ram_gib": "?"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def versions() -> dict:
    import llvmlite
    import numba
    import numpy
    import pyarrow

    from meanstest.pipeline import ENGINE_VERSION

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "pyarrow": pyarrow.__version__,
        "engine": ENGINE_VERSION,
        "commit": commit,
    }


def _name(b: dict) -> str:
    """The test name with its other parameters but without the size:
    test_spark_review[local2-10000hh] -> test_spark_review[local2]."""
    base, _, ids = b["name"].partition("[")
    rest = [p for p in ids.rstrip("]").split("-") if p and not p.endswith("hh")]
    return f"{base}[{'-'.join(rest)}]" if rest else base


def _size(b: dict) -> int | None:
    return (b.get("params") or {}).get("households")


def _fmt_s(x: float) -> str:
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def _ratio(x: float) -> str:
    return f"{x:.3g}×"


def collect(data: dict):
    by = {}
    for b in data["benchmarks"]:
        by[(_name(b), _size(b))] = b
    return by


def bound_seconds(by, n):
    """Kernels' memory bound at size n: bytes touched / measured copy bandwidth."""
    k, c = by.get(("test_kernels", n)), by.get(("test_copy_bandwidth", n))
    if not k or not c:
        return None
    bandwidth = c["extra_info"]["bytes_moved"] / c["stats"]["min"]
    return k["extra_info"]["bytes"] / bandwidth


def reference_seconds(by, n):
    """Reference calculator time scaled from its sample to n households."""
    r = by.get(("test_reference_sample", n))
    if not r:
        return None
    return r["stats"]["min"] / r["extra_info"]["households"] * n


def targets(by, sizes) -> list[tuple[str, str, str, str]]:
    rows = []
    n = max(sizes)
    t = lambda name: by.get((name, n), {}).get("stats", {}).get("min")
    kernel, numpy_, bound, ref = t("test_kernels"), t("test_numpy_baseline"), None, None
    bound, ref = bound_seconds(by, n), reference_seconds(by, n)
    at = f"{n:,} households"

    def row(what, goal, value, ok):
        if "at 1M" in goal and n < 1_000_000:
            rows.append((what, goal, value, "not judged (run with SIZES=…,1000000)"))
        else:
            rows.append((what, goal, value, "met" if ok else "**missed**"))

    if kernel and bound:
        row(f"kernels / memory bound ({at})", "≤ 3×", _ratio(kernel / bound), kernel / bound <= 3)
    if kernel and numpy_:
        row(
            f"NumPy baseline / kernels ({at})",
            "≥ 10×",
            _ratio(numpy_ / kernel),
            numpy_ / kernel >= 10,
        )
    if kernel and ref:
        row(f"reference / kernels ({at})", "≥ 1000×", _ratio(ref / kernel), ref / kernel >= 1000)
    asm = t("test_assembly")
    if asm:
        ok = n >= 1_000_000 and asm <= 2.0
        row(f"assembly ({at})", "≤ 2 s at 1M", _fmt_s(asm), ok)
    review, floor = t("test_review_end_to_end"), t("test_io_floor")
    if review and floor:
        row(f"review / I/O floor ({at})", "≤ 2×", _ratio(review / floor), review / floor <= 2)
    if review:
        ok = n >= 1_000_000 and review <= 4.0
        row(f"review wall ({at})", "≤ 4 s at 1M", _fmt_s(review), ok)
    rows += service_targets(by)
    # issue 12: single-machine per-core throughput / Spark's, for each way Spark reads
    # the bundle (in place: a task per chunk of row groups; shuffle: the general path)
    for way, label in (("inplace", "in place"), ("shuffle", "shuffled")):
        for cores in (2, 1):
            name = f"test_spark_review[{way}-local{cores}]"
            info = by.get((name, n), {}).get("extra_info", {})
            if "per_core_ratio" in info:
                value = info["per_core_ratio"]
                what = f"Spark local[{cores}] {label} per-core / single ({at})"
                row(what, "≤ 3×", _ratio(value), value <= 3)
    return rows


# issue 13: throughput of each way in, versus in-process `meanstest.assess` (wall time);
# single-household latency versus a bare gRPC call of the same run
_THROUGHPUT = {"test_grpc_assess": 0.8, "test_grpc_assess_arrow": 0.9, "test_grpc_flight": 0.9}


def service_targets(by) -> list[tuple[str, str, str, str]]:
    """Issue 13's targets at the largest size the gRPC benchmarks ran, per journal."""
    rows = []
    for (name, n), b in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        base, _, journal = name.partition("[")
        journal = journal.rstrip("]")
        if n is None or n != max(m for (x, m), _ in by.items() if x == name and m):
            continue
        where = f"{n:,} households, journal on {journal}"
        if base in _THROUGHPUT:
            inproc = by.get(("test_grpc_baseline_inprocess", n))
            if inproc:
                ratio = inproc["stats"]["min"] / b["stats"]["min"]
                goal = _THROUGHPUT[base]
                ok = "met" if ratio >= goal else "**missed**"
                what = f"{base[len('test_grpc_') :]} / in-process ({where})"
                rows.append((what, f"≥ {goal}×", _ratio(ratio), ok))
        elif base == "test_grpc_single_household_latency":
            for q in ("p50", "p99"):
                value = b.get("extra_info", {}).get(f"{q}_vs_bare")
                if value is not None:
                    ok = "met" if value <= 10 else "**missed**"
                    what = f"single household {q} / bare call ({where})"
                    rows.append((what, "≤ 10×", _ratio(value), ok))
    return rows


def render(data: dict) -> str:
    by = collect(data)
    sizes = sorted({n for _, n in by if n})
    m, v = machine(), versions()
    when = data.get("datetime", dt.datetime.now(dt.UTC).isoformat())
    load = data.get("load_average")
    if load:
        m["load"] = (
            f"{' '.join(f'{x:.1f}' for x in load['start'])} at the start of the run, "
            f"{' '.join(f'{x:.1f}' for x in load['end'])} at its end"
        )
    threads = by.get(("test_kernels", sizes[0]), {}).get("extra_info", {}).get("threads", "?")
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (benches/report.py) from the run below; do not edit by hand.",
        "Analysis of the figures, profiles and what bounds each missed target:",
        "`benches/ANALYSIS.md`.",
        "",
        f"- **Date**: {when}",
        (
            f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
            f"numba threads {threads}; Arrow's memory pool {data.get('arrow_pool', '?')}; "
            f"load average (1, 5, 15 min) {m['load']}"
        ),
        "- **Versions**: " + ", ".join(f"{k} {x}" for k, x in v.items()),
        (
            f"- **Sizes**: {', '.join(f'{n:,}' for n in sizes)} households "
            "(`meanstest synth`, seed 2024)"
        ),
        "- **Benchmark files in this run**: "
        + ", ".join(sorted({b["fullname"].split("::")[0] for b in data["benchmarks"]})),
        "",
        *(
            [
                "> The machine was busy with other work while this ran (load average above",
                "> its core count): every figure is the minimum of its rounds and every ratio",
                "> is taken within this run, but absolute times are noisy.",
            ]
            if load and max(load["start"][0], load["end"][0]) > os.cpu_count()
            else [
                "> Every figure is the minimum of its rounds; every ratio is taken within",
                "> this run, on the same data.",
            ]
        ),
        "",
        f"## Targets ({TARGETS_DOC})",
        "",
        "| figure | target | measured | |",
        "|---|---|---|---|",
    ]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(by, sizes)]
    out += ["", "## Every figure", ""]
    out += [
        "| benchmark | households | min | median | rounds | µs / household | ratios | extra |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, n), b in sorted(by.items(), key=lambda kv: (kv[0][1] or 0, kv[0][0])):
        s, e = b["stats"], dict(b.get("extra_info", {}))
        hh = e.pop("households", None)
        ratios = []
        for other in e.pop("versus", []):
            if other == "test_copy_bandwidth":
                bound = bound_seconds(by, n)
                if bound:
                    ratios.append(f"{_ratio(s['min'] / bound)} memory bound ({_fmt_s(bound)})")
            elif other == "test_reference_sample":
                ref = reference_seconds(by, n)
                if ref:
                    ratios.append(f"reference scaled is {_ratio(ref / s['min'])} slower")
            elif (other, n) in by:
                ratios.append(f"{_ratio(s['min'] / by[(other, n)]['stats']['min'])} {other}")
        per = f"{s['min'] / hh * 1e6:.2f}" if hh else ""
        extra = ", ".join(f"{k} {x}" for k, x in e.items() if k != "sample_of")
        out.append(
            f"| {name} | {f'{n:,}' if n else ''} | {_fmt_s(s['min'])} | {_fmt_s(s['median'])} "
            f"| {s['rounds']} | {per} | {'; '.join(ratios)} | {extra} |"
        )
    out += ["", "## Scaling (cost per household should be flat)", ""]
    names = ("test_kernels", "test_assembly", "test_review_end_to_end", "test_io_floor")
    out += [
        "| households | " + " | ".join(f"{x[5:]} µs/hh" for x in names) + " | review peak RSS |"
    ]
    out += ["|---" * (len(names) + 2) + "|"]
    for n in sizes:
        cells = []
        for x in names:
            b = by.get((x, n))
            cells.append(f"{b['stats']['min'] / n * 1e6:.2f}" if b else "")
        rss = by.get(("test_review_end_to_end", n), {}).get("extra_info", {}).get("peak_rss_mib")
        rss_cell = f"{rss:,.0f} MiB ({rss / n * 1e3 * 1024:.0f} KiB/1k hh)" if rss else ""
        out.append(f"| {n:,} | " + " | ".join(cells) + f" | {rss_cell} |")
    out.append("")
    return "\n".join(out)


def merge(runs: list[dict]) -> dict:
    """One run from the JSON of several back-to-back pytest-benchmark sessions."""
    data = dict(runs[0], benchmarks=[])
    seen = {}
    for i, run in enumerate(runs):
        for b in run["benchmarks"]:
            if b["fullname"] in seen:
                raise ValueError(
                    f"benchmark {b['fullname']} is in file {seen[b['fullname']] + 1} "
                    f"and file {i + 1}: merge distinct sessions only"
                )
            seen[b["fullname"]] = i
            data["benchmarks"].append(b)
    pools = sorted({r["arrow_pool"] for r in runs if r.get("arrow_pool")})
    if pools:
        data["arrow_pool"] = ", ".join(pools)
    loads = [r["load_average"] for r in runs if r.get("load_average")]
    if loads:
        data["load_average"] = {"start": loads[0]["start"], "end": loads[-1]["end"]}
    return data


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs = [json.loads(Path(a).read_text(encoding="utf-8")) for a in argv[:-1]]
    try:
        data = merge(runs)
    except ValueError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    Path(argv[-1]).write_text(render(data), encoding="utf-8")
    print(f"wrote {argv[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
