# The README's two commands: `make demo` runs Tally with demo data, `make test` runs every test.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tally
PYTEST_ARGS ?=
# Links in the demo's API answers and emails point at the server make demo starts.
export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
# The demo's customer emails go to files, not to the terminal (nor to anyone).
DEMO_EMAILS ?= $(CURDIR)/.demo-emails

.PHONY: demo test lint format bench bench-clickhouse clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: export EMAIL_BACKEND = django.core.mail.backends.filebased.EmailBackend
demo: export EMAIL_FILE_PATH = $(DEMO_EMAILS)
demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py setup_schedules
	$(PY) manage.py demo_admin
	@echo ""
	@echo "  Admin:     http://$(HOST):$(PORT)/admin/"
	@echo "  API docs:  http://$(HOST):$(PORT)/api/docs/"
	@echo "  API base:  http://$(HOST):$(PORT)/api/v1/   (key: $(PY) manage.py create_api_key NAME)"
	@echo "  Emails:    written to $(DEMO_EMAILS)/ (one file per email), not sent"
	@echo ""
	@$(PY) scripts/demo_run.py $(PY) $(HOST):$(PORT)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@echo "== pytest on SQLite =="
	DATABASE_URL=sqlite:///$(CURDIR)/.test-db.sqlite3 $(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)
	@if $(PY) scripts/db_reachable.py "$(TEST_DATABASE_URL)"; then \
	  echo "== pytest on PostgreSQL =="; \
	  DATABASE_URL="$(TEST_DATABASE_URL)" $(VENV)/bin/pytest -n 2 $(PYTEST_ARGS); \
	elif [ -n "$(REQUIRE_POSTGRES)" ]; then \
	  echo "PostgreSQL is required (REQUIRE_POSTGRES) but not reachable at $(TEST_DATABASE_URL)"; exit 1; \
	else \
	  echo "== PostgreSQL not reachable at $(TEST_DATABASE_URL): its run (and the concurrency tests) skipped =="; \
	fi

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/partitions.py
	$(PY) bench/marks.py
	$(PY) bench/close_cycles.py
	$(PY) bench/pdf.py
	$(PY) bench/usage_reads.py
	$(PY) bench/event_debugger.py
	$(PY) bench/backtest.py
	$(PY) bench/entitlements.py
	$(PY) bench/finance.py

# Usage reads on ClickHouse beside PostgreSQL (starts the two local ClickHouse servers).
bench-clickhouse: $(STAMP)
	scripts/clickhouse_local.sh start
	$(PY) bench/clickhouse_reads.py

clean:
	rm -rf $(VENV) .test-db.sqlite3 .pytest_cache .ruff_cache
