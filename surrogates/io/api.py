"""``open_dataset``: find the layout of solver files, open them lazily, return canonical form.

Layout contract
---------------
Every layout module (``netCDF4_``, ``zarr_``, ``pdebench``, ``well``, ``gadget``) exposes::

    NAME: str                                    # "netcdf", "zarr", "pdebench", ...
    def sniff(path: pathlib.Path) -> str | None  # None: the file is of this layout;
                                                 # else a short reason why not. Cheap:
                                                 # header/metadata only, never raises
                                                 # for a readable file of another kind.
    def open(path: pathlib.Path, **options) -> xarray.Dataset
                                                 # lazy; may raise DataError
    def group_files(paths: list[Path]) -> list[list[Path]]   # optional

``open`` returns a lazy dataset whose dimensions are canonical names (or names the user
renames with ``dims=``); it may set ``boundary_<axis>`` attributes when the file says
what the boundaries are. This module then renames, transposes, casts, applies the
boundary option, validates (:func:`surrogates.io.schema.canonicalize`) and chunks. With
``group_files``, a layout groups several paths into one dataset (Gadget's
``snap.0.hdf5``, ``snap.1.hdf5``); ``open`` then receives the first path of each group.
Extra keyword options of :func:`open_dataset` are passed to ``open`` and checked against
its signature.

Detection order puts the specific HDF5 layouts first (``well``, ``pdebench``,
``gadget``): netCDF-4 files are HDF5 files too.
"""

from __future__ import annotations

import glob
import importlib
import inspect
import os
import pathlib
import stat
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import h5py
import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.lazy import h5_file
from surrogates.io.schema import SPATIAL_DIMS, Boundary, Renames, canonicalize, validate

__all__ = ["LAYOUTS", "open_dataset", "detect_layout", "resolve_paths", "layout_module"]

#: Layout names in detection order.
LAYOUTS = ("well", "pdebench", "gadget", "netcdf", "zarr")
_MODULES = {
    "well": "surrogates.io.well",
    "pdebench": "surrogates.io.pdebench",
    "gadget": "surrogates.io.gadget",
    "netcdf": "surrogates.io.netCDF4_",
    "zarr": "surrogates.io.zarr_",
}
_RESERVED = ("dims", "variables", "boundary", "chunks", "concat_dim")

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | xr.Dataset


def open_dataset(
    source: Source,
    format: str = "auto",
    *,
    dims: Renames = None,
    variables: Renames = None,
    boundary: Boundary = None,
    chunks: Mapping[str, int] | None = None,
    concat_dim: str = "sample",
    **options: Any,
) -> xr.Dataset:
    """Open solver output as the canonical, lazy :class:`xarray.Dataset`.

    Parameters
    ----------
    source : path, glob string, list of paths, or xarray.Dataset
        Several files are concatenated along ``concat_dim`` (globs are sorted).
    format : str
        ``"auto"`` (detect) or one of :data:`LAYOUTS`.
    dims, variables : mapping, optional
        Renames applied before validation, e.g. ``dims={"lon": "x"}``.
    boundary : str or mapping, optional
        ``"periodic"``, or per axis ``{"x": "periodic", "y": "wall"}``. Axes not given keep
        what the file says, else ``"open"`` (periodicity is never assumed).
    chunks : mapping of dim to int, optional
        Dask chunks; default one (sample, time) frame, split when above 32 MiB.
    concat_dim : {"sample", "time"}
        Dimension along which several files are concatenated.
    **options
        Layout-specific options (e.g. ``drop_variables`` for netCDF/zarr).

    Returns
    -------
    xarray.Dataset
        Canonical (see :mod:`surrogates.io.schema`), dask-backed; only metadata and
        coordinates have been read.

    Raises
    ------
    DataError
        For every problem with the input, naming the file.
    """
    renames = {"dims": dims, "variables": variables, "boundary": boundary}
    if isinstance(source, xr.Dataset):
        where = str(source.attrs.get("source", "<in-memory dataset>"))
        kind = str(source.attrs.get("source_format", "xarray"))
        return _chunk(canonicalize(source, source=where, source_format=kind, **renames), chunks)
    if concat_dim not in ("sample", "time"):
        raise DataError(f"concat_dim={concat_dim!r}, expected 'sample' or 'time'")
    paths = resolve_paths(source)
    name = detect_layout(paths[0]) if format == "auto" else format
    module = layout_module(name)
    _check_options(module, options)
    for path in paths if format != "auto" else paths[1:]:
        reason = _sniff(module, path)
        if reason is not None:
            raise DataError(
                f"{path}: not a {name!r} file ({reason}); expected every file of "
                f"the source to have layout {name!r}"
            )
    groups = module.group_files(paths) if hasattr(module, "group_files") else [[p] for p in paths]
    parts = []
    for group in groups:
        raw = _open_one(module, pathlib.Path(group[0]), options)
        parts.append(canonicalize(raw, source=str(group[0]), source_format=name, **renames))
    ds = parts[0] if len(parts) == 1 else _concat(parts, concat_dim, _label(source, paths))
    return _chunk(ds, chunks)


