# The two commands of the README: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo demo-train turbulence lift-drag lint bench venv clean

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

# The main job on a laptop CPU: cosmology large-volume emulation (workflow 1). A box 4x
# larger per side than the training boxes, at an Omega_m and seed no training box used, is
# simulated with the PM solver, emulated tile by tile by the shipped full-size surrogate
# (models/cosmology/, produced by `make demo-train`) and compared with the PM truth and the
# 2LPT and ZA baselines. Ends with a summary table and report/. MODEL=... rolls out another
# artifact, e.g. the one `make demo-train` writes.
DEMO  := runs/demo
SURR  := $(VENV)/bin/surrogates
MODEL ?= models/cosmology/surrogate.pt

demo: $(STAMP)
	rm -rf $(DEMO)/emulated.zarr report
	mkdir -p $(DEMO)
	$(SURR) generate datasets/cosmo-pm-large --out $(DEMO)/large.nc --overwrite
	$(SURR) inspect $(DEMO)/large.nc
	$(SURR) rollout $(MODEL) $(DEMO)/large.nc --out $(DEMO)/emulated.zarr --tile 64 --memory 2GB
	$(SURR) compare $(DEMO)/emulated.zarr $(DEMO)/large.nc --out report \
		--baseline 2LPT=disp_2lpt --baseline ZA=disp_za

# Reproduce the shipped surrogate: 64 training boxes, then the full-size training of
# cli/train-cosmology.toml (resumable: rerun after an interruption). Then
# `make demo MODEL=runs/cosmology/surrogate.pt` evaluates it.
demo-train: $(STAMP)
	$(SURR) generate datasets/cosmo-pm-train --out runs/cosmology/train.nc --overwrite
	$(SURR) train cli/train-cosmology.toml --resume
	@echo "next: make demo MODEL=runs/cosmology/surrogate.pt"

# Workflows 2 and 3, one command each; each prints where its figures and numbers went.
turbulence: $(STAMP)
	$(PY) workflows/turbulence.py

lift-drag: $(STAMP)
	$(PY) workflows/lift_drag.py

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) report .pytest_cache .ruff_cache
