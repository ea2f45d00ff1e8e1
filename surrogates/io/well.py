"""The Well HDF5 layout (PolymathicAI), read lazily through :class:`~surrogates.io.lazy.H5Array`.

A Well file has root attributes ``dataset_name``, ``grid_type``, ``n_spatial_dims``,
``n_trajectories`` and ``simulation_parameters``; groups ``dimensions`` (spatial
coordinates named by its ``spatial_dims`` attribute, and ``time``), ``boundary_conditions``,
``scalars`` and ``t0_fields``/``t1_fields``/``t2_fields``. A field of tensor order k has
shape ``[B if sample_varying][T if time_varying][spatial...][D]*k``; a spatial axis whose
``dim_varying`` entry is False is stored with length 1 (or left out) and is broadcast.

Mapping to the canonical form:

- the i-th spatial dimension becomes ``x``, ``y``, ``z`` (whatever the file calls it);
  sample-varying coordinates must agree across trajectories;
- order-1 fields become ``<name>_x|y|z``; order-2 fields all D² components
  ``<name>_xx``, ``<name>_xy``, ``<name>_yx``, ... (symmetric tensors keep both
  off-diagonals so axis permutations stay simple);
- ``scalars`` become parameters over ``()``, ``(sample,)``, ``(time,)`` or
  ``(sample, time)``; numeric root attributes listed in ``simulation_parameters`` that are
  not also scalars become 0-d parameters;
- each ``boundary_conditions`` subgroup sets the boundary of its ``associated_dims`` at the
  edges its ``mask`` covers (no mask: both edges). ``bc_type`` is case-insensitive
  ``PERIODIC``/``WALL``/``OPEN``. When the two edges of an axis differ the axis is
  ``wall`` if either edge is a wall, else ``open``, and ``well_boundary_<axis>`` records
  ``"lower=..., upper=..."``.
"""

from __future__ import annotations

import itertools
import pathlib
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import xarray as xr

from surrogates.errors import DataError
from surrogates.io.lazy import Axis, H5Array, decode_attr, decode_attrs, float_dtype, h5_file
from surrogates.io.schema import BOUNDARY_KINDS, SPATIAL_DIMS

__all__ = ["NAME", "sniff", "open"]

NAME = "well"
FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")


def sniff(path: pathlib.Path) -> str | None:
    """None for a file in The Well's layout, else why not."""
    if path.is_dir() or not h5py.is_hdf5(path):
        return "not an HDF5 file"
    with h5_file(path) as handle:
        if (
            "n_spatial_dims" in handle.attrs
            and isinstance(handle.get("dimensions"), h5py.Group)
            and any(group in handle for group in FIELD_GROUPS)
        ):
            return None
    return (
        "HDF5 file without The Well layout (attribute n_spatial_dims, groups dimensions, t*_fields)"
    )


@dataclass(frozen=True)
class _Grid:
    """Sizes shared by every field of one Well file."""

    path: pathlib.Path
    names: tuple[str, ...]  # the file's spatial dimension names, in order
    sizes: tuple[int, ...]
    n_traj: int
    n_time: int | None

    @property
    def ndim(self) -> int:
        return len(self.names)


def open(path: pathlib.Path) -> xr.Dataset:  # the layout contract's name
    """Open a Well file lazily; see the module docstring for the mapping."""
    with h5_file(path) as handle:
        grid, coords = _grid(handle, path)
        data_vars: dict[str, Any] = {}
        for order, group_name in enumerate(FIELD_GROUPS):
            group = handle.get(group_name)
            for name in _names(group):
                data_vars.update(_field(group, name, order, grid))
        data_vars.update(_scalars(handle, grid))
        attrs = {
            k: v
            for k, v in decode_attrs(handle).items()
            if k in ("dataset_name", "grid_type") and isinstance(v, str)
        }
        attrs.update(_boundaries(handle, grid))
    return xr.Dataset(data_vars, coords, attrs)


