# Entry points. `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast lint format browser-deps migrate demo worker bench clean conformance

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py generate_demo_data --size tiny --if-empty

## Start the demo: web server and a Celery worker with beat, on SQLite unless DATABASE_URL says otherwise.
run: demo
	HOST=$(HOST) PORT=$(PORT) BIN=$(BIN) bash scripts/run_demo.sh

worker: install
	$(BIN)/celery -A config worker --beat --loglevel=info

## Debian's Chromium for the browser tests (never a downloaded browser). Needs root for apt-get.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "Could not install chromium: browser tests will be skipped"; \
	  else echo "chromium is not installed and this is not root: browser tests will be skipped"; fi; \
	fi

test: install browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Pyflakes, syntax and statement errors, and the formatter's layout (ruff.toml); CI runs it before
## the tests. `make format` lays out the tree.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .

test-fast: install
	$(BIN)/python -m pytest -m "not browser and not worker" $(PYTEST_ARGS)

## Fault drill (docs/reliability.md): PostgreSQL restarted under tracking load, Redis down, a worker
## killed mid-export. Its own PostgreSQL cluster under var/drill (PostgreSQL's binaries) and Redis.
.PHONY: drill loadtest
drill: install
	$(BIN)/python scripts/drill.py $(DRILL_ARGS)

## Scale-out drill (docs/scaling.md): a primary and a streaming replica (private clusters under
## var/drill-scale), two web nodes and two workers; ingest under load, reads on the replica, the
## replica stopped (reads fall back to the primary without an error); prints the numbers.
.PHONY: drill-scale
drill-scale: install
	$(BIN)/python scripts/drill_scale.py $(DRILL_SCALE_ARGS)

## Load test (docs/reliability.md): locust, 8 users, mixed reads and tracking writes for
## LOADTEST_DURATION seconds on la_loadtest (LOADTEST_DATABASE_URL); zero errors, zero lost items.
LOADTEST_DURATION ?= 300
loadtest: install
	LOADTEST_DURATION=$(LOADTEST_DURATION) $(BIN)/python scripts/loadtest.py

## Benchmarks on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/la_bench): the read
## APIs through gunicorn (config/gunicorn.conf.py) at 1/8/32 clients against their SQL and framework floors,
## at 8 clients under a 1,000 items/s background writer, heartbeats, freshness, ingest, export, scaling;
## writes docs/benchmarks.md and docs/benchmarks.json. About 35 min with the data there (generating the
## large dataset adds ~12 min). BENCH_ARGS="--help" lists the options, e.g. BENCH_ARGS="--repeat-if-loaded 1".
bench: install browser-deps
	$(BIN)/python -m scripts.bench $(BENCH_ARGS)

clean:
	rm -rf var/ .pytest_cache/

## ADL xAPI LRS conformance suite against a server on a fresh PostgreSQL database (docs/api/xapi.md).
conformance: install
	BIN=$(BIN) bash scripts/conformance.sh
