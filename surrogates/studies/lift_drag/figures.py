"""The solver's force history and the study's three figures."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from surrogates import plot
from surrogates.diagnostics import force_coefficients
from surrogates.studies.lift_drag.settings import COEFFICIENTS, STATE

__all__ = ["figures", "history_result", "solver_history"]


def solver_history(run: xr.Dataset, u_mean: float) -> xr.Dataset:
    """C_D, C_L and C_S ``(time, body)`` from every frame the solver saved.

    The same field diagnostic (:func:`surrogates.diagnostics.force_coefficients`) that
    :func:`surrogates.compare` applies to the steady and the predicted fields.

    Parameters
    ----------
    run : xarray.Dataset
        The long channel's LBM run: ``p, u_x, u_y, u_z`` of shape ``(1, time, x, y, z)``,
        ``mask`` of shape ``(1, x, y, z)``, attribute ``viscosity``.
    u_mean : float
        Reference velocity of the coefficients (the inflow's mean).
    """
    frames = run.isel(sample=0)
    mask = frames["mask"].values > 0.5
    coeffs = force_coefficients(
        *(frames[v] for v in STATE), mask=mask, velocity=u_mean,
        nu=float(run.attrs["viscosity"]),
    )  # fmt: skip
    times = xr.DataArray(frames["time"].values, dims="time", attrs={"units": "s"})
    return coeffs[list(COEFFICIENTS)].assign_coords(time=times).load()


def history_result(history: xr.Dataset, result: xr.Dataset) -> xr.Dataset:
    """The solver's coefficients over its run as the "truth" of a force plot, with the
    surrogate's steady values drawn as flat lines beside them."""
    steady = result.isel(sample=0, time=-1)[list(COEFFICIENTS)].sel(model=["surrogate"])
    out = xr.Dataset({f"{c}_truth": history[c] for c in COEFFICIENTS})
    for c in COEFFICIENTS:
        out[c] = steady[c].drop_vars("time", errors="ignore").broadcast_like(history[c])
    return out


def figures(
    history: xr.Dataset, result: xr.Dataset, truth: xr.Dataset, prediction: xr.Dataset,
    matched: dict, out: Path,
) -> list[Path]:  # fmt: skip
    """Matched accuracy, C_D / C_L / C_S of the solver's run against the surrogate's, a u_x
    slice; written as PNG files into ``out``."""
    paths = [out / "matched_accuracy.png", out / "force_coefficients.png",
             out / "velocity_slice.png"]  # fmt: skip
    drawn = [
        plot.matched_accuracy(
            matched["lbm_seconds"], matched["lbm_error"],
            {"surrogate": (matched["surrogate_seconds"], matched["surrogate_error"])},
            solver="LBM, from its saved frames", quantity="mean abs. C_D error (relative)",
        ),
        plot.force_coefficients(history_result(history, result)),
        plot.slices(truth["u_x"], prediction["u_x"], axis="z", isel={"sample": 0, "time": -1},
                    title="steady u_x [m/s] in the mid-plane z = 0.5 m"),
    ]  # fmt: skip
    for fig, path in zip(drawn, paths, strict=True):
        fig.savefig(path, dpi=110)
    return paths
