"""Binned statistics of a :func:`surrogates.compare` result: P(k) with T(k) and r(k), E(k)
with its ratio, r^2 xi(r), and halo mass functions with Poisson error bars.

Leading dims are reduced as :func:`surrogates.plot._style.reduce` says: ``isel`` first,
then the mean over ``sample`` and the last ``time``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from surrogates.plot._style import (
    COLORS,
    TRUTH,
    figure,
    label,
    model_names,
    reduce,
    reference_line,
    require,
    style,
)

__all__ = ["power_spectra", "energy_spectra", "correlation", "mass_function"]


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _logx(ax: Axes) -> None:
    """Log wavenumber axis: masks non-positive values, labels decades only (minor labels
    of a two-decade axis overlap)."""
    ax.set_xscale("log", nonpositive="mask")
    ax.xaxis.set_minor_formatter(NullFormatter())


def _loglog(ax: Axes) -> None:
    """Log axes that leave out (rather than clip) zero and negative values."""
    _logx(ax)
    ax.set_yscale("log", nonpositive="mask")


def _nyquist(axes: Sequence[Axes], result: xr.Dataset) -> None:
    """Dotted guide at half the Nyquist wavenumber of the particle lattice / grid."""
    k_nyq = result.attrs.get("k_nyquist")
    if k_nyq:
        for ax in axes:
            ax.axvline(0.5 * float(k_nyq), color="0.55", lw=0.7, ls=":", label="_reference")


def power_spectra(
    result: xr.Dataset,
    *,
    models: Sequence[str] | None = None,
    isel: Mapping[str, Any] | None = None,
    tolerance: float = 0.01,
) -> Figure:
    """P(k) of the truth and the models; T(k) and r(k) below, with guides at 1 and
    ``1 -/+ tolerance`` and a dotted line at half the Nyquist wavenumber.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes sharing ``k``: P(k) (truth + one line per model), T(k) and r(k) (one
        line per model each).
    """
    require(result, ["power_truth", "power", "transfer", "cross_correlation"], "power_spectra")
    names = model_names(result, models)
    k = result["k"].values
    with style():
        fig, axes = figure(
            3, 1, width=3.6, height=1.5, sharex=True, gridspec_kw={"height_ratios": [2, 1, 1]}
        )
        ax_p, ax_t, ax_r = axes[:, 0]
        ax_p.plot(k, reduce(result["power_truth"], isel, ["k"]).values, label="truth", **TRUTH)
        for i, name in enumerate(names):
            sel = {"model": name}
            ax_p.plot(
                k, reduce(result["power"].sel(sel), isel, ["k"]).values, color=_color(i), label=name
            )
            ax_t.plot(k, reduce(result["transfer"].sel(sel), isel, ["k"]).values, color=_color(i))
            r = reduce(result["cross_correlation"].sel(sel), isel, ["k"]).values
            ax_r.plot(k, r, color=_color(i))
        _loglog(ax_p)
        for ax in (ax_t, ax_r):
            _logx(ax)
            reference_line(ax, 1.0, ls="-")
            reference_line(ax, 1.0 - tolerance)
        reference_line(ax_t, 1.0 + tolerance)
        _nyquist(axes[:, 0], result)
        ax_p.set_ylabel(label(result["power_truth"], "P(k)"))
        ax_t.set_ylabel("T(k)")
        ax_r.set_ylabel("r(k)")
        ax_r.set_xlabel(label(result["k"], "k"))
        ax_p.legend()
    return fig


def energy_spectra(
    result: xr.Dataset,
    *,
    models: Sequence[str] | None = None,
    isel: Mapping[str, Any] | None = None,
) -> Figure:
    """Energy spectra E(k) (per shell) of the truth and the models, and E_model / E_truth.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing ``k``: E(k) (truth + one line per model) and the ratio (one line
        per model, guide at 1).
    """
    require(result, ["energy_truth", "energy", "energy_ratio"], "energy_spectra")
    names = model_names(result, models)
    k = result["k_shell"].values
    with style():
        fig, axes = figure(
            2, 1, width=3.6, height=1.7, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
        ax_e, ax_q = axes[:, 0]
        ax_e.plot(
            k, reduce(result["energy_truth"], isel, ["k_shell"]).values, label="truth", **TRUTH
        )
        for i, name in enumerate(names):
            e = reduce(result["energy"].sel(model=name), isel, ["k_shell"]).values
            q = reduce(result["energy_ratio"].sel(model=name), isel, ["k_shell"]).values
            ax_e.plot(k, e, color=_color(i), label=name)
            ax_q.plot(k, q, color=_color(i))
        _loglog(ax_e)
        _logx(ax_q)
        reference_line(ax_q, 1.0, ls="-")
        ax_e.set_ylabel(label(result["energy_truth"], "E(k)"))
        ax_q.set_ylabel(r"$E_{model} / E_{truth}$")
        ax_q.set_xlabel(label(result["k_shell"], "k"))
        ax_e.legend()
    return fig


def correlation(
    result: xr.Dataset,
    *,
    models: Sequence[str] | None = None,
    isel: Mapping[str, Any] | None = None,
) -> Figure:
    """``r^2 xi(r)`` of the truth and the models (one axes; one line each)."""
    require(result, ["xi_truth", "xi"], "correlation")
    names = model_names(result, models)
    r = result["r"].values
    with style():
        fig, axes = figure(1, 1, width=3.6, height=2.6)
        ax = axes[0, 0]
        ax.plot(r, r**2 * reduce(result["xi_truth"], isel, ["r"]).values, label="truth", **TRUTH)
        for i, name in enumerate(names):
            xi = reduce(result["xi"].sel(model=name), isel, ["r"]).values
            ax.plot(r, r**2 * xi, color=_color(i), label=name)
        reference_line(ax, 0.0, ls="-")
        units = result["r"].attrs.get("units")
        ax.set_xlabel(label(result["r"], "r"))
        ax.set_ylabel(r"$r^2\,\xi(r)$" + (f" [({units})$^2$]" if units else ""))
        ax.legend()
    return fig


def _ratio(num, num_err, den, den_err):
    """``num / den`` and its error, propagating independent Poisson errors; NaN where
    ``den`` or ``num`` is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (den > 0) & (num > 0)
        ratio = np.where(ok, num / den, np.nan)
        err = ratio * np.sqrt((num_err / num) ** 2 + (den_err / den) ** 2)
    return ratio, np.where(ok, err, np.nan)


