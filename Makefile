# revledger — the two front-door commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= out/demo.db

.PHONY: demo test test-full bench install clean

$(BIN)/revledger: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres]"
	@touch $@

install: $(BIN)/revledger

# Build a ledger from the example fixture and show what it knows.
demo: install
	@mkdir -p $(dir $(DEMO))
	@rm -f $(DEMO) $(DEMO)-wal $(DEMO)-shm $(basename $(DEMO)).projections.db*
	$(BIN)/revledger --db $(DEMO) init --currency USD
	$(BIN)/revledger --db $(DEMO) import fixtures/example.csv
	$(BIN)/revledger --db $(DEMO) mrr --as-of 2026-06-30 --by segment
	$(BIN)/revledger --db $(DEMO) movements --from 2026-06-01 --to 2026-06-30
	$(BIN)/revledger --db $(DEMO) metrics --from 2026-01-01 --to 2026-06-30 --period quarter

# The whole test suite (long tests run reduced unless CI=true).
test: install
	$(BIN)/python -m pytest

# The benchmark's own extra (DuckDB, pyinstrument); sizes and steps: see tests/benchmark.py
# (e.g. `BENCH_SIZES=180k make bench`, `BENCH_EVENTS=20000 make bench`).
$(VENV)/.bench: $(BIN)/revledger
	$(BIN)/pip install --quiet -e ".[test,postgres,bench]"
	@touch $@

bench: $(VENV)/.bench
	$(BIN)/python tests/benchmark.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
