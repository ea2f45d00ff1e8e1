"""Solver-data ingestion: open external layouts as the canonical dataset, and write it back.

The only package that imports h5py, netCDF4 and zarr. See :mod:`surrogates.io.schema` for
the canonical form and :mod:`surrogates.io.api` for the layout contract.
"""

from surrogates.io.api import LAYOUTS, open_dataset
from surrogates.io.describe import convert, describe
from surrogates.io.schema import assert_finite, check_finite, validate
from surrogates.io.write import is_canonical_netcdf, is_canonical_zarr, to_netcdf, to_zarr

__all__ = [
    "LAYOUTS",
    "assert_finite",
    "check_finite",
    "convert",
    "describe",
    "is_canonical_netcdf",
    "is_canonical_zarr",
    "open_dataset",
    "to_netcdf",
    "to_zarr",
    "validate",
]
