"""PDEBench HDF5 layouts, read lazily through :class:`~surrogates.io.lazy.H5Array`.

Three variants:

- **CFD**: ``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz`` of shape ``[N, T, X(, Y, Z)]``
  with ``x-coordinate`` ... and ``t-coordinate``. Velocities become the vector
  ``velocity_x|y|z``; ``density`` and ``pressure`` keep their names.
- **single field**: ``tensor`` ``[N, T, X(, Y)]`` (variable name ``tensor``; rename with
  ``variables={"tensor": "u"}``).
- **multi-seed**: groups ``"0000"``, ``"0001"`` ... each with ``data`` ``[T, X(, Y, Z), C]``
  and ``grid/x``, ``grid/y``, ``grid/z``, ``grid/t``; seeds become samples (the sample
  coordinate is the seed number) and channel ``c`` the variable ``data_<c>`` (``data``
  when C = 1). Only the first seed's grid is read; every seed's shape is checked.

Conventions chosen here:

- ``t-coordinate`` with T + 1 entries (PDEBench stores the end time too): frame ``k`` is at
  ``t[k]``, so the first T entries are used. Without ``t-coordinate`` (Darcy flow) time is
  the frame index.
- numeric root attributes (``eta``, ``zeta``, ``M``, ``beta``, ...) become 0-d parameters;
  other root datasets of shape ``[N]`` become ``(sample,)`` parameters and of shape
  ``[N, X(, Y, Z)]`` static per-sample fields (Darcy's ``nu``); any other dataset is
  ignored.
- boundaries: PDEBench names periodic runs ``..._periodic_...``; a file name containing
  ``periodic`` sets every axis periodic. Otherwise nothing is assumed here and
  :func:`surrogates.io.open_dataset` falls back to ``"open"`` unless told otherwise.
"""

from __future__ import annotations

import pathlib
from typing import Any

import h5py
import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.lazy import Axis, H5Array, decode_attrs, float_dtype, h5_file
from surrogates.io.schema import SPATIAL_DIMS

__all__ = ["NAME", "sniff", "open"]

NAME = "pdebench"
CFD_FIELDS = {
    "density": "density",
    "pressure": "pressure",
    "Vx": "velocity_x",
    "Vy": "velocity_y",
    "Vz": "velocity_z",
}
COORDINATES = ("x-coordinate", "y-coordinate", "z-coordinate")


def sniff(path: pathlib.Path) -> str | None:
    """None for a PDEBench file (CFD, single-field or multi-seed), else why not."""
    if path.is_dir() or not h5py.is_hdf5(path):
        return "not an HDF5 file"
    with h5_file(path) as handle:
        if _variant(handle) is not None:
            return None
    return (
        "HDF5 file without PDEBench datasets ('tensor', CFD fields 'density'/'Vx'/... with "
        "'x-coordinate', or seed groups '0000/data')"
    )


def open(path: pathlib.Path) -> xr.Dataset:
    """Open a PDEBench file lazily; see the module docstring for the conventions."""
    with h5_file(path) as handle:
        variant = _variant(handle)
        if variant is None:
            raise DataError(f"{path}: {sniff(path)}")
        ds = _open_seeds(handle, path) if variant == "seeds" else _open_stacked(handle, path)
        ds.attrs.update(_root_attrs(handle))
        ds = ds.assign(_root_parameters(handle))
    if "periodic" in path.name.lower():
        ds.attrs.update({f"boundary_{d}": "periodic" for d in SPATIAL_DIMS if d in ds.dims})
    return ds


def _variant(handle: h5py.File) -> str | None:
    if "_NCProperties" in handle.attrs:  # a netCDF-4 file that happens to use these names
        return None
    if isinstance(handle.get("tensor"), h5py.Dataset):
        return "tensor"
    has_coords = any(
        isinstance(handle.get(c), h5py.Dataset) for c in (*COORDINATES, "t-coordinate")
    )
    if has_coords and any(isinstance(handle.get(f), h5py.Dataset) for f in CFD_FIELDS):
        return "cfd"
    seeds = [k for k in handle if k.isdigit()]
    if seeds and isinstance(handle[seeds[0]], h5py.Group) and "data" in handle[seeds[0]]:
        return "seeds"
    return None


def _open_stacked(handle: h5py.File, path: pathlib.Path) -> xr.Dataset:
    """CFD and single-field files: every field is one dataset ``[N, T, *spatial]``."""
    names = ["tensor"] if "tensor" in handle else [k for k in CFD_FIELDS if k in handle]
    shapes = {name: handle[name].shape for name in names}
    shape = shapes[names[0]]
    if len(set(shapes.values())) > 1:
        found = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise DataError(f"{path}: variables' shapes disagree ({found}); expected one shape")
    n_spatial = len(shape) - 2
    if not 1 <= n_spatial <= 3:
        raise DataError(f"{path}: {names[0]!r} has shape {shape}, expected [N, T, X(, Y, Z)]")
    coords = _spatial_coords(handle, path, shape[2:], list(COORDINATES))
    coords["time"] = _time(handle.get("t-coordinate"), shape[1], path, "t-coordinate")
    dims = ("sample", "time", *SPATIAL_DIMS[:n_spatial])
    data_vars: dict[str, Any] = {}
    for name in names:
        axes = tuple(Axis("file", i) for i in range(len(shape)))
        getter = H5Array(str(path), (name,), axes, shape, float_dtype(handle[name], path))
        data_vars[CFD_FIELDS.get(name, name)] = (dims, getter.to_dask(n_spatial))
    data_vars.update(_extras(handle, path, shape[0], shape[2:], exclude={*names}))
    return xr.Dataset(data_vars, coords)


def _open_seeds(handle: h5py.File, path: pathlib.Path) -> xr.Dataset:
    """Multi-seed files: ``<seed>/data`` ``[T, *spatial, C]`` stacked into samples."""
    seeds = sorted(k for k in handle if k.isdigit() and isinstance(handle[k], h5py.Group))
    shape = _seed_shape(handle, path, seeds[0])
    for seed in seeds[1:]:
        other = _seed_shape(handle, path, seed)
        if other != shape:
            raise DataError(
                f"{path}: group {seed!r}: data shape {other} disagrees with {shape} of group "
                f"{seeds[0]!r}; expected every seed to have the same shape"
            )
    n_spatial = len(shape) - 2
    grid = handle[seeds[0]].get("grid")
    if not isinstance(grid, h5py.Group):
        raise DataError(
            f"{path}: required group '{seeds[0]}/grid' missing; expected the PDEBench seed layout"
            " ('<seed>/data' and '<seed>/grid/x|y|z|t')"
        )
    coords = _spatial_coords(grid, path, shape[1:-1], ["x", "y", "z"], prefix=f"{seeds[0]}/grid/")
    coords["time"] = _time(grid.get("t"), shape[0], path, f"{seeds[0]}/grid/t")
    coords["sample"] = np.array([int(s) for s in seeds])
    dims = ("sample", "time", *SPATIAL_DIMS[:n_spatial])
    axes = (Axis("stack"), *(Axis("file", i) for i in range(len(shape) - 1)))
    virtual = (len(seeds), *shape[:-1])
    dtype = float_dtype(handle[f"{seeds[0]}/data"], path)
    data_vars = {}
    for c in range(shape[-1]):
        getter = H5Array(
            str(path),
            tuple(f"{s}/data" for s in seeds),
            axes,
            virtual,
            dtype,
            fixed=((len(shape) - 1, c),),
        )
        name = "data" if shape[-1] == 1 else f"data_{c}"
        data_vars[name] = (dims, getter.to_dask(n_spatial))
    return xr.Dataset(data_vars, coords)


def _seed_shape(handle: h5py.File, path: pathlib.Path, seed: str) -> tuple[int, ...]:
    data = handle[seed].get("data")
    if not isinstance(data, h5py.Dataset):
        raise DataError(f"{path}: required dataset '{seed}/data' missing")
    if not 3 <= data.ndim <= 5:
        raise DataError(f"{path}: '{seed}/data' has shape {data.shape}, expected [T, X(, Y, Z), C]")
    return data.shape


def _spatial_coords(
    group: h5py.Group, path: pathlib.Path, sizes: tuple[int, ...], names: list[str], prefix=""
) -> dict[str, np.ndarray]:
    coords = {}
    for dim, name, size in zip(SPATIAL_DIMS, names, sizes, strict=False):
        dset = group.get(name)
        if not isinstance(dset, h5py.Dataset):
            raise DataError(
                f"{path}: required dataset '{prefix}{name}' missing (the data have "
                f"{len(sizes)} spatial axes)"
            )
        values = np.asarray(dset[()]).reshape(-1)
        if values.size != size:
            raise DataError(
                f"{path}: '{prefix}{name}' has {values.size} entries but the data have {size} "
                f"cells along {dim}; shapes disagree"
            )
        coords[dim] = values
    return coords


def _time(dset: Any, n_frames: int, path: pathlib.Path, name: str) -> np.ndarray:
    if dset is None:
        return np.arange(n_frames, dtype=np.float64)
    values = np.asarray(dset[()], dtype=np.float64).reshape(-1)
    if values.size in (n_frames, n_frames + 1):
        return values[:n_frames]
    raise DataError(
        f"{path}: '{name}' has {values.size} entries, expected {n_frames} (one per frame) or "
        f"{n_frames + 1}"
    )


def _extras(handle, path, n_samples, spatial, exclude) -> dict[str, Any]:
    """Root datasets shaped ``[N]`` (parameters) or ``[N, *spatial]`` (static fields)."""
    out = {}
    dims = ("sample", *SPATIAL_DIMS[: len(spatial)])
    for name, dset in handle.items():
        if name in exclude or not isinstance(dset, h5py.Dataset) or dset.dtype.kind not in "iuf":
            continue
        if dset.shape == (n_samples, *spatial):
            axes = tuple(Axis("file", i) for i in range(dset.ndim))
            getter = H5Array(str(path), (name,), axes, dset.shape, float_dtype(dset, path))
            out[name] = (dims, getter.to_dask(len(spatial)))
        elif dset.shape == (n_samples,) and not name.endswith("-coordinate"):
            out[name] = (("sample",), np.asarray(dset[()], dtype=float_dtype(dset, path)))
    return out


def _root_parameters(handle: h5py.File) -> dict[str, Any]:
    attrs = decode_attrs(handle)
    return {
        k: ((), np.float64(v))
        for k, v in attrs.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _root_attrs(handle: h5py.File) -> dict[str, Any]:
    return {k: v for k, v in decode_attrs(handle).items() if isinstance(v, str)}
