"""``Surrogate.predict``: one application to every sample and time of a canonical dataset.

Each (sample, time) item is read as one window covering the whole domain (geometry in
:func:`surrogates.artifact.geometry.predict_window`), padded with the training pad spec
(:func:`surrogates.data.read_windows`: periodic axes wrap, wall/open axes pad as in
training), batched through :meth:`Surrogate.apply` and cut back to the domain.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from surrogates.artifact.geometry import predict_window
from surrogates.artifact.metadata import GridInfo, dataset_source, spatial_dims
from surrogates.data import read_windows
from surrogates.errors import DataError, ModelError

if TYPE_CHECKING:
    from surrogates.artifact.surrogate import Surrogate

__all__ = ["check_dataset", "item_batches", "item_dims", "predict_dataset"]

_RTOL = 1e-5


def check_dataset(surrogate: Surrogate, ds: xr.Dataset) -> None:
    """Raise DataError if ``ds`` cannot be fed to ``surrogate`` (names what differs)."""
    meta, task, source = surrogate.metadata, surrogate.task, dataset_source(ds)
    axes = spatial_dims(ds)
    if axes != meta.grid.axes:
        raise DataError(
            f"{source}: spatial dims {axes}, the surrogate was trained on {meta.grid.axes}"
        )
    missing = [v for v in (*task.inputs, *task.params) if v not in ds.data_vars]
    if missing:
        raise DataError(
            f"{source}: the surrogate needs variable(s) {missing}; available:"
            f" {sorted(map(str, ds.data_vars))}"
        )
    grid = GridInfo.from_dataset(ds)
    if grid.boundaries != meta.grid.boundaries:
        raise DataError(
            f"{source}: boundaries {dict(zip(axes, grid.boundaries, strict=True))}, the surrogate"
            f" was trained with {dict(zip(axes, meta.grid.boundaries, strict=True))}"
        )
    if not np.allclose(grid.spacing, meta.grid.spacing, rtol=_RTOL, atol=0):
        raise DataError(
            f"{source}: grid spacing {grid.spacing}, the surrogate was trained on spacing"
            f" {meta.grid.spacing}"
        )
    if task.lead is not None:
        if "time" not in ds.dims:
            raise DataError(
                f"{source}: a lead surrogate needs a time dimension; dims {tuple(ds.dims)}"
            )
        if grid.dt is not None and meta.grid.dt is not None:
            if not np.isclose(grid.dt, meta.grid.dt, rtol=_RTOL, atol=0):
                raise DataError(
                    f"{source}: time step {grid.dt}, the surrogate was trained on frames"
                    f" {meta.grid.dt} apart"
                )


def item_dims(ds: xr.Dataset, names) -> tuple[str, ...]:
    return tuple(d for d in ("sample", "time") if any(d in ds[v].dims for v in names))


def _param_row(ds: xr.Dataset, names, sel: dict[str, int], source: str) -> list[float]:
    row = []
    for name in names:
        da = ds[name]
        extra = [d for d in da.dims if d not in sel]
        if extra:
            raise DataError(
                f"{source}: parameter {name!r} varies along {extra}, but the inputs do not"
            )
        row.append(float(da.isel({d: sel[d] for d in da.dims}).values))
    return row


def item_batches(
    surrogate: Surrogate, ds: xr.Dataset, dims: tuple[str, ...], batch_size: int
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None, tuple[slice, ...]]]:
    """The whole-domain windows of every item, in batches (what :meth:`Surrogate.apply` gets).

    Yields
    ------
    rows : slice
        Items of the batch (items in C order over ``dims``).
    window : torch.Tensor, shape (batch, C_in, *W)
        Padded physical windows.
    params : torch.Tensor, shape (batch, P), or None
    region : tuple of slice
        Where the domain lies in an output of :meth:`Surrogate.apply` on ``window``.
    """
    task, meta, source = surrogate.task, surrogate.metadata, dataset_source(ds)
    shape = tuple(ds.sizes[a] for a in meta.grid.axes)
    geometry = [
        predict_window(surrogate.model, n, c) for n, c in zip(shape, meta.context, strict=True)
    ]
    start, size = [g[0] for g in geometry], [g[1] for g in geometry]
    region = (
        slice(None),
        slice(None),
        *(slice(g[2], g[2] + n) for g, n in zip(geometry, shape, strict=True)),
    )
    items = list(itertools.product(*(range(ds.sizes[d]) for d in dims)))
    for first in range(0, len(items), batch_size):
        windows, params = [], []
        for item in items[first : first + batch_size]:
            sel = dict(zip(dims, item, strict=True))
            w = read_windows(ds, list(task.inputs), start, size, meta.pad_spec,
                             sample=sel.get("sample"), time=sel.get("time"))  # fmt: skip
            windows.append(np.stack([w[n] for n in task.inputs]).astype(np.float32))
            params.append(_param_row(ds, task.params, sel, source))
        x = torch.from_numpy(np.stack(windows))
        p = torch.tensor(params, dtype=torch.float32) if task.params else None
        yield slice(first, first + len(windows)), x, p, region


def _apply_all(surrogate: Surrogate, ds: xr.Dataset, dims, batch_size: int) -> np.ndarray:
    """Outputs of every item, shape (items, C_out, *domain)."""
    shape = tuple(ds.sizes[a] for a in surrogate.metadata.grid.axes)
    n_items = int(np.prod([ds.sizes[d] for d in dims]))
    out = np.empty((n_items, len(surrogate.task.targets), *shape), dtype=np.float32)
    for rows, x, p, region in item_batches(surrogate, ds, dims, batch_size):
        out[rows] = surrogate.apply(x, p)[region].cpu().numpy()
    return out


def predict_dataset(surrogate: Surrogate, ds: xr.Dataset, batch_size: int = 8) -> xr.Dataset:
    """See :meth:`Surrogate.predict`."""
    if batch_size < 1:
        raise ModelError(f"predict: batch_size must be >= 1, got {batch_size}")
    check_dataset(surrogate, ds)
    task, meta = surrogate.task, surrogate.metadata
    axes = meta.grid.axes
    dims = item_dims(ds, task.inputs)
    out = _apply_all(surrogate, ds, dims, batch_size)
    out = out.reshape(*(ds.sizes[d] for d in dims), len(task.targets), *out.shape[2:])
    coords = {a: ds[a] for a in axes if a in ds.coords}
    if "sample" in dims and "sample" in ds.coords:
        coords["sample"] = ds["sample"]
    if "time" in dims and "time" in ds.coords:
        coords["time"] = _shifted_time(ds, task.lead, meta.grid.dt)
    data_vars = {}
    for c, name in enumerate(task.targets):
        attrs = dict(ds[name].attrs) if name in ds.data_vars else {}
        data_vars[name] = xr.Variable((*dims, *axes), np.take(out, c, axis=len(dims)), attrs)
    if task.lead is not None:
        for name in (*task.static, *task.params):
            if "time" not in ds[name].dims:
                data_vars[name] = ds[name].variable
    attrs = {**ds.attrs, "predicted_by": repr(surrogate)}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _shifted_time(ds: xr.Dataset, lead: int | None, dt_train: float | None) -> xr.DataArray:
    time = ds["time"]
    if lead is None:
        return time
    if ds.sizes["time"] > 1:
        dt = float(time.values[1] - time.values[0])
    elif dt_train is not None:
        dt = dt_train
    else:
        raise DataError(
            f"{dataset_source(ds)}: one time frame and no training time step: cannot shift time"
        )
    return xr.DataArray(time.values + lead * dt, dims=("time",), attrs=dict(time.attrs))
