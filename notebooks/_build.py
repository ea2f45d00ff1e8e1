"""Write the notebooks of this folder from the cell lists below (run it after editing them).

    .venv/bin/python notebooks/_build.py            # (re)write every notebook
    .venv/bin/python notebooks/_build.py 03         # only those whose name contains "03"

The notebooks are generated so that they can be reviewed as code: edit the cells here,
never the ``.ipynb`` files. Outputs are never committed (the generated files have none);
``tests/test_notebooks.py`` executes every notebook top to bottom in QUICK mode.
"""

# ruff: noqa: E501  (cells are indented 8 spaces here; the notebooks are formatted at 100)
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str) -> tuple[str, str]:
    return "markdown", textwrap.dedent(text).strip()


def code(text: str) -> tuple[str, str]:
    return "code", textwrap.dedent(text).strip()


def setup(name: str) -> tuple[str, str]:
    """The environment cell every notebook starts with: QUICK switch and working folder."""
    return code(
        f'''
        %matplotlib inline
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
            raise RuntimeError(f"{{REPO}} holds no datasets/ folder: run from a repository checkout")
        # Everything this notebook writes goes under WORK.
        WORK = os.environ.get("SURROGATES_NOTEBOOK_WORK") or (
            tempfile.mkdtemp(prefix="{name}-")
            if QUICK
            else REPO / "runs" / "notebooks" / "{name}"
        )
        WORK = Path(WORK)
        WORK.mkdir(parents=True, exist_ok=True)
        print(f"QUICK={{QUICK}}; writing to {{WORK}}")


        def save_results(results: dict) -> Path:
            """Write the headline numbers to WORK/results.json (atomically)."""
            path = WORK / "results.json"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(results, indent=2))
            tmp.replace(path)
            return path
        '''
    )


# ----------------------------------------------------------------------------- 01

QUICKSTART = [
    md(
        """
        # 01 · Quickstart: data → surrogate → large-box rollout → comparison

        The whole toolkit in one pass, on cosmology data small enough for a laptop:

        1. generate a tiny training set with the particle-mesh (PM) reference solver
           (recipe `datasets/cosmo-pm-train`, shrunk) and one box twice as large per side;
        2. open it as the canonical dataset and describe it;
        3. train a tiny `vnet` that maps the Zel'dovich (ZA) displacement to the PM
           displacement, conditioned on Ω_m;
        4. roll it out tile by tile over the larger box (and check that tiling is exact);
        5. compare with the PM truth: a metrics table, P(k) / T(k) / r(k) and density slices.

        **Run time** (measured on a shared, busy 2-core machine): 2¼ minutes, most of it
        training; with `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) about 25 seconds. The surrogate is far
        too small and too briefly trained to be good: this notebook shows the steps;
        `02-cosmology-large-volume` shows a real training run.
        """
    ),
    setup("01-quickstart"),
    code(
        """
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
        """
    ),
    md(
        """
        ## 1 · Generate data with the PM solver

        A dataset recipe (`datasets/<name>/recipe.toml`) names the solver, its parameters and
        the number of realisations; overrides shrink it. Every realisation here is a FastPM
        run from z = 9 to z = 0 that stores the ZA, 2LPT and PM displacements of every
        particle on its Lagrangian lattice.
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## 2 · Open and inspect

        `surrogates.open_dataset` returns the canonical `xarray.Dataset` (lazy: nothing is
        read until used); `surrogates.io.describe` summarises any supported file.
        """
    ),
    code(
        """
        train = surrogates.open_dataset(train_path)
        print(surrogates.io.describe(train_path))
        """
    ),
    md(
        """
        ## 3 · Train a tiny surrogate

        A `Task` says what to learn: the three ZA displacement components in, the three PM
        components out, Ω_m as the conditioning parameter, and `residual=True` so the network
        learns the correction PM − ZA. `surrogates.fit` returns a `Surrogate`; with `out_dir`
        it also writes the single-file artifact `surrogate.pt` and the training logs.
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## 4 · Roll out over a larger box, tile by tile

        `surrogates.rollout.rollout` splits the domain into tiles (each read with the
        model's halo, periodic axes wrapping), applies the surrogate and stitches the cores.
        The `vnet` uses valid convolutions only, so tiling is exact: the tiled result equals
        one application to the whole box up to float32 round-off.
        """
    ),
    code(
        """
        from surrogates.rollout import rollout

        truth = surrogates.open_dataset(test_path)
        t0 = time.perf_counter()
        prediction = rollout(surrogate, truth, tile=N_TRAIN, progress=False)
        print(f"rollout in {time.perf_counter() - t0:.2f} s:", prediction.attrs["rollout_plan"])

        whole = surrogate.predict(truth)  # one window over the whole (small enough) box
        tiling_error = max(float(abs(prediction[v] - whole[v]).max()) for v in task.targets)
        print(f"max |tiled - whole-box| = {tiling_error:.2e} Mpc/h")
        """
    ),
    md(
        """
        ## 5 · Compare with the truth

        `surrogates.compare` checks that the grids match and returns one tidy Dataset: error
        metrics per variable, and — because the fields are particle displacements — the
        cosmology set: density P(k), T(k) = √(P_model / P_truth), the cross-correlation r(k),
        ξ(r) and halo mass functions. Baselines are named by a variable stem of the truth:
        the ZA displacement is the input, so beating it is the least a surrogate must do.
        """
    ),
    code(
        """
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
        """
    ),
    code(
        """
        from surrogates import plot

        fig = plot.power_spectra(result)
        fig.savefig(WORK / "power_spectra.png")
        fig
        """
    ),
    code(
        '''
        from surrogates.compare import density_field


        def log_density(ds):
            """log(1 + δ) of the particles (CIC-painted on the particle lattice), sample 0."""
            delta = density_field(ds).isel(sample=0)
            return np.log1p(delta.clip(min=-0.99)).assign_attrs(long_name="log(1 + δ)", units="1")


        # An 8 Mpc/h slab through the middle of the box.
        fig = plot.slices(log_density(truth), {"surrogate": log_density(prediction)}, thickness=2)
        fig.savefig(WORK / "density_slices.png")
        fig
        '''
    ),
    code(
        """
        results = {
            "quick": QUICK,
            "fit_seconds": fit_seconds,
            "tiling_max_abs_diff": tiling_error,
            "k_min": float(k[0]),
            "table": table.to_dict(orient="index"),
        }
        print("results in", save_results(results))
        """
    ),
    md(
        """
        ## Next

        - `02-cosmology-large-volume`: the same task trained properly, rolled out on a box
          4× larger per side, against the 2LPT and ZA baselines, with halo mass functions.
        - `surrogates train cli/train-cosmology.toml` runs the full-size training from the
          command line; `surrogates rollout` and `surrogates compare` do steps 4 and 5.
        """
    ),
]


