"""The house style of :mod:`surrogates.plot` and helpers shared by its figures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import xarray as xr
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from surrogates.errors import DataError

__all__ = ["COLORS", "RC", "TRUTH", "figure", "label", "model_names", "reduce", "style"]

#: Okabe & Ito (2008) colour-blind-safe palette (black is kept for the truth).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
TRUTH = {"color": "black", "lw": 1.8, "zorder": 3}

#: Matplotlib settings of every figure: sizes for a single-column journal figure.
RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.3,
    "lines.markersize": 4,
    "axes.linewidth": 0.8,
    "axes.prop_cycle": cycler(color=list(COLORS)),
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "mathtext.default": "regular",
    "axes.formatter.useoffset": False,
    "figure.dpi": 100,
    "savefig.dpi": 200,
}


@contextlib.contextmanager
def style(**overrides: Any) -> Iterator[None]:
    """Context in which matplotlib uses :data:`RC` (plus ``overrides``, rcParams names).

    Every plotting function of :mod:`surrogates.plot` draws inside it; use it around your
    own additions to a figure so that they match.
    """
    with mpl.rc_context({**RC, **overrides}):
        yield


def figure(nrows: int, ncols: int, *, width: float = 3.4, height: float = 2.4, **kw: Any):
    """A constrained-layout figure (not registered with pyplot) and its axes array.

    ``width`` / ``height`` are per panel, in inches. Must be called inside :func:`style`.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def label(da: xr.DataArray | xr.Variable | None, default: str) -> str:
    """Axis label ``long name [units]`` from the attributes of ``da``."""
    attrs = getattr(da, "attrs", {}) if da is not None else {}
    units = attrs.get("units")
    return f"{default} [{units}]" if units not in (None, "", "1") else default


def model_names(result: xr.Dataset, models: Sequence[str] | None) -> list[str]:
    """The models of a :func:`surrogates.compare` result to draw (all by default)."""
    if "model" not in result.coords:
        raise DataError("plot: the result has no 'model' coordinate (not from compare())")
    have = [str(m) for m in result["model"].values]
    chosen = have if models is None else list(models)
    missing = [m for m in chosen if m not in have]
    if missing:
        raise DataError(f"plot: models {missing} not in the result (have {have})")
    return chosen


def require(result: xr.Dataset, names: Sequence[str], what: str) -> None:
    missing = [n for n in names if n not in result.variables]
    if missing:
        raise DataError(
            f"plot.{what}: the result lacks {missing}; run compare() with the diagnostics "
            f"that produce them (it has {sorted(map(str, result.data_vars))})"
        )


def reduce(
    da: xr.DataArray, isel: Mapping[str, Any] | None, keep: Sequence[str], sample: str = "mean"
) -> xr.DataArray:
    """Reduce ``da`` to the dims ``keep`` (plus ``model``).

    ``isel`` is applied first; then ``sample`` is averaged (``sample="mean"``) or its first
    entry taken (``"first"``), and the last ``time`` is taken. Any other dim left is an error.
    """
    if isel:
        da = da.isel({k: v for k, v in isel.items() if k in da.dims})
    if "sample" in da.dims and "sample" not in keep:
        da = da.mean("sample") if sample == "mean" else da.isel(sample=0)
    if "time" in da.dims and "time" not in keep:
        da = da.isel(time=-1)
    extra = [d for d in da.dims if d not in (*keep, "model")]
    if extra:
        raise DataError(f"plot: {da.name!r} has dims {extra} left; select them with isel={{...}}")
    return da


def reference_line(ax: Axes, y: float, **kw: Any) -> None:
    """A thin grey horizontal guide (not in the legend)."""
    ax.axhline(y, color="0.55", lw=0.7, ls=kw.pop("ls", "--"), zorder=1, label="_reference", **kw)


def finite_positive(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of points drawable on log-log axes."""
    return np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
