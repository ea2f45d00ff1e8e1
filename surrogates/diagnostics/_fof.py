"""Friends-of-friends linking kernel (numba): sorted cell lists and union-find.

Particles (3D; 2D data is padded with a flat third axis) are sorted by the cell key
``(column, z)`` with ``column = (x cell, y cell)``; a cell is a run of equal keys and the
cells of one column are contiguous and ordered in z, so a z-window of neighbours is found
by two binary searches per column. Only occupied cells are visited and memory is
O(N + columns), so the cost is O(N log N) (the sort) plus the pair tests.

Cells are made no larger than ``b / sqrt(3)`` when the column budget allows. Then every
cell is fully linked (its diagonal is at most ``b``): its particles are joined to its first
particle at once, and two neighbouring cells need only their *first* linking pair, or none
at all when their representatives already share a root. This keeps dense halo cores from
costing O(m^2) pair tests. With larger cells (column budget exceeded) every pair in
neighbouring cells is tested. Each unordered pair of cells is visited once (the later one
in sorted order is the neighbour).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["friends"]


@numba.njit(cache=True)
def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@numba.njit(cache=True)
def _union(parent: np.ndarray, i: int, j: int) -> None:
    ri, rj = _find(parent, i), _find(parent, j)
    if ri < rj:
        parent[rj] = ri
    elif rj < ri:
        parent[ri] = rj


@numba.njit(cache=True)
def _offsets(n: int, reach: int) -> np.ndarray:
    """Offsets reaching each distinct periodic neighbour cell once."""
    if 2 * reach + 1 >= n:
        return np.arange(n)
    return np.arange(-reach, reach + 1)


@numba.njit(cache=True)
def _lower_bound(a: np.ndarray, lo: int, hi: int, value: int) -> int:
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def _close(pos, i, j, box, b2) -> bool:
    r2 = 0.0
    for a in range(3):
        d = abs(pos[i, a] - pos[j, a])
        d = min(d, box[a] - d)
        r2 += d * d
    return r2 <= b2


@numba.njit(cache=True)
def _link_cells(pos, a0, a1, b0, b1, box, b2, full, parent) -> None:
    """Link particles of cells [a0, a1) and [b0, b1) (b0 >= a1, or the same cell)."""
    if full:
        if _find(parent, a0) == _find(parent, b0):
            return
        for i in range(a0, a1):
            for j in range(b0, b1):
                if _close(pos, i, j, box, b2):
                    _union(parent, a0, b0)
                    return
        return
    for i in range(a0, a1):
        for j in range(max(b0, i + 1), b1):
            if _close(pos, i, j, box, b2):
                _union(parent, i, j)


@numba.njit(cache=True)
def _z_ranges(cz: int, reach: int, n: int) -> np.ndarray:
    """Inclusive z-cell ranges [(lo, hi), ...] of the periodic window cz +- reach."""
    if 2 * reach + 1 >= n:
        return np.array([[0, n - 1]])
    lo, hi = cz - reach, cz + reach
    if lo < 0:
        return np.array([[0, hi], [lo + n, n - 1]])
    if hi >= n:
        return np.array([[lo, n - 1], [0, hi - n]])
    return np.array([[lo, hi]])


@numba.njit(cache=True)
def _link(pos, cz, col, col_start, ncell, reach, box, b2, full, parent):
    n = pos.shape[0]
    ox, oy = _offsets(ncell[0], reach[0]), _offsets(ncell[1], reach[1])
    a0 = 0
    while a0 < n:
        a1 = a0 + 1
        while a1 < n and col[a1] == col[a0] and cz[a1] == cz[a0]:
            a1 += 1
        if full:
            for i in range(a0 + 1, a1):
                parent[i] = a0  # untouched so far: cross-cell unions use representatives
        else:
            _link_cells(pos, a0, a1, a0, a1, box, b2, False, parent)
        cx, cy = col[a0] // ncell[1], col[a0] % ncell[1]
        zr = _z_ranges(cz[a0], reach[2], ncell[2])
        for dx in ox:
            for dy in oy:
                c2 = ((cx + dx) % ncell[0]) * ncell[1] + (cy + dy) % ncell[1]
                s, e = col_start[c2], col_start[c2 + 1]
                if e <= a1:
                    continue
                for r in range(zr.shape[0]):
                    b0 = _lower_bound(cz, s, e, zr[r, 0])
                    end = _lower_bound(cz, b0, e, zr[r, 1] + 1)
                    b0 = max(b0, a1)
                    while b0 < end:
                        b1 = b0 + 1
                        while b1 < end and cz[b1] == cz[b0]:
                            b1 += 1
                        _link_cells(pos, a0, a1, b0, b1, box, b2, full, parent)
                        b0 = b1
        a0 = a1


@numba.njit(cache=True)
def _roots(parent: np.ndarray) -> np.ndarray:
    out = np.empty_like(parent)
    for i in range(parent.size):
        out[i] = _find(parent, i)
    return out


def friends(
    pos: np.ndarray, box: np.ndarray, b: float, max_columns: int | None = None
) -> np.ndarray:
    """Root particle index (input order) of each particle's FoF group.

    Parameters
    ----------
    pos : ndarray, shape (N, 3)
        Positions in ``[0, box)``.
    box : ndarray, shape (3,)
    b : float
        Absolute linking length (pairs with minimum-image distance ``<= b`` are friends).
    max_columns : int, optional
        Budget of (x, y) cell columns; default ``max(4 N, 2**18)``.
    """
    n = pos.shape[0]
    budget = max(4 * n, 1 << 18) if max_columns is None else int(max_columns)
    ncell = (np.floor(box * np.sqrt(3.0) / b) + 1).astype(np.int64)  # size < b / sqrt(3)
    while ncell[0] * ncell[1] > budget:
        ncell[:2] = np.maximum(1, ncell[:2] // 2)
    ncell[2] = min(ncell[2], (1 << 62) // (ncell[0] * ncell[1]))  # int64 cell keys
    size = box / ncell
    full = bool(np.sum(size**2) <= b * b * (1.0 - 1e-9))
    # cells k apart hold particles more than (k - 1) * size apart: k <= floor(b / size) + 1
    reach = (np.floor(b / size) + 1).astype(np.int64)
    cell = np.minimum((pos / box * ncell).astype(np.int64), ncell - 1)
    col = cell[:, 0] * ncell[1] + cell[:, 1]
    order = np.argsort(col * ncell[2] + cell[:, 2])  # cell key
    col_sorted = col[order]
    cz_sorted = np.ascontiguousarray(cell[order, 2])
    col_start = np.zeros(ncell[0] * ncell[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=ncell[0] * ncell[1]), out=col_start[1:])
    parent = np.arange(n, dtype=np.int64)
    _link(pos[order], cz_sorted, col_sorted, col_start, ncell, reach, box, b * b, full, parent)
    roots = np.empty(n, dtype=np.int64)
    roots[order] = order[_roots(parent)]
    return roots
