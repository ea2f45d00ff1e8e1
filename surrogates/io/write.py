"""Write the canonical form back to disk: netCDF-4 files and zarr v3 stores, atomically.

Both writers validate first, stream dask-backed data chunk by chunk, and write to a
temporary sibling that is renamed over the target only once complete, so a crash never
leaves a half-written file under the target name. An existing target is replaced only
when it is an earlier output of the same writer (a canonical netCDF file or zarr store,
recognised by its ``source_format`` attribute) and ``overwrite=True``; anything else at
the path (a user's folder, another kind of file) is refused and left untouched.
(Replacing an existing zarr directory takes two renames; a crash between them leaves the
old store at ``<name>.old-<id>``.)
Attributes, including ``boundary_*``, ``source`` and ``source_format`` of the dataset
written, are stored as they are, plus the CF metadata of :mod:`surrogates.io.cf`
(UDUNITS units, ``long_name``, ``Conventions``, ``title``, ``history``), which the
readers remove again; reading the file back records the new file as ``source``.
"""

from __future__ import annotations

import json
import os
import pathlib

import xarray as xr

from surrogates._files import atomic_path, check_output, output_lock, output_path
from surrogates.errors import DataError
from surrogates.io import cf
from surrogates.io.schema import SPATIAL_DIMS, validate

__all__ = ["to_netcdf", "to_zarr", "is_canonical_netcdf", "is_canonical_zarr", "ZARR_SPATIAL_CHUNK"]

#: Edge of zarr chunks along each spatial axis: a 32³ crop touches at most 8 chunks.
ZARR_SPATIAL_CHUNK = 64


def to_netcdf(
    ds: xr.Dataset, path: str | os.PathLike[str], *, overwrite: bool = False
) -> pathlib.Path:
    """Write a canonical dataset to a netCDF-4 file atomically; return the path.

    Parameters
    ----------
    ds : xarray.Dataset
        Canonical dataset (validated here).
    path : path-like
        Target file.
    overwrite : bool
        Replace an existing canonical netCDF file at ``path`` (anything else there is
        always refused).

    Raises
    ------
    DataError
        Invalid dataset, a path that exists (see ``overwrite``), or a failed write (the
        old file, if any, is kept).
    """
    target = output_path(path, "path")
    clean = _clean(validate(ds), "to_netcdf")
    with output_lock(target, "to_netcdf"), atomic_path(target) as tmp:
        check_output(target, overwrite=overwrite, is_ours=is_canonical_netcdf,
                     what="a canonical netCDF file")  # fmt: skip
        try:
            clean.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"{target}: cannot write netCDF: {err}") from err
    return target


def to_zarr(
    ds: xr.Dataset, path: str | os.PathLike[str], *, overwrite: bool = False
) -> pathlib.Path:
    """Write a canonical dataset to a zarr v3 store atomically; return the path.

    Fields are chunked per (sample, time) frame and in blocks of
    :data:`ZARR_SPATIAL_CHUNK` cells along each spatial axis. ``overwrite`` and the
    errors are those of :func:`to_netcdf` (an existing canonical zarr store).
    """
    target = output_path(path, "path")
    clean = _clean(validate(ds), "to_zarr")
    clean = clean.assign(
        {name: var.chunk(_zarr_chunks(var)) for name, var in clean.data_vars.items()}
    )
    with output_lock(target, "to_zarr"), atomic_path(target) as tmp:
        check_output(target, overwrite=overwrite, is_ours=is_canonical_zarr,
                     what="a canonical zarr store")  # fmt: skip
        try:
            clean.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False,
                          write_empty_chunks=True)  # fmt: skip  # complete: see io.zarr_
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"{target}: cannot write zarr: {err}") from err
    return target


def _zarr_chunks(var: xr.DataArray) -> dict[str, int]:
    if not any(d in SPATIAL_DIMS for d in var.dims):
        return {d: -1 for d in var.dims}
    return {d: ZARR_SPATIAL_CHUNK if d in SPATIAL_DIMS else 1 for d in var.dims}


def _clean(ds: xr.Dataset, writer: str) -> xr.Dataset:
    """Drop encodings inherited from the source file (chunk sizes, compressors, fill
    values), then add the CF metadata (:func:`surrogates.io.cf.encode`)."""
    ds = ds.copy()
    for var in ds.variables.values():
        var.encoding = {}
    return cf.encode(ds, writer=f"surrogates.io.{writer}", netcdf=writer == "to_netcdf")


def is_canonical_netcdf(path: pathlib.Path) -> bool:
    """``path`` is a netCDF file holding a canonical dataset (a ``source_format`` attribute)."""
    import netCDF4

    if not path.is_file():
        return False
    try:
        with netCDF4.Dataset(path, "r") as nc:
            return "source_format" in nc.ncattrs()
    except (OSError, RuntimeError, ValueError):
        return False


def is_canonical_zarr(path: pathlib.Path) -> bool:
    """``path`` is a zarr v3 group holding a canonical dataset (a ``source_format`` attribute)."""
    try:
        meta = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(meta, dict)
        and meta.get("node_type") == "group"
        and "source_format" in (meta.get("attributes") or {})
    )