# ----------------------------------------------------------------------------- 02

COSMOLOGY = [
    md(
        """
        # 02 · Cosmology: large-volume emulation with a parameter-conditioned `vnet`

        Workflow 1 of the toolkit at laptop size, in the spirit of D3M (He et al. 2019, PNAS
        116:13825): learn the map from the Zel'dovich (ZA) displacement to the particle-mesh
        (PM) displacement on many small boxes with different Ω_m, then emulate a box 4×
        larger per side — one the network never saw, at an Ω_m no training box used — by
        tiling, and judge it as a cosmologist would against the PM truth, with the 2LPT and
        ZA approximations as baselines: P(k), T(k), r(k), ξ(r), the halo mass function and
        density slices.

        **Run time** (measured on a shared, busy 2-core machine): 7½ minutes — 70 s of PM
        runs, 5½ minutes of training, 15 s of rollout, 15 s of comparison; with
        `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) about 25 seconds. The full-size
        configuration is `cli/train-cosmology.toml` (`make demo-train`): a residual on
        2LPT instead of ZA, a two-level network, 1500 steps; its artifact ships in
        `models/cosmology/` and `make demo` evaluates it.
        """
    ),
    setup("02-cosmology-large-volume"),
    code(
        """
        N_TRAIN = 8 if QUICK else 32  # particles per side of a training box (4 Mpc/h spacing)
        N_LARGE = 4 * N_TRAIN  # the emulated box: 4x the side, 64x the volume
        SAMPLES = 4 if QUICK else 32  # training boxes, Omega_m ~ U[0.2, 0.4]
        FIT = dict(
            crop=8 if QUICK else 16,
            batch_size=4,
            max_steps=15 if QUICK else 400,
            lr=1e-3,
            warmup_steps=0 if QUICK else 20,
            spectral_weight=0.1,  # weight of the high-k error: small scales matter for T and r
            symmetries=True,  # the 48 cube symmetries (vector components rotate with them)
            val_fraction=0.25 if QUICK else 0.125,
            val_every=5 if QUICK else 100,
            val_batches=2 if QUICK else 16,
            model_config=dict(width=4 if QUICK else 16, levels=1, blocks=1),
            progress=not QUICK,
        )
        MIN_MEMBERS = 10 if QUICK else 20  # smallest friends-of-friends halo, in particles
        """
    ),
    md(
        """
        ## 1 · Training boxes and the large box

        Both come from the dataset recipes in `datasets/`: `cosmo-pm-train` (small boxes,
        Ω_m drawn per box) shrunk to `SAMPLES` boxes, and `cosmo-pm-large` (one box at
        Ω_m = 0.3 with a white-noise seed no training box used), sized 4× the training side.
        """
    ),
    code(
        """
        from surrogates.solvers.recipe import load_recipe, run_recipe

        train_recipe = load_recipe(
            REPO / "datasets/cosmo-pm-train",
            [f"samples={SAMPLES}", f"n={N_TRAIN}", f"box_size={4.0 * N_TRAIN}"],
        )
        large_recipe = load_recipe(
            REPO / "datasets/cosmo-pm-large", [f"n={N_LARGE}", f"box_size={4.0 * N_LARGE}"]
        )
        t0 = time.perf_counter()
        train_path = run_recipe(train_recipe, WORK / "train.nc", resume=False, overwrite=True)
        train_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        large_path = run_recipe(large_recipe, WORK / "large.nc", resume=False, overwrite=True)
        pm_seconds = time.perf_counter() - t0
        print(
            f"PM: {SAMPLES} boxes of {N_TRAIN}^3 in {train_seconds:.0f} s;"
            f" the {N_LARGE}^3 box in {pm_seconds:.0f} s"
        )

        train = surrogates.open_dataset(train_path)
        truth = surrogates.open_dataset(large_path)
        omegas = np.sort(train["Omega_m"].values)
        omega_large = float(truth["Omega_m"].values[0])
        nearest = omegas[np.argmin(abs(omegas - omega_large))]
        print(f"training Omega_m: {np.round(omegas, 3)}")
        print(f"large box Omega_m = {omega_large} (nearest training value {nearest:.4f})")
        """
    ),
    md(
        """
        ## 2 · Train the emulator

        Inputs: the three ZA displacement components; targets: the PM ones; Ω_m conditions
        every block through FiLM; `residual=True` makes the network learn PM − ZA. The
        `vnet` uses valid convolutions only (halo 8 cells = 32 Mpc/h per side here), so a
        rollout by tiles is exactly the network applied to the whole box.
        """
    ),
    code(
        """
        axes = ("x", "y", "z")
        task = surrogates.Task(
            inputs=[f"disp_za_{a}" for a in axes],
            targets=[f"disp_{a}" for a in axes],
            params=["Omega_m"],
            residual=True,
        )
        t0 = time.perf_counter()
        emulator = surrogates.fit(train, task, model="vnet", out_dir=str(WORK / "model"), **FIT)
        fit_seconds = time.perf_counter() - t0
        history = emulator.metadata.provenance["metrics"]
        print(emulator)
        print(
            f"{emulator.metadata.provenance['steps']} steps in {fit_seconds:.0f} s;"
            f" weights: {emulator.metadata.provenance['weights']}"
        )
        """
    ),
    md(
        """
        ## 3 · Tiled rollout over the large box

        The emulator sees the large box's ZA displacement and its Ω_m. (Here ZA comes from
        the PM run's initial conditions; in production it is the cheap first-order step
        that replaces the N-body run.) Tiles of the training crop size are read with the
        halo, wrapping around the periodic box.
        """
    ),
    code(
        """
        from surrogates.rollout import rollout

        t0 = time.perf_counter()
        emulated = rollout(emulator, truth, tile=2 * FIT["crop"], progress=not QUICK)
        rollout_seconds = time.perf_counter() - t0
        print(emulated.attrs["rollout_plan"])
        print(
            f"emulated {N_LARGE}^3 particles in {rollout_seconds:.1f} s"
            f" (PM solver: {pm_seconds:.1f} s for the same box)"
        )
        """
    ),
    md(
        """
        ## 4 · Compare with PM, 2LPT and ZA

        The 2LPT and ZA baselines are variables of the truth (`disp_2lpt_*`, `disp_za_*`).
        Particles are painted on the particle lattice with CIC for P(k) (window
        compensated), T(k) = √(P_model / P_PM), r(k) = P_model×PM / √(P_model P_PM) and
        ξ(r); friends-of-friends halos (linking length 0.2) give the mass function.
        """
    ),
    code(
        """
        import pandas as pd

        t0 = time.perf_counter()
        result = surrogates.compare(
            emulated,
            truth,
            name="emulator",
            baselines={"2LPT": "disp_2lpt", "ZA": "disp_za"},
            min_members=MIN_MEMBERS,
        )
        print(f"compare in {time.perf_counter() - t0:.1f} s")
        result.to_netcdf(WORK / "compare.nc")

        k_half = 0.5 * result.attrs["k_nyquist"]
        low_k = result["k"] <= k_half
        rows = {}
        for model in result["model"].values:
            m = result.sel(model=model).isel(sample=0)
            rows[str(model)] = {
                "rmse [Mpc/h]": float(m["rmse"].mean("variable")),
                "max |1 - T| (k ≤ k_N/2)": float(abs(1 - m["transfer"]).where(low_k).max()),
                "max 1 - r (k ≤ k_N/2)": float((1 - m["cross_correlation"]).where(low_k).max()),
                "r(k_min)": float(m["cross_correlation"][0]),
                "halos": int(m["halo_count"].sum()),
            }
        table = pd.DataFrame(rows).T
        print(f"k_N/2 = {k_half:.3f} h/Mpc; PM halos: {int(result['halo_count_truth'].sum())}")
        table.round(4)
        """
    ),
    code(
        """
        # The D3M criterion: the emulator beats 2LPT on T(k) and on r(k) at every k <= k_N/2.
        emu, lpt = result.sel(model="emulator"), result.sel(model="2LPT")
        better_t = abs(1 - emu["transfer"]) < abs(1 - lpt["transfer"])
        better_r = emu["cross_correlation"] > lpt["cross_correlation"]
        criterion = {
            "T(k)": bool(better_t.where(low_k, True).all()),
            "r(k)": bool(better_r.where(low_k, True).all()),
        }
        for what, ok in criterion.items():
            print(f"emulator beats 2LPT on {what} for all k <= k_N/2: {ok}")
        """
    ),
    code(
        """
        from surrogates import plot

        fig = plot.power_spectra(result)
        fig.savefig(WORK / "power_spectra.png")
        fig
        """
    ),
    code(
        """
        fig = plot.correlation(result)
        fig.savefig(WORK / "correlation_function.png")
        fig
        """
    ),
    code(
        """
        fig = plot.mass_function(result)
        fig.savefig(WORK / "mass_function.png")
        fig
        """
    ),
    code(
        '''
        from surrogates.compare import density_field


        def log_density(ds):
            """log(1 + δ) of the particles (CIC-painted on the particle lattice), sample 0."""
            delta = density_field(ds).isel(sample=0)
            return np.log1p(delta.clip(min=-0.99)).assign_attrs(long_name="log(1 + δ)", units="1")


        models = {
            "emulator": emulated,
            "2LPT": truth.assign({f"disp_{a}": truth[f"disp_2lpt_{a}"] for a in axes}),
            "ZA": truth.assign({f"disp_{a}": truth[f"disp_za_{a}"] for a in axes}),
        }
        # A 16 Mpc/h slab through the middle of the box.
        planes = {name: log_density(ds) for name, ds in models.items()}
        fig = plot.slices(log_density(truth), planes, thickness=4)
        fig.savefig(WORK / "density_slices.png")
        fig
        '''
    ),
    md(
        r"""
        ## What this run shows

        In the default run we measured (32 training boxes, 400 training steps of a
        16-channel one-level `vnet`; a rerun on other hardware differs in the last digits),
        on the 128³-particle, 512 Mpc/h box:

        | | emulator | 2LPT | ZA |
        |---|---|---|---|
        | rms displacement error [Mpc/h] | 0.69 | 1.03 | 1.16 |
        | max \|1 − T(k)\|, k ≤ k_N/2 | 0.085 | 0.32 | 0.31 |
        | max 1 − r(k), k ≤ k_N/2 | 0.017 | 0.065 | 0.096 |
        | FoF halos ≥ 20 particles (PM: 3696) | 902 | 0 | 0 |

        - The emulator beats 2LPT on T(k) at every k ≤ k_N/2 = 0.39 h/Mpc, and on r(k)
          from k ≈ 0.09 h/Mpc up. On the largest scales 2LPT stays slightly better
          correlated with PM (1 − r ≈ 5·10⁻⁴ against 1·10⁻³), so **this laptop-sized run
          does not reach the D3M result** (better than 2LPT on both at all k ≤ k_N/2).
        - It forms about a quarter of PM's halos at every mass, where 2LPT and ZA form none:
          the smallest scales are where the short training shows most.
        - The emulated box took 15 s against 45 s for the PM run of the same box; the ZA
          input it needs costs one FFT-based step.
        - The full-size configuration `cli/train-cosmology.toml` (`make demo-train`:
          residual on 2LPT, width 16, two levels, 1500 steps) targets the D3M criterion;
          its measured result is in `models/cosmology/README.md`.
        """
    ),
    code(
        """
        results = {
            "quick": QUICK,
            "omega_m_large": omega_large,
            "seconds": {"pm_large": pm_seconds, "fit": fit_seconds, "rollout": rollout_seconds},
            "k_half_nyquist": k_half,
            "table": table.to_dict(orient="index"),
            "beats_2lpt": criterion,
            "halos_truth": int(result["halo_count_truth"].sum()),
            "history": history,
        }
        print("results in", save_results(results))
        """
    ),
]


