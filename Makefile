# The two commands of the README: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo lint bench venv clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

# The main job on a laptop CPU. Each step is a plain `surrogates` command, so it can be
# rerun or changed by hand; generate resumes where an interrupted run stopped.
DEMO := runs/demo
SURR := $(VENV)/bin/surrogates

demo: $(STAMP)
	mkdir -p $(DEMO)
	$(SURR) generate datasets/cosmo-pm-train --out $(DEMO)/train.nc --set samples=8
	$(SURR) inspect $(DEMO)/train.nc
	$(SURR) convert $(DEMO)/train.nc --out $(DEMO)/train.zarr
	$(SURR) inspect $(DEMO)/train.zarr

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) report .pytest_cache .ruff_cache