def mass_function(
    result: xr.Dataset,
    *,
    models: Sequence[str] | None = None,
    isel: Mapping[str, Any] | None = None,
) -> Figure:
    """Halo mass functions ``dn/dlnM`` with Poisson error bars, and model / truth.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing the mass axis; each holds one error-bar container per curve
        (truth + models above, models below).
    """
    require(result, ["mass_function_truth", "mass_function", "mass_function_err"], "mass_function")
    names = model_names(result, models)
    m = result["mass"].values
    truth = reduce(result["mass_function_truth"], isel, ["mass"]).values
    truth_err = reduce(result["mass_function_err_truth"], isel, ["mass"]).values
    with style():
        fig, axes = figure(
            2, 1, width=3.6, height=1.7, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
        ax_n, ax_q = axes[:, 0]
        ax_n.errorbar(m, truth, yerr=truth_err, fmt="o-", capsize=2, label="truth", **TRUTH)
        for i, name in enumerate(names):
            mf = reduce(result["mass_function"].sel(model=name), isel, ["mass"]).values
            err = reduce(result["mass_function_err"].sel(model=name), isel, ["mass"]).values
            ax_n.errorbar(m, mf, yerr=err, fmt="s--", capsize=2, color=_color(i), label=name)
            ratio, ratio_err = _ratio(mf, err, truth, truth_err)
            ax_q.errorbar(m, ratio, yerr=ratio_err, fmt="s", capsize=2, color=_color(i))
        _loglog(ax_n)
        _logx(ax_q)
        reference_line(ax_q, 1.0, ls="-")
        ax_n.set_ylabel(label(result["mass_function_truth"], "dn/dlnM"))
        ax_q.set_ylabel("model / truth")
        ax_q.set_xlabel(label(result["mass"], "M"))
        ax_n.legend()
    return fig
