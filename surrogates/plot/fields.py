"""Side-by-side slices of truth and surrogate fields with their difference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from surrogates.errors import DataError
from surrogates.plot._style import figure, label, style

__all__ = ["slices"]

_SPATIAL = ("x", "y", "z")


def _plane(
    da: xr.DataArray, axis: str, index: int | None, thickness: int, isel: Mapping | None, name: str
) -> xr.DataArray:
    """One 2D plane ``(a, b)`` of a field: a slab mean of ``thickness`` cells along ``axis``."""
    if not isinstance(da, xr.DataArray):
        raise DataError(f"plot.slices: {name} is a {type(da).__name__}, expected a DataArray")
    if isel:
        da = da.isel({k: v for k, v in isel.items() if k in da.dims})
    spatial = [d for d in _SPATIAL if d in da.dims]
    lead = [d for d in da.dims if d not in _SPATIAL]
    if lead:
        raise DataError(f"plot.slices: {name} has dims {lead} left; pick one with isel={{...}}")
    if len(spatial) == 3:
        if axis not in spatial:
            raise DataError(f"plot.slices: axis={axis!r}, expected one of {spatial}")
        n = da.sizes[axis]
        start = n // 2 if index is None else int(index)
        if not 0 <= start <= n - thickness or thickness < 1:
            raise DataError(f"plot.slices: slab {start}..{start + thickness} outside 0..{n}")
        da = da.isel({axis: slice(start, start + thickness)}).mean(axis, keep_attrs=True)
    elif len(spatial) != 2:
        raise DataError(f"plot.slices: {name} has spatial dims {spatial}, expected 2 or 3")
    return da.transpose(*[d for d in _SPATIAL if d in da.dims]).astype(np.float64)


def _extent(da: xr.DataArray) -> list[float]:
    """Image extent from the cell-centre coordinates (cell edges), else cell indices."""
    out = []
    for d in da.dims:
        if d in da.coords and da.sizes[d] > 1:
            c = np.asarray(da[d].values, dtype=np.float64)
            h = c[1] - c[0]
            out += [c[0] - 0.5 * h, c[-1] + 0.5 * h]
        else:
            out += [-0.5, da.sizes[d] - 0.5]
    return out


#: Height / width of a plane below which models become columns (panels stacked).
WIDE = 0.6


def _layout(n_models: int, aspect: float):
    """Figure and per-model (truth, model, difference) axes: side by side in a row per model,
    or stacked in a column per model for planes much wider than tall (``aspect`` < WIDE)."""
    if aspect >= WIDE:
        height = float(np.clip(2.3 * aspect + 0.5, 1.2, 3.5))
        fig, axes = figure(n_models, 3, width=2.3, height=height, sharex=True, sharey=True)
        return fig, [tuple(axes[m]) for m in range(n_models)]
    height = float(np.clip(4.6 * aspect + 0.6, 1.0, 3.0))
    fig, axes = figure(3, n_models, width=4.6, height=height, sharex=True, sharey=True)
    return fig, [tuple(axes[:, m]) for m in range(n_models)]


def slices(
    truth: xr.DataArray,
    prediction: xr.DataArray | Mapping[str, xr.DataArray],
    *,
    axis: str = "z",
    index: int | None = None,
    thickness: int = 1,
    isel: Mapping[str, Any] | None = None,
    cmap: str = "viridis",
    diff_cmap: str = "RdBu_r",
    title: str | None = None,
) -> Figure:
    """Truth, surrogate and surrogate - truth side by side, one row per model (one column
    per model, panels stacked, for planes more than ~1.7 times wider than tall).

    Truth and model panels share one colour scale (min to max over all of them); the
    difference panels share a symmetric scale on the diverging ``diff_cmap``.

    Parameters
    ----------
    truth : xarray.DataArray, dims (..., x, y[, z])
        Leading dims must be selected away by ``isel`` (e.g. ``{"sample": 0, "time": -1}``).
    prediction : DataArray or mapping of str to DataArray
        Same grid as ``truth``; a mapping draws one row per model (``{"emulator": ...,
        "2LPT": ...}``), a DataArray is called ``"surrogate"``.
    axis, index, thickness : str, int, int
        For 3D fields: the plane normal, first cell of the slab (default the middle) and the
        number of cells averaged (a projection for ``thickness > 1``).
    cmap, diff_cmap : str
        Colour maps of the fields and of the differences.

    Returns
    -------
    matplotlib.figure.Figure
        ``3 n_models`` image axes (truth, model, difference for each model; ``fig.axes``
        in row-major grid order) and then two colour bars.
    """
    models = {"surrogate": prediction} if isinstance(prediction, xr.DataArray) else prediction
    if not models:
        raise DataError("plot.slices: no prediction given")
    ref = _plane(truth, axis, index, thickness, isel, "truth")
    planes = {n: _plane(p, axis, index, thickness, isel, repr(n)) for n, p in models.items()}
    for n, p in planes.items():
        if p.shape != ref.shape:
            raise DataError(f"plot.slices: {n!r} plane has shape {p.shape}, truth {ref.shape}")
    values = [ref.values, *(p.values for p in planes.values())]
    vmin = float(min(np.nanmin(v) for v in values))
    vmax = float(max(np.nanmax(v) for v in values))
    diffs = {n: p.values - ref.values for n, p in planes.items()}
    dlim = float(max(np.nanmax(np.abs(d)) for d in diffs.values())) or 1.0
    name = str(truth.attrs.get("long_name", truth.name or "field"))
    extent = _extent(ref)
    with style():
        aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
        fig, panels = _layout(len(planes), aspect)
        kw = {"origin": "lower", "extent": extent, "interpolation": "nearest"}
        for (n, plane), (ax_t, ax_m, ax_d) in zip(planes.items(), panels, strict=True):
            im = ax_t.imshow(ref.values.T, cmap=cmap, vmin=vmin, vmax=vmax, **kw)
            ax_m.imshow(plane.values.T, cmap=cmap, vmin=vmin, vmax=vmax, **kw)
            dim = ax_d.imshow(diffs[n].T, cmap=diff_cmap, vmin=-dlim, vmax=dlim, **kw)
            for ax, text in zip((ax_t, ax_m, ax_d), ("truth", str(n), f"{n} − truth"), strict=True):
                ax.set_title(text)
        for ax in fig.axes:
            ss = ax.get_subplotspec()
            if ss.is_last_row():
                ax.set_xlabel(label(ref[ref.dims[0]], ref.dims[0]))
            if ss.is_first_col():
                ax.set_ylabel(label(ref[ref.dims[1]], ref.dims[1]))
        fields = [ax for row in panels for ax in row[:2]]
        # Colour bars beside the panels they belong to, never between panel groups: under
        # the columns when models are rows, to the right of the rows when they are columns.
        where = "bottom" if aspect >= WIDE else "right"
        fig.colorbar(im, ax=fields, label=label(truth, name), shrink=0.8, location=where)
        fig.colorbar(dim, ax=[row[2] for row in panels], label="difference", shrink=0.8,
                     location=where)  # fmt: skip
        if title:
            fig.suptitle(title)
    return fig