# ----------------------------------------------------------------------------- 03

TURBULENCE = [
    md(
        """
        # 03 · Turbulence: a coarse-grained world model of forced isotropic turbulence

        Workflow 2 at laptop size. The pseudo-spectral Navier–Stokes solver (recipe
        `datasets/turbulence-ns`, shrunk) produces forced isotropic turbulence whose forcing
        amplitude A(t) — Lundgren's linear forcing f = A(t) u — changes piecewise in time. We

        1. box-filter the DNS velocity to a grid 2× coarser per axis,
        2. train a `lead` surrogate that advances the coarse state by one stored frame
           (0.5 time units, about 25 solver steps), conditioned on A,
        3. roll it out on a periodic box 2× larger per side than the training boxes,
           driven by that run's own forcing schedule,
        4. report, against the filtered DNS of the large box: the error versus rollout step
           (with the "frozen flow" persistence baseline), E(k) and ε over time, and the
           wall-clock speedup over the solver for the same simulated time.

        **Run time** (measured twice on a shared, busy 2-core machine): 3 to 4½ minutes —
        85 s of DNS, 75–180 s of training, 1 s of rollout; with
        `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) about 20 seconds. The full-size
        configuration is `cli/train-turbulence.toml` on the 64³ recipe.
        """
    ),
    setup("03-turbulence"),
    code(
        """
        import math

        N_DNS = 16 if QUICK else 32  # DNS points per side of a training box (side 2 pi)
        FACTOR = 2  # coarse-graining factor per axis
        # The recipe's nu = 0.02 needs 64^3; a larger viscosity keeps these small DNS resolved
        # (k_max eta ~ 1 at the dissipation rates of this forcing).
        NU = 0.08 if QUICK else 0.04
        SAMPLES = 2 if QUICK else 3  # training realisations (own seeds and forcing schedules)
        SPINUP = 1.0 if QUICK else 4.0  # discarded transient
        T_TRAIN = 4.0 if QUICK else 12.0  # end of the training runs (frames every 0.5)
        STEPS = 4 if QUICK else 12  # rollout steps on the large box (0.5 time units each)
        FIT = dict(
            crop=N_DNS // FACTOR // 2,  # half the coarse box: windows wrap around it
            unroll=1,  # one step per item (unroll=2 trains on chained steps: ~5x the cost)
            batch_size=4,
            max_steps=10 if QUICK else 500,
            lr=1e-3,
            loss="rel_l2",
            symmetries=True,  # isotropic and periodic: every cube symmetry is physical
            val_fraction=0.5 if QUICK else 0.25,  # whole realisations are held out
            val_every=5 if QUICK else 50,
            val_batches=2 if QUICK else 16,
            model_config=dict(width=4 if QUICK else 12, levels=1, blocks=1),
            progress=not QUICK,
        )
        """
    ),
    md(
        """
        ## 1 · DNS: training boxes and one box 2× larger per side

        The large box (side 4π, twice the points: the same grid spacing) has its own seed,
        hence its own initial field and forcing schedule; its initial spectrum peaks at the
        same physical wavenumber. The solver's wall time for it is the reference for the
        speedup.
        """
    ),
    code(
        """
        from surrogates.solvers.recipe import load_recipe, run_recipe

        common = [f"nu={NU}", f"spinup={SPINUP}", "save_every=0.5"]
        train_recipe = load_recipe(
            REPO / "datasets/turbulence-ns",
            [f"samples={SAMPLES}", f"n={N_DNS}", f"t_end={T_TRAIN}", *common],
        )
        t_large = SPINUP + 0.5 * STEPS
        large_recipe = load_recipe(
            REPO / "datasets/turbulence-ns",
            ["samples=1", "seed=100", f"n={2 * N_DNS}", f"box_size={4 * math.pi}",
             "spectrum_peak=4.0", f"t_end={t_large}", *common],
        )  # fmt: skip
        t0 = time.perf_counter()
        train_path = run_recipe(train_recipe, WORK / "dns-train.nc", resume=False, overwrite=True)
        print(f"training DNS: {SAMPLES} x {N_DNS}^3 in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        large_path = run_recipe(large_recipe, WORK / "dns-large.nc", resume=False, overwrite=True)
        dns_seconds = time.perf_counter() - t0
        dns_train = surrogates.open_dataset(train_path)
        dns_large = surrogates.open_dataset(large_path)
        print(
            f"large DNS: {2 * N_DNS}^3 to t = {t_large} in {dns_seconds:.0f} s"
            f" ({dns_large.attrs['steps']} solver steps)"
        )
        """
    ),
    md(
        """
        ## 2 · Coarse-graining

        A box filter of width `FACTOR` cells followed by subsampling: each coarse cell holds
        the mean velocity of the `FACTOR³` DNS cells it covers (xarray's `coarsen`; the
        cell centres follow). The DNS's own volume averages (E, ε of the fine field) are
        dropped: the comparison recomputes them on the coarse grid.
        """
    ),
    code(
        """
        VELOCITY = ["u_x", "u_y", "u_z"]


        from surrogates.data import coarse_grain

        DERIVED = ["kinetic_energy", "dissipation", "enstrophy"]  # fine-grid diagnostics
        train = coarse_grain(dns_train, FACTOR, drop=DERIVED)
        truth = coarse_grain(dns_large, FACTOR, drop=DERIVED)
        energy = lambda ds: float(sum((ds[v] ** 2).mean() for v in VELOCITY) / 2)  # noqa: E731
        print(f"coarse training grid {dict(train.sizes)}")
        print(f"kinetic energy kept by the filter: {energy(train) / energy(dns_train):.1%}")
        """
    ),
    md(
        """
        ## 3 · Train the world model

        The task advances the three velocity components by `lead=1` stored frame, with the
        forcing amplitude at the current frame as the parameter, and learns the increment
        (`residual=True`). The loss is the relative L2 error.
        """
    ),
    code(
        """
        task = surrogates.Task(
            inputs=VELOCITY, targets=VELOCITY, params=["forcing_amplitude"], lead=1, residual=True
        )
        t0 = time.perf_counter()
        model = surrogates.fit(train, task, model="vnet", out_dir=str(WORK / "model"), **FIT)
        fit_seconds = time.perf_counter() - t0
        print(model)
        print(
            f"{model.metadata.provenance['steps']} steps in {fit_seconds:.0f} s;"
            f" weights: {model.metadata.provenance['weights']}"
        )
        """
    ),
    md(
        """
        ## 4 · Roll out on the large box

        The rollout starts from the first filtered frame of the large box and is driven by
        that run's forcing schedule (one amplitude per step, the value at the start of the
        step). Each step re-tiles the whole new state with the periodic halo.
        """
    ),
    code(
        """
        from surrogates.rollout import rollout

        start = truth.isel(time=[0])
        schedule = truth["forcing_amplitude"].isel(sample=0).values[:STEPS]
        t0 = time.perf_counter()
        prediction = rollout(
            model, start, steps=STEPS, params={"forcing_amplitude": schedule}, progress=not QUICK
        )
        rollout_seconds = time.perf_counter() - t0
        print(prediction.attrs["rollout_plan"])
        print(f"{STEPS} steps in {rollout_seconds:.1f} s; forcing schedule {np.round(schedule, 3)}")
        """
    ),
    md(
        """
        ## 5 · Compare with the filtered DNS

        Persistence (the initial coarse field held fixed) is the baseline any world model
        must beat. The turbulence set of `surrogates.compare` gives shell-summed E(k) and
        ε = 2ν⟨s_ij s_ij⟩ on the coarse grid (spectral derivatives on the periodic box).
        """
    ),
    code(
        """
        import pandas as pd

        times = prediction["time"].values
        frozen = (
            truth[VELOCITY].isel(time=0, drop=True).expand_dims(time=times)
            .transpose("sample", "time", ...)
        )  # fmt: skip
        result = surrogates.compare(
            prediction, truth, diagnostics=["metrics", "turbulence"],
            name="surrogate", baselines={"persistence": frozen},
        )  # fmt: skip
        error = result["relative_l2"].mean("variable").isel(sample=0)
        table = pd.DataFrame(
            {str(m): error.sel(model=m).values for m in result["model"].values},
            index=pd.Index(np.arange(len(times)), name="step"),
        )
        table["time"] = times
        table.round(3)
        """
    ),
    code(
        """
        from surrogates import plot

        fig = plot.error_vs_step(result, "relative_l2", variables=["u_x"])
        fig.savefig(WORK / "error_vs_step.png")
        fig
        """
    ),
    code(
        """
        # Shells 1 .. the coarse grid's Nyquist wavenumber: shell 0 is the mean flow (zero),
        # and the corner shells beyond Nyquist hold almost no energy after the box filter.
        k = result["k_shell"]
        resolved = result.isel(k_shell=(k > 0) & (k <= np.pi * truth.sizes["x"] / (4 * np.pi)))
        fig = plot.energy_spectra(resolved, models=["surrogate"])  # at the last step
        fig.savefig(WORK / "energy_spectra.png")
        fig
        """
    ),
    code(
        """
        fig = plot.dissipation(result, models=["surrogate"])
        fig.savefig(WORK / "dissipation.png")
        fig
        """
    ),
    md(
        """
        ## 6 · Speedup

        The solver's cost per unit of simulated time on the large box (its whole run, spin-up
        included, divided by its end time) against the surrogate's cost for its rollout. The
        solver runs at the DNS resolution; the surrogate on the coarse grid — that is what a
        coarse-grained world model buys, at the accuracy shown above.
        """
    ),
    code(
        """
        simulated = STEPS * 0.5
        solver_per_time = dns_seconds / t_large
        surrogate_per_time = rollout_seconds / simulated
        speedup = solver_per_time / surrogate_per_time
        print(f"solver: {solver_per_time:.2f} s per time unit ({2 * N_DNS}^3 DNS)")
        print(f"surrogate: {surrogate_per_time:.2f} s per time unit ({N_DNS}^3 coarse grid)")
        print(f"speedup for the same simulated time: {speedup:.1f}x")
        """
    ),
    md(
        """
        ## What this run shows

        In the default run we measured (three 32³ training realisations filtered to 16³,
        500 steps of a 12-channel one-level `vnet`; the large box 64³ → 32³):

        - **Error vs step.** The relative L2 error is 0.32 after one step (0.5 time units)
          and 0.85 after four, against 0.52 and 1.09 for persistence. The surrogate beats
          persistence for six steps (3 time units, about two large-eddy turnovers); after
          that it drifts past the level where persistence saturates (≈ 1.15, two unrelated
          fields of similar energy).
        - **ε and E(k).** ε first drops 25–30% below the filtered DNS, then grows past it
          as energy piles up at intermediate and small scales (E(k) 1.5–2.5× too high at
          k ≈ 2–4 after 12 steps): the usual failure of an autoregressive model trained on
          single steps. Training on chained steps (`unroll=2`, as `cli/train-turbulence.toml`
          does), longer training and a larger model are the levers; this laptop run uses
          none of them.
        - **Speedup.** 36–42× per unit of simulated time over the 64³ DNS of the same box
          (6.2–6.4 s against 0.15–0.17 s per time unit in two runs) — at the accuracy above,
          and comparing the coarse model with the fine DNS it stands in for. That is not a
          speedup at matched accuracy: at this viscosity the solver run on the coarse grid
          itself is nearly resolved and more accurate. Workflow 2 at full size
          (`make turbulence`) filters the recipe's own 64³ DNS (ν = 0.02) 4× and trains with
          `loss="amse"`, which keeps the small scales' energy; there the `vnet` matches the
          solver's dissipation-rate accuracy at 2–12× less cost (four trainings;
          `docs/results.md`).
        """
    ),
    code(
        """
        eps = result["dissipation"].isel(sample=0)
        models = [str(m) for m in result["model"].values]
        ratio = resolved["energy_ratio"].sel(model="surrogate").isel(sample=0, time=-1)
        results = {
            "quick": QUICK,
            "seconds": {"dns_large": dns_seconds, "fit": fit_seconds, "rollout": rollout_seconds},
            "speedup": speedup,
            "relative_l2": {c: table[c].tolist() for c in table.columns if c != "time"},
            "dissipation": {m: eps.sel(model=m).values.tolist() for m in models},
            "dissipation_truth": result["dissipation_truth"].isel(sample=0).values.tolist(),
            "energy_ratio_last": ratio.values.tolist(),
        }
        print("results in", save_results(results))
        """
    ),
]


