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
# # 01 · Quickstart: data → surrogate → large-box rollout → comparison
#
# The whole toolkit in one pass, on cosmology data small enough for a laptop:
#
# 1. generate a tiny training set with the particle-mesh (PM) reference solver
#    (recipe `datasets/cosmo-pm-train`, shrunk) and one box twice as large per side;
# 2. open it as the canonical dataset and describe it;
# 3. train a tiny `vnet` that maps the Zel'dovich (ZA) displacement to the PM
#    displacement, conditioned on Ω_m;
# 4. roll it out tile by tile over the larger box (and check that tiling is exact);
# 5. compare with the PM truth: a metrics table, P(k) / T(k) / r(k) and density slices.
#
# **Run time** (measured on a shared, busy 2-core machine): 2¼ minutes, most of it
# training; with `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) about 20 seconds. The
# surrogate is far too small and too briefly trained to be good: this notebook shows the
# steps; `02-cosmology-large-volume` runs the cosmology study with the shipped surrogate.

# %%
# %matplotlib inline
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import surrogates

# QUICK shrinks every size so that the test suite runs this notebook in seconds.
QUICK = os.environ.get("SURROGATES_NOTEBOOK_QUICK") == "1"
# The repository checkout (editable install): the dataset recipes live in datasets/.
REPO = Path(surrogates.__file__).resolve().parents[1]
if not (REPO / "datasets").is_dir():
    raise RuntimeError(f"{REPO} holds no datasets/ folder: run from a repository checkout")
# Everything this notebook writes goes under WORK.
WORK = os.environ.get("SURROGATES_NOTEBOOK_WORK") or (
    tempfile.mkdtemp(prefix="01-quickstart-")
    if QUICK
    else REPO / "runs" / "notebooks" / "01-quickstart"
)
WORK = Path(WORK)
WORK.mkdir(parents=True, exist_ok=True)
print(f"QUICK={QUICK}; writing to {WORK}")


def save_results(results: dict) -> Path:
    """Write the headline numbers to WORK/results.json (atomically)."""
    path = WORK / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)
    return path


# %%
# Sizes. The particle spacing stays at the recipe's 4 Mpc/h, so boxes of different
# sizes share one grid spacing (a surrogate only runs on the spacing it was trained on).
N_TRAIN = 16 if QUICK else 32  # particles per side of a training box
N_TEST = 2 * N_TRAIN  # the larger box the surrogate never saw
SAMPLES = 4 if QUICK else 8  # training boxes, Omega_m ~ U[0.2, 0.4]
FIT = dict(
    crop=8 if QUICK else 16,  # core cells of a training crop (+ the model's halo)
    batch_size=4,
    max_steps=20 if QUICK else 150,
    lr=2e-3,
    model_config=dict(width=8, levels=1, blocks=1),  # ~27k parameters, halo 8
    val_fraction=0.25,
    val_batches=2 if QUICK else 8,  # validation batches per check
    progress=not QUICK,
)

# %% [markdown]
# ## 1 · Generate data with the PM solver
#
# A dataset recipe (`datasets/<name>/recipe.toml`) names the solver, its parameters and
# the number of realisations; overrides shrink it. Every realisation here is a FastPM
# run from z = 9 to z = 0 that stores the ZA, 2LPT and PM displacements of every
# particle on its Lagrangian lattice.

# %%
from surrogates.solvers.recipe import load_recipe, run_recipe

spacing = [f"box_size={4.0 * N_TRAIN}", f"n={N_TRAIN}"]
train_recipe = load_recipe(REPO / "datasets/cosmo-pm-train", [f"samples={SAMPLES}", *spacing])
test_recipe = load_recipe(
    REPO / "datasets/cosmo-pm-large", [f"n={N_TEST}", f"box_size={4.0 * N_TEST}"]
)
t0 = time.perf_counter()
train_path = run_recipe(train_recipe, WORK / "train.nc", resume=False, overwrite=True)
test_path = run_recipe(test_recipe, WORK / "test.nc", resume=False, overwrite=True)
print(
    f"PM solver: {SAMPLES} training boxes of {N_TRAIN}^3 and one {N_TEST}^3 box"
    f" in {time.perf_counter() - t0:.1f} s"
)

# %% [markdown]
# ## 2 · Open and inspect
#
# `surrogates.open_dataset` returns the canonical `xarray.Dataset` (lazy: nothing is
# read until used); `surrogates.io.describe` summarises any supported file.

# %%
train = surrogates.open_dataset(train_path)
print(surrogates.io.describe(train_path))

