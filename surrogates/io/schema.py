"""The canonical dataset of DESIGN.md: bring any xarray.Dataset to it, and check it.

Canonical form
--------------
- dimensions drawn from ``(sample, time, x, y, z)`` in that order; spatial dimensions are a
  prefix of ``(x, y, z)`` (1D: ``x``; 2D: ``x, y``);
- ``x``, ``y``, ``z`` carry strictly increasing, uniformly spaced float64 cell-centre
  coordinates (relative tolerance :data:`UNIFORM_RTOL` of the spacing, plus float32
  rounding of the values); ``time`` carries a strictly increasing float64 coordinate;
- data variables are float32 or float64: integer and boolean variables become float64
  (exact up to 2**53), float16 becomes float32; anything else is rejected;
- attributes ``boundary_<axis>`` in :data:`BOUNDARY_KINDS` for every spatial axis,
  ``source_format`` and ``source``.

Variables whose dimensions are only ``sample`` (or ``sample, time``), or none, are
parameters; all others are fields. :func:`canonicalize` reverses descending coordinates
together with the data; every other departure raises :class:`~surrogates.DataError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.lazy import CastArray, chunks_for_dims

__all__ = [
    "BOUNDARY_KINDS",
    "CANONICAL_DIMS",
    "SPATIAL_DIMS",
    "UNIFORM_RTOL",
    "assert_finite",
    "canonicalize",
    "check_finite",
    "grid_spacing",
    "is_parameter",
    "validate",
]

SPATIAL_DIMS = ("x", "y", "z")
CANONICAL_DIMS = ("sample", "time", *SPATIAL_DIMS)
BOUNDARY_KINDS = ("periodic", "wall", "open")
#: Allowed deviation from uniform spacing, relative to the spacing.
UNIFORM_RTOL = 1e-5
_F32_EPS = float(np.finfo(np.float32).eps)

Renames = Mapping[str, str] | None
Boundary = str | Mapping[str, str] | None


def canonicalize(
    ds: xr.Dataset,
    *,
    source: str,
    source_format: str,
    dims: Renames = None,
    variables: Renames = None,
    boundary: Boundary = None,
) -> xr.Dataset:
    """Bring ``ds`` to the canonical form (lazily) and validate it.

    Parameters
    ----------
    ds : xarray.Dataset
        Any dataset whose dimensions are, after ``dims`` renames, canonical.
    source, source_format : str
        Stored as attributes; ``source`` also prefixes every error message.
    dims, variables : mapping of str to str, optional
        Renames, e.g. ``dims={"lon": "x"}``, ``variables={"rho": "density"}``.
    boundary : str or mapping of axis to str, optional
        ``"periodic"`` for every axis, or per axis ``{"x": "periodic", "y": "wall"}``.
        Axes not given keep the file's ``boundary_<axis>`` attribute, else ``"open"``.

    Returns
    -------
    xarray.Dataset
        Canonical dataset; descending coordinates are reversed together with the data.
    """
    ds = _rename(_rename(ds, "dims", dims, source), "variables", variables, source)
    _check_dims(ds, source)
    ds = ds.transpose(*[d for d in CANONICAL_DIMS if d in ds.dims])
    for dim in ("time", *SPATIAL_DIMS):
        if dim in ds.dims:
            ds = _ascending(ds, dim, source)
    ds = _float_dask(ds, source)
    edges = _boundaries(ds, boundary, source)
    attrs = {k: v for k, v in ds.attrs.items() if k not in {f"boundary_{d}" for d in SPATIAL_DIMS}}
    attrs.update({f"boundary_{d}": kind for d, kind in edges.items()})
    attrs.update(source_format=source_format, source=source)
    return validate(_with_attrs(ds, attrs))


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` is canonical; return it unchanged or raise :class:`DataError`.

    Reads only coordinates, never the data variables.
    """
    where = str(ds.attrs.get("source", "<in-memory dataset>"))
    _check_dims(ds, where)
    _check_coordinates(ds, where)
    _check_variables(ds, where)
    _check_attributes(ds, where)
    return ds


