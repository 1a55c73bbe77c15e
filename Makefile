# ecsrun: `make demo` and `make test` work on a fresh machine with Python 3.11+, pip and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp

AIRFLOW_DIR := integrations/airflow
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-stamp

.PHONY: setup deps demo test lint typecheck browser pytest pytest-ahead sam checkov airflow-test bench smoke soak load clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

## demo: run the hello request through the real state machine and handlers, locally
demo: setup
	$(BIN)/ecsrun local run events/requests/hello.json \
		--task-definition events/task-definitions/hello.json --artifacts artifacts

## test: lint (ruff, and the layering with import-linter), type-check, Chromium for the timeline's browser test,
## every test, the unit and handler tests again with the clock a year ahead, the template checks (cfn-lint through
## sam, and checkov), and the Airflow operator in real Airflow
test: deps lint typecheck pytest pytest-ahead sam checkov airflow-test

## deps: the three virtualenvs and Chromium, installed side by side (their downloads overlap; nothing runs yet)
deps:
	$(MAKE) --no-print-directory -j4 $(STAMP) $(CHECKOV_STAMP) $(AIRFLOW_STAMP) browser

## browser: Debian's Chromium, for the timeline's headless-browser test; installed when missing (apt-get: as root,
## as on CI, else through sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

# pytest-xdist: one worker per core.
PYTEST_WORKERS ?= auto
pytest:
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# A test that stamps its data with a fixed date passes the day it is written and fails once the date ages out of
# an AWS window (14 days of log events, 24 hours of clientToken, 90 days of execution names). Run again with every
# clock 400 days ahead and ticking (tests/clock.py), such a test fails today.
CLOCK_AHEAD_SUITES := tests/domain tests/steps tests/handlers tests/adapters tests/plumbing tests/local
pytest-ahead:
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --clock-ahead-days 400 $(CLOCK_AHEAD_SUITES)

sam:
	$(BIN)/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(BIN)/sam validate --lint --template examples/s3-trigger/template.yaml --region $(AWS_DEFAULT_REGION)
	$(BIN)/sam validate --lint --template examples/parent-state-machine/template.yaml --region $(AWS_DEFAULT_REGION)
	$(BIN)/sam build --template template.yaml --build-dir .aws-sam/build

# checkov has its own virtualenv: its pins would fight aws-sam-cli's. Offline: no guideline download, no update check.
$(CHECKOV_STAMP): constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -c constraints-checkov.txt checkov
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml \
		-f examples/s3-trigger/template.yaml \
		-f examples/parent-state-machine/template.yaml \
		--framework cloudformation --compact --quiet --skip-download

# The Airflow operator (integrations/airflow, the ecsrun-airflow distribution) has its own virtualenv: Airflow from
# PyPI with the Amazon provider's default install, pinned by the integration's constraints file as Airflow pins its
# own. Its tests run DAGs with dag.test() against `ecsrun local serve` from the main venv.
$(AIRFLOW_STAMP): $(AIRFLOW_DIR)/pyproject.toml $(AIRFLOW_DIR)/constraints.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -c $(AIRFLOW_DIR)/constraints.txt -e "$(AIRFLOW_DIR)[test]"
	touch $(AIRFLOW_STAMP)

## airflow-test: the operator's tests in real Airflow (dag.test() against ecsrun local serve), and mypy on it
airflow-test: setup $(AIRFLOW_STAMP)
	cd $(AIRFLOW_DIR) && ECSRUN=$(CURDIR)/$(BIN)/ecsrun $(CURDIR)/$(AIRFLOW_VENV)/bin/python -m pytest -q -p no:cacheprovider
	cd $(AIRFLOW_DIR) && $(CURDIR)/$(AIRFLOW_VENV)/bin/mypy

## smoke: the smoke scenarios against a deployed stack, through the AWS CLI (make smoke STACK=ecsrun SMOKE_ARGS="--execution-role-arn ...")
smoke: setup
	@test -n "$(STACK)" || { echo "make smoke: give STACK=<stack name> (and SMOKE_ARGS=\"--execution-role-arn ...\")" >&2; exit 2; }
	$(BIN)/ecsrun smoke --stack-name $(STACK) $(SMOKE_ARGS)

## bench: measure the pipeline (cost, cold start, 1,000 runs, a 500-item array), the log copy and the calls per run; tables in docs/benchmarks.md, figures in bench/calls-per-run.json
bench: setup
	$(BIN)/python bench/pipeline_bench.py --write docs/benchmarks.md
	$(BIN)/python bench/copy_bench.py --write docs/benchmarks.md
	$(BIN)/python bench/calls_bench.py --write docs/benchmarks.md
	$(BIN)/python bench/capacity_bench.py

## soak: 10,000 seeded fault schedules through the deployed ASL and the real handlers (tests/simulation)
soak: setup
	PYTHONPATH=. $(BIN)/python -m tests.simulation.runner --schedules 10000 --coverage --json .soak.json

## load: 10 M runs a day (scaled, with every quota) for 10 virtual minutes through the deployed ASL and the real handlers, both log modes, default and advised quotas; ## Load in docs/benchmarks.md
load: setup
	PYTHONPATH=. $(BIN)/python -m tests.simulation.load --mode both --quotas both --write docs/benchmarks.md

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(AIRFLOW_VENV) .aws-sam artifacts .pytest_cache .ruff_cache .mypy_cache
