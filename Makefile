# cdmo-pipeline. The first two targets are all a fresh machine (python3 + make) needs:
#   make run    create .venv, install the locked dependencies, refresh the warehouse
#   make test   the same set-up, then every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: run test ui lint format bench lock clean install docs

run: $(STAMP)
	$(BIN)/cdmo refresh

test: $(STAMP)
	$(BIN)/python -m pytest

ui: $(STAMP)
	$(BIN)/cdmo ui

install: $(STAMP)

# One stamp per lock: reinstall when the lock or the project metadata changes. setuptools
# warns on every editable install that a same-named folder could shadow the package; this
# project is that folder, so the warning is silenced.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

# Re-resolve the lock from pyproject.toml (needs the network).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet "pip==26.3"
	.lockenv/bin/python -m pip install --quiet setuptools wheel ".[dev]"
	(echo '# Exact versions of every dependency (transitive included); regenerate with: make lock'; .lockenv/bin/python -m pip freeze --all --exclude cdmo-pipeline --exclude pip) > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache data/cdmo.duckdb data/reports

# Regenerate docs/TABLES.md from the pandera models.
docs: $(STAMP)
	$(BIN)/python -c "from cdmo_pipeline.core.schemas import markdown_reference; open('docs/TABLES.md', 'w').write(markdown_reference())"
