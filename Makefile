# make run    set up and serve the admin on 127.0.0.1:8000, with the Chat sandbox (SQLite)
# make test   set up and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test deps messages catalogue lint audit bench clean

$(BIN)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

deps: $(BIN)/.installed

# The compiled translation catalogues (.mo), built from the .po files kept in locale/.
messages: deps
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py compilemessages --ignore '.venv' -v 0

# The .po brought up to date with the code's messages (docs/glossary.md has the words to translate them with).
catalogue: deps
	for domain in django djangojs; do \
	  DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemessages -d $$domain -l zh_Hans \
	    --no-obsolete -v 0 -i '.venv/*' -i 'tests/*' -i 'bench/*' -i 'var/*' -i 'scripts/*' -i 'artifacts/*'; \
	done

run:
	scripts/system_deps.sh run
	$(MAKE) --no-print-directory messages
	$(BIN)/python scripts/make_env.py
	$(BIN)/python manage.py migrate --noinput
	scripts/run.sh

test:
	scripts/system_deps.sh test
	$(MAKE) --no-print-directory messages
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