def _check_coordinates(ds: xr.Dataset, where: str) -> None:
    for dim in ("time", *SPATIAL_DIMS):
        if dim in ds.dims:
            values = _coordinate(ds, dim, where)
            if values.dtype != np.float64:
                raise DataError(f"{where}: coordinate {dim!r} is {values.dtype}, expected float64")
            if _direction(values) != 1:
                raise DataError(f"{where}: coordinate {dim!r} is not strictly increasing")
            if dim in SPATIAL_DIMS:
                grid_spacing(values, name=dim, where=where)


def _check_variables(ds: xr.Dataset, where: str) -> None:
    for name, var in ds.data_vars.items():
        order = [d for d in CANONICAL_DIMS if d in var.dims]
        if tuple(order) != var.dims:
            raise DataError(
                f"{where}: variable {name!r}: got dims {var.dims}, expected the order "
                f"(sample, time, x, y, z), i.e. {tuple(order)}"
            )
        if var.dtype not in (np.float32, np.float64):
            raise DataError(f"{where}: variable {name!r} is {var.dtype}, expected float32/64")


def _check_attributes(ds: xr.Dataset, where: str) -> None:
    for dim in SPATIAL_DIMS:
        kind = ds.attrs.get(f"boundary_{dim}")
        if dim in ds.dims and kind not in BOUNDARY_KINDS:
            raise DataError(
                f"{where}: attribute boundary_{dim}={kind!r}, expected one of {BOUNDARY_KINDS}"
            )
        if dim not in ds.dims and kind is not None:
            raise DataError(f"{where}: attribute boundary_{dim} set but there is no {dim!r} axis")
    for key in ("source_format", "source"):
        if not isinstance(ds.attrs.get(key), str):
            raise DataError(f"{where}: attribute {key!r} missing, expected a string")


