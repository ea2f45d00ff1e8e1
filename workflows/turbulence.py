"""Workflow 2: a turbulence world model, three networks side by side, as one command.

From ``datasets/turbulence-ns``: DNS of forced isotropic turbulence (small periodic training
cubes, and one periodic box 2x larger per side), box-filtered to a 4x coarser grid. A
``lead`` surrogate advances the coarse velocity by one stored frame (0.5 time units, many
solver steps), conditioned on the forcing amplitude. ``vnet`` and ``fno`` (ours) and the
``neuraloperator`` package's FNO (``neuralop_fno``, an optional model of the package)
are trained on the same data with the same wall-clock budget, rolled out on the large box
with its true forcing schedule, and compared with the filtered DNS and with persistence:
relative L2 error versus rollout step, E(k) at the last step, the dissipation rate over
time, and the wall-clock speedup over the solver for the same simulated time.

Why 4x at the recipe's viscosity: coarse-graining pays where the coarse grid cannot
resolve the flow. At 2x on a nearly resolved DNS (sessions 4-5: nu = 0.04, 32^3) the
solver run on the coarse grid itself was more accurate than every network at 1.6x the
vnet's cost; at 4x on the recipe's nu = 0.02 (k_max eta ~ 1 at 64^3) the coarse grid is
under-resolved and the solver there piles up energy at its smallest scales.

Loss: ``amse`` (amplitude-corrected spectral MSE, :mod:`surrogates.training.losses`) for
every model. A coarse cell spans 4 DNS cells per axis, so the smallest resolved scales
are driven by unresolved ones; a model trained on ``rel_l2`` predicts their mean and drops
their energy (the vnet's dissipation rate stays 24 % low from the first step), and AMSE
does not reward that. It suits the vnet; the FNOs do worse with it than with ``rel_l2``
(``docs/results.md``), but one loss for all keeps the comparison like for like.

The solver at lower cost, for the speedup at matched accuracy: the same Navier-Stokes
solver on a ladder of grids from twice the coarse grid (half the DNS's) down to half of
it (:func:`solver_grids`), from the DNS's first frame truncated to that grid, with the
DNS's viscosity and forcing schedule (``surrogates.solvers.ns.simulate_from``). Each run's frames
are coarse-grained exactly like the truth (Fourier-interpolated to the DNS grid, then the
same box filter) and scored like the models. A model's speedup at matched accuracy (mean
dissipation-rate error) lies between its cost ratio to the costliest run less accurate
than it and to the cheapest run at least as accurate.

Fair budget: each model first runs a short calibration fit that measures its steady
seconds per training step and per validation; the real fit then gets
``max_steps = (budget - validations * val_seconds) / step_seconds`` (so its learning-rate
schedule completes) and ``max_time = budget`` as a hard stop. The budget is the wall clock
of the training loop (validation included; Lightning's setup and the artifact write are
not). Same-size models (the two FNOs) train on crops with ``fno_pad`` cells of context per
side (the loss covers all but a rim of ``halo`` cells) and are rolled out on tiles of the
crop size blended over that context, so that their windows have the training size (the
Fourier modes are per window, not per physical wavenumber).

Learning rates: each model has its own peak rate (``Sizes.lr``), picked from a sweep
(3e-4 to 1e-2, and 3e-2 for our FNO) by :func:`validation_rollout`'s relative L2 error on
the training realisation the fit held out, never on the large box. ``--lr`` sets one rate
for every model (a sweep's runs); ``--seed`` sets the seed of every fit (weights, crops
and the held-out realisation). The FNOs want 3-10x the vnet's rate: at the vnet's 1e-3
they were worse than persistence from step 5 (``docs/results.md`` has the sweep).

Usage::

    .venv/bin/python workflows/turbulence.py [--quick] [--out DIR] [--threads N]
        [--budget SECONDS] [--models vnet,fno,neuralop_fno] [--lr LR] [--seed N]

Writes under ``--out`` (default ``runs/workflows/turbulence``): the DNS files (reused when
their recipe matches), ``models/<name>/surrogate.pt``, ``results.json``, ``results.md`` and
the figures. About 32 minutes on 2 CPU cores, 21 of them the DNS (4 min for the training
boxes, 17 for the 128^3 box), which later runs of the same sizes reuse (``--quick``: under
a minute). Two torch threads on a loaded 2-core machine can be several times slower.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
import xarray as xr
from common import (
    REPO,
    Stopwatch,
    generate,
    markdown_table,
    parse_args,
    persistence,
    write_results,
)

import surrogates
from surrogates import plot
from surrogates.data import split_dataset
from surrogates.diagnostics import cheapest_matching
from surrogates.errors import DataError, ModelError
from surrogates.ops.fft import fourier_resample
from surrogates.solvers.ns import simulate_from
from surrogates.solvers.recipe import load_recipe, sample_configs

VELOCITY = ["u_x", "u_y", "u_z"]
MODELS = ("vnet", "fno", "neuralop_fno")
DT = 0.5  # time between stored frames = one surrogate step
FINE_GRID_DIAGNOSTICS = ("kinetic_energy", "dissipation", "enstrophy")


@dataclass(frozen=True)
class Sizes:
    """Every size of the study (``QUICK`` for tests, ``DEFAULT`` for the real run)."""

    n_dns: int  # DNS points per side of a training box (side 2 pi)
    nu: float  # viscosity (the recipe's 0.02 needs 64^3: k_max eta ~ 1)
    factor: int  # coarse-graining factor per axis
    samples: int  # training realisations (own seeds and forcing schedules)
    spinup: float  # discarded transient
    t_train: float  # end of the training runs
    steps: int  # rollout steps on the large box
    budget: float  # training-loop seconds per model
    calibration_steps: int
    validations: int  # validations per fit (every max_steps // validations steps)
    val_fraction: float
    val_batches: int
    vnet: dict
    fno: dict  # both FNOs (ours and neuraloperator's)
    fno_pad: int  # FNO training context per side: the rollout's blend overlap
    lr: dict  # peak learning rate per model (picked by validation rollouts, module docstring)


QUICK = Sizes(
    n_dns=16, nu=0.08, factor=2, samples=2, spinup=1.0, t_train=4.0, steps=4, budget=3.0,
    calibration_steps=3, validations=2, val_fraction=0.5, val_batches=2,
    vnet=dict(width=4, levels=1, blocks=1), fno=dict(modes=2, width=4, layers=2, halo=1),
    fno_pad=2, lr=dict(vnet=1e-3, fno=1e-3, neuralop_fno=1e-3),
)  # fmt: skip
DEFAULT = Sizes(
    n_dns=64, nu=0.02, factor=4, samples=3, spinup=4.0, t_train=12.0, steps=12, budget=180.0,
    calibration_steps=30, validations=6, val_fraction=0.25, val_batches=16,
    vnet=dict(width=12, levels=1, blocks=1), fno=dict(modes=4, width=16, layers=4, halo=1),
    fno_pad=3, lr=dict(vnet=1e-3, fno=1e-2, neuralop_fno=3e-3),
)  # fmt: skip


def _extra(parser: Any) -> None:
    parser.add_argument("--budget", type=float, help="training seconds per model (default: size)")
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated subset of {list(MODELS)}"
    )
    parser.add_argument(
        "--lr", type=float, help="peak learning rate of every model (default: each model's own)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every fit: weights, crops, held-out split"
    )


def learning_rates(sizes: Sizes, names: list[str], override: float | None) -> dict[str, float]:
    """Each model's peak learning rate: ``override`` for all (a sweep), or the size's own."""
    if override is not None and not (math.isfinite(override) and override > 0):
        raise ModelError(f"--lr: got {override!r}, expected a positive learning rate")
    return {name: sizes.lr[name] if override is None else override for name in names}


def choose_models(text: str) -> tuple[list[str], dict[str, str]]:
    """The models to train from ``--models``, and those skipped with the reason."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown or not names:
        raise ModelError(f"--models: got {text!r}, expected a comma-separated subset of {MODELS}")
    skipped = {}
    if "neuralop_fno" in names and importlib.util.find_spec("neuralop") is None:
        skipped["neuralop_fno"] = "neuraloperator not installed (pip install -e '.[bench]')"
        names.remove("neuralop_fno")
        print(f"note: skipping neuralop_fno: {skipped['neuralop_fno']}")
    if not names:
        raise ModelError(f"--models {text!r}: nothing left to train ({skipped})")
    return names, skipped


