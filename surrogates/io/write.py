"""Write the canonical form back to disk: netCDF-4 files and zarr v3 stores, atomically.

Both writers validate first, stream dask-backed data chunk by chunk, and write to a
temporary sibling that is renamed over the target only once complete, so a crash never
leaves a half-written file under the target name. (Replacing an existing zarr directory
takes two renames; a crash between them leaves the old store at ``<name>.old-<id>``.)
Attributes, including ``boundary_*``, ``source`` and ``source_format`` of the dataset
written, are stored as they are; reading the file back records the new file as
``source``.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import uuid
from collections.abc import Iterator

import xarray as xr

from surrogates.errors import DataError
from surrogates.io.schema import SPATIAL_DIMS, validate

__all__ = ["to_netcdf", "to_zarr", "ZARR_SPATIAL_CHUNK"]

#: Edge of zarr chunks along each spatial axis: a 32³ crop touches at most 8 chunks.
ZARR_SPATIAL_CHUNK = 64


def to_netcdf(ds: xr.Dataset, path: str | os.PathLike[str]) -> pathlib.Path:
    """Write a canonical dataset to a netCDF-4 file atomically; return the path.

    Parameters
    ----------
    ds : xarray.Dataset
        Canonical dataset (validated here).
    path : path-like
        Target file; replaced if it exists.
    """
    target = pathlib.Path(path)
    clean = _clean(validate(ds))
    with _atomic(target) as tmp:
        try:
            clean.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"{target}: cannot write netCDF: {err}") from err
    return target


def to_zarr(ds: xr.Dataset, path: str | os.PathLike[str]) -> pathlib.Path:
    """Write a canonical dataset to a zarr v3 store atomically; return the path.

    Fields are chunked per (sample, time) frame and in blocks of
    :data:`ZARR_SPATIAL_CHUNK` cells along each spatial axis.
    """
    target = pathlib.Path(path)
    clean = _clean(validate(ds))
    clean = clean.assign(
        {name: var.chunk(_zarr_chunks(var)) for name, var in clean.data_vars.items()}
    )
    with _atomic(target) as tmp:
        try:
            clean.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
        except (OSError, ValueError, TypeError) as err:
            raise DataError(f"{target}: cannot write zarr: {err}") from err
    return target


def _zarr_chunks(var: xr.DataArray) -> dict[str, int]:
    if not any(d in SPATIAL_DIMS for d in var.dims):
        return {d: -1 for d in var.dims}
    return {d: ZARR_SPATIAL_CHUNK if d in SPATIAL_DIMS else 1 for d in var.dims}


def _clean(ds: xr.Dataset) -> xr.Dataset:
    """Drop encodings inherited from the source file (chunk sizes, compressors, fill values)."""
    ds = ds.copy()
    for var in ds.variables.values():
        var.encoding = {}
    return ds


@contextlib.contextmanager
def _atomic(target: pathlib.Path) -> Iterator[pathlib.Path]:
    """Yield a temporary sibling path; on success move it to ``target``, else remove it."""
    if not target.parent.is_dir():
        raise DataError(f"{target}: parent directory does not exist")
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
