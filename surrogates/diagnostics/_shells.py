"""Radial (shell) binning of grid quantities, slab by slab, shared by the spectra,
the correlation function and the energy spectrum.

A grid point is the lattice vector ``v = (m_1 s_1, ..., m_d s_d)`` with integer ``m_i``
(FFT mode numbers or minimum-image cell offsets) and per-axis step ``s_i`` (``2 pi / L_i``
or ``H_i``). Points are binned by ``|v|``; default bin edges are integer multiples of a
width ``w`` and are computed in units of ``w`` from the integers ``m_i`` so that points
exactly on an edge (``|v| = j w``) fall in the upper bin without rounding ambiguity.

Memory stays bounded: the grid is visited in chunks of its first axis (about 2**20 points
each) and the values are produced by a callback for each chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from surrogates.errors import DataError

_CHUNK_POINTS = 1 << 20


@dataclass(frozen=True)
class Bins:
    """Bin edges ``edges[j] <= |v| < edges[j + 1]``; ``width`` set for uniform bins."""

    edges: np.ndarray
    width: float | None = None

    @property
    def count(self) -> int:
        return self.edges.size - 1


def uniform_bins(lo: float, hi: float, width: float, name: str) -> Bins:
    """Bins ``[lo + j w, lo + (j + 1) w)`` covering ``[lo, hi]`` (the last may end past hi).

    ``lo`` may be negative down to ``-w`` (e.g. ``-w/2`` for shells centred on ``j w``).
    """
    if not (width > 0 and np.isfinite(width)) or not (hi > lo > -width):
        raise DataError(f"{name}: need 0 <= min < max and width > 0, got {lo}, {hi}, {width}")
    n = int(np.floor((hi - lo) / width + 1e-9)) + 1
    return Bins(lo + width * np.arange(n + 1), float(width))


def edge_bins(edges: Sequence[float], name: str) -> Bins:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.diff(e) > 0) or e[0] < 0:
        raise DataError(f"{name}: got bin edges {edges!r}, expected >= 2 increasing values >= 0")
    return Bins(e)


def fft_modes(shape: Sequence[int], real: bool) -> list[np.ndarray]:
    """Integer mode numbers per axis (``rfftfreq`` on the last axis when ``real``)."""
    d = len(shape)
    return [
        np.fft.rfftfreq(n, 1.0 / n) if (real and i == d - 1) else np.fft.fftfreq(n, 1.0 / n)
        for i, n in enumerate(shape)
    ]


def rfft_weights(n: int) -> np.ndarray:
    """Multiplicity of each ``rfft`` column: 2 (mode and its conjugate) except ``m = 0``
    and, for even ``n``, the Nyquist column ``m = n / 2`` (self-conjugate), which count once.
    """
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def shell_sums(
    values: Callable[[slice], Sequence[np.ndarray]],
    modes: Sequence[np.ndarray],
    step: Sequence[float],
    bins: Bins,
    weights_last: np.ndarray | None = None,
    exclude_origin: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted sums per bin of ``|v|`` of the grid ``v = m * step``.

    Parameters
    ----------
    values : callable
        ``values(rows)`` returns a list of ``q`` arrays, each shaped like the grid chunk
        ``(len(rows), *grid_shape[1:])``, for the first-axis rows ``rows``.
    modes : list of 1-D int-valued arrays
        Lattice integers per axis; the grid shape is ``tuple(m.size for m in modes)``.
    step : sequence of float
        Physical step per axis.
    bins : Bins
    weights_last : ndarray, optional
        Multiplicity per index of the last axis (e.g. :func:`rfft_weights`).
    exclude_origin : bool
        Leave the point ``v = 0`` out.

    Returns
    -------
    count : ndarray, shape (nbins,)
        Sum of weights per bin.
    mean_radius : ndarray, shape (nbins,)
        Weighted mean ``|v|`` per bin (NaN where empty).
    sums : ndarray, shape (q, nbins)
        Weighted sums of each quantity per bin.
    """
    shape = tuple(m.size for m in modes)
    unit = bins.width or 1.0
    lo = bins.edges[0] / unit
    scaled = [m * (s / unit) for m, s in zip(modes, step, strict=True)]
    rest2 = np.zeros(shape[1:])
    for i, u in enumerate(scaled[1:], start=1):
        rest2 = rest2 + (u**2).reshape([-1 if j == i else 1 for j in range(1, len(shape))])
    wl = np.ones(shape[-1]) if weights_last is None else weights_last
    rows_per = max(1, _CHUNK_POINTS // max(1, rest2.size))
    count = np.zeros(bins.count)
    radius = np.zeros(bins.count)
    sums: np.ndarray | None = None
    for start in range(0, shape[0], rows_per):
        rows = slice(start, min(shape[0], start + rows_per))
        u0 = scaled[0][rows].reshape((-1,) + (1,) * (len(shape) - 1))
        mag = np.sqrt(u0**2 + rest2)
        if bins.width is not None:
            idx = np.floor(mag - lo).astype(np.int64)
        else:
            idx = np.searchsorted(bins.edges, mag, side="right") - 1
        w = np.broadcast_to(wl if len(shape) > 1 else wl[rows], mag.shape)
        ok = (idx >= 0) & (idx < bins.count)
        if exclude_origin and start == 0:
            ok[(0,) * len(shape)] = False
        idx, w, mag = idx[ok], w[ok], mag[ok]
        count += np.bincount(idx, weights=w, minlength=bins.count)
        radius += np.bincount(idx, weights=w * mag, minlength=bins.count)
        vals = values(rows)
        if sums is None:
            sums = np.zeros((len(vals), bins.count))
        for q, v in enumerate(vals):
            sums[q] += np.bincount(idx, weights=w * np.asarray(v)[ok], minlength=bins.count)
    assert sums is not None
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_radius = radius * unit / count
    return count, mean_radius, sums