# %% [markdown]
# ## 3 · Train a tiny surrogate
#
# A `Task` says what to learn: the three ZA displacement components in, the three PM
# components out, Ω_m as the conditioning parameter, and `residual=True` so the network
# learns the correction PM − ZA. `surrogates.fit` returns a `Surrogate`; with `out_dir`
# it also writes the single-file artifact `surrogate.pt` and the training logs.

# %%
axes = ("x", "y", "z")
task = surrogates.Task(
    inputs=[f"disp_za_{a}" for a in axes],
    targets=[f"disp_{a}" for a in axes],
    params=["Omega_m"],
    residual=True,
)
t0 = time.perf_counter()
surrogate = surrogates.fit(train, task, model="vnet", out_dir=str(WORK / "model"), **FIT)
fit_seconds = time.perf_counter() - t0
print(surrogate)
print(f"trained {surrogate.metadata.provenance['steps']} steps in {fit_seconds:.0f} s")

# The artifact loads anywhere (weights only: nothing is unpickled).
surrogate = surrogates.load(WORK / "model" / "surrogate.pt")

# %% [markdown]
# ## 4 · Roll out over a larger box, tile by tile
#
# `surrogates.rollout.rollout` splits the domain into tiles (each read with the
# model's halo, periodic axes wrapping), applies the surrogate and stitches the cores.
# The `vnet` uses valid convolutions only, so tiling is exact: the tiled result equals
# one application to the whole box up to float32 round-off.

# %%
from surrogates.rollout import rollout

truth = surrogates.open_dataset(test_path)
t0 = time.perf_counter()
prediction = rollout(surrogate, truth, tile=N_TRAIN, progress=False)
print(f"rollout in {time.perf_counter() - t0:.2f} s:", prediction.attrs["rollout_plan"])

whole = surrogate.predict(truth)  # one window over the whole (small enough) box
tiling_error = max(float(abs(prediction[v] - whole[v]).max()) for v in task.targets)
print(f"max |tiled - whole-box| = {tiling_error:.2e} Mpc/h")

# %% [markdown]
# ## 5 · Compare with the truth
#
# `surrogates.compare` checks that the grids match and returns one tidy Dataset: error
# metrics per variable, and — because the fields are particle displacements — the
# cosmology set: density P(k), T(k) = √(P_model / P_truth), the cross-correlation r(k),
# ξ(r) and halo mass functions. Baselines are named by a variable stem of the truth:
# the ZA displacement is the input, so beating it is the least a surrogate must do.

# %%
import pandas as pd

result = surrogates.compare(prediction, truth, baselines={"ZA": "disp_za"}, min_members=10)
k = result["k"]
half_nyquist = k <= 0.5 * result.attrs["k_nyquist"]


def summary(result):
    rows = {}
    for model in result["model"].values:
        m = result.sel(model=model).isel(sample=0)
        rows[str(model)] = {
            "rmse [Mpc/h]": float(m["rmse"].mean("variable")),
            "nRMSE": float(m["nrmse"].mean("variable")),
            "r(k_min)": float(m["cross_correlation"][0]),
            "min r(k ≤ k_N/2)": float(m["cross_correlation"].where(half_nyquist).min()),
            "max |T-1| (k ≤ k_N/2)": float(abs(m["transfer"] - 1).where(half_nyquist).max()),
        }
    return pd.DataFrame(rows).T


table = summary(result)
table.round(4)

# %%
from surrogates import plot

fig = plot.power_spectra(result)
fig.savefig(WORK / "power_spectra.png")
fig

# %%
from surrogates.compare import density_field


def log_density(ds):
    """log(1 + δ) of the particles (CIC-painted on the particle lattice), sample 0."""
    delta = density_field(ds).isel(sample=0)
    return np.log1p(delta.clip(min=-0.99)).assign_attrs(long_name="log(1 + δ)", units="1")


# An 8 Mpc/h slab through the middle of the box.
fig = plot.slices(log_density(truth), {"surrogate": log_density(prediction)}, thickness=2)
fig.savefig(WORK / "density_slices.png")
fig

# %%
results = {
    "quick": QUICK,
    "fit_seconds": fit_seconds,
    "tiling_max_abs_diff": tiling_error,
    "k_min": float(k[0]),
    "table": table.to_dict(orient="index"),
}
print("results in", save_results(results))

# %% [markdown]
# ## Next
#
# - `02-cosmology-large-volume`: the cosmology study — the shipped full-size surrogate
#   (a residual on 2LPT, `cli/train-cosmology.toml`) rolled out on a box 4× larger per
#   side, against the 2LPT and ZA baselines, with halo mass functions.
# - `03-turbulence` and `04-lift-and-drag`: the other two studies (`surrogates.studies`).
# - `surrogates train cli/train-cosmology.toml` runs the full-size training from the
#   command line; `surrogates rollout` and `surrogates compare` do steps 4 and 5.
