"""Human-readable summary of a dataset (``surrogates inspect``) and format conversion
(``surrogates convert``), both thin layers over :func:`~surrogates.io.open_dataset`.

Non-finite values (README "Non-finite values"): :func:`describe` reports NaN/Inf in what
it reads instead of failing. Parameters and coordinates are small and always read, so
their NaN/Inf are always reported. Fields are scanned only when that is cheap: by default
(``check_finite=None``) when their values total at most :data:`SCAN_LIMIT` bytes, always
with ``check_finite=True`` (one streaming pass, a few frames in memory at a time), never
with ``check_finite=False``; the ``values:`` line says which happened.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import dask
import numpy as np
import xarray as xr

from surrogates._files import output_path
from surrogates.errors import DataError
from surrogates.io.api import Source, open_dataset, resolve_paths
from surrogates.io.schema import SPATIAL_DIMS, grid_spacing, is_parameter
from surrogates.io.write import to_netcdf, to_zarr

__all__ = ["describe", "convert"]

_WRITERS = {".nc": to_netcdf, ".nc4": to_netcdf, ".netcdf": to_netcdf, ".zarr": to_zarr}
_SKIP_ATTRS = {"source", "source_format", *(f"boundary_{d}" for d in SPATIAL_DIMS)}
#: Fields whose values total at most this many bytes are scanned for NaN/Inf by default.
SCAN_LIMIT = 64 * 2**20


def describe(source: Source, *, check_finite: bool | None = None, **options: Any) -> str:
    """Multi-line summary: layout, dims, grid, boundaries, time, fields, parameters, size.

    Parameters
    ----------
    source : path, glob, list of paths or xarray.Dataset
        Anything :func:`~surrogates.io.open_dataset` accepts.
    check_finite : bool, optional
        Scan the fields for NaN/Inf (one pass over their values) and report, per field,
        how many there are, in how many frames, and the first sample, time and cell.
        ``None`` (default): only when the fields total at most :data:`SCAN_LIMIT` bytes.
        Parameters are always checked (they are small and read anyway).
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
    lines += _values_lines(ds, fields, check_finite)
    lines.append(f"parameters ({len(params)}):")
    lines += [_parameter_line(ds[n], width) for n in params]
    extra = {k: v for k, v in ds.attrs.items() if k not in _SKIP_ATTRS}
    if extra:
        lines.append("attributes:")
        lines += [f"  {k} = {_short(v)}" for k, v in extra.items()]
    return "\n".join(lines)


def convert(
    sources: Source, out: str | os.PathLike[str], *, overwrite: bool = False, **options: Any
) -> pathlib.Path:
    """Open ``sources`` and write the canonical form to ``out`` (``.nc`` or ``.zarr``).

    ``overwrite`` replaces an earlier canonical output at ``out``; any other existing path
    is refused (see :func:`surrogates.io.to_netcdf`).

    Returns
    -------
    pathlib.Path
        The written file or store.
    """
    target = output_path(out)
    writer = _WRITERS.get(target.suffix.lower())
    if writer is None:
        raise DataError(
            f"{target}: unknown output format {target.suffix!r}, expected one of {sorted(_WRITERS)}"
        )
    if not isinstance(sources, xr.Dataset):
        inputs = {p.resolve() for p in resolve_paths(sources)}
        if target.resolve() in inputs:
            raise DataError(f"{target}: output would overwrite an input file")
    return writer(open_dataset(sources, **options), target, overwrite=overwrite)


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
    finite = np.isfinite(values)
    if values.size == 1:
        text = f"= {values.reshape(-1)[0]:.6g}{'' if finite.all() else '  (NON-FINITE)'}"
    else:
        text = f"({', '.join(map(str, var.dims))})"
        if finite.any():
            ok = values[finite]
            text += f" range {ok.min():.6g} .. {ok.max():.6g}"
        if not finite.all():
            first = dict(zip(map(str, var.dims), np.argwhere(~finite)[0], strict=True))
            text += (
                f"{', ' if finite.any() else ' '}NON-FINITE: {_kinds(values)} of {values.size}"
                f" values, first at {_frame(var, first)}"
            )
    units = var.attrs.get("units")
    return f"  {var.name!s:<{width}}  {text}{f'  [{units}]' if units else ''}"


