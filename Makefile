# `make deck` builds the example vault's decks into dist/; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
VAULT  ?= examples/vault
OUT    ?= dist
ARGS   ?=

.PHONY: deck test dist fixtures lint bench fuzz fuzz-properties fuzz-vault install install-test clean

deck: $(VENV)/.installed
	$(PY) build_deck.py "$(VAULT)" -o "$(OUT)" $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest -n 2 -q $(ARGS)

# `make fixtures` rewrites tests/fixtures/**/expected files from the code and prints the diff:
# after a deliberate change of output, review it before committing.
fixtures: $(VENV)/.installed-test
	$(PY) tests/fixture_cases.py --write

# `make dist` builds the sdist and the wheel into dist-pkg/ and checks them with twine (the
# test suite installs that wheel into a fresh venv and builds the example vault with it).
DIST ?= dist-pkg
dist: $(VENV)/.installed-test
	rm -rf $(DIST)
	$(PY) -m build --no-isolation --sdist --wheel -o $(DIST) .
	$(VENV)/bin/twine check --strict $(DIST)/*

# `make fuzz` runs every property test (hypothesis) with thousands of examples: generated notes,
# Markdown, clozes, syntaxes and sounds, the plugins' settings files (data.json), review comments,
# clozes in every syntax and crafted collections for `adopt` (tests/test_fuzz_surfaces.py)
# (ANKIGEN_FUZZ_EXAMPLES each), then hostile vault trees through the whole build
# (FUZZ_EXAMPLES). `make test` runs a few hundred, always the same.
PROPERTY_EXAMPLES ?= 5000
FUZZ_EXAMPLES ?= 1000
fuzz: fuzz-properties fuzz-vault

fuzz-properties: $(VENV)/.installed-test
	ANKIGEN_FUZZ_EXAMPLES=$(PROPERTY_EXAMPLES) $(PY) -m pytest -n 2 -q -p no:cacheprovider \
		-m hypothesis --deselect tests/test_fuzz_vault.py $(ARGS)

fuzz-vault: $(VENV)/.installed-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		--hypothesis-show-statistics tests/test_fuzz_vault.py $(ARGS)

# mypy checks the type hints ([tool.mypy]); lint-imports checks the layers ([tool.importlinter],
# README "Development").
# zizmor (a GitHub Actions linter, from PyPI) checks the workflows and action.yml: actions
# pinned by commit, no persisted credentials, no cache in the release job, no injection.
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/zizmor --offline --no-progress --quiet .github/workflows action.yml

# The peer, pinned, in a venv of the benchmark's own (misaka, its Markdown parser, is built
# from source: a C compiler is needed).
BENCH_VENV      ?= bench/.venv
ANKDOWN_VERSION ?= 0.7.1
GEN_VAULT       ?= bench/gen_vault.py  # the workload generator, part of the repository

bench: $(VENV)/.installed $(BENCH_VENV)/.installed
	$(PY) bench/run.py --ankdown $(BENCH_VENV)/bin/ankdown --gen-vault $(GEN_VAULT) $(ARGS)

$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet "ankdown==$(ANKDOWN_VERSION)"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e '.[mermaid]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(OUT) $(DIST) build .pytest_cache .ruff_cache .hypothesis *.egg-info