def resolve_paths(source: Any) -> list[pathlib.Path]:
    """Paths named by a path, a glob string or a list of them; each must exist."""
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if any(c in text for c in "*?[") and not os.path.exists(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise DataError(f"{text}: no file matches this pattern; expected at least one")
            return [_readable(pathlib.Path(m)) for m in matches]
        path = pathlib.Path(text)
        if not path.exists():
            raise DataError(f"{path}: file not found; expected an existing file or store")
        return [_readable(path)]
    if isinstance(source, Sequence) and not isinstance(source, bytes):
        paths = [p for item in source for p in resolve_paths(item)]
        if not paths:
            raise DataError("empty list of sources, expected at least one path")
        return paths
    raise DataError(
        f"source of type {type(source).__name__}, expected a path, a glob, a list of paths "
        f"or an xarray.Dataset"
    )


def _readable(path: pathlib.Path) -> pathlib.Path:
    """``path``, if a regular file or a directory (a store): a FIFO, socket or device
    would block or never end, so it is refused before anything opens it."""
    mode = path.stat().st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return path
    kind = {stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISSOCK: "a socket",
            stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}  # fmt: skip
    found = next((v for test, v in kind.items() if test(mode)), "not a regular file")
    raise DataError(f"{path}: is {found}; expected a regular file or a directory store (zarr)")


def layout_module(name: str) -> ModuleType:
    """The module implementing layout ``name`` (see the contract in this module's docstring)."""
    if name not in _MODULES:
        raise DataError(
            f"format={name!r} is not a known layout, expected 'auto' or one of {LAYOUTS}"
        )
    return _import(name)


def detect_layout(path: pathlib.Path) -> str:
    """Name of the first layout in :data:`LAYOUTS` whose ``sniff`` accepts ``path``."""
    path = pathlib.Path(path)
    if path.is_file() and h5py.is_hdf5(path):
        with h5_file(path):  # a truncated or corrupt HDF5 file fails here, with its name
            pass
    reasons = []
    for name in LAYOUTS:
        reason = _sniff(_import(name), path)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    headline = "no layout matched"
    if path.is_file() and not h5py.is_hdf5(path) and _sniff(_import("netcdf"), path):
        headline = "not an HDF5, netCDF or zarr file; no layout matched"
    raise DataError(f"{path}: {headline}; tried " + "; ".join(reasons))


def _import(name: str) -> ModuleType:
    """Import a layout module on first use (h5py-heavy layouts load only when needed)."""
    return importlib.import_module(_MODULES[name])


def _sniff(module: ModuleType, path: pathlib.Path) -> str | None:
    try:
        return module.sniff(path)
    except DataError as err:
        return str(err)
    except (OSError, KeyError, ValueError, TypeError) as err:
        return f"unreadable ({type(err).__name__}: {err})"


def _check_options(module: ModuleType, options: dict[str, Any]) -> None:
    signature = inspect.signature(module.open)
    try:
        signature.bind(pathlib.Path(), **options)
    except TypeError as err:
        accepted = [p for p in list(signature.parameters)[1:]]
        raise DataError(
            f"format {module.NAME!r} does not accept option(s) {sorted(options)} ({err}); "
            f"it accepts {accepted} and {list(_RESERVED)}"
        ) from err


def _open_one(module: ModuleType, path: pathlib.Path, options: dict[str, Any]) -> xr.Dataset:
    try:
        ds = module.open(path, **options)
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as err:
        raise DataError(
            f"{path}: cannot be opened as {module.NAME!r}: {type(err).__name__}: {err}"
        ) from err
    assert isinstance(ds, xr.Dataset), f"{module.NAME}.open returned {type(ds).__name__}"
    return ds


def _label(source: Any, paths: list[pathlib.Path]) -> str:
    if isinstance(source, str | os.PathLike) and len(paths) > 1:
        return os.fspath(source)
    return ", ".join(str(p) for p in paths)


def _concat(parts: list[xr.Dataset], dim: str, label: str) -> xr.Dataset:
    """Concatenate canonical datasets from several files along ``sample`` or ``time``."""
    for key in [f"boundary_{d}" for d in SPATIAL_DIMS]:
        kinds = {p.attrs.get(key) for p in parts}
        if len(kinds) > 1:
            raise DataError(f"{label}: files disagree on {key} ({sorted(map(str, kinds))})")
    if dim == "sample":
        parts = _with_sample_labels(parts)
        kwargs: dict[str, Any] = {"data_vars": "all"}
    else:
        _check_time_parts(parts, label)
        kwargs = {"data_vars": "minimal"}
    try:
        ds = xr.concat(
            parts,
            dim=dim,
            coords="minimal",
            compat="override",
            join="exact",
            combine_attrs="override",
            **kwargs,
        )
    except ValueError as err:
        raise DataError(f"{label}: files cannot be concatenated along {dim!r}: {err}") from err
    if dim == "sample" and "sample" not in ds.indexes:
        ds = ds.assign_coords(sample=np.arange(ds.sizes["sample"]))
    ds.attrs["source"] = label
    return validate(ds)


def _with_sample_labels(parts: list[xr.Dataset]) -> list[xr.Dataset]:
    """Give every part a sample axis and a per-sample ``source_file`` coordinate."""
    parts = [p if "sample" in p.dims else p.expand_dims("sample") for p in parts]
    labels = [p.indexes["sample"] for p in parts if "sample" in p.indexes]
    unique = len(labels) == len(parts) and len(set().union(*map(set, labels))) == sum(
        map(len, labels)
    )
    out = []
    for part in parts:
        if not unique and "sample" in part.coords:
            part = part.drop_vars("sample")
        files = np.array([part.attrs["source"]] * part.sizes["sample"], dtype=object)
        out.append(part.assign_coords(source_file=("sample", files)))
    return out


def _check_time_parts(parts: list[xr.Dataset], label: str) -> None:
    for part in parts:
        if "time" not in part.dims:
            raise DataError(
                f"{part.attrs['source']}: no time dimension, cannot concatenate {label} along time"
            )
    for name, var in parts[0].data_vars.items():
        if "time" in var.dims or any(d in SPATIAL_DIMS for d in var.dims):
            continue
        for part in parts[1:]:
            if name not in part or not np.array_equal(part[name].values, var.values):
                raise DataError(
                    f"{label}: parameter {name!r} differs between {parts[0].attrs['source']} "
                    f"and {part.attrs['source']}; expected equal values when concatenating "
                    f"along time"
                )


def _chunk(ds: xr.Dataset, chunks: Mapping[str, int] | None) -> xr.Dataset:
    """Apply the ``chunks`` option (canonicalize already chunked per frame)."""
    if not chunks:
        return ds
    unknown = [d for d in chunks if d not in ds.dims]
    if unknown:
        raise DataError(f"option chunks names {unknown}, expected dims of {tuple(ds.dims)}")
    return ds.chunk(dict(chunks))
