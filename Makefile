# `make deck` builds the example vault's decks into dist/; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
VAULT  ?= examples/vault
OUT    ?= dist
ARGS   ?=

.PHONY: deck test lint bench fuzz fuzz-properties install install-test clean

deck: $(VENV)/.installed
	$(PY) build_deck.py "$(VAULT)" -o "$(OUT)" $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest -n 2 -q $(ARGS)

# Generated notes and Markdown through the splitter and renderer (tests/test_properties.py):
# thousands of examples each; `make test` runs a few hundred.
PROPERTY_EXAMPLES ?= 5000
fuzz-properties: $(VENV)/.installed-test
	ANKIGEN_FUZZ_EXAMPLES=$(PROPERTY_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		--hypothesis-show-statistics tests/test_properties.py $(ARGS)

# Hostile vault trees through the whole build (tests/test_fuzz_vault.py); `make test` runs a few.
FUZZ_EXAMPLES ?= 1000
fuzz: $(VENV)/.installed-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		--hypothesis-show-statistics tests/test_fuzz_vault.py $(ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	$(PY) bench/run.py $(ARGS)

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache .hypothesis *.egg-info