# --- data -------------------------------------------------------------------------------


def recipes(sizes: Sizes) -> tuple[Any, Any, float]:
    """Recipes of the training DNS and the 2x larger DNS, and the large run's end time."""
    common = [f"nu={sizes.nu}", f"spinup={sizes.spinup}", f"save_every={DT}"]
    folder = REPO / "datasets" / "turbulence-ns"
    train = load_recipe(
        folder, [f"samples={sizes.samples}", f"n={sizes.n_dns}", f"t_end={sizes.t_train}", *common]
    )
    t_large = sizes.spinup + DT * sizes.steps
    large = load_recipe(
        folder,
        ["samples=1", "seed=100", f"n={2 * sizes.n_dns}", f"box_size={4 * math.pi}",
         "spectrum_peak=4.0", f"t_end={t_large}", *common],
    )  # fmt: skip
    return train, large, t_large


def coarse_grain(dns: xr.Dataset, factor: int) -> xr.Dataset:
    """Box filter of ``factor``^3 cells, subsampled: the coarse state the surrogates see
    (the DNS's own dissipation diagnostics are dropped: they are fine-grid quantities)."""
    return surrogates.data.coarse_grain(dns, factor, drop=FINE_GRID_DIAGNOSTICS)


# --- training under a wall-clock budget -------------------------------------------------


