# Two commands on a fresh machine:  `make run` (whole local stack + demo corpus)  and  `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench-ingest schemas clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first (pinned; a looser requirement pulls GBs of CUDA packages).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ragstream up --demo

# Tests and benchmarks start Ray: run them with loopback only (see infra/loopback-only).
test: $(STAMP)
	infra/loopback-only $(BIN)/python -m pytest -q -p no:cacheprovider

bench-ingest: $(STAMP)
	infra/loopback-only $(BIN)/python bench/ingest.py --json bench/results/ingest.json

schemas: $(STAMP)
	$(BIN)/python -m schemas.export

clean:
	rm -rf $(VENV) .ragstream bench/results
