"""netCDF layout: CF-style netCDF-4 (HDF5-based) and netCDF-3 classic files.

Any dimension order is accepted (api.py transposes to the canonical order); dimensions
other than ``sample, time, x, y, z`` must be renamed with ``dims={...}`` — names such as
``lon``/``lat`` are never guessed. Time stays numeric (``decode_times=False``) so the
``time`` coordinate keeps its CF ``units`` attribute ("days since ...") instead of becoming
datetime64. CF bounds variables (named by a coordinate's ``bounds`` attribute) and grid
mapping variables are dropped, and the CF metadata our writers add is removed again
(:func:`surrogates.io.cf.decode`). Data stay lazy: xarray's indexing adapters read only the
hyperslabs asked for.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import h5py
import xarray as xr

from surrogates.errors import DataError
from surrogates.io import cf
from surrogates.io.lazy import h5_file

__all__ = ["NAME", "sniff", "open", "drop_cf_auxiliaries"]

NAME = "netcdf"
_NETCDF3 = (b"CDF\x01", b"CDF\x02", b"CDF\x05")


def sniff(path: pathlib.Path) -> str | None:
    """None for a netCDF-3 file or an HDF5 file carrying netCDF-4 metadata, else why not."""
    if path.is_dir():
        return "a directory, not a netCDF file"
    with path.open("rb") as handle:
        head = handle.read(4)
    if head in _NETCDF3:
        return None
    if not h5py.is_hdf5(path):
        return "neither a netCDF-3 nor an HDF5/netCDF-4 signature"
    with h5_file(path) as handle:
        if "_NCProperties" in handle.attrs:
            return None
        for item in handle.values():
            if isinstance(item, h5py.Dataset) and _is_dimension_scale(item):
                return None
    return "HDF5 file without netCDF-4 metadata (no _NCProperties attribute or dimension scales)"


def open(
    path: pathlib.Path,
    *,
    drop_variables: Sequence[str] | None = None,
    decode_times: bool = False,
    group: str | None = None,
) -> xr.Dataset:
    """Open a netCDF file lazily (no data read; canonicalisation happens in api.py).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    drop_variables : sequence of str, optional
        Variables to skip (passed to xarray).
    decode_times : bool
        Decode CF times to datetime64 (then ``time`` must be renamed or dropped, since
        the canonical time coordinate is numeric). Default False.
    group : str, optional
        netCDF-4 group holding the data.
    """
    try:
        ds = xr.open_dataset(
            path,
            engine="netcdf4",
            chunks=None,
            decode_times=decode_times,
            decode_timedelta=False,
            drop_variables=drop_variables,
            group=group,
        )
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise DataError(f"{path}: cannot be opened as netCDF: {err}") from err
    return cf.decode(drop_cf_auxiliaries(ds))


def drop_cf_auxiliaries(ds: xr.Dataset) -> xr.Dataset:
    """Drop CF bounds and grid-mapping variables, which are not physical quantities."""
    names = set()
    for var in ds.variables.values():
        for key in ("bounds", "grid_mapping"):
            value = var.attrs.get(key)
            if isinstance(value, str) and value in ds.variables:
                names.add(value)
    return ds.drop_vars(sorted(names))


def _is_dimension_scale(dset: h5py.Dataset) -> bool:
    value = dset.attrs.get("CLASS")
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return value == "DIMENSION_SCALE"
