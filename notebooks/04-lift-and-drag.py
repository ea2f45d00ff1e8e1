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
# # 04 · Lift and drag: a steady 3D flow surrogate tiled along a long channel
#
# The lift-and-drag study (`surrogates.studies.lift_drag`). The lattice Boltzmann solver
# (recipe `datasets/obstacles-lbm-3d`, D3Q19, shrunk) runs 4 m channel sections with
# three or four random balls and cubes at Re between 10 and 40 until their flow is
# steady: inlet at x = 0, pressure outlet, no-slip walls in y, periodic in z. The study
#
# 1. trains a surrogate that maps the obstacle mask, its signed distance field, the
#    undisturbed inflow and two upstream-wake fields to the **steady** pressure and
#    velocity, conditioned on Re;
# 2. applies it, tile by tile, along an 8 m channel that holds six obstacles (three at
#    the quick size), none placed as in training (its own seed), at Re = 30;
# 3. computes the drag and lift coefficient of every obstacle from the *predicted*
#    fields and from the LBM's steady fields, with the same diagnostic;
# 4. measures the speedup at matched accuracy: how long the LBM must run before its
#    drag is as close to the steady value as the surrogate's.
#
# Why steady: at these Reynolds numbers the flow past the obstacles settles. Before
# it does, the frames carry the sound waves of the impulsive start (C_D jumps by
# 10–50 % from one 0.2 s frame to the next), which no flow surrogate can predict;
# after it, a time-stepping surrogate has nothing left to do but hold the state.
#
# **Run time** (2-core machine): about 5 minutes at the default `laptop` size (12
# sections, 600 training steps, the full long channel; the study's docstring); with
# `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) about 20 seconds. The `full` size (13
# minutes: 32 sections, 2000 steps) gives the numbers of `docs/results.md`.

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
    tempfile.mkdtemp(prefix="04-lift-and-drag-")
    if QUICK
    else REPO / "runs" / "notebooks" / "04-lift-and-drag"
)
WORK = Path(WORK)
print(f"QUICK={QUICK}; writing to {WORK}")

# %%
SIZE = "quick" if QUICK else "laptop"
CHANGES = []  # FIELD=VALUE overrides, e.g. ["fit.max_steps=300", "re=20.0"]

# %% [markdown]
# ## 1 · Settings
#
# `fit` holds the options of `surrogates.fit`: whole cross-sections as crops (the
# network's 20-cell halo is read anyway), reflective padding at the walls and open
# faces (as the rollout pads them), the pressure learned up to a constant
# (`gauge=["p"]`: its level at a point depends on every obstacle down to the outlet,
# which no crop shows, and the force on a closed body does not see a constant), a loss
# that weighs the fluid next to the obstacles 10× and ignores their inside
# (`wall_weight`), and mirrors across the channel, never along the flow.

# %%
settings = studies.settings("lift-drag", SIZE, changes=CHANGES)
pd.Series(dataclasses.asdict(settings), name=SIZE).to_frame()

# %% [markdown]
# ## 2 · Run the study
#
# The LBM datasets (`sections.nc`, `long.nc`) are reused when an earlier run left them in
# `WORK` with the same recipes. The steady state of each run is the average of its last
# frames, with the input fields added: `u_inflow`, the undisturbed inflow profile
# continued along the channel (it tells the network where the walls are); `distance`,
# the signed distance to the nearest obstacle surface, capped at 0.4 m; and
# `wake_short`, `wake_long`, the obstacles upstream of each cell carried down the channel
# by a linear wake model (decay over 0.5 m and 2 m). The two-level `vnet` sees 0.8 m
# upstream and downstream of each cell; the wakes reach further (a body 1.2 m behind
# another still meets fluid 30–40 % slower than the inflow), and without the wake inputs
# the drag of shielded bodies came out 12–23 % too high. The long channel is cut into 2 m
# tiles, each read with the model's halo, and stitched exactly.

# %%
# reuse=True: the results of an earlier run with exactly these settings, if WORK has them
results = studies.run("lift-drag", settings, WORK, reuse=True)

# %% [markdown]
# ## 3 · Drag and lift of every obstacle
#
# `surrogates.compare` with the `forces` set integrates pressure and viscous stress over
# each body's surface (bodies are the connected components of `mask`) and normalises as
# the solver does, C = 2F / (ρ U_mean² A). The same function runs on the LBM's steady
# fields and on the predicted ones; the LBM "at equal cost" is the solver stopped after
# the surrogate's wall time. The solver's own momentum-exchange coefficients of the same
# steady flow show how far two consistent estimates of one field's force lie apart at
# this resolution: a surrogate error below that spread is below what the field can tell.

# %%
Markdown((WORK / "results.md").read_text())

# %%
# The obstacles' drag, from results.json.
columns = ["kind", "x [m]", "C_D LBM", "C_D surrogate", "C_D rel. error", "C_L LBM",
           "C_L surrogate"]  # fmt: skip
pd.DataFrame(results["obstacles"]).set_index("body")[columns].round(3)

# %% [markdown]
# ## 4 · Figures
#
# The LBM's mean drag error against its wall time on its way to the steady state, with
# the surrogate's error and cost (the speedup at matched accuracy: the LBM matches the
# surrogate once its error stays at or below the surrogate's for good); the force
# coefficients of every body over the LBM run; and the streamwise velocity in a
# mid-plane, LBM against surrogate.

# %%
for name in results["figures"]:
    display(Markdown(f"`{name}`"), Image(filename=WORK / name))

# %% [markdown]
# ## 5 · Exploring the outputs
#
# The steady training sections the study wrote (`steady-sections.nc`) are an ordinary
# dataset: here the steady streamwise velocity of one section (the "truth" row) beside
# the undisturbed inflow `u_inflow` (an input of the surrogate), in the plane z = 0.5 m;
# their difference is the obstacles' wakes, what `wake_short` and `wake_long` model.

# %%
from surrogates import plot

sections = surrogates.open_dataset(WORK / "steady-sections.nc")
print(surrogates.io.describe(WORK / "steady-sections.nc"))
steady = sections["u_x"].isel(time=-1)  # the steady state is one averaged frame
inflow = {"u_inflow": sections["u_inflow"]}
plot.slices(steady, inflow, axis="z", isel={"sample": 0}, title="section 0: LBM u_x")

# %% [markdown]
# ## What this run shows
#
# At the `full` size (`docs/results.md`: 32 sections, 2000 training steps, the 8 m
# channel with six obstacles, 2 threads):
#
# - **Forces.** Mean absolute C_D error 4.7 % over the six obstacles (largest 10 %),
#   against 62 % for the LBM stopped after the surrogate's wall time. C_L errors are up
#   to 4 % of C_D, as large as C_L itself for two of the six bodies, whose sign comes out
#   wrong.
# - **Fields.** Relative L2 error of the steady fields 0.059 (u_x), 0.22 (u_y), 0.24
#   (u_z), 0.91 (∇p; the pressure itself is only known up to the drops across the
#   obstacles downstream, which the surrogate does not learn).
# - **Speedup.** The whole channel in 0.27 s against 18.7 s for the LBM to t = 12 s
#   (68×); at matched accuracy — the LBM's drag within the surrogate's 4.7 % for good
#   from t = 4.6 s — 26×. Training (2 min of LBM sections, 10 min of fitting) is paid
#   once for a family of channels and is not in these numbers.
# - The `laptop` size trains on 12 sections for 600 steps and lands between; the quick
#   size only checks the machinery.