def _grid(handle: h5py.File, path: pathlib.Path) -> tuple[_Grid, dict[str, Any]]:
    dims = handle["dimensions"]
    names = decode_attr(dims.attrs.get("spatial_dims"))
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names:
        raise DataError(
            f"{path}: required attribute 'dimensions' @spatial_dims missing; expected The Well"
            " layout (the names of the spatial axes, e.g. ['x', 'y'])"
        )
    n_dims = decode_attr(handle.attrs["n_spatial_dims"])
    if n_dims != len(names) or not 1 <= n_dims <= 3:
        raise DataError(
            f"{path}: n_spatial_dims={n_dims} but dimensions @spatial_dims={names}; expected "
            f"1 to 3 matching names"
        )
    coords: dict[str, Any] = {}
    for name, dim in zip(names, SPATIAL_DIMS, strict=False):
        coords[dim] = _coordinate(dims, name, path)
    if "n_trajectories" not in handle.attrs:
        raise DataError(
            f"{path}: required root attribute 'n_trajectories' missing; expected The Well"
            " layout (the number of trajectories stored)"
        )
    n_time = None
    if "time" in dims:
        coords["time"] = _coordinate(dims, "time", path)
        n_time = coords["time"].size
    sizes = tuple(coords[d].size for d in SPATIAL_DIMS[: len(names)])
    n_traj = int(decode_attr(handle.attrs["n_trajectories"]))
    return _Grid(path, tuple(names), sizes, n_traj, n_time), coords


def _coordinate(dims: h5py.Group, name: str, path: pathlib.Path) -> np.ndarray:
    dset = dims.get(name)
    if not isinstance(dset, h5py.Dataset):
        raise DataError(f"{path}: required dataset 'dimensions/{name}' missing")
    values = np.asarray(dset[()], dtype=np.float64)
    if values.ndim == 2:  # sample-varying: only equal rows map to one canonical coordinate
        if not (values == values[:1]).all():
            raise DataError(
                f"{path}: 'dimensions/{name}' differs between trajectories; expected one "
                f"coordinate shared by all samples"
            )
        values = values[0]
    if values.ndim != 1:
        raise DataError(f"{path}: 'dimensions/{name}' has shape {dset.shape}, expected 1-D")
    return values


def _names(group: h5py.Group | None) -> list[str]:
    if group is None:
        return []
    names = decode_attr(group.attrs.get("field_names", list(group.keys())))
    return [names] if isinstance(names, str) else list(names)


def _flag(dset: h5py.Dataset, key: str, path: pathlib.Path) -> bool:
    if key not in dset.attrs:
        raise DataError(f"{path}: dataset {dset.name!r}: required attribute {key!r} missing")
    return bool(decode_attr(dset.attrs[key]))


def _field(group: h5py.Group, name: str, order: int, grid: _Grid) -> dict[str, Any]:
    """One Well field as its canonical component variables, ``{name: (dims, dask)}``."""
    dset = group.get(name)
    if not isinstance(dset, h5py.Dataset):
        raise DataError(f"{grid.path}: required dataset '{group.name}/{name}' missing")
    samples = _flag(dset, "sample_varying", grid.path)
    times = _flag(dset, "time_varying", grid.path)
    varying = decode_attr(dset.attrs.get("dim_varying", [True] * grid.ndim))
    varying = [bool(v) for v in np.atleast_1d(varying)]
    if times and grid.n_time is None:
        raise DataError(
            f"{grid.path}: {dset.name!r} varies in time but 'dimensions/time' is missing"
        )
    lead = [grid.n_traj] * samples + [grid.n_time] * times
    axes = _field_axes(dset, lead, varying, order, grid)
    dims = ("sample",) * samples + ("time",) * times + SPATIAL_DIMS[: grid.ndim]
    shape = tuple(lead) + grid.sizes
    dtype = float_dtype(dset, grid.path)
    first_component_axis = dset.ndim - order
    out = {}
    for combo in itertools.product(range(grid.ndim), repeat=order):
        fixed = tuple((first_component_axis + i, c) for i, c in enumerate(combo))
        suffix = "".join(SPATIAL_DIMS[c] for c in combo)
        getter = H5Array(str(grid.path), (dset.name,), axes, shape, dtype, fixed=fixed)
        out[f"{name}_{suffix}" if order else name] = (dims, getter.to_dask(grid.ndim))
    return out


