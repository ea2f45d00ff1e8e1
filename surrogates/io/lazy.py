"""Lazy, picklable hyperslab access to HDF5 datasets, wrapped as dask arrays.

Opening a file through this module reads metadata only. Each dask chunk is a task that
calls an :class:`H5Array` getter, which opens the file, reads exactly the requested
hyperslab and closes it again, so graphs hold no open handles and can be shipped to
worker processes (``multiprocessing``, dask distributed). The getter is created with
``fancy=True`` so that dask fuses ``array[crop]`` with the chunk read into one hyperslab
read (``dask.array.optimization``): a 32³ crop of a 256³ frame reads 32³ values, not the
chunk.

An :class:`H5Array` presents a *virtual* array built from one file dataset, or several
datasets of equal shape stacked along a new leading axis (PDEBench seed groups). Each
virtual axis either passes a file axis through, selects a stacked dataset, or broadcasts a
file axis stored with length 1 (or not stored at all); remaining file axes are fixed at
an index (a vector component of The Well's ``[..., D]`` fields).
"""

from __future__ import annotations

import contextlib
import math
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import h5py
import numpy as np

from surrogates.errors import DataError

__all__ = [
    "Axis",
    "CastArray",
    "H5Array",
    "decode_attr",
    "decode_attrs",
    "float_dtype",
    "frame_chunks",
    "h5_file",
]

SPATIAL = ("x", "y", "z")
#: Largest dask chunk made by :func:`frame_chunks` (a 256³ float32 frame is split in two).
TARGET_CHUNK_BYTES = 32 * 2**20


