"""Threaded FFTs and wavenumber grids on periodic boxes, shared by solvers and diagnostics.

Conventions
-----------
A periodic field of shape ``(n_1, ..., n_d)`` on a box of side lengths ``(L_1, ..., L_d)``
is transformed over its last ``d`` axes with the real FFT along the last axis.
Wavenumbers are angular, ``k = 2 pi m / L`` with integer ``m``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import scipy.fft

__all__ = [
    "fft_workers",
    "rfftn",
    "irfftn",
    "wavenumbers",
    "wavenumber_magnitude",
    "nyquist_mask",
    "fourier_resample",
]


def fft_workers() -> int:
    """Number of threads used by the FFTs (``SURROGATES_FFT_WORKERS`` or all cores)."""
    env = os.environ.get("SURROGATES_FFT_WORKERS")
    return int(env) if env else (os.cpu_count() or 1)


def rfftn(x: np.ndarray, ndim: int | None = None) -> np.ndarray:
    """Real-to-complex FFT over the last ``ndim`` axes (all axes by default), threaded."""
    axes = tuple(range(-(ndim or x.ndim), 0))
    return scipy.fft.rfftn(x, axes=axes, workers=fft_workers())


def irfftn(xk: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`rfftn`; ``shape`` is the real-space shape of the transformed axes."""
    axes = tuple(range(-len(shape), 0))
    return scipy.fft.irfftn(xk, s=tuple(shape), axes=axes, workers=fft_workers())


def _box(shape: Sequence[int], box_size: float | Sequence[float]) -> tuple[float, ...]:
    if np.isscalar(box_size):
        return tuple(float(box_size) for _ in shape)
    box = tuple(float(b) for b in box_size)  # type: ignore[union-attr]
    if len(box) != len(shape):
        raise ValueError(f"box_size has {len(box)} entries, expected {len(shape)}")
    return box


def wavenumbers(
    shape: Sequence[int], box_size: float | Sequence[float], real: bool = True
) -> list[np.ndarray]:
    """Angular wavenumber of each axis, shaped to broadcast against the FFT output.

    Parameters
    ----------
    shape : sequence of int
        Real-space grid shape ``(n_1, ..., n_d)``.
    box_size : float or sequence of float
        Side length(s) of the periodic box.
    real : bool
        If True, the last axis has ``n_d // 2 + 1`` entries as produced by :func:`rfftn`.

    Returns
    -------
    list of ndarray
        ``d`` arrays; array ``i`` has shape ``(1, ..., m_i, ..., 1)``.
    """
    box = _box(shape, box_size)
    d = len(shape)
    out = []
    for i, (n, length) in enumerate(zip(shape, box, strict=True)):
        if real and i == d - 1:
            m = np.fft.rfftfreq(n, d=1.0 / n)
        else:
            m = np.fft.fftfreq(n, d=1.0 / n)
        view = [1] * d
        view[i] = m.size
        out.append((2.0 * np.pi / length * m).reshape(view))
    return out


def wavenumber_magnitude(
    shape: Sequence[int], box_size: float | Sequence[float], real: bool = True
) -> np.ndarray:
    """``|k|`` on the (real) FFT grid, shape ``(n_1, ..., n_d // 2 + 1)`` when ``real``."""
    ks = wavenumbers(shape, box_size, real=real)
    k2 = sum(k**2 for k in ks)
    return np.sqrt(k2)


def nyquist_mask(shape: Sequence[int], real: bool = True) -> np.ndarray:
    """Boolean mask, True off the Nyquist planes of even-sized axes (where ``-ik`` is ill-defined).

    Multiply a spectral gradient by this mask to zero the Nyquist planes.
    """
    d = len(shape)
    mask = np.ones(
        tuple(n // 2 + 1 if (real and i == d - 1) else n for i, n in enumerate(shape)), dtype=bool
    )
    for i, n in enumerate(shape):
        if n % 2 == 0:
            index = [slice(None)] * d
            index[i] = n // 2
            mask[tuple(index)] = False
    return mask


def fourier_resample(field: np.ndarray, size: int, ndim: int = 3) -> np.ndarray:
    """Band-limited resampling of a periodic cell-centred field to ``size`` cells per axis.

    The field's trigonometric interpolant, evaluated at the cell centres of the new grid
    on the same box: the Fourier modes ``|m| < min(n, size) / 2`` of each axis carry over
    (phase-shifted for the moved cell centres), the others are zero; the Nyquist planes
    are dropped. Exact for fields without energy at or beyond the smaller grid's Nyquist
    wavenumber, both ways.

    Parameters
    ----------
    field : ndarray, shape (..., n, ..., n)
        Real field over its last ``ndim`` axes, ``n`` cells each.
    size : int
        Cells per axis of the result.
    ndim : int
        Number of trailing axes resampled.

    Returns
    -------
    ndarray, shape (..., size, ..., size)
    """
    n = field.shape[-1]
    if field.shape[-ndim:] != (n,) * ndim or size < 2:
        raise ValueError(f"fourier_resample: need {ndim} equal trailing axes and size >= 2,"
                         f" got shape {field.shape} and size {size}")  # fmt: skip
    if size == n:
        return field.copy()
    half = min(n, size) // 2
    m = np.arange(-half + 1, half)  # the kept integer wavenumbers of each axis
    shift = np.exp(1j * np.pi * m * (1.0 / size - 1.0 / n))  # cell centres (j + 1/2) / N
    phase = np.ones((1,) * ndim)
    for axis in range(ndim):
        phase = phase * shift.reshape([-1 if a == axis else 1 for a in range(ndim)])
    axes = tuple(range(-ndim, 0))
    source = np.fft.fftn(field, axes=axes)[(Ellipsis, *np.ix_(*[m % n] * ndim))]
    spectrum = np.zeros((*field.shape[:-ndim], *(size,) * ndim), complex)
    spectrum[(Ellipsis, *np.ix_(*[m % size] * ndim))] = source * phase * (size / n) ** ndim
    return np.fft.ifftn(spectrum, axes=axes).real
