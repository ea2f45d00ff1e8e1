# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Turbulence: a coarse-grained world model of forced isotropic turbulence
#
# The turbulence study (`surrogates.studies.turbulence`). The pseudo-spectral
# Navier–Stokes solver (recipe `datasets/turbulence-ns`) produces forced isotropic
# turbulence whose forcing amplitude A(t) — Lundgren's linear forcing f = A(t) u —
# changes piecewise in time. The study
#
# 1. box-filters the DNS velocity to a grid `factor`× coarser per axis,
# 2. trains `vnet`, `fno` and (with the `bench` extra) neuraloperator's FNO on the same
#    data, with the same loss and the same wall-clock budget, to advance the coarse
#    state by one stored frame (0.5 time units), conditioned on A,
# 3. rolls each out on a periodic box 2× larger per side than the training boxes,
#    driven by that run's own forcing schedule,
# 4. reports, against the filtered DNS of the large box: the error versus rollout step
#    (with the "frozen flow" persistence baseline), E(k) and ε over time, and the speedup
#    over the solver — also at matched accuracy, against the same solver run on a ladder
#    of coarser grids.
#
# **Run time** (2-core machine): about 6 minutes at the default `laptop` size (the
# study's docstring; a loaded machine can be several times slower); with
# `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) 30–40 seconds. The `full` size (32
# minutes, 21 of them the DNS) gives the figures of `docs/results.md`.

# %%
# %matplotlib inline
import dataclasses
import os
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

import surrogates
from surrogates import studies

# QUICK picks the study's "quick" size, so that the test suite runs this notebook in seconds.
QUICK = os.environ.get("SURROGATES_NOTEBOOK_QUICK") == "1"
# The repository checkout (editable install): the dataset recipes live in datasets/.
REPO = Path(surrogates.__file__).resolve().parents[1]
# Everything this notebook writes goes under WORK: the study's output folder.
WORK = os.environ.get("SURROGATES_NOTEBOOK_WORK") or (
    tempfile.mkdtemp(prefix="03-turbulence-")
    if QUICK
    else REPO / "runs" / "notebooks" / "03-turbulence"
)
WORK = Path(WORK)
print(f"QUICK={QUICK}; writing to {WORK}")

# %%
SIZE = "quick" if QUICK else "laptop"
CHANGES = []  # FIELD=VALUE overrides, e.g. ["budget=60", "models=['vnet']"]

# %% [markdown]
# ## 1 · Settings
#
# One frozen dataclass holds every size and option. At the `laptop` size the DNS is 32³
# at ν = 0.04 (resolved at that size; the recipe's ν = 0.02 needs 64³), filtered 2× to
# 16³, and every model gets a 40 s training budget; `full` filters the recipe's own 64³
# DNS 4×.

# %%
settings = studies.settings("turbulence", SIZE, changes=CHANGES)
pd.Series(dataclasses.asdict(settings), name=SIZE).to_frame()

# %% [markdown]
# ## 2 · Run the study
#
# The DNS files are reused when an earlier run left them in `WORK` with the same recipe;
# with `reuse=True` the results of an earlier run with exactly these settings are returned
# (set `reuse=False` to run again).
# Coarse-graining is a box filter of width `factor` cells followed by subsampling; each
# model's training task advances the three velocity components by `lead=1` stored frame,
# with the forcing amplitude at the current frame as the parameter, and learns the
# increment. Each rollout starts from the first filtered frame of the large box and
# re-tiles the whole new state with the periodic halo at every step.

# %%
results = studies.run("turbulence", settings, WORK, reuse=True)

# %% [markdown]
# ## 3 · Scores
#
# One row per model, then persistence (the initial coarse field held fixed: the baseline
# any world model must beat) and the solver ladder (`DNS m^3`: the same solver on an m³
# grid from the DNS's first frame, same forcing, coarse-grained like the truth). "L2 step
# n" is the relative L2 error of the velocity after n steps; "mean abs eps err" the mean
# relative error of the dissipation rate ε = 2ν⟨s_ij s_ij⟩ over the rollout; "speedup"
# the solver's cost per unit of simulated time over the model's.

# %%
Markdown((WORK / "results.md").read_text())

# %%
# Relative L2 error against the rollout step, from results.json.
steps = {name: rec["relative_l2"] for name, rec in results["models"].items()}
steps["persistence"] = results["persistence"]["relative_l2"]
pd.DataFrame(steps).rename_axis("step").round(3)

# %% [markdown]
# ## 4 · Figures
#
# Error versus step (models, persistence and two solver runs), the energy spectrum E(k)
# at the last step on the coarse grid's resolved shells, and ε over time.

# %%
for name in results["figures"]:
    display(Markdown(f"`{name}`"), Image(filename=WORK / name))

# %% [markdown]
# ## 5 · Exploring the outputs
#
# The coarse training set the study wrote (`coarse-train.nc`, the data of
# `cli/train-turbulence.toml`) is an ordinary dataset: here u_x of one realisation at its
# first and last frames, in a plane through the box.

# %%
from surrogates import plot

coarse = surrogates.open_dataset(WORK / "coarse-train.nc")
print(surrogates.io.describe(WORK / "coarse-train.nc"))
first, last = coarse["u_x"].isel(time=0), coarse["u_x"].isel(time=-1)
plot.slices(first, {"last frame": last}, isel={"sample": 0}, title="u_x: first frame vs last")

# %% [markdown]
# ## What this run shows
#
# At the `full` size (`docs/results.md`: 64³ DNS at ν = 0.02 filtered 4× to 16³, 180 s
# of training per model, 12 rollout steps on the 32³ coarse grid of the 128³ box):
#
# - **Error vs step.** The vnet's relative L2 error is 0.30 after one step, against
#   0.73 for persistence; after about six steps (three time units, two large-eddy
#   turnovers) every model is as decorrelated from the truth as persistence.
# - **ε.** The vnet's mean ε error is 0.12; the FNOs lose a third of ε in the first step
#   and then pile energy up at small scales (ε 2.4–3.3× too high at step 12): the usual
#   failure of an autoregressive model trained on single steps.
# - **Speedup at matched accuracy.** In ε the vnet lies between the solver on 40³ and on
#   48³: 4.8–10× cheaper than the solver run that is as accurate (over five trainings
#   between 1.9× and 12×). Neither FNO has a speedup at matched accuracy.
# - At the `laptop` size (2× filtering of a nearly resolved DNS) the solver on the
#   coarse grid itself is more accurate than every network: coarse-graining pays where
#   the coarse grid cannot resolve the flow. The quick size only checks the machinery.
