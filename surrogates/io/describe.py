"""Human-readable summary of a dataset (``surrogates inspect``) and format conversion
(``surrogates convert``), both thin layers over :func:`~surrogates.io.open_dataset`.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.api import Source, open_dataset, resolve_paths
from surrogates.io.schema import SPATIAL_DIMS, grid_spacing, is_parameter
from surrogates.io.write import to_netcdf, to_zarr

__all__ = ["describe", "convert"]

_WRITERS = {".nc": to_netcdf, ".nc4": to_netcdf, ".netcdf": to_netcdf, ".zarr": to_zarr}
_SKIP_ATTRS = {"source", "source_format", *(f"boundary_{d}" for d in SPATIAL_DIMS)}


def describe(source: Source, **options: Any) -> str:
    """Multi-line summary: layout, dims, grid, boundaries, time, fields, parameters, size.

    Parameters
    ----------
    source : path, glob, list of paths or xarray.Dataset
        Anything :func:`~surrogates.io.open_dataset` accepts.
    **options
        Passed to :func:`~surrogates.io.open_dataset`.
    """
    ds = open_dataset(source, **options)
    on_disk = _disk_size(source if not isinstance(source, xr.Dataset) else ds.attrs["source"])
    where = "in memory" if on_disk is None else f"{_bytes(on_disk)} on disk"
    size = f"{where}, {_bytes(ds.nbytes)} of values"
    lines = [
        f"source: {ds.attrs['source']}",
        f"layout: {ds.attrs['source_format']} ({size})",
        "dims: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()),
        "grid:",
        *_grid_lines(ds),
    ]
    if "time" in ds.dims:
        lines.append(_time_line(ds["time"]))
    fields = [n for n, v in ds.data_vars.items() if not is_parameter(v)]
    params = [n for n, v in ds.data_vars.items() if is_parameter(v)]
    width = max(map(len, map(str, ds.data_vars)), default=0)
    lines.append(f"fields ({len(fields)}):")
    lines += [_variable_line(ds[n], width) for n in fields]
    lines.append(f"parameters ({len(params)}):")
    lines += [_parameter_line(ds[n], width) for n in params]
    extra = {k: v for k, v in ds.attrs.items() if k not in _SKIP_ATTRS}
    if extra:
        lines.append("attributes:")
        lines += [f"  {k} = {_short(v)}" for k, v in extra.items()]
    return "\n".join(lines)


def convert(sources: Source, out: str | os.PathLike[str], **options: Any) -> pathlib.Path:
    """Open ``sources`` and write the canonical form to ``out`` (``.nc`` or ``.zarr``).

    Returns
    -------
    pathlib.Path
        The written file or store.
    """
    target = pathlib.Path(out)
    writer = _WRITERS.get(target.suffix.lower())
    if writer is None:
        raise DataError(
            f"{target}: unknown output format {target.suffix!r}, expected one of {sorted(_WRITERS)}"
        )
    if not isinstance(sources, xr.Dataset):
        inputs = {p.resolve() for p in resolve_paths(sources)}
        if target.resolve() in inputs:
            raise DataError(f"{target}: output would overwrite an input file")
    return writer(open_dataset(sources, **options), target)


def _grid_lines(ds: xr.Dataset) -> list[str]:
    lines = []
    for dim in (d for d in SPATIAL_DIMS if d in ds.dims):
        values = ds[dim].values
        step = grid_spacing(values, name=dim)
        units = ds[dim].attrs.get("units")
        lines.append(
            f"  {dim}: {values.size} cells, spacing {step:.6g}, centres {values[0]:.6g} .. "
            f"{values[-1]:.6g}{f' {units}' if units else ''}, boundary "
            f"{ds.attrs[f'boundary_{dim}']}"
        )
    return lines


def _time_line(time: xr.DataArray) -> str:
    values = time.values
    steps = np.diff(values)
    dt = f", dt {steps[0]:.6g}" if steps.size and np.allclose(steps, steps[0]) else ""
    units = time.attrs.get("units")
    return (
        f"time: {values.size} steps, {values[0]:.6g} .. {values[-1]:.6g}{dt}"
        f"{f' ({units})' if units else ''}"
    )


def _variable_line(var: xr.DataArray, width: int) -> str:
    units = var.attrs.get("units")
    dims = ", ".join(map(str, var.dims))
    return f"  {var.name!s:<{width}}  ({dims})  {var.dtype}{f'  [{units}]' if units else ''}"


def _parameter_line(var: xr.DataArray, width: int) -> str:
    values = np.asarray(var.values)
    if values.size == 1:
        text = f"= {values.reshape(-1)[0]:.6g}"
    else:
        text = f"({', '.join(map(str, var.dims))}) range {values.min():.6g} .. {values.max():.6g}"
    units = var.attrs.get("units")
    return f"  {var.name!s:<{width}}  {text}{f'  [{units}]' if units else ''}"


def _disk_size(source: Any) -> int | None:
    """Bytes on disk of the files named by ``source`` (a dataset's ``source`` attribute
    may list several, comma-separated); None when they are not files."""
    if isinstance(source, str) and not os.path.exists(source) and ", " in source:
        source = source.split(", ")
    try:
        paths = resolve_paths(source)
    except DataError:
        return None
    total = 0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
