"""Input/output adapter shared by the diagnostics: arrays in, grids and xarray results out.

Every diagnostic accepts numpy arrays, torch tensors, dask arrays and xarray DataArrays.
This module turns them into numpy arrays plus a :class:`Grid` (shape, box, units), and
applies a per-snapshot numpy core over the leading dimensions (``sample``, ``time``, ...)
of xarray inputs, concatenating the results along those dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from surrogates.errors import DataError

#: Names of the spatial dimensions of the canonical dataset, in axis order.
SPATIAL_DIMS = ("x", "y", "z")


@dataclass(frozen=True)
class Grid:
    """Uniform periodic (or bounded) grid of one snapshot.

    Attributes
    ----------
    shape : tuple of int
        Number of cells per axis ``(n_1, ..., n_d)``.
    box : tuple of float
        Side length per axis ``(L_1, ..., L_d)``; cell spacing is ``L_i / n_i``.
    length_units : str or None
        Units of the coordinates, when known (from the ``units`` attribute of the coords).
    """

    shape: tuple[int, ...]
    box: tuple[float, ...]
    length_units: str | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(b / n for b, n in zip(self.box, self.shape, strict=True))

    @property
    def volume(self) -> float:
        return float(np.prod(self.box))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def fundamental(self) -> tuple[float, ...]:
        """Fundamental wavenumber ``2 pi / L_i`` per axis."""
        return tuple(2.0 * np.pi / b for b in self.box)


def is_xarray(obj: Any) -> bool:
    return isinstance(obj, xr.DataArray | xr.Dataset)


def is_dask(obj: Any) -> bool:
    return type(obj).__module__.startswith("dask.array")


def to_numpy(obj: Any, name: str) -> np.ndarray:
    """Convert a numpy / torch / dask / xarray object to a numpy array (computing dask)."""
    if isinstance(obj, xr.DataArray):
        obj = obj.data
    if type(obj).__module__.startswith("torch"):
        obj = obj.detach().cpu().numpy()
    arr = np.asarray(obj)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise DataError(f"{name}: got dtype {arr.dtype}, expected a real numeric array")
    return arr


def box_tuple(box_size: Any, shape: Sequence[int], name: str) -> tuple[float, ...]:
    """Validate ``box_size`` (one value or one per axis) against a grid shape."""
    box = np.atleast_1d(np.asarray(box_size, dtype=np.float64))
    if box.size == 1:
        box = np.repeat(box, len(shape))
    if box.shape != (len(shape),) or not np.all(np.isfinite(box)) or not np.all(box > 0):
        raise DataError(
            f"{name}: box_size must be one positive value or {len(shape)} (one per axis), "
            f"got {box_size!r}"
        )
    return tuple(float(b) for b in box)


def _spacing_from_coord(da: xr.DataArray, dim: str, name: str) -> float:
    if dim not in da.coords or da.sizes[dim] < 2:
        raise DataError(
            f"{name}: dimension {dim!r} has no coordinate of cell centres (or one cell), "
            "so the box size cannot be read; pass box_size"
        )
    c = np.asarray(da[dim].values, dtype=np.float64)
    step = np.diff(c)
    if not np.allclose(step, step[0], rtol=1e-6, atol=0.0) or step[0] <= 0:
        raise DataError(
            f"{name}: coordinate {dim!r} is not uniformly increasing "
            f"(steps {step.min():.6g} .. {step.max():.6g}); expected uniform cell centres"
        )
    return float(step[0])


def spatial_dims(da: xr.DataArray, name: str) -> tuple[str, ...]:
    dims = tuple(d for d in SPATIAL_DIMS if d in da.dims)
    if not dims:
        raise DataError(f"{name}: got dims {da.dims}, expected spatial dims among {SPATIAL_DIMS}")
    return dims


def grid_of(obj: Any, box_size: Any, name: str) -> Grid:
    """Grid of one snapshot: from ``box_size`` if given, else from the xarray coordinates."""
    if isinstance(obj, xr.DataArray):
        dims = spatial_dims(obj, name)
        shape = tuple(obj.sizes[d] for d in dims)
        units = obj[dims[0]].attrs.get("units") if dims[0] in obj.coords else None
        if box_size is None:
            box = tuple(
                _spacing_from_coord(obj, d, name) * n for d, n in zip(dims, shape, strict=True)
            )
            return Grid(shape, box, units)
        return Grid(shape, box_tuple(box_size, shape, name), units)
    shape = tuple(int(n) for n in np.shape(obj))
    if not 1 <= len(shape) <= 3:
        raise DataError(
            f"{name}: got an array of shape {shape}, expected one 1-3D snapshot "
            "(use an xarray.DataArray with dims (..., x, y, z) for batches)"
        )
    if box_size is None:
        raise DataError(f"{name}: box_size is required for plain arrays (no coordinates)")
    return Grid(shape, box_tuple(box_size, shape, name))


def snapshot(obj: Any, box_size: Any, name: str) -> tuple[np.ndarray, Grid]:
    """One snapshot as ``(numpy array in axis order x, y, z, grid)``."""
    grid = grid_of(obj, box_size, name)
    if isinstance(obj, xr.DataArray):
        obj = obj.transpose(*spatial_dims(obj, name))
    return to_numpy(obj, name), grid


def map_leading(func: Callable[..., Any], arrays: Sequence[xr.DataArray]) -> Any:
    """Apply ``func(*snapshots)`` over the non-spatial dims of ``arrays[0]`` and concatenate.

    All arrays must share those leading dims. The results (xarray objects) are
    concatenated along the leading dims, keeping their coordinates.
    """
    lead = [d for d in arrays[0].dims if d not in SPATIAL_DIMS]
    if not lead:
        return func(*arrays)
    dim = lead[0]
    for a in arrays[1:]:
        if a.sizes.get(dim) != arrays[0].sizes[dim]:
            raise DataError(
                f"leading dimension {dim!r}: sizes differ between inputs "
                f"({arrays[0].sizes[dim]} vs {a.sizes.get(dim)})"
            )
    parts = [
        map_leading(func, [a.isel({dim: i}) for a in arrays]) for i in range(arrays[0].sizes[dim])
    ]
    return xr.concat(parts, dim=dim, coords="minimal", compat="override", join="override")


def apply_fields(
    core: Callable[[list[np.ndarray | None], Grid, list[str | None]], Any],
    fields: Sequence[Any],
    box_size: Any,
    names: Sequence[str],
) -> Any:
    """Run ``core(arrays, grid, units)`` on one or several same-shape fields.

    ``fields`` may contain ``None`` (optional inputs, passed through as ``None``).
    xarray inputs are looped over their leading dims (see :func:`map_leading`);
    ``units`` holds each field's ``units`` attribute (or ``None``).
    """
    present = [(i, f) for i, f in enumerate(fields) if f is not None]
    for i, f in present:
        if np.ndim(f) == 0:
            raise DataError(
                f"{names[i]}: got a scalar {f!r}, expected a field (for 2D fields pass "
                "box_size by keyword)"
            )
    first = present[0][1]

    def run(*objs: Any) -> Any:
        arrays: list[np.ndarray | None] = [None] * len(fields)
        units: list[str | None] = [None] * len(fields)
        grid = None
        for (i, _), obj in zip(present, objs, strict=True):
            arr, g = snapshot(obj, box_size, names[i])
            if grid is not None and g.shape != grid.shape:
                raise DataError(
                    f"{names[i]}: got grid shape {g.shape}, expected {grid.shape} "
                    f"(the shape of {names[present[0][0]]})"
                )
            grid = grid or g
            arrays[i] = arr
            units[i] = getattr(obj, "attrs", {}).get("units")
        assert grid is not None
        return core(arrays, grid, units)

    if isinstance(first, xr.DataArray):
        others = [f for _, f in present]
        if not all(isinstance(f, xr.DataArray) for f in others):
            raise DataError(f"{names[0]}: mix of xarray and plain arrays; pass one kind")
        return map_leading(run, others)
    return run(*[f for _, f in present])


def length_attrs(units: str | None, inverse: bool = False) -> dict[str, str]:
    if units is None:
        return {}
    return {"units": f"1/({units})" if inverse else units}
