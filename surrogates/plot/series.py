"""Time series of a :func:`surrogates.compare` result: error versus rollout step, force
coefficients per body, and the dissipation rate; a solver's error against its cost beside
the surrogates' (speedup at matched accuracy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from surrogates.errors import DataError
from surrogates.plot._style import (
    COLORS,
    TRUTH,
    figure,
    finite_positive,
    label,
    model_names,
    reduce,
    reference_line,
    require,
    style,
)

__all__ = ["error_vs_step", "force_coefficients", "dissipation", "matched_accuracy"]

_DASHES = ("-", "--", "-.", ":")


def _time_axis(result: xr.Dataset, da: xr.DataArray, x: str) -> tuple[np.ndarray, str]:
    """Abscissa of a series: step index or the ``time`` coordinate (one point without time)."""
    if "time" not in da.dims:
        return np.zeros(1), "step" if x == "step" else "time"
    if x == "step":
        return np.arange(da.sizes["time"]), "rollout step"
    if x != "time":
        raise DataError(f"plot: x={x!r}, expected 'step' or 'time'")
    return np.asarray(result["time"].values), label(result["time"], "time")


def error_vs_step(
    result: xr.Dataset,
    metric: str = "nrmse",
    *,
    variables: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    band: str = "low",
    x: str = "step",
    isel: Mapping[str, Any] | None = None,
    log: bool = False,
) -> Figure:
    """An error metric against the rollout step (or time), averaged over samples.

    One line per variable (colour) and model (line style); ``band`` picks the fRMSE band.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with ``len(variables) * len(models)`` lines.
    """
    require(result, [metric], "error_vs_step")
    da = result[metric]
    if "band" in da.dims:
        da = da.sel(band=band)
    names = model_names(result, models)
    have = [str(v) for v in result["variable"].values]
    chosen = have if variables is None else list(variables)
    if not set(chosen) <= set(have):
        raise DataError(f"plot.error_vs_step: variables {chosen} not all in {have}")
    xs, xlabel = _time_axis(result, da, x)
    with style():
        fig, axes = figure(1, 1, width=3.8, height=2.6)
        ax = axes[0, 0]
        for j, name in enumerate(names):
            for i, var in enumerate(chosen):
                y = reduce(da.sel(model=name, variable=var), isel, ["time"]).values
                text = var if len(names) == 1 else f"{var} ({name})"
                ax.plot(
                    xs,
                    np.atleast_1d(y),
                    color=COLORS[i % len(COLORS)],
                    ls=_DASHES[j % len(_DASHES)],
                    marker="o" if xs.size < 3 else None,
                    label=text,
                )
        if log:
            ax.set_yscale("log", nonpositive="mask")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(str(result[metric].attrs.get("long_name", metric)))
        ax.legend()
    return fig


def force_coefficients(
    result: xr.Dataset,
    *,
    bodies: Sequence[int] | None = None,
    models: Sequence[str] | None = None,
    x: str = "time",
    isel: Mapping[str, Any] | None = None,
) -> Figure:
    """Drag, lift (and side-force) coefficients over time, truth against the models, one
    row per body.

    The first sample is drawn unless ``isel`` picks another.

    Returns
    -------
    matplotlib.figure.Figure
        ``2 n_bodies`` axes (row: body; columns: C_D, C_L, and C_S where the result has
        it, 3D), each with the truth and one line per model.
    """
    require(result, ["C_D", "C_L", "C_D_truth", "C_L_truth"], "force_coefficients")
    coefs = ("C_D", "C_L", "C_S") if {"C_S", "C_S_truth"} <= set(result) else ("C_D", "C_L")
    names = model_names(result, models)
    ids = list(result["body"].values) if bodies is None else list(bodies)
    xs, xlabel = _time_axis(result, result["C_D_truth"], x)
    marker = "o" if xs.size < 3 else None
    with style():
        fig, axes = figure(len(ids), len(coefs), width=3.0, height=1.6, sharex=True)
        for row, body in enumerate(ids):
            for col, coef in enumerate(coefs):
                ax = axes[row, col]
                truth = reduce(result[f"{coef}_truth"].sel(body=body), isel, ["time"], "first")
                ax.plot(xs, np.atleast_1d(truth.values), label="truth", marker=marker, **TRUTH)
                for i, name in enumerate(names):
                    da = reduce(result[coef].sel(model=name, body=body), isel, ["time"], "first")
                    ax.plot(
                        xs,
                        np.atleast_1d(da.values),
                        color=COLORS[i % len(COLORS)],
                        marker=marker,
                        label=name,
                    )
                ax.set_ylabel(rf"$C_{coef[-1]}$, body {body}")
            if row == len(ids) - 1:
                for ax in axes[row]:
                    ax.set_xlabel(xlabel)
        axes[0, 0].legend()
    return fig


def dissipation(
    result: xr.Dataset,
    *,
    models: Sequence[str] | None = None,
    x: str = "time",
    isel: Mapping[str, Any] | None = None,
) -> Figure:
    """Dissipation rate over time (truth and models, sample mean) and its relative error.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing time: epsilon (truth + one line per model) and
        ``epsilon_model / epsilon_truth - 1`` (one line per model, guide at 0).
    """
    require(result, ["dissipation_truth", "dissipation", "dissipation_error"], "dissipation")
    names = model_names(result, models)
    xs, xlabel = _time_axis(result, result["dissipation_truth"], x)
    marker = "o" if xs.size < 3 else None
    with style():
        fig, axes = figure(2, 1, width=3.6, height=1.7, sharex=True)
        ax_e, ax_q = axes[:, 0]
        truth = reduce(result["dissipation_truth"], isel, ["time"]).values
        ax_e.plot(xs, np.atleast_1d(truth), label="truth", marker=marker, **TRUTH)
        for i, name in enumerate(names):
            eps = reduce(result["dissipation"].sel(model=name), isel, ["time"]).values
            err = reduce(result["dissipation_error"].sel(model=name), isel, ["time"]).values
            color = COLORS[i % len(COLORS)]
            ax_e.plot(xs, np.atleast_1d(eps), color=color, marker=marker, label=name)
            ax_q.plot(xs, np.atleast_1d(err), color=color, marker=marker)
        reference_line(ax_q, 0.0, ls="-")
        ax_e.set_ylabel(label(result["dissipation_truth"], r"$\varepsilon$"))
        ax_q.set_ylabel(r"$\varepsilon_{model}/\varepsilon_{truth} - 1$")
        ax_q.set_xlabel(xlabel)
        ax_e.legend()
    return fig


def matched_accuracy(
    seconds: Sequence[float] | np.ndarray,
    error: Sequence[float] | np.ndarray,
    models: Mapping[str, tuple[float, float]],
    *,
    solver: str = "solver",
    quantity: str = "error",
) -> Figure:
    """A solver's error against its wall time, each surrogate's (time, error) beside it.

    Parameters
    ----------
    seconds, error : array-like, shape (n,)
        The solver's wall time to reach each saved frame and the error of the aggregate
        quantity computed from that frame (against the converged answer).
    models : mapping of str to (float, float)
        Per surrogate: its wall time and its error. A dotted line marks the error; where
        the solver's curve stays below it for good is the solver's cost at matched accuracy.
    solver, quantity : str
        Legend name of the solver and y-axis label.

    Returns
    -------
    matplotlib.figure.Figure
        One log-log axes.
    """
    t = np.asarray(seconds, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    if t.shape != e.shape or t.ndim != 1:
        raise DataError(f"matched_accuracy: seconds {t.shape} and error {e.shape} differ")
    with style():
        fig, axes = figure(1, 1, width=4.2, height=3.0)
        ax = axes[0, 0]
        keep = finite_positive(t, e)
        ax.plot(t[keep], e[keep], label=solver, **TRUTH)
        for i, (name, (cost, err)) in enumerate(models.items()):
            color = COLORS[i % len(COLORS)]
            ax.plot([cost], [err], marker="o", ls="none", color=color, label=name)
            ax.axhline(err, color=color, lw=0.8, ls=":", zorder=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("wall time [s]")
        ax.set_ylabel(quantity)
        ax.legend()
    return fig
