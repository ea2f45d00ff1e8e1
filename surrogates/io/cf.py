"""CF metadata for the files we write, added by the writers and removed on reading.

:func:`encode` is applied by :func:`surrogates.io.to_netcdf`, :func:`surrogates.io.to_zarr`
and the ``compare`` report's ``metrics.nc``. It adds, where missing: the global
``Conventions``, ``title`` and a ``history`` line (appended to an existing one); a
``long_name`` on every variable without ``long_name`` or ``standard_name``;
``standard_name = "time"``, ``axis = "T"`` and a ``calendar`` on the ``time`` coordinate
(not ``axis`` X/Y/Z on ``x, y, z``: checkers read those as longitude, latitude and a
vertical axis); UDUNITS ``units`` (see :mod:`surrogates.io.units`); no ``_FillValue`` on
coordinates; and string coordinates as character arrays in netCDF. Every attribute it
adds or changes is recorded in the global attribute ``surrogates_cf`` (JSON: variable ->
attribute -> the value before, null when absent), and :func:`decode`, run by the netCDF
and zarr readers, restores exactly that: reading our own output back gives the dataset
written, except ``history``, which is provenance and stays. Files without
``surrogates_cf`` (other producers, earlier versions) are not touched.
"""

from __future__ import annotations

import datetime
import json

import xarray as xr

from surrogates.io.units import to_disk

__all__ = ["CONVENTIONS", "MARKER", "decode", "encode"]

#: CF-1.8: what the files follow (they pass ``compliance-checker --test cf:1.10`` too), and
#: the newest version the ``cfchecks`` checker (cfchecker 4.1) knows.
CONVENTIONS = "CF-1.8"
#: Global attribute holding what :func:`encode` changed (what :func:`decode` undoes).
MARKER = "surrogates_cf"
_GLOBAL = ""  # the key of the global attributes in the marker
_LONG_NAMES = {
    "sample": "sample index",
    "time": "time",
    "x": "x coordinate",
    "y": "y coordinate",
    "z": "z coordinate",
    "seed": "random seed of the sample",
}


def encode(
    ds: xr.Dataset, *, writer: str, title: str | None = None, netcdf: bool = True
) -> xr.Dataset:
    """A copy of ``ds`` with CF attributes and coordinate encodings (module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset about to be written (not modified).
    writer : str
        Name of the writing function, for the ``history`` line.
    title : str, optional
        ``title`` used when ``ds`` has none (default: its ``description``, or a sentence
        naming its ``source_format``).
    netcdf : bool
        For netCDF: string coordinates are written as character arrays (CF has no string
        coordinate variables; xarray reads them back as strings).
    """
    ds = ds.copy()
    ds.attrs.pop(MARKER, None)
    changes: dict[str, dict[str, object]] = {}
    for name, var in ds.variables.items():
        new = _variable_attrs(str(name), var, is_coord=name in ds.coords)
        _apply(var.attrs, new, changes.setdefault(str(name), {}))
        if name in ds.coords:
            var.encoding = {**var.encoding, "_FillValue": None}
            if netcdf and var.dtype.kind in "UO" and var.dims == (name,):
                var.encoding["dtype"] = "S1"
    new_globals: dict[str, object] = {"Conventions": CONVENTIONS}
    if "title" not in ds.attrs:
        new_globals["title"] = title or ds.attrs.get("description") or _default_title(ds)
    _apply(ds.attrs, new_globals, changes.setdefault(_GLOBAL, {}))
    _add_history(ds.attrs, writer)
    ds.attrs[MARKER] = json.dumps({k: v for k, v in changes.items() if v}, sort_keys=True)
    return ds


def decode(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`encode` on a dataset read back (no-op without the ``surrogates_cf`` marker)."""
    if MARKER not in ds.attrs:
        return ds
    try:
        changes = json.loads(ds.attrs[MARKER])
    except (TypeError, ValueError):
        return ds
    ds = ds.copy()
    ds.attrs.pop(MARKER)
    for name, before in changes.items() if isinstance(changes, dict) else ():
        if name == _GLOBAL:
            _restore(ds.attrs, before)
        elif name in ds.variables:
            _restore(ds.variables[name].attrs, before)
    return ds


def _variable_attrs(name: str, var: xr.Variable, *, is_coord: bool) -> dict[str, object]:
    attrs = var.attrs
    new: dict[str, object] = {}
    is_time = is_coord and name == "time" and var.dims == ("time",)
    new |= to_disk(attrs.get("units"), is_time=is_time)
    if "long_name" not in attrs and "standard_name" not in attrs:
        new["long_name"] = _LONG_NAMES.get(name, name.replace("_", " "))
    if is_time and "standard_name" not in attrs:
        new["standard_name"] = "time"
    if is_time and "axis" not in attrs:
        new["axis"] = "T"
    if is_time and "calendar" not in attrs:
        new["calendar"] = "proleptic_gregorian"
    if is_time and "comment" not in attrs:
        new["comment"] = (
            "elapsed model time; CF requires a reference date, so an arbitrary one is given:"
            " open with xarray.open_dataset(..., decode_times=False) to get the numbers"
        )
    if is_coord and name in ("x", "y", "z") and "units" not in attrs:
        new["units"] = "1"
    return new


def _apply(attrs: dict, new: dict[str, object], record: dict[str, object]) -> None:
    for key, value in new.items():
        old = attrs.get(key)
        if old is not None and _same(old, value):
            continue
        record[key] = _jsonable(old)
        attrs[key] = value


def _restore(attrs, before: dict[str, object]) -> None:
    for key, value in before.items():
        if value is None:
            attrs.pop(key, None)
        else:
            attrs[key] = value


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except ValueError:  # arrays
        return False


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, str | int | float):
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "size", 1) == 1 else str(value)


def _default_title(ds: xr.Dataset) -> str:
    kind = ds.attrs.get("source_format")
    return f"surrogates dataset ({kind})" if kind else "surrogates dataset"


def _add_history(attrs: dict, writer: str) -> None:
    from surrogates import __version__

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{now}: surrogates {__version__} {writer}"
    old = attrs.get("history")
    if old is None or old == "":
        attrs["history"] = line
    elif isinstance(old, str):
        attrs["history"] = f"{old}\n{line}"
    # anything else is left for the backend to refuse
