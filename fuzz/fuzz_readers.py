"""atheris harness: raw department exports (CSV in GB18030 / UTF-8, JSON Lines, Parquet)
through the readers and the mapping into canonical rows, as `meanstest ingest` does.

Any exception other than a MeansTestError (the documented "cannot read this export"
answer) is a finding. Run: `make fuzz` (FUZZ_SECONDS each), or
`python fuzz/fuzz_readers.py -max_total_time=300 fuzz/corpus/readers`.
Findings are kept as cases in tests/corpus/ingest/.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris
import meanstest.adapters.csv_quotes  # numba kernels: imported before instrumenting
import meanstest.adapters.normalise
import meanstest.kernels.columns  # the readers' UTF-8 check (meanstest.utf8) compiles it

import meanstest.ids  # noqa: F401 - numba kernels: imported before instrumenting (uninstrumentable)

with atheris.instrument_imports(include=["meanstest.adapters"]):
    from meanstest.adapters import adapter_for
    from meanstest.adapters.mapping import map_batch
    from meanstest.adapters.profile import load_profile
    from meanstest.adapters.readers import open_export

    from meanstest.errors import MeansTestError

PROFILES = Path(__file__).resolve().parents[1] / "adapters" / "profiles"
# one profile per reader and encoding: GB18030 CSV, UTF-8 CSV, JSON Lines, Parquet
NAMES = ("property.toml", "case_persons.toml", "tax_income.toml", "bank.toml")
LOADED = [load_profile(PROFILES / n) for n in NAMES]
SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}
WORK = Path(tempfile.mkdtemp(prefix="fuzz-readers-"))


def one_input(data: bytes) -> None:
    if not data:
        return
    profile = LOADED[data[0] % len(LOADED)]
    path = WORK / f"export{SUFFIX[profile.format]}"
    path.write_bytes(data[1:])
    try:
        export = open_export(path, profile)
        adapter = adapter_for(profile.table)
        for batch in export.batches():
            mapped = map_batch(profile, adapter, batch, path.name, None)
            read = batch.num_rows + len(batch.problems)
            assert mapped.table.num_rows + mapped.rows_quarantined == read, "rows lost"
    except MeansTestError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_DISABLE_JIT", "0")
    main()
