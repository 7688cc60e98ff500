# Patron — the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := src
export DJANGO_SETTINGS_MODULE := patron.settings
DEMO_MEMBERS ?= 20000
DEMO_MONTHS ?= 24
DEMO_ENV := PATRON_DEBUG=1

.PHONY: demo test test-spark lint bench serve worker scheduler assets install install-dev browser migrate demo-data clean check-postgres

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# Front-end assets come from the npm registry by the lockfile and are copied into static/vendor.
src/patron/static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p src/patron/static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js src/patron/static/vendor/
	cp node_modules/echarts/dist/echarts.min.js src/patron/static/vendor/
	touch $@

assets: src/patron/static/vendor/.installed

# Debian's chromium for the browser tests; installed only when missing.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

migrate: install assets
	$(DEMO_ENV) $(BIN)/patron migrate --noinput

demo-data: migrate
	$(DEMO_ENV) $(BIN)/patron demo-data --members $(DEMO_MEMBERS) --months $(DEMO_MONTHS) --seed 7 --if-empty

demo: demo-data
	@$(DEMO_ENV) $(BIN)/patron demo-logins
	$(DEMO_ENV) $(BIN)/patron runserver 127.0.0.1:8000

serve: migrate
	$(BIN)/gunicorn patron.wsgi --workers 3 --bind 127.0.0.1:8000

worker: migrate
	$(BIN)/patron db_worker

scheduler: migrate
	$(BIN)/patron scheduler

test: install-dev assets browser
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/pytest -n 2

$(BIN)/.installed-spark: $(BIN)/.installed-dev pyproject.toml
	@command -v java >/dev/null || (echo "make test-spark needs Java 17 (java on PATH)" >&2; exit 1)
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

# The analytics batch on Spark next to DuckDB (PySpark local mode, Java 17): CI runs it too.
test-spark: $(BIN)/.installed-spark
	PATRON_TEST_SPARK=1 DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/pytest -m spark

lint: install-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	PATRON_DEBUG=1 $(BIN)/mypy src
	$(BIN)/lint-imports

BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres

# Every bench prints its figures next to its peer; the import bench runs once per database.
bench: install-dev assets
	PATRON_DEBUG=1 $(BIN)/python bench/run_all.py
	DATABASE_URL=$(BENCH_PG_URL) PATRON_DEBUG=1 $(BIN)/python bench/run_all.py --only import

clean:
	rm -rf $(VENV) node_modules src/patron/static/vendor var

# Refresh the zh_Hans catalog from the sources (existing translations are kept) and compile it.
.PHONY: messages
messages:
	cd src/patron && PATRON_DEBUG=1 PYTHONPATH=.. ../../$(BIN)/python -m patron makemessages -l zh_Hans --ignore "static/*" --ignore "*/migrations/*"
	cd src/patron && PATRON_DEBUG=1 PYTHONPATH=.. ../../$(BIN)/python -m patron compilemessages --locale zh_Hans