@contextlib.contextmanager
def h5_file(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """Open an HDF5 file read-only, turning every open failure into a :class:`DataError`."""
    try:
        handle = h5py.File(path, "r")
    except FileNotFoundError as err:
        raise DataError(f"{path}: file not found; expected an existing HDF5 file") from err
    except OSError as err:
        raise DataError(
            f"{path}: cannot be read as HDF5 (truncated or corrupt file?): {err}; expected a"
            " complete HDF5 file (it starts with the HDF5 signature and its superblock and"
            " object headers are intact)"
        ) from err
    with handle:
        yield handle


def decode_attr(value: Any) -> Any:
    """HDF5 attribute value as plain Python (``bytes`` → ``str``, arrays → lists)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return decode_attr(value[()])
        return [decode_attr(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_attrs(obj: h5py.HLObject) -> dict[str, Any]:
    """All attributes of an HDF5 group or dataset, decoded with :func:`decode_attr`."""
    return {key: decode_attr(obj.attrs[key]) for key in obj.attrs}


def float_dtype(dset: h5py.Dataset, path: str | os.PathLike[str]) -> np.dtype:
    """The canonical dtype for a file dataset: float32/float64 kept, integers and booleans
    read as float64; anything else raises :class:`DataError`."""
    dtype = dset.dtype
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return dtype
    if dtype.kind in "iub" or dtype.kind == "f":
        return np.dtype(np.float32 if dtype.kind == "f" and dtype.itemsize < 4 else np.float64)
    raise DataError(
        f"{path}: variable {dset.name.lstrip('/')!r} has non-numeric dtype {dtype}, expected "
        f"real numbers"
    )


@dataclass(frozen=True)
class Axis:
    """How one virtual axis maps to the file.

    kind : ``"file"`` (pass file axis ``file_axis`` through), ``"stack"`` (select one of the
        stacked datasets; only virtual axis 0), or ``"broadcast"`` (file axis ``file_axis``
        has length 1, or ``file_axis`` is None when the axis is not stored at all).
    """

    kind: str
    file_axis: int | None = None


@dataclass(frozen=True)
class H5Array:
    """Picklable getter: ``H5Array(...)[key]`` reads one hyperslab of a virtual array.

    Parameters
    ----------
    path : str
        The HDF5 file; opened on every read, never kept open.
    datasets : tuple of str
        Dataset path(s) inside the file; several are stacked along virtual axis 0.
    axes : tuple of Axis
        One entry per virtual axis.
    shape : tuple of int
        Virtual shape.
    dtype : numpy.dtype
        Values are cast to this dtype after reading.
    fixed : tuple of (int, int)
        ``(file_axis, index)`` pairs for file axes not mapped to any virtual axis.
    """

    path: str
    datasets: tuple[str, ...]
    axes: tuple[Axis, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    fixed: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        # native byte order: h5py reports explicit '<f4', which netCDF writers warn about
        object.__setattr__(self, "dtype", np.dtype(self.dtype).newbyteorder("="))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __dask_tokenize__(self) -> tuple:
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        return (
            type(self).__name__,
            self.path,
            stamp,
            self.datasets,
            self.axes,
            self.shape,
            str(self.dtype),
            self.fixed,
        )

    def __getitem__(self, key: Any) -> np.ndarray:
        key = _expand_key(key, self.ndim)
        shape = [_count(k, n) for k, n in zip(key, self.shape, strict=True) if not _is_int(k)]
        if 0 in shape:  # an empty selection reads nothing
            return np.empty(shape, dtype=self.dtype)
        reads, posts, picks = self._plan(key)
        parts = []
        name = picks[0]
        try:
            with h5py.File(self.path, "r") as handle:
                for name in picks:
                    parts.append(self._read_one(handle[name], reads))
        except (OSError, KeyError) as err:
            raise DataError(
                f"{self.path}: reading dataset {name!r} failed ({err}); expected a complete"
                " HDF5 file (a corrupt or truncated chunk?): re-copy or regenerate it"
            ) from err
        block = np.stack(parts) if self.axes and self.axes[0].kind == "stack" else parts[0]
        for axis in reversed(range(self.ndim)):  # last axis first: earlier positions stay put
            block = block[(slice(None),) * axis + (posts[axis],)]
        return np.asarray(block, dtype=self.dtype)

    def _plan(self, key: tuple) -> tuple[list, list, list[str]]:
        """Per virtual axis: the slice to read and the index to apply after reading."""
        reads: list[slice] = []
        posts: list[Any] = []
        picks = list(self.datasets)
        for axis, (spec, item, size) in enumerate(zip(self.axes, key, self.shape, strict=True)):
            lo, hi, step, post = _bounds(item, size)
            if spec.kind == "broadcast":
                if not isinstance(post, int):
                    post = np.zeros(_count(item, size), dtype=np.intp)
                lo, hi, step = 0, 1, 1
            elif spec.kind == "stack":
                assert axis == 0, "only virtual axis 0 may stack datasets"
                picks = list(self.datasets[lo:hi:step])
                post = post if isinstance(post, int | np.ndarray) else slice(None, None, post.step)
                lo, hi, step = 0, len(picks), 1
            reads.append(slice(lo, hi, step))
            posts.append(post)
        return reads, posts, picks

    def _read_one(self, dset: h5py.Dataset, reads: list[slice]) -> np.ndarray:
        mapped = sum(spec.file_axis is not None for spec in self.axes) + len(self.fixed)
        assert mapped == dset.ndim, f"{dset.name}: {mapped} axes mapped, file has {dset.ndim}"
        file_key: list[Any] = [slice(None)] * dset.ndim
        for file_axis, index in self.fixed:
            file_key[file_axis] = index
        absent = []
        for axis, spec in enumerate(self.axes):
            if spec.kind == "stack":
                continue
            if spec.file_axis is None:
                absent.append(axis - (self.axes[0].kind == "stack"))
            else:
                file_key[spec.file_axis] = reads[axis]
        block = self._read(dset, tuple(file_key))
        return np.expand_dims(block, tuple(absent)) if absent else block

    def _read(self, dset: h5py.Dataset, file_key: tuple) -> np.ndarray:
        """The single place that touches file data (tests count the hyperslabs it reads)."""
        return dset[file_key]

    def to_dask(self, n_spatial: int, chunks: Sequence[int] | None = None) -> da.Array:
        """This virtual array as a lazy dask array.

        The last ``n_spatial`` axes are spatial; default chunks come from
        :func:`frame_chunks` (one sample/time frame, split when large).
        """
        if chunks is None:
            n_lead = self.ndim - n_spatial
            chunks = frame_chunks(self.shape, n_lead=n_lead, itemsize=self.dtype.itemsize)
        meta = np.empty((0,) * self.ndim, dtype=self.dtype)
        # inline_array=False: the getter sits once in the graph (not copied into every
        # task), and consumers can find it under the "original-<name>" layer and index it
        # directly; dask still fuses crops into single hyperslab reads.
        return da.from_array(
            self,
            chunks=tuple(chunks),
            fancy=True,
            lock=False,
            asarray=False,
            meta=meta,
            inline_array=False,
        )


@dataclass(frozen=True)
class CastArray:
    """Picklable getter that casts an outer-indexable lazy array as it is read.

    ``source`` is e.g. an :class:`xarray.Variable` over a netCDF/zarr backend array:
    ``source[key]`` reads only that hyperslab. A failed read (a corrupt compressed chunk:
    netCDF's ``HDF error``, a zarr codec error) becomes a :class:`DataError` naming
    ``where`` (the file), ``name`` (the variable) and the indices read.
    """

    source: Any
    dtype: np.dtype
    where: str = ""
    name: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.source.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self.source[key], dtype=self.dtype)
        except DataError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, EOFError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise DataError(
                f"{self.where}: variable {self.name!r}: cannot read values at {_show_key(key)}"
                f" ({type(err).__name__}: {first}); the file is damaged (a corrupt or truncated"
                " compressed chunk?): expected every chunk to decode; re-copy or regenerate it"
            ) from None

    def to_dask(self, chunks: Sequence[int]) -> da.Array:
        """Lazy dask array; named at random, since tokenizing ``source`` could read it."""
        meta = np.empty((0,) * self.ndim, dtype=self.dtype)
        return da.from_array(
            self,
            chunks=tuple(chunks),
            name=f"cast-{uuid.uuid4().hex}",
            fancy=True,
            lock=False,
            asarray=False,
            meta=meta,
            inline_array=False,
        )


def _show_key(key: Any) -> str:
    """Indices as ``[0, 2:4, :]`` for messages."""
    items = key if isinstance(key, tuple) else (key,)

    def one(k: Any) -> str:
        if isinstance(k, slice):
            start = "" if k.start is None else k.start
            stop = "" if k.stop is None else k.stop
            return f"{start}:{stop}" if k.step in (None, 1) else f"{start}:{stop}:{k.step}"
        if isinstance(k, np.ndarray):
            return f"array of {k.size}"
        return str(k)

    return "[" + ", ".join(one(k) for k in items) + "]"


def frame_chunks(shape: Sequence[int], *, n_lead: int, itemsize: int) -> tuple[int, ...]:
    """Dask chunks of one (sample, time) frame, split along space when a frame is large.

    Parameters
    ----------
    shape : sequence of int
        Array shape ``(*leading, *spatial)``.
    n_lead : int
        Number of leading (sample/time) axes; they get chunk length 1.
    itemsize : int
        Bytes per value.
    """
    chunks = [1] * n_lead + list(shape[n_lead:])
    while math.prod(chunks) * itemsize > TARGET_CHUNK_BYTES:
        spatial = chunks[n_lead:]
        if not spatial or max(spatial) == 1:
            break
        axis = n_lead + int(np.argmax(spatial))
        chunks[axis] = math.ceil(chunks[axis] / 2)
    return tuple(max(1, c) for c in chunks)


def chunks_for_dims(sizes: Mapping[str, int], itemsize: int) -> dict[str, int]:
    """:func:`frame_chunks` for a variable given as ``{dim: size}`` in canonical order."""
    dims = list(sizes)
    n_lead = sum(d not in SPATIAL for d in dims)
    lead_first = sorted(dims, key=lambda d: d in SPATIAL)
    chunks = frame_chunks([sizes[d] for d in lead_first], n_lead=n_lead, itemsize=itemsize)
    return dict(zip(lead_first, chunks, strict=True))


def _expand_key(key: Any, ndim: int) -> tuple:
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:at] + (slice(None),) * (ndim - len(key) + 1) + key[at + 1 :]
    if any(k is None for k in key):
        raise IndexError("H5Array does not support np.newaxis in keys")
    return key + (slice(None),) * (ndim - len(key))


def _bounds(item: Any, size: int) -> tuple[int, int, int, Any]:
    """``(lo, hi, step, post)``: read ``lo:hi:step`` (step > 0), then index with ``post``."""
    if _is_int(item):
        index = int(item) + size if item < 0 else int(item)
        if not 0 <= index < size:
            raise IndexError(f"index {item} out of range for axis of length {size}")
        return index, index + 1, 1, 0
    if isinstance(item, slice):
        picked = range(*item.indices(size))
        if len(picked) == 0:
            return 0, 0, 1, slice(None)
        if picked.step > 0:
            return picked.start, picked[-1] + 1, picked.step, slice(None)
        return picked[-1], picked.start + 1, -picked.step, slice(None, None, -1)
    index = np.asarray(item)
    if index.dtype == bool:
        index = np.flatnonzero(index)
    index = np.where(index < 0, index + size, index).astype(np.intp)
    if index.size == 0:
        return 0, 0, 1, index
    lo = int(index.min())
    return lo, int(index.max()) + 1, 1, index - lo


def _is_int(item: Any) -> bool:
    return isinstance(item, int | np.integer)


def _count(item: Any, size: int) -> int:
    """Number of elements a non-integer key item selects from an axis of length ``size``."""
    if isinstance(item, slice):
        return len(range(*item.indices(size)))
    index = np.asarray(item)
    return int(index.sum()) if index.dtype == bool else index.size
