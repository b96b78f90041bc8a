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

# Ray replicas bind [::] internally: tests run in a private network namespace with only loopback when the
# machine allows one (root here), so no test traffic can leave the machine.
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
test: $(STAMP)
	@if unshare -n true 2>/dev/null && command -v ip >/dev/null; then \
	  unshare -n sh -c 'ip link set lo up && exec $(PYTEST)'; \
	else \
	  $(PYTEST); \
	fi

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py --json bench/results/ingest.json

schemas: $(STAMP)
	$(BIN)/python -m schemas.export

clean:
	rm -rf $(VENV) .ragstream bench/results
