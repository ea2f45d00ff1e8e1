"""zarr layout: zarr v2 or v3 stores (directories) with the same conventions as netCDF.

Dimension names come from the store's ``dimension_names`` (v3) or ``_ARRAY_DIMENSIONS``
attributes (v2, as xarray writes them). Time stays numeric, CF bounds are dropped, and data
stay lazy (xarray reads only the zarr chunks a selection touches).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence

import xarray as xr

from surrogates.errors import DataError
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
) -> xr.Dataset:
    """Open a zarr store lazily (no data read; canonicalisation happens in api.py).

    Parameters are those of :func:`surrogates.io.netCDF4_.open`.
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
    return drop_cf_auxiliaries(ds)


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
        raise DataError(f"{meta}: unreadable zarr metadata: {err}") from err
