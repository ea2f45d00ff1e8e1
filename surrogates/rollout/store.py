"""Where a rollout's fields live: in memory, or in a zarr store that records its progress.

Store layout (``store=PATH.zarr``; a zarr v3 group, readable as a canonical dataset)
-----------------------------------------------------------------------------------
``PATH.zarr/``
    root group: the result. Coordinates ``x, y, z`` (and ``sample``) of the state, ``time``
    of the saved frames; the targets over ``(sample, time, *axes)`` chunked to one tile
    core per chunk (so every tile writes whole chunks and tiles never race); for a lead
    surrogate also the static inputs and the constant parameters; with
    ``reliability=True`` the ``<var>_error`` fields and the per-tile table
    (:mod:`surrogates.rollout.halfwidth`). Attributes: the state's, plus ``rollout_*``
    provenance.
``PATH.zarr/_work/``
    zarr group of scratch arrays: the state of steps that are not saved (two slots used
    in turn along a ``time`` dim) and, for blended tiles, every tile's whole-window output
    (``blend``, dims ``item, tile, channel, w_*``). Removed when the run completes.
``PATH.zarr/_rollout/``
    zarr group (never listed by readers) holding ``manifest.json`` (fingerprints, options,
    plan, steps completed, one record per run; replaced atomically), ``surrogate.pt``
    (the artifact, which Dask workers load) and ``done/step-K/<phase>-<group>``: empty
    marker files created only after a tile group's data have been written (zarr writes
    each chunk to a temporary file and renames it, so a chunk is old or complete).

All reads and writes go through xarray (which owns the zarr calls); windows are read with
:func:`surrogates.data.read_windows` from the lazily opened groups.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array
import numpy as np
import xarray as xr

from surrogates._files import atomic_json
from surrogates.errors import DataError
from surrogates.io import cf

__all__ = ["ArraySpec", "Layout", "MemoryStore", "ZarrStore", "read_manifest"]

MANIFEST = "manifest.json"
FORMAT = "pde-surrogates/rollout"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ArraySpec:
    """One array of a store: group ("" for the root), name, dims, shape, chunks, dtype."""

    group: str
    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str = "float32"
    attrs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Layout:
    """Arrays, root coordinates, constant root variables and root attributes of a store."""

    arrays: tuple[ArraySpec, ...]
    coords: dict
    constants: dict
    attrs: dict

    def groups(self) -> list[str]:
        return sorted({a.group for a in self.arrays} | {""})


class MemoryStore:
    """In-memory arrays with the same interface as :class:`ZarrStore` (no resume)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.arrays = {
            (a.group, a.name): np.full(a.shape, np.nan, dtype=a.dtype) for a in layout.arrays
        }
        self.marks: set[tuple[int, str]] = set()

    def dataset(self, group: str) -> xr.Dataset:
        """The arrays of ``group`` as a dataset (views, no copy)."""
        data = {a.name: (a.dims, self.arrays[(a.group, a.name)], dict(a.attrs))
                for a in self.layout.arrays if a.group == group}  # fmt: skip
        if group:
            return xr.Dataset(data)
        return xr.Dataset({**data, **self.layout.constants}, self.layout.coords, self.layout.attrs)

    def write(self, group: str, region: dict[str, slice], data: dict[str, np.ndarray]) -> None:
        """Write arrays (each with all its dims) into ``region`` (a slice per dim)."""
        for name, values in data.items():
            spec = self._spec(group, name)
            key = tuple(region[d] for d in spec.dims)
            self.arrays[(group, name)][key] = values

    def read(self, group: str, name: str, key: tuple) -> np.ndarray:
        return np.asarray(self.arrays[(group, name)][key])

    def _spec(self, group: str, name: str) -> ArraySpec:
        return next(a for a in self.layout.arrays if a.group == group and a.name == name)

    def done(self, step: int, key: str) -> bool:
        return (step, key) in self.marks

    def mark(self, step: int, key: str) -> None:
        self.marks.add((step, key))

    def clear_marks(self, step: int) -> None:
        self.marks = {m for m in self.marks if m[0] != step}

    def result(self) -> xr.Dataset:
        return self.dataset("")


