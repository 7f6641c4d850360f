# Two commands a newcomer needs: `make test` and `make demo`. Both build .venv themselves and
# reinstall only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test unit lint demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

demo: $(STAMP)
	$(VENV)/bin/meterline demo

bench: $(STAMP)
	$(VENV)/bin/meterline bench producer --json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
