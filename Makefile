# The two commands of a fresh machine (python3 and make are all they assume):
#   make run    the demo corridor on the embedded default: a hub and three partner nodes, seeded, the saga run, the report
#   make test   run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROJECTS := contracts runtime services/profiles services/matching services/notifications services/reporting

.PHONY: install run test test-unit test-integration faults schemas asyncapi bench clean

$(VENV)/.installed: requirements-dev.txt $(foreach p,$(PROJECTS),$(p)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(foreach p,$(PROJECTS),-e $(p)) -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/corridor demo $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/python -m pytest tests/unit tests/contract

test-integration: install
	$(BIN)/python -m pytest tests/integration

# The fault suite alone, with its figures; CORRIDOR_FAULT_PROFILE=long for the long profile (about 15 min).
faults: install
	$(BIN)/python -m pytest tests/faults -s $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/pipeline.py $(ARGS)

schemas: install
	$(BIN)/python -m corridor_contracts.jsonschemas

# docs/asyncapi.yaml, the AsyncAPI document of every channel, from the contracts (--check: compare only).
asyncapi: install
	$(BIN)/python -m corridor_runtime.asyncapi $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
