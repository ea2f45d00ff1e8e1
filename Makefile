# The two commands of the README: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo demo-train turbulence lift-drag lint bench docs venv clean

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

# The main job on a laptop CPU: the cosmology study (surrogates/studies/cosmology.py) at
# its laptop size. A box 4x larger per side than the training boxes, at an Omega_m and seed
# no training box used, is simulated with the PM solver, emulated tile by tile by the
# shipped surrogate (pretrained/cosmology/, produced by `make demo-train`) and compared with the
# PM truth and the 2LPT and ZA baselines. Ends with a summary table; the report (metrics,
# figures) is in runs/studies/cosmology/report/. MODEL=... rolls out another artifact, e.g.
# the one `make demo-train` writes; SIZE=full adds the speedup at matched accuracy.
SURR  := $(VENV)/bin/surrogates
MODEL ?= pretrained/cosmology/surrogate.pt
STUDY  = $(SURR) study $(1) --out runs/studies/$(1) --size $(2)

demo: $(STAMP)
	$(call STUDY,cosmology,$(or $(SIZE),laptop)) --set model=$(MODEL)

# Reproduce the shipped surrogate: 64 training boxes, then the full-size training of
# cli/train-cosmology.toml (resumable: rerun after an interruption). Then
# `make demo MODEL=runs/cosmology/surrogate.pt` evaluates it.
demo-train: $(STAMP)
	$(SURR) generate datasets/cosmo-pm-train --out runs/cosmology/train.nc --overwrite
	$(SURR) train cli/train-cosmology.toml --resume
	@echo "next: make demo MODEL=runs/cosmology/surrogate.pt"

# The turbulence and lift-and-drag studies at the size of docs/results (SIZE=laptop or
# quick for less); each writes results.md, results.json and figures under runs/studies/.
turbulence: $(STAMP)
	$(call STUDY,turbulence,$(or $(SIZE),full))

lift-drag: $(STAMP)
	$(call STUDY,lift-drag,$(or $(SIZE),full))

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) report .pytest_cache .ruff_cache

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet
