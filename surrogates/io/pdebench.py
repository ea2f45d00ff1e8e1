"""PDEBench HDF5 layouts, read lazily through :class:`~surrogates.io.lazy.H5Array`.

Four variants:

- **CFD**: ``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz`` of shape ``[N, T, X(, Y, Z)]``
  with ``x-coordinate`` ... and ``t-coordinate``. Velocities become the vector
  ``velocity_x|y|z``; ``density`` and ``pressure`` keep their names.
- **single field**: ``tensor`` ``[N, T, X(, Y)]`` (variable name ``tensor``; rename with
  ``variables={"tensor": "u"}``).
- **multi-seed**: groups ``"0000"``, ``"0001"`` ... each with ``data`` ``[T, X(, Y, Z), C]``
  and ``grid/x``, ``grid/y``, ``grid/z``, ``grid/t``; seeds become samples (the sample
  coordinate is the seed number) and channel ``c`` the variable ``data_<c>`` (``data``
  when C = 1). Only the first seed's grid is read; every seed's shape is checked.
- **2D incompressible Navier-Stokes** (``data_io.h5_for`` of PDEBench's
  ``sim_ns_incomp_2d``): ``velocity`` ``[N, T, X, Y, 2]``, ``particles`` ``[N, T, X, Y, 1]``
  (the advected density), ``force`` ``[N, X, Y, 2]`` and ``t`` ``[N, T]``, with root
  attributes ``config`` (the run's YAML) and ``latestIndex`` (the last frame written).
  Variables ``velocity_x|y``, ``particles`` and the static ``force_x|y`` (no time);
  ``t`` (the same for every sample, else DataError) is the time coordinate. A
  ``latestIndex`` below T - 1 (an unfinished run: the later frames were never written and
  read as zeros) raises DataError.

Conventions chosen here:

- ``t-coordinate`` with T + 1 entries (PDEBench stores the end time too): frame ``k`` is at
  ``t[k]``, so the first T entries are used. Without ``t-coordinate`` (Darcy flow) time is
  the frame index.
- numeric root attributes (``eta``, ``zeta``, ``M``, ``beta``, ...) become 0-d parameters;
  other root datasets of shape ``[N]`` become ``(sample,)`` parameters and of shape
  ``[N, X(, Y, Z)]`` static per-sample fields (Darcy's ``nu``); any other dataset is
  ignored.
- boundaries: PDEBench names periodic runs ``..._periodic_...``; a file name containing
  ``periodic`` sets every axis periodic. The incompressible NS config's
  ``velocity_extrapolation`` ``ZERO`` (no-slip) sets ``"wall"``, ``PERIODIC`` periodic.
  Otherwise nothing is assumed here and :func:`surrogates.io.open_dataset` falls back to
  ``"open"`` unless told otherwise.
- incompressible NS grid: the file stores no coordinates. The cells are taken as the
  cell centres ``(i + 1/2) L / n`` of the config's ``domain_size`` (``[1, 1]`` in
  PDEBench's ``ns_incomp.yaml``), else of the unit square ``[0, 1]^2`` (PDEBench's stated
  domain); the attribute ``grid`` says which. (PDEBench's generator itself hands phiflow
  the box ``[0, X] x [0, Y]``, cells of size 1: its velocities and ``NU`` are in those
  units, so multiply the coordinates by ``n`` to compare with them.) ``NU`` from the
  config becomes a 0-d parameter.
"""

from __future__ import annotations

import pathlib
from typing import Any

import h5py
import numpy as np
import xarray as xr
import yaml

from surrogates.errors import DataError
from surrogates.io.lazy import Axis, H5Array, decode_attrs, float_dtype, h5_file
from surrogates.io.schema import SPATIAL_DIMS

__all__ = ["NAME", "sniff", "open"]

NAME = "pdebench"
INCOMPRESSIBLE = ("velocity", "particles", "force", "t")  # data_io.h5_for of PDEBench
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
        "'x-coordinate', seed groups '0000/data', or incompressible Navier-Stokes "
        "'velocity' [N, T, X, Y, 2] with 't')"
    )


def open(path: pathlib.Path) -> xr.Dataset:
    """Open a PDEBench file lazily; see the module docstring for the conventions."""
    with h5_file(path) as handle:
        variant = _variant(handle)
        if variant is None:
            raise DataError(f"{path}: {sniff(path)}")
        opener = {"seeds": _open_seeds, "incompressible": _open_incompressible}
        ds = opener.get(variant, _open_stacked)(handle, path)
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
    if all(isinstance(handle.get(k), h5py.Dataset) for k in ("velocity", "t")):
        return "incompressible"
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
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "latestIndex"
    }


def _root_attrs(handle: h5py.File) -> dict[str, Any]:
    return {k: v for k, v in decode_attrs(handle).items() if isinstance(v, str)}


# ----------------------------------------------------------------------------- incompressible NS


def _open_incompressible(handle: h5py.File, path: pathlib.Path) -> xr.Dataset:
    """2D incompressible NS: ``velocity`` [N, T, X, Y, 2] and its companions (module doc)."""
    shape = handle["velocity"].shape
    if len(shape) != 5 or shape[-1] != 2:
        raise DataError(
            f"{path}: 'velocity' has shape {shape}; expected [N, T, X, Y, 2] (PDEBench 2D "
            "incompressible Navier-Stokes)"
        )
    n, frames, nx, ny = shape[:4]
    expected = {"velocity": shape, "particles": (n, frames, nx, ny, 1), "force": (n, nx, ny, 2)}
    for name, want in [*expected.items(), ("t", (n, frames))]:
        got = handle[name].shape if isinstance(handle.get(name), h5py.Dataset) else want
        if got != want:
            raise DataError(
                f"{path}: '{name}' has shape {got}; expected {want} for 'velocity' {shape}"
            )
    _check_complete(handle, path, frames)
    config = _config(handle, path)
    coords, grid = _incompressible_grid(config, (nx, ny))
    coords["time"] = _shared_time(handle, path, n, frames)
    names = {"velocity": ("velocity_x", "velocity_y"), "particles": ("particles",)}
    names["force"] = ("force_x", "force_y")
    data_vars: dict[str, Any] = {}
    for name, variables in names.items():
        dims = ("sample", "x", "y") if name == "force" else ("sample", "time", "x", "y")
        for c, var in enumerate(variables if name in handle else ()):
            data_vars[var] = (dims, _component(handle, path, name, c))
    if isinstance(config.get("NU"), int | float) and not isinstance(config["NU"], bool):
        data_vars["NU"] = ((), np.float64(config["NU"]), {"long_name": "kinematic viscosity"})
    ds = xr.Dataset(data_vars, coords, {"grid": grid})
    walls = {"ZERO": "wall", "PERIODIC": "periodic"}
    kind = walls.get(str(config.get("velocity_extrapolation", "")).upper())
    return ds.assign_attrs({f"boundary_{d}": kind for d in ("x", "y")} if kind else {})


def _component(handle: h5py.File, path: pathlib.Path, name: str, c: int) -> Any:
    """Component ``c`` of the last (vector) axis of dataset ``name``, as a lazy dask array."""
    dset = handle[name]
    axes = tuple(Axis("file", i) for i in range(dset.ndim - 1))
    dtype = float_dtype(dset, path)
    getter = H5Array(str(path), (name,), axes, dset.shape[:-1], dtype, fixed=((dset.ndim - 1, c),))
    return getter.to_dask(2)


def _check_complete(handle: h5py.File, path: pathlib.Path, frames: int) -> None:
    latest = handle.attrs.get("latestIndex")
    if latest is not None and int(np.asarray(latest).reshape(-1)[0]) < frames - 1:
        raise DataError(
            f"{path}: attribute latestIndex = {int(np.asarray(latest).reshape(-1)[0])} but "
            f"'velocity' has {frames} frames: the later frames were never written (an "
            f"unfinished run); expected latestIndex = {frames - 1}"
        )


def _config(handle: h5py.File, path: pathlib.Path) -> dict[str, Any]:
    """The run's configuration (root attribute ``config``, YAML), or {} if absent."""
    text = decode_attrs(handle).get("config")
    if not isinstance(text, str):
        return {}
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        why = " ".join(str(exc).split())
        raise DataError(
            f"{path}: root attribute 'config' is not valid YAML ({why}); expected the run's "
            "configuration as PDEBench writes it"
        ) from None
    return config if isinstance(config, dict) else {}


def _incompressible_grid(config: dict, sizes: tuple[int, int]) -> tuple[dict, str]:
    """Cell-centre coordinates of ``domain_size`` (else the unit square) and a note."""
    domain = config.get("domain_size")
    ok = isinstance(domain, list) and len(domain) == 2
    ok = ok and all(isinstance(v, int | float) and v > 0 for v in domain)
    lengths = [float(v) for v in domain] if ok else [1.0, 1.0]
    coords = {
        d: (np.arange(n) + 0.5) * (b / n) for d, n, b in zip("xy", sizes, lengths, strict=True)
    }
    box = " x ".join(f"[0, {b:g}]" for b in lengths)
    said = "from the config's domain_size"
    if not ok:
        said = (
            "assumed: the file stores no coordinates and its config no domain_size; PDEBench's"
            " incompressible Navier-Stokes domain is the unit square"
        )
    return coords, f"cell centres (i + 1/2) L / n of {box} ({said})"


def _shared_time(handle: h5py.File, path: pathlib.Path, n: int, frames: int) -> np.ndarray:
    if not isinstance(handle.get("t"), h5py.Dataset):
        return np.arange(frames, dtype=np.float64)
    t = np.asarray(handle["t"][()], dtype=np.float64).reshape(n, frames)
    differs = np.flatnonzero(np.any(t != t[0], axis=1))
    if differs.size:
        raise DataError(
            f"{path}: 't' of sample {differs[0]} is {t[differs[0]].tolist()[:4]}... but sample 0"
            f" has {t[0].tolist()[:4]}...; expected one time axis shared by all samples"
        )
    return t[0]
