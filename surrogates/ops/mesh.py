"""Mass assignment between particles and periodic meshes (NGP, CIC, TSC), shared by the
particle-mesh solver and the cosmology diagnostics.

Conventions
-----------
- A mesh of shape ``(n_1, ..., n_d)`` covers the periodic box ``[0, L_1) x ... x [0, L_d)``;
  value ``i`` lives at the cell centre ``x_i = (i + 0.5) * H`` with ``H = L / n`` per axis
  (the coordinates of the canonical dataset).
- Pylians (``MAS_library``) and nbodykit (pmesh) put mesh value ``i`` at ``i * H`` instead:
  the same particles painted by them and by us differ by a half-cell shift. Pass
  ``cell_origin="corner"`` to :func:`paint` / :func:`readout` to use theirs (value ``i`` at
  ``i * H``, a particle at ``i * H`` wholly in cell ``i`` with NGP and CIC); it is the same
  as painting the positions ``x + H / 2`` with the default ``cell_origin="centre"``.
- The kernels are the B-splines of order ``p = 1, 2, 3`` (NGP, CIC, TSC) in units of ``H``:
  a particle at a cell centre puts all its mass in that cell (NGP, CIC) or weights
  ``1/8, 3/4, 1/8`` per axis on the cell and its two neighbours (TSC).
- :func:`paint` and :func:`readout` are exact transposes of each other, and the Fourier
  transform of the kernel is :func:`window`.

The kernels are written once for any number of dimensions (2 and 3 are used): the ``p**d``
cells a particle touches are enumerated from per-axis offsets and weights. :func:`paint`
runs over particle chunks in parallel, each chunk into its own float64 buffer, and sums the
buffers, so many particles in one cell are all counted (no write races). The buffers cost
``threads x prod(shape) x 8`` bytes while painting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from surrogates.errors import DataError
from surrogates.ops.fft import wavenumbers

__all__ = [
    "SCHEMES",
    "CELL_ORIGINS",
    "paint",
    "readout",
    "window",
    "compensate",
    "minimum_image",
    "lattice",
]

#: Assignment schemes and their B-spline order ``p`` (cells per axis a particle touches).
SCHEMES = {"ngp": 1, "cic": 2, "tsc": 3}
#: Where mesh value ``i`` lives, in cells: ``(i + offset) * H``. "centre" is ours (the
#: canonical dataset's coordinates); "corner" is Pylians' and nbodykit's.
CELL_ORIGINS = {"centre": 0.5, "corner": 0.0}


def _offset(cell_origin: str) -> float:
    try:
        return CELL_ORIGINS[cell_origin]
    except (KeyError, TypeError):
        raise DataError(
            f"cell_origin={cell_origin!r}; expected one of {sorted(CELL_ORIGINS)} (mesh value"
            " i at (i + 1/2) H, ours, or at i H, as Pylians and nbodykit)"
        ) from None


def _order(scheme: str) -> int:
    try:
        return SCHEMES[scheme.lower()]
    except (KeyError, AttributeError):
        raise DataError(
            f"unknown mass-assignment scheme {scheme!r}; expected one of {sorted(SCHEMES)}"
        ) from None


def _box(box_size: float | Sequence[float], ndim: int) -> np.ndarray:
    box = np.broadcast_to(np.asarray(box_size, dtype=np.float64), (ndim,)).copy()
    if box.shape != (ndim,) or not np.all(box > 0):
        raise DataError(f"box_size must be positive (one value or {ndim}), got {box_size!r}")
    return box


def _positions(positions: np.ndarray, ndim: int) -> np.ndarray:
    pos = np.asarray(positions)
    if pos.ndim != 2 or pos.shape[1] != ndim:
        raise DataError(f"positions: got shape {pos.shape}, expected (N, {ndim})")
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    if not np.isfinite(pos).all():  # the kernels do not bounds-check
        bad = int(np.count_nonzero(~np.isfinite(pos).all(axis=1)))
        raise DataError(f"positions: {bad} particle(s) with non-finite coordinates")
    return pos


@numba.njit(cache=True, inline="always")
def _spline(u: float, p: int, w: np.ndarray) -> int:
    """Weights ``w[:p]`` of the order-``p`` B-spline at grid coordinate ``u`` (cell-centred
    units: a cell centre has integer ``u``); returns the first cell index touched."""
    if p == 1:
        w[0] = 1.0
        return int(np.floor(u + 0.5))
    if p == 2:
        base = np.floor(u)
        f = u - base
        w[0] = 1.0 - f
        w[1] = f
        return int(base)
    c = np.floor(u + 0.5)
    d = u - c
    w[0] = 0.5 * (0.5 - d) ** 2
    w[1] = 0.75 - d * d
    w[2] = 0.5 * (0.5 + d) ** 2
    return int(c) - 1


@numba.njit(cache=True)
def _stencil(x, scale, offset, shape, strides, p, w_axis, flat, wt):
    """Flat mesh indices ``flat[:p**d]`` and weights ``wt[:p**d]`` touched by one particle
    (mesh value ``i`` at ``(i + offset) / scale``)."""
    ndim = shape.size
    flat[0] = 0
    wt[0] = 1.0
    count = 1
    for a in range(ndim):
        n = shape[a]
        base = _spline(x[a] * scale[a] - offset, p, w_axis) % n  # Python modulo: in [0, n)
        # Expand in place from the back: entry j becomes entries j*p .. j*p + p - 1.
        for j in range(count - 1, -1, -1):
            f0 = flat[j]
            w0 = wt[j]
            for s in range(p - 1, -1, -1):
                i = base + s
                while i >= n:  # at most once unless the mesh is narrower than the kernel
                    i -= n
                flat[j * p + s] = f0 + i * strides[a]
                wt[j * p + s] = w0 * w_axis[s]
        count *= p
    return count


@numba.njit(cache=True, parallel=True)
def _paint(pos, mass, scale, offset, shape, strides, p, buffers):
    """Paint particles into ``buffers`` (chunks, size); the result is summed into row 0."""
    nchunk, size = buffers.shape
    npart, ndim = pos.shape
    step = (npart + nchunk - 1) // nchunk
    single = mass.size == 1
    for c in numba.prange(nchunk):
        buf = buffers[c]
        w_axis = np.empty(p)
        flat = np.empty(p**ndim, dtype=np.int64)
        wt = np.empty(p**ndim)
        for n in range(c * step, min(npart, (c + 1) * step)):
            m = mass[0] if single else mass[n]
            count = _stencil(pos[n], scale, offset, shape, strides, p, w_axis, flat, wt)
            for t in range(count):
                buf[flat[t]] += m * wt[t]
    if nchunk > 1:
        for i in numba.prange(size):
            total = buffers[0, i]
            for c in range(1, nchunk):
                total += buffers[c, i]
            buffers[0, i] = total


@numba.njit(cache=True, parallel=True)
def _readout(fields, pos, scale, offset, shape, strides, p, nchunk, out):
    """Interpolate ``fields`` (components, size) to particles: ``out`` (N, components)."""
    npart, ndim = pos.shape
    ncomp = fields.shape[0]
    step = (npart + nchunk - 1) // nchunk
    for c in numba.prange(nchunk):
        w_axis = np.empty(p)
        flat = np.empty(p**ndim, dtype=np.int64)
        wt = np.empty(p**ndim)
        for n in range(c * step, min(npart, (c + 1) * step)):
            count = _stencil(pos[n], scale, offset, shape, strides, p, w_axis, flat, wt)
            for k in range(ncomp):
                acc = 0.0
                for t in range(count):
                    acc += wt[t] * fields[k, flat[t]]
                out[n, k] = acc


def _geometry(shape: Sequence[int], box_size) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shp = np.asarray(tuple(shape), dtype=np.int64)
    if shp.ndim != 1 or shp.size < 1 or np.any(shp < 1):
        raise DataError(f"mesh shape must be a tuple of positive ints, got {shape!r}")
    scale = shp / _box(box_size, shp.size)  # cells per unit length
    strides = np.ones(shp.size, dtype=np.int64)
    strides[:-1] = np.cumprod(shp[::-1])[-2::-1]
    return shp, scale, strides


def paint(
    positions: np.ndarray,
    shape: Sequence[int],
    box_size: float | Sequence[float],
    mass: float | np.ndarray = 1.0,
    scheme: str = "cic",
    out: np.ndarray | None = None,
    cell_origin: str = "centre",
) -> np.ndarray:
    """Assign particle masses to a periodic mesh.

    Parameters
    ----------
    positions : ndarray, shape (N, d)
        Particle positions in box units; any range (wrapped periodically).
    shape : tuple of int, length d
        Mesh shape ``(n_1, ..., n_d)``.
    box_size : float or sequence of d floats
        Box side length(s), same units as ``positions``.
    mass : float or ndarray, shape (N,)
        Mass of each particle (one value for all).
    scheme : {"ngp", "cic", "tsc"}
        Assignment kernel.
    out : ndarray, shape ``shape``, optional
        If given, the masses are *added* to it (so particles can be painted in batches)
        and it is returned; its dtype is kept.
    cell_origin : {"centre", "corner"}
        Where mesh value ``i`` lives: ``(i + 1/2) * H`` (default, the canonical dataset's
        cell centres) or ``i * H`` (Pylians, nbodykit). "corner" equals painting
        ``positions + H / 2`` with "centre".

    Returns
    -------
    ndarray, shape ``shape``
        Mass per cell, float64 (or ``out.dtype``); its sum is the total mass to round-off.
    """
    shp, scale, strides = _geometry(shape, box_size)
    pos = _positions(positions, shp.size)
    m = np.ascontiguousarray(np.atleast_1d(np.asarray(mass, dtype=np.float64)))
    if m.ndim != 1 or m.size not in (1, pos.shape[0]):
        raise DataError(f"mass: got shape {np.shape(mass)}, expected a scalar or ({len(pos)},)")
    if out is not None and out.shape != tuple(shp):
        raise DataError(f"out: got shape {out.shape}, expected {tuple(shp)}")
    size = int(np.prod(shp))
    # One buffer per thread, but not more chunks than ~32k particles each.
    nchunk = max(1, min(numba.get_num_threads(), pos.shape[0] // 32768))
    buffers = np.zeros((nchunk, size))
    _paint(pos, m, scale, _offset(cell_origin), shp, strides, _order(scheme), buffers)
    result = buffers[0].reshape(tuple(shp))
    if out is None:
        return result
    out += result
    return out


def readout(
    field: np.ndarray,
    positions: np.ndarray,
    box_size: float | Sequence[float],
    scheme: str = "cic",
    cell_origin: str = "centre",
) -> np.ndarray:
    """Interpolate a periodic mesh field to particle positions (the transpose of :func:`paint`).

    Parameters
    ----------
    field : ndarray, shape (n_1, ..., n_d) or (c, n_1, ..., n_d)
        Field at cell centres; a leading axis of ``c`` components is read out in one pass.
    positions : ndarray, shape (N, d)
        Particle positions in box units; any range (wrapped periodically).
    box_size : float or sequence of d floats
        Box side length(s).
    scheme : {"ngp", "cic", "tsc"}
        Assignment kernel, the same as used to paint.
    cell_origin : {"centre", "corner"}
        Where field value ``i`` lives, as in :func:`paint`.

    Returns
    -------
    ndarray, shape (N,) or (N, c)
        ``sum_cells W(x_n - x_cell) field[cell]``, float64.
    """
    pos = np.asarray(positions)
    if pos.ndim != 2:
        raise DataError(f"positions: got shape {pos.shape}, expected (N, d)")
    ndim = pos.shape[1]
    arr = np.asarray(field)
    if arr.ndim not in (ndim, ndim + 1):
        raise DataError(
            f"field: got shape {arr.shape}, expected {ndim} mesh axes "
            f"(optionally after one component axis) for positions of shape {pos.shape}"
        )
    shp, scale, strides = _geometry(arr.shape[-ndim:], box_size)
    fields = np.ascontiguousarray(arr.reshape(-1, int(np.prod(shp))), dtype=np.float64)
    out = np.empty((pos.shape[0], fields.shape[0]))
    nchunk = max(1, min(4 * numba.get_num_threads(), pos.shape[0] // 4096))
    offset = _offset(cell_origin)
    _readout(
        fields, _positions(pos, ndim), scale, offset, shp, strides, _order(scheme), nchunk, out
    )
    return out[:, 0] if arr.ndim == ndim else out


def window(
    shape: Sequence[int],
    box_size: float | Sequence[float],
    scheme: str = "cic",
    real: bool = True,
) -> np.ndarray:
    """Fourier transform of the assignment kernel, ``prod_i sinc(k_i H_i / 2) ** p``.

    ``sinc(x) = sin(x) / x``, ``H_i = L_i / n_i`` and ``p = 1, 2, 3`` for NGP, CIC, TSC.

    Returns
    -------
    ndarray, shape (n_1, ..., n_d // 2 + 1) if ``real`` else (n_1, ..., n_d)
        The window on the (real) FFT grid of :mod:`surrogates.ops.fft`.
    """
    p = _order(scheme)
    box = _box(box_size, len(shape))
    result = np.ones(())
    for k, n, length in zip(wavenumbers(shape, box, real=real), shape, box, strict=True):
        half = 0.5 * k * length / n
        result = result * np.sinc(half / np.pi) ** p  # np.sinc(x) = sin(pi x) / (pi x)
    return result


def compensate(
    field_k: np.ndarray,
    shape: Sequence[int],
    box_size: float | Sequence[float],
    scheme: str = "cic",
) -> np.ndarray:
    """Divide a transformed painted field by :func:`window` (deconvolve the kernel once).

    ``field_k`` has the (real) FFT shape of ``shape`` (leading batch axes allowed); a new
    array is returned.
    """
    full = tuple(shape)
    real = field_k.shape[-1] == full[-1] // 2 + 1 and field_k.shape[-1] != full[-1]
    grid = full[:-1] + (full[-1] // 2 + 1,) if real else full
    if tuple(field_k.shape[-len(full) :]) != grid:
        raise DataError(f"field_k: got shape {field_k.shape}, expected (..., {grid}) for {full}")
    return field_k / window(full, box_size, scheme, real=real)


def minimum_image(dx: np.ndarray, box_size: float | Sequence[float]) -> np.ndarray:
    """Wrap displacement differences into ``[-L/2, L/2)`` (per axis along the last axis
    when ``box_size`` is a sequence)."""
    box = np.asarray(box_size, dtype=np.float64)
    dx = np.asarray(dx)
    return dx - box * np.floor(dx / box + 0.5)


def lattice(n: int, box_size: float | Sequence[float], ndim: int = 3) -> np.ndarray:
    """Lagrangian positions ``q = (i + 0.5) * L / n`` of an ``n**ndim`` particle lattice.

    Returns
    -------
    ndarray, shape (n**ndim, ndim)
        In C order: particle ``(i, j, k)`` is row ``i*n*n + j*n + k`` (the particle ID order).
    """
    if int(n) != n or n < 1:
        raise DataError(f"lattice: n must be a positive int, got {n!r}")
    box = _box(box_size, ndim)
    axes = [(np.arange(n) + 0.5) * (length / n) for length in box]
    grid = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.reshape(-1) for g in grid], axis=1)
