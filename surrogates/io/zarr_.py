"""zarr layout: zarr v2 or v3 stores (directories) with the same conventions as netCDF.

Dimension names come from the store's ``dimension_names`` (v3) or ``_ARRAY_DIMENSIONS``
attributes (v2, as xarray writes them). Time stays numeric, CF bounds are dropped, and data
stay lazy (xarray reads only the zarr chunks a selection touches).

Missing chunks: zarr reads a chunk file that does not exist as the array's fill value, so
a store that lost a chunk (an interrupted copy, a deleted file) would otherwise read
silently wrong. Opening counts the stored chunks of every data variable (one listing of
the store, no data read) and refuses a store with missing ones, naming the variable and
the count. A writer may omit chunks equal to the fill value on purpose (zarr's
``write_empty_chunks=False``); for such a store pass ``allow_missing_chunks=True``.
``surrogates.io.to_zarr`` always writes every chunk.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence

import xarray as xr
import zarr

from surrogates.errors import DataError
from surrogates.io import cf
from surrogates.io.netCDF4_ import drop_cf_auxiliaries

__all__ = ["NAME", "sniff", "open"]

NAME = "zarr"


def sniff(path: pathlib.Path) -> str | None:
    """None for a directory with zarr metadata (``zarr.json`` or ``.zgroup``), else why not."""
    if not path.is_dir():
        return "not a directory (zarr stores are directories)"
    if any((path / name).is_file() for name in ("zarr.json", ".zgroup", ".zmetadata")):
        return None
    return "directory without zarr metadata (zarr.json or .zgroup)"


def open(
    path: pathlib.Path,
    *,
    drop_variables: Sequence[str] | None = None,
    decode_times: bool = False,
    group: str | None = None,
    allow_missing_chunks: bool = False,
) -> xr.Dataset:
    """Open a zarr store lazily (no data read; canonicalisation happens in api.py).

    Parameters are those of :func:`surrogates.io.netCDF4_.open`, and
    ``allow_missing_chunks`` (module docstring).
    """
    try:
        ds = xr.open_dataset(
            path,
            engine="zarr",
            chunks=None,
            decode_times=decode_times,
            decode_timedelta=False,
            drop_variables=drop_variables,
            group=group,
            consolidated=_consolidated(path),
        )
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as err:
        raise DataError(f"{path}: cannot be opened as zarr: {err}") from err
    if not allow_missing_chunks:
        _check_chunks(path, group, [str(n) for n in ds.data_vars])
    return cf.decode(drop_cf_auxiliaries(ds))


def _check_chunks(path: pathlib.Path, group: str | None, names: Sequence[str]) -> None:
    """Raise DataError for a data variable with fewer stored chunks than its grid has."""
    try:
        root = zarr.open_group(path, mode="r", path=group or "")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: cannot be opened as zarr: {err}") from err
    for name in names:
        array = root[name]
        stored, total = array.nchunks_initialized, array.nchunks
        if stored < total:
            raise DataError(
                f"{path}: variable {name!r} has {total - stored} of its {total} chunks missing"
                f" (they would read as the fill value {array.fill_value}); expected a complete"
                " store: re-copy it, or pass allow_missing_chunks=True (-o"
                " allow_missing_chunks=true) if its writer left out fill-value chunks on purpose"
            )


def _consolidated(path: pathlib.Path) -> bool:
    """Whether the store has consolidated metadata (asking avoids xarray's fallback warning)."""
    if (path / ".zmetadata").is_file():
        return True
    meta = path / "zarr.json"
    if not meta.is_file():
        return False
    try:
        return bool(json.loads(meta.read_text()).get("consolidated_metadata"))
    except (OSError, ValueError) as err:
        raise DataError(
            f"{meta}: unreadable zarr metadata: {err}; expected the JSON document of a zarr group"
        ) from err
