"""FFT-based bispectrum estimator for given triangle configurations (non-Gaussianity checks).

Estimator (e.g. Scoccimarro 2015, Phys. Rev. D 92, 083532, eqs. 20-24): for each side
``k_i`` keep the modes with ``|q| in [k_i - dk/2, k_i + dk/2)``,

    d_i(x) = IDFT[delta_q 1_i(q)],     I_i(x) = IDFT[1_i(q)],

then ``sum_x d_1 d_2 d_3 = N^-2 sum_{q1+q2+q3=0} delta_q1 delta_q2 delta_q3`` and
``sum_x I_1 I_2 I_3 = N^-2 N_triangles``, so that

    B(k1, k2, k3) = V^2 / N^3 * sum_x d_1 d_2 d_3 / sum_x I_1 I_2 I_3

with the normalisation of :mod:`surrogates.diagnostics.spectra` (``<delta(k1) delta(k2)
delta(k3)> = (2 pi)^d delta_D(k1 + k2 + k3) B``). The reduced bispectrum is
``Q = B / (P1 P2 + P2 P3 + P3 P1)`` with ``P_i`` the shell-averaged power.
Triangles given by ``theta`` use the angle between ``k1`` and ``k2``:
``k3 = sqrt(k1^2 + k2^2 + 2 k1 k2 cos(theta))`` (``k3 = -(k1 + k2)``).
Memory: a few real and complex grids per distinct shell; meant for grids up to ~256^3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates.diagnostics import _xr
from surrogates.diagnostics._shells import rfft_weights
from surrogates.errors import DataError
from surrogates.ops.fft import irfftn, rfftn, wavenumber_magnitude
from surrogates.ops.mesh import compensate

__all__ = ["bispectrum"]


def _triangles(k1, k2, k3, theta) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if (k3 is None) == (theta is None):
        raise DataError("bispectrum: give exactly one of k3 or theta")
    if k3 is not None:
        k1a, k2a, k3a = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, float)) for v in (k1, k2, k3))
        )
        cos = (k3a**2 - k1a**2 - k2a**2) / (2 * k1a * k2a)
        theta_a = np.arccos(np.clip(cos, -1.0, 1.0))
    else:
        k1a, k2a, theta_a = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, float)) for v in (k1, k2, theta))
        )
        k3a = np.sqrt(k1a**2 + k2a**2 + 2.0 * k1a * k2a * np.cos(theta_a))
    if np.any(k1a <= 0) or np.any(k2a <= 0) or np.any(k3a < 0):
        raise DataError(f"bispectrum: triangle sides must be positive, got k1={k1}, k2={k2}")
    return k1a, k2a, k3a, theta_a


class _Shells:
    """Cache of shell-filtered fields ``d_i`` and indicator transforms ``I_i`` per ``k_i``."""

    def __init__(self, field_k: np.ndarray, grid: _xr.Grid, dk: float) -> None:
        self.field_k = field_k
        self.grid = grid
        self.dk = dk
        self.kmag = wavenumber_magnitude(grid.shape, grid.box)
        self.weights = rfft_weights(grid.shape[-1])
        self.cache: dict[float, tuple[np.ndarray, np.ndarray, float]] = {}

    def get(self, k: float) -> tuple[np.ndarray, np.ndarray, float]:
        if k not in self.cache:
            inside = (self.kmag >= k - 0.5 * self.dk) & (self.kmag < k + 0.5 * self.dk)
            if not inside.any():
                raise DataError(f"bispectrum: no Fourier modes in the shell k = {k:.4g} +- dk/2")
            d = irfftn(np.where(inside, self.field_k, 0.0), self.grid.shape)
            ind = irfftn(inside.astype(np.float64), self.grid.shape)
            w = np.broadcast_to(self.weights, inside.shape)[inside]
            power = np.sum(w * np.abs(self.field_k[inside]) ** 2) / np.sum(w)
            norm = self.grid.volume / float(self.grid.size) ** 2
            self.cache[k] = (d, ind, power * norm)
        return self.cache[k]


def bispectrum(
    field: Any,
    box_size: float | Sequence[float] | None = None,
    *,
    k1: float | Sequence[float],
    k2: float | Sequence[float],
    k3: float | Sequence[float] | None = None,
    theta: float | Sequence[float] | None = None,
    dk: float | None = None,
    scheme: str | None = None,
) -> xr.Dataset:
    """Bispectrum ``B(k1, k2, k3)`` of a periodic field for one or several triangles.

    Parameters
    ----------
    field : array-like, shape (n_1, ..., n_d), or DataArray with dims (..., x, y[, z])
        Overdensity on a periodic grid.
    box_size : float or sequence of float, optional
        Box side length(s); read from the xarray coordinates when omitted.
    k1, k2 : float or sequence of float
        Two triangle sides (broadcast together with ``k3`` or ``theta``).
    k3, theta : float or sequence of float
        Third side, or the angle between ``k1`` and ``k2`` in radians (exactly one).
    dk : float, optional
        Shell width; default the fundamental ``2 pi / max(L)``.
    scheme : {"ngp", "cic", "tsc"}, optional
        Mass-assignment kernel whose window is divided out first.

    Returns
    -------
    xarray.Dataset
        Dimension ``triangle`` with coordinates ``k1``, ``k2``, ``k3``, ``theta``;
        variables ``bispectrum``, ``reduced`` (Q), ``n_triangles`` and the shell powers
        ``power_1``, ``power_2``, ``power_3``.
    """
    sides = _triangles(k1, k2, k3, theta)

    def core(arrays, grid, units):
        field_k = rfftn(arrays[0])
        if scheme is not None:
            field_k = compensate(field_k, grid.shape, grid.box, scheme)
        shells = _Shells(field_k, grid, min(grid.fundamental) if dk is None else float(dk))
        out = {name: [] for name in ("bispectrum", "n_triangles", "power_1", "power_2", "power_3")}
        for a, b, c in zip(*sides[:3], strict=True):
            (d1, i1, p1), (d2, i2, p2), (d3, i3, p3) = (shells.get(float(k)) for k in (a, b, c))
            n_tri = float(np.sum(i1 * i2 * i3)) * float(grid.size) ** 2
            raw = float(np.sum(d1 * d2 * d3)) * float(grid.size) ** 2
            scale = grid.volume**2 / float(grid.size) ** 3
            out["bispectrum"].append(scale * raw / n_tri if n_tri > 0.5 else np.nan)
            out["n_triangles"].append(round(n_tri))
            for key, p in zip(("power_1", "power_2", "power_3"), (p1, p2, p3), strict=True):
                out[key].append(p)
        data = {key: ("triangle", np.asarray(v)) for key, v in out.items()}
        ds = xr.Dataset(
            data,
            coords={
                name: ("triangle", v)
                for name, v in zip(("k1", "k2", "k3", "theta"), sides, strict=True)
            },
        )
        p1, p2, p3 = ds["power_1"], ds["power_2"], ds["power_3"]
        ds["reduced"] = ds["bispectrum"] / (p1 * p2 + p2 * p3 + p3 * p1)
        ds.attrs["estimator"] = "V^2/N^3 sum d1 d2 d3 / sum I1 I2 I3 (shells of width dk)"
        ds.attrs["dk"] = shells.dk
        return ds

    return _xr.apply_fields(core, [field], box_size, ["field"])
