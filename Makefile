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

# The main job on a laptop CPU: cosmology large-volume emulation (workflow 1) at small
# size. Each step is a plain `surrogates` command, so it can be rerun or changed by hand;
# generate resumes where an interrupted run stopped. Ends with a summary table and report/.
DEMO := runs/demo
SURR := $(VENV)/bin/surrogates

demo: $(STAMP)
	rm -rf $(DEMO)/model $(DEMO)/emulated.zarr report
	mkdir -p $(DEMO)
	$(SURR) generate datasets/cosmo-pm-train --out $(DEMO)/train.nc --set samples=8
	$(SURR) inspect $(DEMO)/train.nc
	$(SURR) train cli/demo-cosmology.toml
	$(SURR) generate datasets/cosmo-pm-large --out $(DEMO)/large.nc
	$(SURR) rollout $(DEMO)/model/surrogate.pt $(DEMO)/large.nc --out $(DEMO)/emulated.zarr --memory 2GB
	$(SURR) compare $(DEMO)/emulated.zarr $(DEMO)/large.nc --out report \
		--baseline 2LPT=disp_2lpt --baseline ZA=disp_za

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) report .pytest_cache .ruff_cache
