"""Reading the hyperslabs behind a padded window (internal to :mod:`surrogates.data.window`).

Along each axis the source indices a window needs are merged into contiguous intervals;
one hyperslab is read per combination of intervals and the window is assembled from them
with index arithmetic, so the full volume is never read unless the window covers it.

How a hyperslab is read depends on the variable's backing array:

- in memory (numpy): sliced directly;
- lazily indexed (xarray backend, no dask): indexed through the ``Variable``, which reads
  just the hyperslab;
- dask, made by one ``from_array`` of a backend array (what ``xarray.open_dataset(...,
  chunks=...)`` builds): the backend array is indexed directly, skipping the graph
  overhead (milliseconds per piece);
- any other dask array (stacked, concatenated, computed): all pieces in one synchronous
  ``dask.compute``. Dask then reads every chunk a window touches once, but whole: it
  does not push slices through such graphs, so chunk these datasets small.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import dask
import dask.array
import numpy as np
import xarray as xr

__all__ = ["HyperslabRead", "fetch", "intervals"]


def intervals(index: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Merge the source indices a window needs into contiguous ``[lo, hi)`` intervals.

    Parameters
    ----------
    index : numpy.ndarray of int, shape (size,)
        Source index per window cell, ``-1`` for constant-filled cells.

    Returns
    -------
    list of (int, int), numpy.ndarray of int, shape (size,)
        The intervals, and per cell its position in their concatenation (``-1``: fill).
    """
    needed = np.unique(index[index >= 0])
    if needed.size == 0:  # window entirely in constant padding: read one cell for dtype
        return [(0, 1)], np.full(index.shape, -1, dtype=np.int64)
    runs = np.split(needed, np.flatnonzero(np.diff(needed) > 1) + 1)
    local = np.full(index.shape, -1, dtype=np.int64)
    local[index >= 0] = np.searchsorted(needed, index[index >= 0])
    return [(int(r[0]), int(r[-1]) + 1) for r in runs], local


class HyperslabRead:
    """The hyperslab reads of one variable's window and their assembly.

    Parameters
    ----------
    var : xarray.Variable
        Dims: ``axes`` plus optional ``sample``/``time`` (any order).
    axes : tuple of str
        Spatial dims, in output order.
    index : list of numpy.ndarray
        Per axis, the source index of each window cell (``-1``: fill with ``value``).
    lead : dict
        ``sample`` -> int and/or ``time`` -> int, slice or list.
    value : float
        Fill value of cells outside the domain.
    """

    def __init__(self, var: xr.Variable, axes, index, lead: dict, value: float) -> None:
        runs = [intervals(i) for i in index]
        self.intervals = [r[0] for r in runs]
        self.local = [r[1] for r in runs]
        self.var, self.value = var, value
        self.keys = [
            tuple(_key_entry(d, lead, axes, box) for d in var.dims)
            for box in itertools.product(*self.intervals)
        ]
        kept = [d for d in var.dims if not isinstance(lead.get(d), int | np.integer)]
        self.order = [kept.index(d) for d in (*(d for d in kept if d not in axes), *axes)]
        self.ndim_lead = len(kept) - len(axes)

    def assemble(self, blocks: Sequence[np.ndarray]) -> np.ndarray:
        """Window of shape (*lead, *size) from the blocks read for :attr:`keys`."""
        counts = [len(iv) for iv in self.intervals]
        grid = np.empty(counts, dtype=object)
        for pos, block in zip(itertools.product(*map(range, counts)), blocks, strict=True):
            grid[pos] = np.transpose(np.asarray(block), self.order)
        gathered = np.block(grid.tolist()) if grid.size > 1 else grid.flat[0]
        out = gathered
        for k, loc in enumerate(self.local):
            out = _take_runs(out, np.maximum(loc, 0), self.ndim_lead + k)
        out = np.require(out, requirements=["C", "O", "W"])  # fresh, even for in-memory data
        outside = [loc < 0 for loc in self.local]
        if any(o.any() for o in outside):
            d = len(outside)
            shaped = [
                o.reshape([-1 if j == k else 1 for j in range(d)]) for k, o in enumerate(outside)
            ]
            mask = functools.reduce(np.logical_or, shaped)
            out[..., np.broadcast_to(mask, out.shape[self.ndim_lead :])] = self.value
        return out


def _take_runs(a: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``numpy.take(a, index, axis)`` by copying runs of consecutive indices (as slices)."""
    if index.size == a.shape[axis] and np.array_equal(index, np.arange(index.size)):
        return a
    parts, lo, n = [], 0, index.size
    while lo < n:  # maximal runs with step +1 or -1 (reflections run backwards)
        hi = lo + 1
        d = int(index[hi] - index[lo]) if hi < n else 1
        while d in (1, -1) and hi < n and index[hi] - index[hi - 1] == d:
            hi += 1
        first, last = int(index[lo]), int(index[hi - 1])
        stop = last + 1 if d == 1 or hi - lo == 1 else (last - 1 if last > 0 else None)
        sl = slice(first, stop, 1 if d == 1 or hi - lo == 1 else -1)
        parts.append(a[(slice(None),) * axis + (sl,)])
        lo = hi
    return np.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]


def _key_entry(dim: str, lead: dict, axes: tuple[str, ...], box) -> int | slice | np.ndarray:
    if dim in axes:
        lo, hi = box[axes.index(dim)]
        return slice(lo, hi)
    value = lead[dim]
    return np.asarray(value, dtype=np.int64) if isinstance(value, list) else value


def _direct_source(data: object) -> object | None:
    """The array-like behind a dask array made by a single ``from_array``, else None."""
    if not isinstance(data, dask.array.Array):
        return None
    layers = getattr(data.dask, "layers", None)
    original = f"original-{data.name}"
    if layers is None or set(layers) != {data.name, original}:
        return None
    values = list(layers[original].values()) if hasattr(layers[original], "values") else []
    src = getattr(values[0], "value", values[0]) if len(values) == 1 else None
    if src is None or tuple(getattr(src, "shape", ())) != data.shape or not data.shape:
        return None
    return src if getattr(src, "dtype", None) == data.dtype else None


def fetch(reads: Sequence[HyperslabRead]) -> list[np.ndarray]:
    """Read every piece of every window (see the module docstring) and assemble them."""
    values: list = []
    lazy: list[int] = []
    for r in reads:
        data = r.var.data if r.var.chunks is not None else None  # dask, else numpy/lazy
        src = _direct_source(data)
        for key in r.keys:
            if src is not None:
                values.append(np.asarray(src[key]))
            elif data is not None:
                lazy.append(len(values))
                values.append(data[key])
            else:  # numpy or lazily indexed backend array: outer indexing, reads the slab
                values.append(r.var[key].values)
    if lazy:
        done = dask.compute(*(values[i] for i in lazy), scheduler="synchronous")
        for i, v in zip(lazy, done, strict=True):
            values[i] = v
    out, k = [], 0
    for r in reads:
        out.append(r.assemble(values[k : k + len(r.keys)]))
        k += len(r.keys)
    return out
