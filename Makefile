# make run    set up and serve the admin on 127.0.0.1:8000, with the Chat sandbox (SQLite)
# make test   set up and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test deps lint audit bench clean

$(BIN)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

deps: $(BIN)/.installed

run:
	scripts/system_deps.sh run
	$(MAKE) --no-print-directory deps
	$(BIN)/python scripts/make_env.py
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_superuser
	scripts/run.sh

test:
	scripts/system_deps.sh test
	$(MAKE) --no-print-directory deps
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: deps
	$(BIN)/ruff check .

# Known vulnerabilities in any pinned package (pip-audit; needs PyPI's JSON API).
audit: deps
	scripts/audit_deps.sh

# Every benchmark (sandbox load, admin save, bulk sync, admin at scale); on a quiet machine.
bench:
	scripts/system_deps.sh test
	$(MAKE) --no-print-directory deps
	scripts/bench.sh

clean:
	rm -rf $(VENV) var artifacts .pytest_cache