def _field_axes(dset, lead, varying, order, grid) -> tuple[Axis, ...]:
    """Map the stored axes of a field to virtual (canonical) axes, checking its shape."""
    n_lead = len(lead)
    stored = dset.shape[n_lead : dset.ndim - order]
    full = len(stored) == grid.ndim  # non-varying axes kept with length 1, else left out
    ok = (
        len(varying) == grid.ndim
        and dset.shape[:n_lead] == tuple(lead)
        and dset.shape[dset.ndim - order :] == (grid.ndim,) * order
        and (full or len(stored) == sum(varying))
    )
    axes = [Axis("file", i) for i in range(n_lead)]
    position = n_lead
    for size, vary in zip(grid.sizes, varying, strict=False):
        if not ok:
            break
        if not (vary or full):
            axes.append(Axis("broadcast"))
            continue
        got = dset.shape[position]
        ok = got == size or (got == 1 and not vary)
        axes.append(Axis("file" if got == size else "broadcast", position))
        position += 1
    if not ok:
        spatial = [str(n) if v else "1" for n, v in zip(grid.sizes, varying, strict=False)]
        spatial = spatial if full else [n for n, v in zip(spatial, varying, strict=False) if v]
        expected = [str(n) for n in lead] + spatial + [str(grid.ndim)] * order
        raise DataError(
            f"{grid.path}: dataset {dset.name!r} has shape {dset.shape}, expected "
            f"[{', '.join(expected)}] from its attributes and 'dimensions'; shapes disagree"
        )
    return tuple(axes)


def _scalars(handle: h5py.File, grid: _Grid) -> dict[str, Any]:
    """Scalars group and numeric ``simulation_parameters`` root attributes → parameters."""
    out: dict[str, Any] = {}
    group = handle.get("scalars")
    for name in _names(group):
        dset = group.get(name)
        if not isinstance(dset, h5py.Dataset):
            raise DataError(f"{grid.path}: required dataset 'scalars/{name}' missing")
        samples = _flag(dset, "sample_varying", grid.path)
        times = _flag(dset, "time_varying", grid.path) and grid.n_time is not None
        lead = (grid.n_traj,) * samples + (grid.n_time,) * times
        values = np.asarray(dset[()], dtype=np.float64)
        if values.size != int(np.prod(lead)):
            raise DataError(
                f"{grid.path}: 'scalars/{name}' has shape {dset.shape}, expected {list(lead)}"
            )
        out[name] = (("sample",) * samples + ("time",) * times, values.reshape(lead))
    listed = decode_attr(handle.attrs.get("simulation_parameters", []))
    for name in [listed] if isinstance(listed, str) else listed:
        value = decode_attr(handle.attrs.get(name))
        if name not in out and isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = ((), np.float64(value))
    return out


def _boundaries(handle: h5py.File, grid: _Grid) -> dict[str, str]:
    """``boundary_<axis>`` attributes from the ``boundary_conditions`` subgroups."""
    edges: dict[str, dict[str, set[str]]] = {}
    bcs = handle.get("boundary_conditions")
    for name, bc in bcs.items() if isinstance(bcs, h5py.Group) else ():
        kind = str(decode_attr(bc.attrs.get("bc_type", ""))).lower()
        if kind not in BOUNDARY_KINDS:
            raise DataError(
                f"{grid.path}: boundary_conditions/{name} @bc_type={kind.upper()!r}, expected "
                f"one of PERIODIC, WALL, OPEN"
            )
        associated = decode_attr(bc.attrs.get("associated_dims", []))
        associated = [associated] if isinstance(associated, str) else list(associated)
        for position, dim_name in enumerate(associated):
            if dim_name not in grid.names:
                raise DataError(
                    f"{grid.path}: boundary_conditions/{name} names dimension {dim_name!r}, "
                    f"expected one of {list(grid.names)}"
                )
            axis = SPATIAL_DIMS[grid.names.index(dim_name)]
            lower, upper = _mask_edges(bc.get("mask"), position)
            for edge, hit in (("lower", lower), ("upper", upper)):
                if hit:
                    edges.setdefault(axis, {}).setdefault(edge, set()).add(kind)
    return _resolve_edges(edges)


def _mask_edges(mask: h5py.Dataset | None, position: int) -> tuple[bool, bool]:
    if not isinstance(mask, h5py.Dataset):
        return True, True
    lead = (slice(None),) * position
    return bool(np.any(mask[lead + (0,)])), bool(np.any(mask[lead + (-1,)]))


def _resolve_edges(edges: dict[str, dict[str, set[str]]]) -> dict[str, str]:
    attrs = {}
    for axis, sides in edges.items():
        kinds = set().union(*sides.values())
        if len(kinds) == 1:
            attrs[f"boundary_{axis}"] = kinds.pop()
            continue
        attrs[f"boundary_{axis}"] = "wall" if "wall" in kinds else "open"
        detail = {e: "/".join(sorted(sides.get(e, {"unspecified"}))) for e in ("lower", "upper")}
        attrs[f"well_boundary_{axis}"] = f"lower={detail['lower']}, upper={detail['upper']}"
    return attrs