def _values_lines(ds: xr.Dataset, fields: list[str], check_finite: bool | None) -> list[str]:
    """The ``values:`` line (and one line per field holding NaN/Inf)."""
    size = sum(ds[n].nbytes for n in fields)
    if check_finite is False or (check_finite is None and size > SCAN_LIMIT):
        why = "check_finite=False" if check_finite is False else (
            f"{_bytes(size)} of fields > {_bytes(SCAN_LIMIT)};"
            " check_finite=True or --check-finite scans them"
        )  # fmt: skip
        return [f"values: not scanned for NaN/Inf ({why})"]
    found = _scan(ds, fields)
    if not found:
        return [f"values: all fields finite ({_bytes(size)} scanned)"]
    head = f"values: NON-FINITE in {len(found)} of {len(fields)} fields ({_bytes(size)} scanned):"
    return [head, *(f"  {name}: {text}" for name, text in found.items())]


def _scan(ds: xr.Dataset, fields: list[str]) -> dict[str, str]:
    """Per field holding NaN/Inf, what and where; one dask pass over all fields."""
    counts = {}
    for name in fields:
        var = ds[name].variable
        if var.chunks is None:  # numpy or lazily indexed: one (sample, time) frame per chunk
            var = var.chunk({d: 1 for d in var.dims if d not in SPATIAL_DIMS})
        spatial = [d for d in var.dims if d in SPATIAL_DIMS]
        counts[name] = [
            (bad.sum(dim=spatial) if spatial else bad).data
            for bad in (var.isnull(), var == np.inf, var == -np.inf)
        ]
    (computed,) = dask.compute(counts)
    found = {}
    for name, kinds in computed.items():
        kinds = [np.asarray(k) for k in kinds]
        if any(k.any() for k in kinds):
            found[name] = _field_report(ds[name], kinds)
    return found


def _field_report(var: xr.DataArray, kinds: list[np.ndarray]) -> str:
    """``"3 NaN in 1 of 6 frames, first at sample 2, time 5 (t = 0.25), x=4, y=0"``."""
    per_frame = sum(kinds)
    text = ", ".join(
        f"{int(c.sum())} {k}"
        for k, c in zip(("NaN", "+Inf", "-Inf"), kinds, strict=True)
        if c.any()
    )
    leading = [str(d) for d in var.dims if d not in SPATIAL_DIMS]
    first = dict(zip(leading, np.argwhere(per_frame > 0)[0], strict=True)) if leading else {}
    frame = np.asarray(var.isel(first).values)  # one frame, only on this path
    cell = np.unravel_index(int(np.argmax(~np.isfinite(frame))), frame.shape)
    spatial = [str(d) for d in var.dims if d in SPATIAL_DIMS]
    where = [_frame(var, first)] if leading else []
    where.append(", ".join(f"{d}={int(i)}" for d, i in zip(spatial, cell, strict=True)))
    if leading:
        text += f" in {int(np.count_nonzero(per_frame))} of {per_frame.size} frames"
    return f"{text}, first at {', '.join(where)}"


def _frame(var: xr.DataArray, index: dict[str, Any]) -> str:
    """``"sample 2 (run2.h5), time 5 (t = 0.25)"`` for leading-dim indices of ``var``."""
    words = []
    for dim, i in index.items():
        i = int(i)
        word = f"{dim} {i}"
        if dim == "sample" and "source_file" in var.coords and var["source_file"].ndim == 1:
            word += f" ({var['source_file'].values[i]})"
        elif dim == "time" and "time" in var.coords:
            word += f" (t = {float(var['time'].values[i]):.6g})"
        words.append(word)
    return ", ".join(words)


def _kinds(values: np.ndarray) -> str:
    """``"2 NaN, 1 +Inf"``."""
    counts = (np.isnan(values).sum(), np.isposinf(values).sum(), np.isneginf(values).sum())
    return ", ".join(f"{n} {k}" for n, k in zip(counts, ("NaN", "+Inf", "-Inf"), strict=True) if n)


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