class ZarrStore:
    """A rollout store on disk (module docstring); picklable (it is its path)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._cache: dict[str, xr.Dataset] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"])

    @property
    def meta_dir(self) -> Path:
        return self.path / "_rollout"

    @classmethod
    def create(cls, path: str | os.PathLike, layout: Layout, manifest: dict,
               files: dict[str, Callable[[Path], Any]] | None = None) -> ZarrStore:  # fmt: skip
        """Write the layout (metadata, coordinates, constants; no field data) and the
        manifest to a temporary sibling, then rename it to ``path`` (which must not exist).

        ``files`` maps names in ``_rollout/`` to functions writing them, e.g. the artifact.
        """
        target = Path(path)
        if not target.parent.is_dir():
            raise DataError(f"{target}: parent directory does not exist")
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            for group in layout.groups():
                template = _template(layout, group)
                if not group:  # the result: CF attributes as the other writers add them
                    template = cf.encode(template, writer="surrogates.rollout", netcdf=False)
                template.to_zarr(
                    tmp, group=group or None, mode="a" if group else "w-", compute=False,
                    zarr_format=3, consolidated=False, encoding=_encoding(layout, group),
                )  # fmt: skip
            xr.Dataset().to_zarr(tmp, group="_rollout", mode="a", zarr_format=3,
                                 consolidated=False)  # fmt: skip
            for name, writer in (files or {}).items():
                writer(tmp / "_rollout" / name)
            order = [a.name for a in layout.arrays if a.group == ""] + list(layout.constants)
            atomic_json(tmp / "_rollout" / MANIFEST, {**manifest, "variables": order})
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return cls(target)

    def dataset(self, group: str) -> xr.Dataset:
        """The lazily opened group (cached per process; only metadata is read)."""
        with self._lock:
            if group not in self._cache:
                self._cache[group] = xr.open_dataset(
                    self.path, group=group or None, engine="zarr", chunks=None,
                    consolidated=False, decode_times=False,
                )  # fmt: skip
            return self._cache[group]

    def write(self, group: str, region: dict[str, slice], data: dict[str, np.ndarray]) -> None:
        """Write arrays (each with all its dims) into ``region`` (a slice per dim)."""
        variables = {}
        for name, values in data.items():
            dims = self.dataset(group)[name].dims
            variables[name] = (dims, values)
        used = {d for v in variables.values() for d in v[0]}
        ds = xr.Dataset(variables)
        ds.to_zarr(self.path, group=group or None, mode="r+", consolidated=False,
                   region={d: s for d, s in region.items() if d in used})  # fmt: skip

    def read(self, group: str, name: str, key: tuple) -> np.ndarray:
        return np.asarray(self.dataset(group)[name].variable[key].values)

    def _marker(self, step: int, key: str) -> Path:
        return self.meta_dir / "done" / f"step-{step:06d}" / key

    def done(self, step: int, key: str) -> bool:
        return self._marker(step, key).exists()

    def mark(self, step: int, key: str) -> None:
        """Record a finished group (call only after its data are written)."""
        marker = self._marker(step, key)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def clear_marks(self, step: int) -> None:
        shutil.rmtree(self._marker(step, "x").parent, ignore_errors=True)

    def manifest(self) -> dict:
        return read_manifest(self.path)

    def update_manifest(self, **changes: Any) -> dict:
        manifest = {**self.manifest(), **changes}
        atomic_json(self.meta_dir / MANIFEST, manifest)
        return manifest

    def drop_work(self) -> None:
        """Remove the scratch group (after the run completed)."""
        shutil.rmtree(self.path / "_work", ignore_errors=True)
        self._cache.pop("_work", None)

    def result(self) -> xr.Dataset:
        """The root group, dask-backed (one dask chunk per zarr chunk)."""
        ds = xr.open_dataset(self.path, engine="zarr", chunks={}, consolidated=False,
                             decode_times=False)  # fmt: skip
        ds = cf.decode(ds)
        # zarr lists a group's arrays in directory order: restore the layout's order.
        order = [n for n in self.manifest().get("variables", []) if n in ds.data_vars]
        ds = ds[order + [n for n in ds.data_vars if n not in order]]
        return ds.assign_attrs(source=str(self.path))


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a rollout store (see the module docstring).

    Raises
    ------
    DataError
        ``path`` is not a rollout store, or its manifest is unreadable or of another format.
    """
    file = Path(path) / "_rollout" / MANIFEST
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError:
        raise DataError(
            f"{path}: not a rollout store (no _rollout/{MANIFEST}); expected a PATH.zarr written"
            " by surrogates rollout"
        ) from None
    except (OSError, ValueError) as err:
        raise DataError(
            f"{file}: unreadable rollout manifest ({err}); expected the JSON object the rollout"
            " wrote: the store is damaged, start a new one"
        ) from None
    if not isinstance(manifest, dict):
        raise DataError(
            f"{file}: rollout manifest is a JSON {type(manifest).__name__}, expected an object"
        )
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{file}: rollout manifest format {manifest.get('format')!r} version"
            f" {manifest.get('format_version')!r}, expected {FORMAT!r} version {FORMAT_VERSION}"
        )
    for key, kind in _MANIFEST_KEYS.items():
        if key not in manifest:
            raise DataError(
                f"{file}: rollout manifest lacks {key!r} (expected keys: {sorted(_MANIFEST_KEYS)});"
                " the store is damaged: start a new one"
            )
        if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool) != (kind is bool):
            raise DataError(
                f"{file}: rollout manifest {key!r} is {manifest[key]!r}, expected"
                f" {getattr(kind, '__name__', 'a number')}; the store is damaged: start a new one"
            )
    missing = {"surrogate", "state"} - set(manifest["fingerprints"])
    if missing:
        raise DataError(f"{file}: rollout manifest 'fingerprints' lacks {sorted(missing)}")
    return manifest


#: Keys every manifest has, and their JSON types.
_MANIFEST_KEYS = {
    "fingerprints": dict, "options": dict, "plan": dict, "mode": str, "batch": int,
    "budget": int, "unit_bytes": int, "read_bytes": int, "steps_done": int, "complete": bool,
    "runs": list,
}  # fmt: skip


def _template(layout: Layout, group: str) -> xr.Dataset:
    data = {
        a.name: (a.dims, dask.array.zeros(a.shape, chunks=a.chunks, dtype=a.dtype), dict(a.attrs))
        for a in layout.arrays
        if a.group == group
    }
    if group:
        return xr.Dataset(data)
    return xr.Dataset({**data, **layout.constants}, layout.coords, layout.attrs)


def _encoding(layout: Layout, group: str) -> dict:
    """Chunks to the tiles; scratch arrays uncompressed (written once, read a few times)."""
    out = {}
    for a in layout.arrays:
        if a.group == group:
            out[a.name] = {"chunks": a.chunks}
            if group:
                out[a.name]["compressors"] = None
    return out
