# Lantern: the two commands are `make demo` and `make test` (README.md).
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
BIN := .venv/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell command -v python3.11 || command -v $(PYTHON))
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1
export RUNTIME__DLTHUB_TELEMETRY := false
export DAGSTER_DISABLE_TELEMETRY := 1
export GX_ANALYTICS_ENABLED := False

.PHONY: install demo run rebuild status test lint format ui clean bench reports reports-setup
.DEFAULT_GOAL := demo

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled once at install: where PYTHONDONTWRITEBYTECODE is set (as on these
# machines), every process (each dbt call) would otherwise compile its imports again (~1-3 s).
.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

install: .venv/.installed

demo: install  ## set up, generate the demo agencies' exports, run the nightly job once, publish
	$(BIN)/lantern demo

run: install
	$(BIN)/lantern run

rebuild: install  ## the nightly run, but every incremental model rebuilt from all loaded data
	$(BIN)/lantern run --full-refresh

status: install
	$(BIN)/lantern status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

TEST_WORKERS ?= 2
test: install lint reports-setup  ## set up and run lint and the whole test suite (on TEST_WORKERS processes)
	$(BIN)/lantern prepare
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

ui: install  ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/lantern prepare
	mkdir -p $(DAGSTER_HOME) && cp dagster_project/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean:  ## remove everything a run wrote (keeps the virtualenv)
	rm -rf data dbt/target dbt/logs reports/build reports/.evidence

ROWS ?= 10000000
HISTORY ?=
REPEAT ?= 3
bench: install  ## DuckDB alone vs Lantern's nightly run on the same files (bench/results.json)
	$(BIN)/python bench/run.py --rows $(ROWS) --history "$(HISTORY)" --repeat $(REPEAT)

# The community site (Evidence, reports/) and the annual reports. npm installs the pinned,
# locked packages; Debian's chromium (and poppler-utils' pdftotext for the tests) come from apt.
reports/node_modules/.installed: reports/package.json reports/package-lock.json
	cd reports && npm install --no-audit --no-fund
	@touch $@

reports-setup: reports/node_modules/.installed
	reports/scripts/install-chromium.sh

reports: install reports-setup  ## after `make demo`: annual reports (HTML, PDF) into the release, and the site
	$(BIN)/python -m dagster_project.reports annual
	$(BIN)/python -m dagster_project.reports site-sources
	cd reports && npm run sources && npm run build
	@echo "site: reports/build (serve it: $(BIN)/python -m http.server -d reports/build -b 127.0.0.1 8000)"