# ----------------------------------------------------------------------------- 04

LIFT_DRAG = [
    md(
        """
        # 04 · Lift and drag: a steady 3D flow surrogate tiled along a long channel

        Workflow 3 at laptop size. The lattice Boltzmann solver (recipe
        `datasets/obstacles-lbm-3d`, D3Q19, shrunk) runs 4 m channel sections with three or
        four random balls and cubes at Re between 10 and 40 until their flow is steady:
        inlet at x = 0, pressure outlet, no-slip walls in y, periodic in z. We

        1. train a surrogate that maps the obstacle mask, its signed distance field and the
           undisturbed inflow to the **steady** pressure and velocity, conditioned on Re;
        2. apply it, tile by tile, along an 8 m channel that holds six obstacles,
           none placed as in training (its own seed), at Re = 30;
        3. compute the drag and lift coefficient of every obstacle from the *predicted*
           fields and from the LBM's steady fields, with the same diagnostic;
        4. measure the speedup at matched accuracy: how long the LBM must run before its
           drag is as close to the steady value as the surrogate's.

        Why steady: at these Reynolds numbers the flow past the obstacles settles. Before
        it does, the frames carry the sound waves of the impulsive start (C_D jumps by
        10–50 % from one 0.2 s frame to the next), which no flow surrogate can predict;
        after it, a time-stepping surrogate has nothing left to do but hold the state.

        **Run time** (2-core machine): about 14 minutes — 2½ min of LBM, 11 min of
        training; with `SURROGATES_NOTEBOOK_QUICK=1` (the test suite) about 20 seconds.
        `make lift-drag` (`workflows/lift_drag.py`) runs the same study as one command.
        """
    ),
    setup("04-lift-and-drag"),
    code(
        """
        CELLS = 16 if QUICK else 24  # cells across the 1 m channel (the recipe has 32)
        SECTIONS = 3 if QUICK else 32  # training sections, 4 m long
        TRAIN_RE = "10.0, 40.0"  # drawn uniformly per section (60 is unstable at 24 cells)
        LENGTH = 4  # the long channel is LENGTH x 2 m
        RE = 30.0  # Reynolds number of the long channel (inside the training range)
        # Seconds: the window the sections' steady state is averaged over; the long channel's
        # run (saved every 0.2 s from the start) and the final stretch averaged.
        SECTION_AVERAGE = (0.4, 0.6) if QUICK else (6.0, 7.0)
        LONG_END, LONG_AVERAGE = (1.0, 0.4) if QUICK else (12.0, 2.0)
        FIT = dict(
            crop=CELLS,  # whole cross-sections: the halo (20 cells) is read anyway
            pad_mode="reflect",  # wall and open faces: padded as the rollout pads them
            gauge=["p"],  # pressure up to a constant: its level depends on the outlet
            loss_weight="wall_weight",  # 0 in solids, 10x in the 2 cells next to them
            symmetries=["y", "z"],  # mirrors across the channel, never along the flow
            batch_size=2,
            max_steps=10 if QUICK else 2000,
            lr=2e-3,
            val_fraction=0.34 if QUICK else 0.15,
            val_every=5 if QUICK else 250,
            val_batches=2 if QUICK else 8,
            model_config=dict(width=4 if QUICK else 16, levels=2, blocks=1),
            progress=not QUICK,
        )
        """
    ),
    md(
        """
        ## 1 · LBM: training sections and the long channel

        Sections are 4 m × 1 m × 1 m with three or four obstacles between 5 % and 85 % of
        their length — about as many per metre as the long channel, which has the same
        cell size and cross-section, six obstacles (three in QUICK) spread over 85 % of its
        8 m, and the same 0.2 m sponge zone before its outlet.
        `steady_state` averages the last frames of each run and adds the input fields:
        `u_inflow`, the undisturbed inflow profile continued along the channel (it tells the
        network where the walls are); `distance`, the signed distance to the nearest
        obstacle surface, capped at 0.4 m; and `wake_short`, `wake_long`, the obstacles
        upstream of each cell carried down the channel by a linear wake model
        (`upstream_wake`, decay over 0.5 m and 2 m). `steady_drift` is how much any
        obstacle's drag still changed over the averaged window.
        """
    ),
    code(
        """
        from surrogates.solvers.lbm import steady_state
        from surrogates.solvers.recipe import load_recipe, run_recipe

        train_recipe = load_recipe(
            REPO / "datasets/obstacles-lbm-3d",
            [f"shape=[{4 * CELLS}, {CELLS}, {CELLS}]", "size=[4.0, 1.0, 1.0]", "sponge=0.05",
             f"samples={SECTIONS}", "obstacle_region=[0.05, 0.85]",
             "vary.obstacle_count={values = [3, 4]}",
             f"vary.reynolds={{uniform = [{TRAIN_RE}]}}",
             f"spinup={SECTION_AVERAGE[0]}", f"t_end={SECTION_AVERAGE[1]}"],
        )  # fmt: skip
        long_recipe = load_recipe(
            REPO / "datasets/obstacles-lbm-3d",
            [f"shape=[{2 * LENGTH * CELLS}, {CELLS}, {CELLS}]", f"size=[{2.0 * LENGTH}, 1.0, 1.0]",
             "samples=1", "seed=500", f"obstacle_count={3 if QUICK else 6}",
             "obstacle_region=[0.05, 0.85]", f"sponge={0.1 / LENGTH}",
             f"vary.reynolds={{values = [{RE}]}}", "spinup=0.2", f"t_end={LONG_END}"],
        )  # fmt: skip
        t0 = time.perf_counter()
        train_path = run_recipe(train_recipe, WORK / "sections.nc", resume=False, overwrite=True)
        print(f"training sections in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        long_path = run_recipe(long_recipe, WORK / "long.nc", resume=False, overwrite=True)
        lbm_seconds = time.perf_counter() - t0
        sections = steady_state(surrogates.open_dataset(train_path))
        run = surrogates.open_dataset(long_path)
        truth = steady_state(run, since=LONG_END - LONG_AVERAGE)
        obstacles = json.loads(truth.attrs["obstacles"])
        print(
            f"long channel {dict(truth['mask'].sizes)}, {len(obstacles)} obstacles, to"
            f" t = {LONG_END} s in {lbm_seconds:.0f} s; drift of the steady states:"
            f" sections {sections.attrs['steady_drift']:.2g}, long {truth.attrs['steady_drift']:.2g}"
        )
        """
    ),
    md(
        """
        ## 2 · Train the steady-flow surrogate

        Inputs: `u_inflow`, `mask`, `distance` and the two wake fields; parameter: `Re`;
        targets: `p, u_x, u_y, u_z`. The pressure's level at a point is set by every
        obstacle between it and the outlet, which no crop shows; `gauge=["p"]` makes the
        loss compare pressures with their crop mean removed, and the force on a closed body
        does not see a constant. The two-level `vnet` has a 20-cell halo: each output cell
        sees 0.8 m upstream and downstream. The wakes reach further: a body 1.2 m behind
        another still meets fluid 30-40 % slower than the inflow. The wake inputs carry
        what lies beyond the halo; without them the drag of shielded bodies comes out
        12-23 % too high.
        """
    ),
    code(
        """
        STATE = ["p", "u_x", "u_y", "u_z"]
        INPUTS = ["u_inflow", "mask", "distance", "wake_short", "wake_long"]
        task = surrogates.Task(inputs=INPUTS, targets=STATE, params=["Re"])
        t0 = time.perf_counter()
        model = surrogates.fit(sections, task, model="vnet", out_dir=str(WORK / "model"), **FIT)
        fit_seconds = time.perf_counter() - t0
        print(model)
        print(
            f"{model.metadata.provenance['steps']} steps in {fit_seconds:.0f} s;"
            f" weights: {model.metadata.provenance['weights']}"
        )
        """
    ),
    md(
        """
        ## 3 · Apply it along the long channel

        The channel is cut into 2 m tiles (half a training section), each read with the
        model's halo — reflective padding at the inlet, outlet and walls (as in training),
        periodic wrapping in z — and the tiles are stitched exactly.
        """
    ),
    code(
        """
        from surrogates.rollout import rollout

        tile = (2 * CELLS, CELLS, CELLS)  # 2 m along the channel, the whole cross-section
        t0 = time.perf_counter()
        prediction = rollout(model, truth[[*INPUTS, "Re"]], tile=tile, progress=not QUICK)
        rollout_seconds = time.perf_counter() - t0
        prediction = prediction.expand_dims(time=truth["time"].values).transpose("sample", "time", ...)
        print(prediction.attrs["rollout_plan"])
        print(f"the whole channel in {rollout_seconds:.2f} s")
        """
    ),
    md(
        """
        ## 4 · Drag and lift of every obstacle

        `surrogates.compare` with the `forces` set integrates pressure and viscous stress
        over each body's surface (bodies are the connected components of `mask`) and
        normalises as the solver does, C = 2F / (ρ U_mean² A), with U_mean the mean inflow
        speed and A the body's frontal area on the grid. The same function runs on the
        LBM's steady fields and on the predicted ones.
        """
    ),
    code(
        """
        import pandas as pd
        import scipy.ndimage

        u_mean = float(truth["U"].values[0]) * 2 / 3  # parabolic profile between two walls
        result = surrogates.compare(prediction, truth, diagnostics=["metrics", "forces"], U=u_mean)
        steady = result.isel(sample=0, time=-1)

        # Which solver obstacle is which body: the label of the cell at its centre.
        mask = truth["mask"].isel(sample=0).values > 0.5
        labels, _ = scipy.ndimage.label(mask)  # face connectivity, as the diagnostic labels
        dx = float(truth.attrs["dx"])
        obstacle_of = {
            int(labels[tuple(int(c / dx) for c in o["center"])]): k for k, o in enumerate(obstacles)
        }
        rows = []
        for body in result["body"].values:
            k = obstacle_of[int(body)]
            rows.append({
                "body": int(body),
                "kind": obstacles[k]["kind"],
                "x [m]": obstacles[k]["center"][0],
                "C_D LBM": float(steady["C_D_truth"].sel(body=body)),
                "C_D surrogate": float(steady["C_D"].sel(model="surrogate", body=body)),
                "C_L LBM": float(steady["C_L_truth"].sel(body=body)),
                "C_L surrogate": float(steady["C_L"].sel(model="surrogate", body=body)),
                # the solver's own momentum-exchange value, for reference
                "C_D LBM (solver)": float(truth[f"drag_coefficient_{k}"].isel(sample=0)),
            })  # fmt: skip
        forces = pd.DataFrame(rows).set_index("body").sort_values("x [m]")
        forces["C_D error"] = forces["C_D surrogate"] / forces["C_D LBM"] - 1
        forces.round(3)
        """
    ),
    code(
        """
        # Streamwise velocity in the mid-plane z = 0.5 m: LBM steady state, surrogate, difference.
        from surrogates import plot

        fig = plot.slices(truth["u_x"], prediction["u_x"], axis="z", isel={"sample": 0, "time": -1})
        fig.savefig(WORK / "velocity_slices.png")
        fig
        """
    ),
    md(
        """
        ## 5 · Speedup at matched accuracy

        The same force diagnostic on every frame the LBM saved on its way to the steady
        state gives its drag error against its wall time (the run's cost grows linearly with
        simulated time). The LBM matches the surrogate once its error stays at or below the
        surrogate's mean C_D error for good.
        """
    ),
    code(
        """
        from surrogates.diagnostics import force_coefficients, matched_frame

        frames = run.isel(sample=0)
        history = force_coefficients(
            *(frames[v] for v in STATE), mask=mask, velocity=u_mean, nu=float(run.attrs["viscosity"])
        )
        lbm_error = np.abs(history["C_D"] / steady["C_D_truth"] - 1).mean("body").values
        surrogate_error = float(np.abs(forces["C_D error"]).mean())
        cost = lbm_seconds * run["time"].values / LONG_END
        first = matched_frame(lbm_error, surrogate_error)  # from here on, as good for good
        matched = None if first is None else cost[first]
        print(f"surrogate: mean abs. C_D error {surrogate_error:.3f} in {rollout_seconds:.2f} s")
        print(f"LBM to the steady state: {lbm_seconds:.1f} s ({lbm_seconds / rollout_seconds:.0f}x)")
        if matched is None:
            print("the LBM's frames never get as close as the surrogate")
        else:
            print(f"LBM at matched accuracy: {matched:.1f} s ({matched / rollout_seconds:.0f}x)")
        fig = plot.matched_accuracy(cost, lbm_error, {"surrogate": (rollout_seconds, surrogate_error)},
                                    solver="LBM", quantity="mean abs. C_D error")  # fmt: skip
        fig.savefig(WORK / "matched_accuracy.png")
        fig
        """
    ),
    md(
        """
        ## What this run shows

        Measured with these settings by `make lift-drag` (`workflows/lift_drag.py`, the same
        recipes, seeds and fit options; `docs/results.md`, 2 threads):

        - **Forces.** Mean absolute C_D error 4.7 % over the six obstacles (largest 10 %),
          against 62 % for the LBM stopped after the surrogate's wall time. Without the
          wake inputs (session 5) it was 13.5 %: the bodies in the wakes of others came out
          12-23 % too high, because the network did not see the upstream obstacle slowing
          their flow. C_L errors are up to 4 % of C_D, as large as C_L itself for two of
          the six bodies, whose sign comes out wrong.
        - **Fields.** Relative L2 error of the steady fields 0.059 (u_x), 0.22 (u_y),
          0.24 (u_z), 0.91 (∇p; the pressure itself is only known up to the drops across the
          obstacles downstream, which the surrogate does not learn).
        - **Speedup.** The whole channel in 0.27 s against 18.7 s for the LBM to t = 12 s
          (68×); at matched accuracy — the LBM's drag within the surrogate's 4.7 % for good
          from t = 4.6 s — 26×. Training (2 min of LBM sections, 10 min of fitting) is paid
          once for a family of channels and is not in these numbers.
        """
    ),
    code(
        """
        results = {
            "quick": QUICK,
            "seconds": {"lbm_long": lbm_seconds, "fit": fit_seconds, "rollout": rollout_seconds},
            "speedup": lbm_seconds / rollout_seconds,
            "speedup_matched": None if matched is None else matched / rollout_seconds,
            "obstacles": len(obstacles),
            "forces": forces.reset_index().to_dict(orient="records"),
            "mean_abs_drag_error": surrogate_error,
        }
        print("results in", save_results(results))
        """
    ),
]


NOTEBOOKS = {
    "01-quickstart": QUICKSTART,
    "02-cosmology-large-volume": COSMOLOGY,
    "03-turbulence": TURBULENCE,
    "04-lift-and-drag": LIFT_DRAG,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook with deterministic cell ids (stable diffs), no outputs, a python3 kernel."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        make = new_markdown_cell if kind == "markdown" else new_code_cell
        nb.cells.append(make(source, id=f"{name[:2]}-{i:02d}"))
    nbformat.validate(nb)
    return nb


def main(argv: list[str]) -> None:
    chosen = [n for n in NOTEBOOKS if not argv or any(a in n for a in argv)]
    for name in chosen:
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name, NOTEBOOKS[name]), path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
