"""Turbulence statistics of a velocity field: energy spectrum, dissipation, enstrophy,
longitudinal structure functions and velocity-gradient statistics.

Velocity components are passed separately (``u_x, u_y[, u_z]``, one per spatial axis) as
arrays of the grid shape or DataArrays with dims (..., x, y[, z]). Derivatives are
spectral (``i k``, Nyquist planes zeroed) when every axis is periodic, otherwise (or with
``method="fd"``) second-order finite differences: central in the interior, periodic
wrap on periodic axes, second-order one-sided at the ends of bounded axes
(``numpy.gradient(edge_order=2)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates.diagnostics import _xr
from surrogates.diagnostics._shells import fft_modes, rfft_weights, shell_sums, uniform_bins
from surrogates.errors import DataError
from surrogates.ops.fft import irfftn, nyquist_mask, rfftn, wavenumbers

__all__ = [
    "energy_spectrum",
    "dissipation",
    "enstrophy",
    "structure_functions",
    "gradient_statistics",
]

_NAMES = ["u_x", "u_y", "u_z"]
BOUNDARIES = ("periodic", "wall", "open")


def _components(arrays: Sequence[np.ndarray | None], grid: _xr.Grid) -> list[np.ndarray]:
    comps = [a for a in arrays if a is not None]
    if len(comps) != grid.ndim:
        raise DataError(
            f"velocity: got {len(comps)} components for a {grid.ndim}D grid {grid.shape}, "
            f"expected {grid.ndim} ({', '.join(_NAMES[: grid.ndim])})"
        )
    return comps


def _run(core: Callable, u_x, u_y, u_z, box_size) -> Any:
    """Apply a core returning an xarray object; unwrap 0-d results for plain arrays."""
    out = _xr.apply_fields(core, [u_x, u_y, u_z], box_size, _NAMES)
    if isinstance(u_x, xr.DataArray) or not isinstance(out, xr.DataArray):
        return out
    return float(out)


def energy_spectrum(
    u_x: Any,
    u_y: Any,
    u_z: Any = None,
    box_size: float | Sequence[float] | None = None,
    *,
    dk: float | None = None,
) -> xr.Dataset:
    """Shell-summed kinetic-energy spectrum, ``sum_k E(k) == 0.5 <|u|^2>`` to round-off.

    Shell ``j`` holds the modes with ``(j - 1/2) dk <= |k| < (j + 1/2) dk`` (nearest
    integer multiple of ``dk``; default ``dk = 2 pi / max(L)``), over the whole FFT grid:
    each rfft mode counts twice except the self-conjugate ``k_last = 0`` and Nyquist
    planes. Shell 0 holds the mean flow ``k = 0``. ``E_j = sum_{k in j} |u_k|^2 / (2 N^2)``
    is the energy *per shell*; the spectral density is ``E_j / dk``.

    Returns
    -------
    xarray.Dataset
        Coordinate ``k = j dk`` (dim ``k``); variables ``energy``, ``n_modes``, ``k_mean``.
    """

    def core(arrays, grid, units):
        comps_k = [rfftn(c) for c in _components(arrays, grid)]
        width = min(grid.fundamental) if dk is None else float(dk)
        k_max = float(
            np.sqrt(sum((np.pi * n / b) ** 2 for n, b in zip(grid.shape, grid.box, strict=True)))
        )
        bins = uniform_bins(-0.5 * width, k_max, width, "energy_spectrum dk")
        norm = 0.5 / float(grid.size) ** 2

        def values(rows):
            return [sum((c[rows] * np.conj(c[rows])).real for c in comps_k) * norm]

        count, k_mean, sums = shell_sums(
            values,
            fft_modes(grid.shape, True),
            grid.fundamental,
            bins,
            rfft_weights(grid.shape[-1]),
        )
        keep = count > 0
        k_attrs = _xr.length_attrs(grid.length_units, inverse=True)
        unit = units[0]
        data = {
            "energy": ("k", sums[0, keep], {} if unit is None else {"units": f"({unit})^2"}),
            "n_modes": ("k", count[keep]),
            "k_mean": ("k", k_mean[keep], k_attrs),
        }
        k_centre = (np.arange(bins.count) * width)[keep]
        attrs = {"convention": "energy per shell; sum == 0.5 <|u|^2>", "dk": width}
        return xr.Dataset(data, coords={"k": ("k", k_centre, k_attrs)}, attrs=attrs)

    return _xr.apply_fields(core, [u_x, u_y, u_z], box_size, _NAMES)


def _boundaries(boundary: str | Sequence[str], ndim: int) -> tuple[str, ...]:
    b = (boundary,) * ndim if isinstance(boundary, str) else tuple(boundary)
    if len(b) != ndim or any(x not in BOUNDARIES for x in b):
        raise DataError(f"boundary: got {boundary!r}, expected one of {BOUNDARIES} or {ndim}")
    return b


def _gradient(
    comps: list[np.ndarray], grid: _xr.Grid, boundary: Any, method: str
) -> Callable[[int, int], np.ndarray]:
    """``grad(i, j) = d u_i / d x_j`` by spectral or finite differences."""
    bounds = _boundaries(boundary, grid.ndim)
    periodic = all(b == "periodic" for b in bounds)
    if method not in ("auto", "spectral", "fd"):
        raise DataError(f"method: got {method!r}, expected 'auto', 'spectral' or 'fd'")
    if method == "spectral" and not periodic:
        raise DataError(f"method='spectral' needs periodic axes, got boundary {bounds}")
    if method == "spectral" or (method == "auto" and periodic):
        comps_k = [rfftn(c) for c in comps]
        ks = wavenumbers(grid.shape, grid.box)
        mask = nyquist_mask(grid.shape)
        return lambda i, j: irfftn(1j * ks[j] * mask * comps_k[i], grid.shape)

    def fd(i: int, j: int) -> np.ndarray:
        u, h = comps[i], grid.spacing[j]
        if bounds[j] == "periodic":
            return (np.roll(u, -1, axis=j) - np.roll(u, 1, axis=j)) / (2.0 * h)
        return np.gradient(u, h, axis=j, edge_order=2)

    return fd


def dissipation(
    u_x: Any,
    u_y: Any,
    u_z: Any = None,
    box_size: float | Sequence[float] | None = None,
    *,
    nu: float,
    boundary: str | Sequence[str] = "periodic",
    method: str = "auto",
) -> Any:
    """Mean dissipation rate ``epsilon = 2 nu <s_ij s_ij>``, ``s = (grad u + grad u^T) / 2``.

    Returns a float (a DataArray over the leading dims for xarray input).
    """

    def core(arrays, grid, units):
        grad = _gradient(_components(arrays, grid), grid, boundary, method)
        total = 0.0
        for i in range(grid.ndim):
            total += np.mean(grad(i, i) ** 2)
            for j in range(i + 1, grid.ndim):
                total += 0.5 * np.mean((grad(i, j) + grad(j, i)) ** 2)
        return xr.DataArray(2.0 * float(nu) * total)

    return _run(core, u_x, u_y, u_z, box_size)


def enstrophy(
    u_x: Any,
    u_y: Any,
    u_z: Any = None,
    box_size: float | Sequence[float] | None = None,
    *,
    boundary: str | Sequence[str] = "periodic",
    method: str = "auto",
) -> Any:
    """Mean enstrophy ``0.5 <|omega|^2>`` (``omega = curl u``; in 2D the scalar vorticity).

    For incompressible periodic flow ``epsilon = 2 nu * enstrophy``.
    """

    def core(arrays, grid, units):
        grad = _gradient(_components(arrays, grid), grid, boundary, method)
        total = 0.0
        for i in range(grid.ndim):
            for j in range(i + 1, grid.ndim):
                total += np.mean((grad(j, i) - grad(i, j)) ** 2)
        return xr.DataArray(0.5 * total)

    return _run(core, u_x, u_y, u_z, box_size)


def _increment_moments(u: np.ndarray, axis: int, lag: int, periodic: bool, orders) -> list:
    n = u.shape[axis]
    ahead = np.take(u, np.arange(lag, n), axis=axis) - np.take(u, np.arange(n - lag), axis=axis)
    pieces = [ahead]
    if periodic:
        wrap = np.take(u, np.arange(lag), axis=axis) - np.take(u, np.arange(n - lag, n), axis=axis)
        pieces.append(wrap)
    count = sum(p.size for p in pieces)
    return [sum(np.sum(p**order) for p in pieces) / count for order in orders]


def structure_functions(
    u_x: Any,
    u_y: Any,
    u_z: Any = None,
    box_size: float | Sequence[float] | None = None,
    *,
    orders: Sequence[int] = (2, 3),
    axes: Sequence[int] | None = None,
    max_lag: int | None = None,
    boundary: str | Sequence[str] = "periodic",
) -> xr.Dataset:
    """Longitudinal structure functions ``S_p(r) = <(u_i(x + r e_i) - u_i(x))^p>``.

    Averaged over the axes ``axes`` (default all; they must share one cell spacing) at
    separations ``r = lag * H``, ``lag = 1 .. max_lag`` (default ``min(n) // 2``);
    periodic axes wrap, bounded axes use the pairs inside the domain.

    Returns
    -------
    xarray.Dataset
        Coordinate ``r`` (dim ``r``); variables ``S2``, ``S3``, ... (one per order).
    """

    def core(arrays, grid, units):
        comps = _components(arrays, grid)
        use = tuple(range(grid.ndim)) if axes is None else tuple(axes)
        bounds = _boundaries(boundary, grid.ndim)
        spacing = {grid.spacing[a] for a in use}
        if not set(use) <= set(range(grid.ndim)) or len(spacing) != 1:
            raise DataError(
                f"structure_functions: axes {use} must be valid axes with one spacing; "
                f"spacings {grid.spacing}"
            )
        lags = np.arange(1, (max_lag or min(grid.shape[a] for a in use) // 2) + 1)
        moments = np.zeros((len(orders), lags.size))
        for a in use:
            for li, lag in enumerate(lags):
                moments[:, li] += _increment_moments(
                    comps[a], a, int(lag), bounds[a] == "periodic", orders
                )
        r_attrs = _xr.length_attrs(grid.length_units)
        data = {f"S{p}": ("r", moments[q] / len(use)) for q, p in enumerate(orders)}
        return xr.Dataset(data, coords={"r": ("r", lags * spacing.pop(), r_attrs)})

    return _xr.apply_fields(core, [u_x, u_y, u_z], box_size, _NAMES)


def gradient_statistics(
    u_x: Any,
    u_y: Any,
    u_z: Any = None,
    box_size: float | Sequence[float] | None = None,
    *,
    boundary: str | Sequence[str] = "periodic",
    method: str = "auto",
) -> xr.Dataset:
    """Velocity-gradient moments, pooled over the axes.

    ``skewness = <A_ii^3> / <A_ii^2>^(3/2)`` and ``flatness = <A_ii^4> / <A_ii^2>^2`` of the
    longitudinal derivatives ``A_ii = d u_i / d x_i`` (moments averaged over ``i`` before
    the ratio; about -0.5 and 4-6 in developed turbulence), ``transverse_flatness`` of
    ``d u_i / d x_j`` (``i != j``), and ``longitudinal_variance = <A_ii^2>``.

    Returns
    -------
    xarray.Dataset
        Scalar variables (over the leading dims for xarray input).
    """

    def core(arrays, grid, units):
        grad = _gradient(_components(arrays, grid), grid, boundary, method)
        lon = np.zeros(3)
        tra = np.zeros(2)
        for i in range(grid.ndim):
            a = grad(i, i)
            lon += [np.mean(a**2), np.mean(a**3), np.mean(a**4)]
            for j in range(grid.ndim):
                if j != i:
                    t = grad(i, j)
                    tra += [np.mean(t**2), np.mean(t**4)]
        m2, m3, m4 = lon / grid.ndim
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN for a uniform field
            data = {
                "skewness": m3 / m2**1.5,
                "flatness": m4 / m2**2,
                "transverse_flatness": tra[1] / tra[0] ** 2 * (grid.ndim * (grid.ndim - 1)),
                "longitudinal_variance": m2,
            }
        return xr.Dataset({k: ((), v) for k, v in data.items()})

    return _xr.apply_fields(core, [u_x, u_y, u_z], box_size, _NAMES)
