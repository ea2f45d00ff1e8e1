"""Rollouts and scores of the turbulence study: models, persistence and the solver ladder."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import xarray as xr

from surrogates.compare import compare
from surrogates.data import Task, split_dataset
from surrogates.diagnostics import persistence
from surrogates.errors import DataError
from surrogates.ops.fft import fourier_resample
from surrogates.rollout import rollout
from surrogates.solvers.ns import simulate_from
from surrogates.solvers.recipe import Recipe, sample_configs
from surrogates.studies.turbulence.settings import VELOCITY

__all__ = [
    "coarse_solvers",
    "evaluate",
    "mean_eps_error",
    "predict",
    "roll",
    "series",
    "solver_grids",
    "validation_rollout",
]

DIAGNOSTICS = ["metrics", "turbulence"]


def predict(model: Any, truth: xr.Dataset, steps: int, tile: int | None) -> xr.Dataset:
    """Roll ``model`` out ``steps`` steps from the first frame of ``truth``.

    Parameters
    ----------
    model : Surrogate
        A lead-1 surrogate of the velocity, conditioned on ``forcing_amplitude``.
    truth : xarray.Dataset
        One sample, dims ``(sample, time, x, y, z)``, with its forcing schedule
        ``forcing_amplitude`` of dims ``(sample, time)``.
    steps : int
        Rollout steps.
    tile : int or None
        Rollout tile (None: the whole box at once).

    Returns
    -------
    xarray.Dataset
        ``steps + 1`` frames, dims ``(sample, time, x, y, z)``.
    """
    schedule = truth["forcing_amplitude"].isel(sample=0).values[:steps]
    return rollout(model, truth.isel(time=[0]), steps=steps, tile=tile,
                   params={"forcing_amplitude": schedule}, progress=False)  # fmt: skip


def roll(model: Any, truth: xr.Dataset, steps: int, tile: int | None) -> tuple[xr.Dataset, float]:
    """:func:`predict`, and its seconds, timed after a one-step warm-up (first-call costs
    are not the surrogate's step cost)."""
    predict(model, truth, 1, tile)
    t0 = time.perf_counter()
    prediction = predict(model, truth, steps, tile)
    return prediction, time.perf_counter() - t0


def series(result: xr.Dataset, model: str) -> dict[str, list[float]]:
    """Per-step relative L2 (mean over components), epsilon and its relative error of the
    first sample of ``model`` in a ``surrogates.compare`` result."""
    one = result.sel(model=model).isel(sample=0)
    return {
        "relative_l2": one["relative_l2"].mean("variable").values.tolist(),
        "dissipation": one["dissipation"].values.tolist(),
        "dissipation_error": one["dissipation_error"].values.tolist(),
    }


def mean_eps_error(record: dict[str, Any]) -> float:
    """Mean |relative error of epsilon| over the rollout steps (the first frame is given)."""
    return float(np.mean(np.abs(record["dissipation_error"][1:])))


def validation_rollout(
    model: Any, data: xr.Dataset, task: Task, steps: int, tile: int | None
) -> dict[str, Any]:
    """Rollout scores on the training realisations the fit held out for validation.

    Each held-out realisation (the split of ``surrogates.fit``: the fraction and seed the
    model's provenance records) is rolled out from its first frame with its own forcing
    schedule, over ``steps`` steps or as many as it holds, and scored like the large box:
    the mean over steps of the relative L2 error and of abs(relative epsilon error),
    averaged over realisations. This is what picks each model's learning rate, without
    looking at the large box.

    Parameters
    ----------
    model : Surrogate
        The fitted model.
    data : xarray.Dataset
        The coarse training set, dims ``(sample, time, x, y, z)``.
    task : Task
        The task the model was fitted for.
    steps : int
        Rollout steps (at most).
    tile : int or None
        Rollout tile.

    Returns
    -------
    dict
        ``relative_l2``, ``eps_error``, ``samples`` (the held-out ones), ``steps``.
    """
    fitted = model.metadata.provenance["fit_config"]
    split = split_dataset(data, task, 1, fitted["val_fraction"], seed=fitted["seed"])
    if not split.val_samples:
        raise DataError(f"validation rollout: no held-out realisation in {dict(data.sizes)}")
    l2, eps, n = [], [], steps
    for s in split.val_samples:
        truth = data.isel(sample=[s])
        n = min(steps, truth.sizes["time"] - 1)
        frames = truth.isel(time=slice(0, n + 1))
        result = compare(predict(model, truth, n, tile), frames, diagnostics=DIAGNOSTICS,
                         name="model")  # fmt: skip
        scores = series(result, "model")
        l2.append(float(np.mean(scores["relative_l2"][1:])))
        eps.append(mean_eps_error(scores))
    return {"relative_l2": float(np.mean(l2)), "eps_error": float(np.mean(eps)),
            "samples": list(split.val_samples), "steps": n}  # fmt: skip


def solver_grids(n: int) -> list[int]:
    """The ladder of solver grids for a coarse grid of ``n`` cells: 2n, 3n/2, 5n/4, n, n/2."""
    return sorted({2 * n, 3 * n // 2, 5 * n // 4, n, n // 2}, reverse=True)


def coarse_solvers(
    recipe: Recipe, dns: xr.Dataset, truth: xr.Dataset, steps: int, factor: int
) -> dict[str, tuple[xr.Dataset, float]]:
    """The solver at lower cost: the DNS's own solver on the grids of :func:`solver_grids`.

    Each run starts from the DNS's first frame truncated to its grid (the best start that
    grid can have), with the DNS's viscosity and forcing schedule. Its frames are
    coarse-grained like the truth: Fourier-interpolated to the DNS grid, then box-filtered
    by ``factor``.

    Parameters
    ----------
    recipe : Recipe
        The recipe of the DNS (one realisation).
    dns : xarray.Dataset
        The DNS, dims ``(sample, time, x, y, z)``, ``factor`` times finer than ``truth``.
    truth : xarray.Dataset
        The coarse-grained DNS, dims ``(sample, time, x, y, z)``.
    steps : int
        Frames after the first.
    factor : int
        The coarse-graining factor.

    Returns
    -------
    dict
        Per run name (``"DNS m^3"``): the frames (like the truth: ``sample, time, x, y,
        z``) and the solver's wall seconds (a second call: FFT plans made).
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
        frames = truth[list(VELOCITY)].isel(time=slice(0, steps + 1)).copy(deep=True)
        for v in VELOCITY:
            fine = fourier_resample(ds[v].values, n * factor)
            box = fine.reshape(-1, n, factor, n, factor, n, factor).mean(axis=(2, 4, 6))
            frames[v].values[:] = box[None].astype(frames[v].dtype)
        frames.attrs["source"] = f"navier-stokes solver on {m}^3, from the DNS's first frame"
        runs[f"DNS {m}^3"] = (frames, seconds)
    return runs


def evaluate(
    predictions: dict[str, xr.Dataset], truth: xr.Dataset, solvers: dict[str, xr.Dataset]
) -> xr.Dataset:
    """``surrogates.compare`` of every model, persistence and the solver runs against the
    filtered DNS (``truth``, dims ``(sample, time, x, y, z)``)."""
    (first, prediction), *others = predictions.items()
    frozen = persistence(truth, VELOCITY, prediction["time"].values)
    return compare(prediction, truth, diagnostics=DIAGNOSTICS, name=first,
                   baselines={**dict(others), "persistence": frozen, **solvers})  # fmt: skip