class LoopClock(lightning.Callback):
    """Wall clock of a training loop: batch end times, validation durations, loop span."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.validations: list[float] = []
        self.span = (math.nan, math.nan)
        self._val_start = math.nan

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.span = (time.perf_counter(), math.nan)

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        self.ends.append(time.perf_counter())

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.validations.append(time.perf_counter() - self._val_start)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.span = (self.span[0], time.perf_counter())

    @property
    def loop_seconds(self) -> float:
        return self.span[1] - self.span[0]

    @property
    def step_seconds(self) -> float:
        """Median time between batch ends (the first quarter, warm-up, left out)."""
        gaps = np.diff(self.ends)
        gaps = gaps[gaps.size // 4 :]
        return float(np.median(gaps)) if gaps.size else self.loop_seconds


def crop_size(sizes: Sizes) -> int:
    """Training crop (coarse cells per side): half the coarse box, so windows wrap around it.

    Also the rollout tile of the same-size models (the FNOs)."""
    return sizes.n_dns // sizes.factor // 2


def fit_options(sizes: Sizes, name: str, lr: float, seed: int = 0) -> dict[str, Any]:
    """Options of ``surrogates.fit`` shared by calibration and training (notebook 03's)."""
    if seed < 0:
        raise ModelError(f"--seed: got {seed}, expected a non-negative integer")
    crop = crop_size(sizes)
    config = dict(sizes.vnet if name == "vnet" else sizes.fno)
    options = dict(
        crop=crop, unroll=1, batch_size=4, lr=lr, loss="amse", symmetries=True, seed=seed,
        val_fraction=sizes.val_fraction, val_batches=sizes.val_batches, model_config=config,
    )  # fmt: skip
    if name != "vnet":  # same-size model: train on crop + 2 pad windows, the rollout's tiles
        options["pad"] = sizes.fno_pad
    return options


def calibrate(
    train: xr.Dataset, task: Any, name: str, sizes: Sizes, options: dict[str, Any]
) -> dict[str, float]:
    """Seconds per training step and per validation, from a short fit (nothing written)."""
    clock = LoopClock()
    n = sizes.calibration_steps
    surrogates.fit(train, task, name, **options, max_steps=n, val_every=n, progress=False,
                   callbacks=(clock,))  # fmt: skip
    val = float(np.median(clock.validations)) if clock.validations else 0.0
    return {"steps": n, "step_seconds": clock.step_seconds, "val_seconds": val}


def train(
    data: xr.Dataset,
    task: Any,
    name: str,
    sizes: Sizes,
    options: dict[str, Any],
    budget: float,
    out: Path,
    quick: bool,
) -> tuple[Any, dict[str, Any]]:
    """Calibrate, then fit ``name`` with :func:`fit_options`'s ``options`` for ``budget``
    seconds; returns (surrogate, record)."""
    cal = calibrate(data, task, name, sizes, options)
    usable = budget - sizes.validations * cal["val_seconds"]
    max_steps = max(sizes.validations, int(usable / cal["step_seconds"]))
    clock = LoopClock()
    shutil.rmtree(out / "models" / name, ignore_errors=True)  # no checkpoints of older runs
    print(f"{name}: {cal['step_seconds']:.3g} s/step -> max_steps {max_steps}, {budget:g} s")
    model = surrogates.fit(
        data, task, name, **options, max_steps=max_steps, max_time=budget,
        val_every=max(1, max_steps // sizes.validations), out_dir=str(out / "models" / name),
        progress=not quick, callbacks=(clock,),
    )  # fmt: skip
    prov = model.metadata.provenance
    print(f"{name}: {prov['steps']} steps in {clock.loop_seconds:.1f} s, {prov['weights']}")
    record = {
        "params": sum(p.numel() * (2 if p.is_complex() else 1) for p in model.model.parameters()),
        "config": options["model_config"],
        "lr": options["lr"],
        "seed": options["seed"],
        "calibration": cal,
        "budget_seconds": budget,
        "max_steps": max_steps,
        "steps": prov["steps"],
        "stopped_by": "max_steps" if prov["steps"] >= max_steps else "max_time",
        "loop_seconds": clock.loop_seconds,
        "train_seconds": prov["train_seconds"],
        "val_loss_best": prov["metrics"].get("val_loss_best"),
        "weights": prov["weights"],
    }
    return model, record


# --- rollout and comparison -------------------------------------------------------------


def predict(model: Any, truth: xr.Dataset, steps: int, tile: int | None) -> xr.Dataset:
    """Roll ``model`` out ``steps`` steps from the first frame of ``truth`` (one sample) with
    its forcing schedule."""
    schedule = truth["forcing_amplitude"].isel(sample=0).values[:steps]
    return surrogates.rollout(model, truth.isel(time=[0]), steps=steps, tile=tile,
                              params={"forcing_amplitude": schedule}, progress=False)  # fmt: skip


def roll(model: Any, truth: xr.Dataset, steps: int, tile: int | None) -> tuple[xr.Dataset, float]:
    """:func:`predict`, and its seconds, timed after a one-step warm-up (first-call costs
    are not the surrogate's step cost)."""
    predict(model, truth, 1, tile)
    t0 = time.perf_counter()
    prediction = predict(model, truth, steps, tile)
    return prediction, time.perf_counter() - t0


def validation_rollout(
    model: Any, data: xr.Dataset, task: Any, sizes: Sizes, tile: int | None
) -> dict[str, float]:
    """Rollout scores on the training realisations the fit held out for validation.

    Each held-out realisation (the split of ``surrogates.fit``: the fraction and seed the
    model's provenance records) is rolled out from its first frame with its own forcing
    schedule, over ``sizes.steps`` steps or as many as it holds, and scored like the large
    box: the mean over steps of the relative L2 error and of abs(relative epsilon error),
    averaged over realisations. This is what picks each model's learning rate, without
    looking at the large box.
    """
    fitted = model.metadata.provenance["fit_config"]
    split = split_dataset(data, task, 1, fitted["val_fraction"], seed=fitted["seed"])
    if not split.val_samples:
        raise DataError(f"validation rollout: no held-out realisation in {data.sizes}")
    l2, eps = [], []
    for s in split.val_samples:
        truth = data.isel(sample=[s])
        steps = min(sizes.steps, truth.sizes["time"] - 1)
        frames = truth.isel(time=slice(0, steps + 1))
        result = surrogates.compare(
            predict(model, truth, steps, tile), frames, diagnostics=["metrics", "turbulence"],
            name="model",
        )  # fmt: skip
        scores = series(result, "model")
        l2.append(float(np.mean(scores["relative_l2"][1:])))
        eps.append(mean_eps_error(scores))
    return {"relative_l2": float(np.mean(l2)), "eps_error": float(np.mean(eps)),
            "samples": list(split.val_samples), "steps": steps}  # fmt: skip


def solver_grids(n: int) -> list[int]:
    """The ladder of solver grids for a coarse grid of ``n`` cells: 2n, 3n/2, 5n/4, n, n/2."""
    return sorted({2 * n, 3 * n // 2, 5 * n // 4, n, n // 2}, reverse=True)


def coarse_solvers(
    recipe: Any, dns: xr.Dataset, truth: xr.Dataset, steps: int, factor: int
) -> dict[str, tuple[Any, float]]:
    """The solver at lower cost: the DNS's own solver on the grids of :func:`solver_grids`.

    Each run starts from the DNS's first frame truncated to its grid (the best start that
    grid can have), with the DNS's viscosity and forcing schedule. Its frames are
    coarse-grained like the truth: Fourier-interpolated to the DNS grid, then box-filtered
    by ``factor``. Returns, per run name, the frames (like the truth: ``sample, time, x,
    y, z``) and the solver's wall seconds (a second call: FFT plans made).
    """
    config, seed = sample_configs(recipe)[0]
    times = truth["time"].values[: steps + 1]
    n = truth.sizes["x"]
    first = np.stack([dns[v].isel(sample=0, time=0).values for v in VELOCITY]).astype(float)
    runs = {}
    for m in solver_grids(n):
        coarse = dataclasses.replace(config, n=m, spinup=float(times[0]), t_end=float(times[-1]))
        start = fourier_resample(first, m)
        simulate_from(coarse, start, seed)
        t0 = time.perf_counter()
        ds = simulate_from(coarse, start, seed)
        seconds = time.perf_counter() - t0
        frames = truth[VELOCITY].isel(time=slice(0, steps + 1)).copy(deep=True)
        for v in VELOCITY:
            fine = fourier_resample(ds[v].values, n * factor)
            box = fine.reshape(-1, n, factor, n, factor, n, factor).mean(axis=(2, 4, 6))
            frames[v].values[:] = box[None].astype(frames[v].dtype)
        frames.attrs["source"] = f"navier-stokes solver on {m}^3, from the DNS's first frame"
        runs[f"DNS {m}^3"] = (frames, seconds)
    return runs


def evaluate(predictions: dict[str, xr.Dataset], truth: xr.Dataset,
             solvers: dict[str, xr.Dataset]) -> xr.Dataset:  # fmt: skip
    """``surrogates.compare`` of every model, persistence and the solver runs
    against the filtered DNS."""
    (first, prediction), *others = predictions.items()
    frozen = persistence(truth, VELOCITY, prediction["time"].values)
    return surrogates.compare(
        prediction, truth, diagnostics=["metrics", "turbulence"], name=first,
        baselines={**dict(others), "persistence": frozen, **solvers},
    )  # fmt: skip


def error_figure(result: xr.Dataset) -> Any:
    """Relative L2 error (mean over u_x, u_y, u_z) against the rollout step, one line a model."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.8), layout="constrained")
    ax = fig.add_subplot()
    error = result["relative_l2"].mean("variable").isel(sample=0)
    for model in result["model"].values:
        ls = ":" if model == "persistence" else "--" if str(model).startswith("DNS ") else "-"
        ax.plot(np.arange(error.sizes["time"]), error.sel(model=model), ls, marker="o", ms=3,
                label=str(model))  # fmt: skip
    ax.set(xlabel="rollout step", ylabel="relative L2 error of u", ylim=(0, None))
    ax.legend()
    return fig


def figures(result: xr.Dataset, truth: xr.Dataset, out: Path) -> list[Path]:
    """Error vs step, E(k) at the last step, epsilon over time (PNG files under ``out``).

    The models, persistence and two solver runs: on the coarse grid ``n`` and on ``3n/2``
    (the rest of the ladder is in the table; nine lines would hide the models).
    """
    n = truth.sizes["x"]
    shown = (f"DNS {n}^3", f"DNS {3 * n // 2}^3")
    hidden = [
        m for m in map(str, result["model"].values) if m.startswith("DNS ") and m not in shown
    ]
    result = result.drop_sel(model=hidden)
    # Shells 1 .. the coarse grid's Nyquist wavenumber: shell 0 is the (zero) mean flow,
    # and the corner shells beyond Nyquist hold almost no energy after the box filter.
    k, box = result["k_shell"], float(result.attrs["box_size"][0])
    resolved = result.isel(k_shell=(k > 0) & (k <= np.pi * truth.sizes["x"] / box))
    paths = []
    for name, fig in (
        ("error_vs_step.png", error_figure(result)),
        ("energy_spectra.png", plot.energy_spectra(resolved)),
        ("dissipation.png", plot.dissipation(result)),
    ):
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=120)
    return paths


# --- results ----------------------------------------------------------------------------


def series(result: xr.Dataset, model: str) -> dict[str, list[float]]:
    """Per-step relative L2 (mean over components), epsilon and its relative error of the
    first sample."""
    one = result.sel(model=model).isel(sample=0)
    return {
        "relative_l2": one["relative_l2"].mean("variable").values.tolist(),
        "dissipation": one["dissipation"].values.tolist(),
        "dissipation_error": one["dissipation_error"].values.tolist(),
    }


def table_row(name: str, rec: dict[str, Any], steps: int) -> dict[str, Any]:
    """One row of the Markdown table (persistence has no training or speedup)."""
    err = rec["relative_l2"]
    val = rec.get("validation", {})
    return {
        "model": name,
        "params": rec.get("params", "-"),
        "lr": rec.get("lr", "-"),
        "steps": rec.get("steps", "-"),
        "train s": rec.get("loop_seconds", "-"),
        "val. rollout L2": val.get("relative_l2", "-"),
        "val. rollout eps err": val.get("eps_error", "-"),
        "L2 step 1": err[1],
        f"L2 step {steps // 2}": err[steps // 2],
        f"L2 step {steps}": err[steps],
        "mean abs eps err": mean_eps_error(rec),
        "speedup": rec.get("speedup", "-"),
    }


def markdown(results: dict[str, Any]) -> str:
    """``results.md``: the side-by-side table and the timings."""
    steps = results["settings"]["steps"]
    rows = [table_row(n, r, steps) for n, r in results["models"].items()]
    rows.append(table_row("persistence", results["persistence"], steps))
    rows += [table_row(n, r, steps) for n, r in results.get("solvers", {}).items()]
    sec = results["seconds"]
    timed = "reused file, timed when written" if results["dns_large_reused"] else "timed now"
    lines = [
        "# Workflow 2: turbulence world model (vnet, fno, neuraloperator FNO)",
        "",
        f"DNS box-filtered {results['settings']['factor']}x per axis; same data, loss"
        f" ({results['loss']}) and training budget of {results['budget_seconds']:g} s"
        f" (training loop) per model, each at its own peak learning rate (lr, picked by the"
        f" relative L2 of a rollout on the held-out training realisation: val. rollout),"
        f" seed {results['seed']};"
        f" rollout of {steps} steps ({steps * DT:g} time units) on"
        f" the {results['settings']['coarse_large']}^3 coarse grid of the 2x larger box.",
        "",
        markdown_table(rows),
        "",
        f"DNS solver: {sec['dns_large']:.1f} s for the large box to t = {results['t_large']:g}"
        f" ({results['solver_steps']} solver steps; {timed}); speedup = solver seconds per"
        f" simulated time unit / the surrogate's ({results['threads']} torch thread(s));"
        f" total wall time {sec['total']:.0f} s.",
    ]
    if results.get("solvers"):
        lines += ["", *matched_accuracy(results)]
    if results["skipped"]:
        lines += ["", f"Skipped: {results['skipped']}"]
    return "\n".join(lines)


def mean_eps_error(record: dict[str, Any]) -> float:
    """Mean |relative error of epsilon| over the rollout steps (the first frame is given)."""
    return float(np.mean(np.abs(record["dissipation_error"][1:])))


def matched_accuracy(results: dict[str, Any]) -> list[str]:
    """Markdown lines: each model's speedup at matched accuracy (the mean epsilon error,
    the aggregate quantity), bracketed by the solver ladder.

    At most the cost ratio of the cheapest run at least as accurate as the model (a run
    between the two could match it for less); at least that of the costliest cheaper run
    that is less accurate.
    """
    solvers = results["solvers"]
    costs = {name: rec["solver_seconds"] for name, rec in solvers.items()}
    errors = {name: mean_eps_error(rec) for name, rec in solvers.items()}
    lines = [
        "Speedup at matched accuracy (mean abs epsilon error; DNS m^3: the solver on an"
        " m^3 grid from the DNS's first frame, same forcing, coarse-grained like the truth):"
    ]
    for name, rec in results["models"].items():
        mine, seconds = mean_eps_error(rec), rec["rollout_seconds"]
        match = cheapest_matching(costs, errors, mine)
        limit = costs[match] if match is not None else math.inf
        worse = [k for k in costs if errors[k] > mine and costs[k] < limit]
        below = max(worse, key=costs.__getitem__) if worse else None
        parts = []
        if match is not None:
            parts.append(f"{match} ({errors[match]:.3g}, {costs[match]:.2f} s) is as accurate")
        if below is not None:
            parts.append(f"{below} ({errors[below]:.3g}, {costs[below]:.2f} s) is not")
        if match is not None and below is not None:
            verdict = (f"between {costs[below] / seconds:.2g}x and"
                       f" {costs[match] / seconds:.2g}x")  # fmt: skip
        elif match is not None:
            verdict = f"at most {costs[match] / seconds:.2g}x"
        elif below is not None:
            verdict = f"at least {costs[below] / seconds:.2g}x (no run as accurate)"
        else:
            verdict = "no solver run to compare"
        lines.append(f"- {name} ({mine:.3g}, rollout {seconds:.2f} s): {'; '.join(parts)}:"
                     f" {verdict}")  # fmt: skip
    return lines


def run(args: Any) -> dict[str, Any]:
    """The whole study; returns the results dictionary (also written to ``args.out``)."""
    sizes = QUICK if args.quick else DEFAULT
    budget = sizes.budget if args.budget is None else args.budget
    if not budget > 0:
        raise ModelError(f"--budget: got {budget!r}, expected a positive number of seconds")
    names, skipped = choose_models(args.models)
    lrs = learning_rates(sizes, names, args.lr)
    options = {name: fit_options(sizes, name, lrs[name], args.seed) for name in names}
    watch, out = Stopwatch(), args.out
    train_recipe, large_recipe, t_large = recipes(sizes)
    with watch("dns_train"):
        generate(train_recipe, out / "dns-train.nc")
    large_run = generate(large_recipe, out / "dns-large.nc", resume=False)
    dns_seconds, reused = large_run["seconds"], large_run["reused"]
    dns_train = surrogates.open_dataset(out / "dns-train.nc")
    dns_large = surrogates.open_dataset(out / "dns-large.nc")
    data, truth = coarse_grain(dns_train, sizes.factor), coarse_grain(dns_large, sizes.factor)
    task = surrogates.Task(inputs=VELOCITY, targets=VELOCITY, params=["forcing_amplitude"],
                           lead=1, residual=True)  # fmt: skip
    records, predictions = {}, {}
    solver_per_time = dns_seconds / t_large
    for name in names:
        with watch(f"train_{name}"):
            model, records[name] = train(
                data, task, name, sizes, options[name], budget, out, args.quick
            )
        tile = None if name == "vnet" else crop_size(sizes)
        with watch(f"validate_{name}"):
            records[name]["validation"] = validation_rollout(model, data, task, sizes, tile)
        prediction, seconds = roll(model, truth, sizes.steps, tile)
        predictions[name] = prediction
        records[name].update(
            rollout_seconds=seconds,
            rollout_plan=prediction.attrs["rollout_plan"],
            speedup=solver_per_time / (seconds / (sizes.steps * DT)),
        )
    with watch("coarse_solvers"):
        solvers = coarse_solvers(large_recipe, dns_large, truth, sizes.steps, sizes.factor)
    with watch("compare"):
        result = evaluate(predictions, truth, {k: frames for k, (frames, _) in solvers.items()})
        paths = figures(result, truth, out)
    for name in names:
        records[name].update(series(result, name))
    solver_records = {
        name: {"solver_seconds": seconds, **series(result, name),
               "speedup": solver_per_time / (seconds / (sizes.steps * DT))}
        for name, (_, seconds) in solvers.items()
    }  # fmt: skip
    watch.seconds["dns_large"] = dns_seconds
    return {
        "quick": args.quick,
        "settings": {**dataclasses.asdict(sizes), "coarse_large": truth.sizes["x"]},
        "budget_seconds": budget,
        "loss": options[names[0]]["loss"],
        "seed": args.seed,
        "t_large": t_large,
        "times": result["time"].values.tolist(),
        "dns_large_reused": reused,
        "solver_steps": int(dns_large.attrs["steps"]),
        "threads": torch.get_num_threads(),
        "solver_seconds_per_time": solver_per_time,
        "models": records,
        "persistence": series(result, "persistence"),
        "solvers": solver_records,
        "dissipation_truth": result["dissipation_truth"].isel(sample=0).values.tolist(),
        "skipped": skipped,
        "figures": [p.name for p in paths],
        "seconds": watch.seconds,
    }


def quiet_lightning() -> None:
    """Keep Lightning's per-fit banners out of the output (this script prints a summary)."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def main(argv: list[str] | None = None) -> None:
    quiet_lightning()
    args = parse_args(__doc__.split("\n\n")[0], "runs/workflows/turbulence", argv, _extra)
    start = time.perf_counter()
    try:
        results = run(args)
    except (DataError, ModelError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    results["seconds"]["total"] = time.perf_counter() - start
    json_path, md_path = write_results(args.out, results, markdown(results))
    print(markdown(results))
    print(f"\nresults: {json_path} and {md_path}")
    print(f"figures: {', '.join(str(args.out / f) for f in results['figures'])}")
    print(f"models:  {args.out / 'models'}/<name>/surrogate.pt")


if __name__ == "__main__":
    main()
