# The verbs people type. Each target bootstraps what it needs: a fresh machine with Python >= 3.10 and pip is enough.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MELTANO_VENV ?= .venv-meltano
INSTALLED := $(VENV)/.installed

.PHONY: help install test demo bench lint clean constraints dist

help:
	@echo "make demo   start the local OpenProject double, run 'meltano run tap-openproject target-jsonl', show what landed"
	@echo "make test   run the whole test suite against the local double"
	@echo "make bench  measure speed and memory against the double (writes bench/results.md)"
	@echo "make lint   ruff, mypy, bandit, the import-layer contract and the size limits"
	@echo "make dist   build the sdist and the wheel into dist/"

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(INSTALLED)

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

demo: $(INSTALLED)
	PYTHON=$(PYTHON) VENV=$(VENV) MELTANO_VENV=$(MELTANO_VENV) bash scripts/demo.sh

bench: $(INSTALLED)
	$(BIN)/python -m bench

lint: $(INSTALLED)
	$(BIN)/python -m pip install --quiet 'ruff>=0.6,<1' 'mypy>=1.10,<2' 'types-requests>=2.32,<3' 'bandit>=1.7,<2' \
		'import-linter>=2.1,<3'
	$(BIN)/ruff check tap_openproject tests bench scripts
	$(BIN)/mypy tap_openproject
	$(BIN)/bandit --quiet --recursive tap_openproject
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_sizes.py tap_openproject

dist: $(INSTALLED)
	$(BIN)/python -m build --outdir dist .

# Re-pin constraints.txt from a fresh install of .[test] (run after changing dependency ranges in pyproject.toml).
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/python -m pip install --quiet -e '.[test]'
	{ sed -n '/^#/p' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .meltano output .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
