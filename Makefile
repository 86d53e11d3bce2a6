# Two entry points (README): `make demo` runs the main job on built-in sample data,
# `make test` runs the test suite. Both create the pinned virtualenv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[test,spark]'
	touch $(STAMP)

.PHONY: demo test lint bench fuzz mutants
demo: $(STAMP)
	$(BIN)/meanstest synth --households 20000 --seed 1 --bad-fraction 0.01 --out out/demo/bundle
	$(BIN)/meanstest review out/demo/bundle --out out/demo/review --report

# One pytest worker per core, each test file on one worker (its module fixtures; a
# Spark session per worker). Most tests run on one thread: on a slow 2-core VM
# (2026-12-04) one worker took 20 min from a clean clone and 12 min with numba's
# cache warm; two workers took 10 min from a clean clone and 6.8 min warm. At most 4
# workers: each holds its own imports (and a JVM for the Spark files) in memory.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Benchmarks (benches/, not part of `make test`): synth bundles are cached in
# ~/.cache/meanstest/bench; SIZES=10000,100000,1000000 for the district scale.
SIZES ?= 10000,100000
bench: $(STAMP)
	mkdir -p out/bench
	MEANSTEST_BENCH_SIZES=$(SIZES) $(BIN)/python -m pytest benches -p no:cacheprovider \
		--benchmark-json=out/bench/benchmarks.json
	$(BIN)/python benches/report.py out/bench/benchmarks.json benches/RESULTS.md

# Fuzzing (fuzz/, not part of `make test`): each atheris harness for FUZZ_SECONDS,
# starting from seeds made from a synthetic district; crashes land in out/fuzz/.
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(BIN)/pip install --quiet -e '.[fuzz]'
	mkdir -p out/fuzz
	$(BIN)/python fuzz/seeds.py out/fuzz/corpus
	cd out/fuzz && ../../$(BIN)/python ../../fuzz/fuzz_readers.py -max_total_time=$(FUZZ_SECONDS) \
		-timeout=120 -rss_limit_mb=4000 corpus/readers
	cd out/fuzz && ../../$(BIN)/python ../../fuzz/fuzz_proto.py -max_total_time=$(FUZZ_SECONDS) \
		-timeout=120 -rss_limit_mb=4000 corpus/proto

# Mutants of the rules (tests/mutants.py, and a sweep of the reference's and validation's
# comparisons, tests/mutant_sweep.py; not part of `make test`): each changes one boundary
# or formula of RULES.md in the reference or the kernels; the rules' tests must fail.
# About 40 minutes (a kernel mutant recompiles the kernels; the sweeps about 15). The
# kernels' own sweep is not in it: `.venv/bin/python tests/mutant_sweep.py --kernels`,
# nearly four hours more.
mutants: $(STAMP)
	$(BIN)/python tests/mutants.py
	$(BIN)/python tests/mutant_sweep.py
