# Two entry points a newcomer needs: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test lint typecheck pytest pytest-pg15 bench schema clean audit chromium probe-env

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[probe,service,test]'
	touch $(STAMP)

# The service on an embedded PostgreSQL (or $DATABASE_URL), with a local probe measuring
# loopback targets, so data flows at once. Nothing leaves this machine. As root, the blackout
# drill in network namespaces runs first (an event and its webhooks in a few minutes).
run: $(STAMP)
	$(BIN)/cutwatch serve --demo --drill

# The PostgreSQL 15 pass runs even when the first pass failed (both results are wanted);
# the status is the first failure's.
test: lint typecheck chromium probe-env
	@status=0; $(MAKE) --no-print-directory pytest || status=$$?; \
	$(MAKE) --no-print-directory pytest-pg15 || status=$$?; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check cutwatch probes api detectors tests setup.py

typecheck: $(STAMP)
	$(BIN)/mypy

# On both cores (pytest-xdist, a file per worker at a time), then the tests marked `serial`
# (timing-sensitive: tests/conftest.py) alone; both run, the status is the first failure's.
pytest: $(STAMP)
	@status=0; $(BIN)/pytest -q -n 2 --dist loadfile -m "not serial" || status=$$?; \
	$(BIN)/pytest -q -m serial || status=$$?; exit $$status

# The storage tests again on a throwaway PostgreSQL 15 cluster (the oldest version supported),
# installing Debian's postgresql-15 as root when missing, else one line and no failure.
pytest-pg15: $(STAMP)
	PYTEST=$(BIN)/pytest bash tests/pg15.sh

# The drill's probes run from the probe's own wheel in a virtualenv of their own (cached under
# ~/.cache/cutwatch): built here, in the set-up, so the tests never install anything.
probe-env: $(STAMP)
	$(BIN)/python -m cutwatch.api.drill.probe_env >/dev/null

# The dashboard's browser tests drive Debian's chromium: installed as root when missing,
# else one line and those tests skip.
chromium:
	bash tests/dashboard/chromium.sh

bench: $(STAMP)
	$(BIN)/python -m tests.bench

# Regenerate the checked-in JSON Schema of the wire format after changing cutwatch/wire.py.
schema: $(STAMP)
	$(BIN)/python -c 'import json; from cutwatch.wire import json_schema; print(json.dumps(json_schema(), indent=2, sort_keys=True))' > docs/wire-format.schema.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Pinned versions against published advisories (docs/operations.md, "Security"); needs PyPI.
audit: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[audit]'
	$(BIN)/pip-audit --requirement constraints.txt --no-deps --disable-pip -s pypi --strict

# The blackout drill (root): real probes and collector in network namespaces, real cuts.
.PHONY: drill
drill: $(STAMP)
	$(BIN)/cutwatch drill