def grid_spacing(values: np.ndarray, *, name: str = "x", where: str = "<dataset>") -> float:
    """Uniform spacing of a strictly increasing coordinate (NaN for a single point).

    Raises :class:`DataError` when a value deviates from the uniform grid through the end
    points by more than ``UNIFORM_RTOL * spacing + 4 * eps_float32 * max|value|``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan")
    step = (values[-1] - values[0]) / (values.size - 1)
    deviation = np.abs(values - (values[0] + step * np.arange(values.size)))
    tol = UNIFORM_RTOL * abs(step) + 4 * _F32_EPS * float(np.abs(values).max())
    worst = int(np.argmax(deviation))
    if deviation[worst] > tol:
        raise DataError(
            f"{where}: coordinate {name!r} is not uniformly spaced: value {values[worst]:g} "
            f"at index {worst} is {deviation[worst]:.3g} off the uniform grid with spacing "
            f"{step:.6g} (tolerance {tol:.3g}); expected uniform cell centres"
        )
    return float(step)


def is_parameter(var: xr.DataArray) -> bool:
    """True for parameters: variables over ``()``, ``(sample,)``, ``(time,)`` or both."""
    return not any(d in SPATIAL_DIMS for d in var.dims)


def _with_attrs(ds: xr.Dataset, attrs: dict[str, Any]) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = attrs
    return ds


def _rename(ds: xr.Dataset, option: str, renames: Renames, where: str) -> xr.Dataset:
    """Apply the ``dims=`` or ``variables=`` option, checking every source and target."""
    if renames is None:
        return ds
    if not isinstance(renames, Mapping):
        raise DataError(f"{where}: option {option}= expects a mapping old -> new name")
    names = list(ds.dims) if option == "dims" else list(ds.data_vars) + list(ds.coords)
    for old, new in renames.items():
        text = f"{where}: option {option}={{{old!r}: {new!r}}}"
        if old not in names:
            found = sorted(map(str, names))
            raise DataError(f"{text}: no {option[:-1]} {old!r}; found {found}")
        if option == "dims" and new not in CANONICAL_DIMS:
            raise DataError(
                f"{text}: target {new!r} is not a canonical dimension, expected one of "
                f"{CANONICAL_DIMS}"
            )
        if not isinstance(new, str) or not new or (new in names and new not in renames):
            raise DataError(f"{text}: target must be a new, unused name")
    try:
        return ds.rename(dict(renames))
    except ValueError as err:
        raise DataError(f"{where}: option {option}={dict(renames)}: {err}") from err


def _check_dims(ds: xr.Dataset, where: str) -> None:
    unknown = [d for d in ds.dims if d not in CANONICAL_DIMS]
    if unknown:
        hint = ", ".join(f"{d!r}: ..." for d in unknown)
        raise DataError(
            f"{where}: got dims {tuple(ds.dims)}, expected a subset of (sample, time, x, y, z); "
            f"rename with dims={{{hint}}}"
        )
    spatial = tuple(d for d in SPATIAL_DIMS if d in ds.dims)
    if not spatial or spatial != SPATIAL_DIMS[: len(spatial)]:
        raise DataError(
            f"{where}: spatial dims {spatial}, expected ('x',), ('x', 'y') or ('x', 'y', 'z')"
        )
    empty = [d for d, n in ds.sizes.items() if n == 0]
    if empty:
        raise DataError(f"{where}: dimension {empty[0]!r} has length 0, expected at least 1")


def _coordinate(ds: xr.Dataset, dim: str, where: str) -> np.ndarray:
    if dim not in ds.coords:
        raise DataError(
            f"{where}: dimension {dim!r} has no coordinate, expected 1-D numeric values"
        )
    values = np.asarray(ds[dim].values)
    if values.dtype.kind not in "iuf":
        hint = " (open netCDF with decode_times=False)" if values.dtype.kind in "mM" else ""
        raise DataError(
            f"{where}: coordinate {dim!r} has non-numeric dtype {values.dtype}, expected "
            f"numbers{hint}"
        )
    if not np.isfinite(values).all():
        raise DataError(f"{where}: coordinate {dim!r} has non-finite values")
    return values


def _direction(values: np.ndarray) -> int:
    """+1 strictly increasing, -1 strictly decreasing, 0 otherwise (a single value: +1)."""
    steps = np.diff(values.astype(np.float64))
    if (steps > 0).all():
        return 1
    return -1 if (steps < 0).all() else 0


def _ascending(ds: xr.Dataset, dim: str, where: str) -> xr.Dataset:
    values = _coordinate(ds, dim, where)
    direction = _direction(values)
    if direction == 0:
        signs = np.sign(np.diff(values.astype(np.float64)))
        bad = 0 if signs[0] == 0 else int(np.flatnonzero(signs != signs[0])[0])
        raise DataError(
            f"{where}: coordinate {dim!r} is not monotonic: {values[bad]:g}, {values[bad + 1]:g} "
            f"at indices {bad}, {bad + 1}; expected strictly increasing values"
        )
    if dim in SPATIAL_DIMS:
        grid_spacing(values, name=dim, where=where)
    attrs = dict(ds[dim].attrs)
    ds = ds.assign_coords({dim: (dim, values.astype(np.float64), attrs)})
    return ds.isel({dim: slice(None, None, -1)}) if direction == -1 else ds


def _float_dask(ds: xr.Dataset, where: str) -> xr.Dataset:
    """Every data variable as float32/float64 and, unless a scalar, dask-backed.

    Variables not yet in dask get frame chunks (:func:`~surrogates.io.lazy.chunks_for_dims`,
    parameters one chunk), read through a :class:`~surrogates.io.lazy.CastArray` that
    casts per read and turns a failed read into a DataError naming the file and variable;
    opening loads nothing and dask still fuses crops into hyperslab reads (a dask
    ``astype`` would stop both).
    """
    out = {}
    for name, var in ds.data_vars.items():
        dtype = _float_dtype(var.dtype, str(name), where)
        if var.chunks is not None:
            if var.dtype != dtype:
                out[name] = var.astype(dtype)
        elif var.ndim == 0:  # dask cannot chunk a scalar; it is 8 bytes
            out[name] = var.compute().astype(dtype)
        else:
            spatial = any(d in SPATIAL_DIMS for d in var.dims)
            sizes = dict(var.sizes)
            chunks = chunks_for_dims(sizes, dtype.itemsize) if spatial else sizes
            getter = CastArray(var.variable, dtype, where, str(name))  # reads fail clearly
            out[name] = var.copy(data=getter.to_dask([chunks[d] for d in var.dims]))
    return ds.assign(out)


def _float_dtype(dtype: np.dtype, name: str, where: str) -> np.dtype:
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return dtype
    if dtype.kind == "f":
        return np.dtype(np.float32 if dtype.itemsize < 4 else np.float64)
    if dtype.kind in "iub":
        return np.dtype(np.float64)
    raise DataError(
        f"{where}: variable {name!r} has non-numeric dtype {dtype}, expected real numbers "
        f"(float32/float64; integers and booleans are converted to float64)"
    )


def _boundaries(ds: xr.Dataset, boundary: Boundary, where: str) -> dict[str, str]:
    spatial = [d for d in SPATIAL_DIMS if d in ds.dims]
    if boundary is None:
        given: Mapping[str, Any] = {}
    elif isinstance(boundary, str):
        given = dict.fromkeys(spatial, boundary)
    elif isinstance(boundary, Mapping):
        given = boundary
        unknown = [axis for axis in given if axis not in spatial]
        if unknown:
            raise DataError(
                f"{where}: option boundary names axis {unknown[0]!r}, expected one of {spatial}"
            )
    else:
        raise DataError(f"{where}: option boundary={boundary!r}, expected a string or a mapping")
    edges = {}
    for dim in spatial:
        kind = given.get(dim, ds.attrs.get(f"boundary_{dim}", "open"))
        kind = str(kind).strip().lower()
        if kind not in BOUNDARY_KINDS:
            raise DataError(
                f"{where}: boundary of {dim!r} is {kind!r}, expected one of {BOUNDARY_KINDS}"
            )
        edges[dim] = kind
    return edges


def check_finite(ds: xr.Dataset) -> None:
    """Stream through every data variable and raise on the first NaN or Inf.

    Works chunk by chunk (a dask reduction over the spatial axes), so memory stays at a
    few chunks. The :class:`DataError` names the source file (per sample when several
    files were concatenated), the variable, and the sample and time index of the first
    non-finite value in (sample, time) order.
    """
    where = str(ds.attrs.get("source", "<in-memory dataset>"))
    for name, var in ds.data_vars.items():
        spatial = [d for d in var.dims if d in SPATIAL_DIMS]
        finite = np.isfinite(var.variable)
        finite = finite.all(dim=spatial) if spatial else finite
        finite = np.asarray(finite.compute().values if hasattr(finite, "compute") else finite)
        if finite.all():
            continue
        leading = [d for d in var.dims if d not in SPATIAL_DIMS]
        first = dict(zip(leading, (int(i) for i in np.argwhere(~finite)[0]), strict=True))
        frame = np.asarray(var.isel(first).values)
        source = where
        if "source_file" in ds.coords and "sample" in first:
            source = str(ds["source_file"].values[first["sample"]])
        assert_finite(frame, source=source, variable=str(name), **first)
        raise AssertionError("unreachable: reduction and frame disagree")  # pragma: no cover


def assert_finite(
    block: Any,
    *,
    source: str,
    variable: str,
    sample: int | None = None,
    time: int | None = None,
) -> None:
    """Raise :class:`DataError` if a block of values read from ``source`` holds NaN/Inf.

    Parameters
    ----------
    block : array_like
        Values just read, e.g. a crop of shape ``(*spatial)``.
    source, variable : str
        File and variable the block came from (named in the message).
    sample, time : int, optional
        Indices of the block along ``sample`` and ``time``, when it lies in one frame.
    """
    values = np.asarray(block)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = [
        f"{label} {value}"
        for label, value in (("sample", sample), ("time", time))
        if value is not None
    ]
    where.append(f"position {index}" if index else "scalar value")
    raise DataError(
        f"{source}: variable {variable!r} has a non-finite value ({values[index]}) at "
        f"{', '.join(where)}; expected finite values"
    )
