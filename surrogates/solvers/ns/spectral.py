"""Fourier-space operators for the periodic incompressible Navier-Stokes solver.

Velocity fields live in spectral space as arrays of shape ``(3, n, n, n // 2 + 1)``
(the real-FFT layout of :mod:`surrogates.ops.fft`, component first). Every spectral field
the solver handles is solenoidal and truncated by the 2/3 rule, so products formed on the
grid are alias-free on the retained modes and the truncated (Galerkin) system conserves
energy exactly when ``nu = 0``.

Volume averages are computed with Parseval's theorem: for a real field ``f`` on ``N``
points, ``<f^2> = sum_k w_k |f_k|^2 / N^2`` where ``w_k`` is 2 on the half-plane modes the
real FFT stores once and 1 on the ``k_z = 0`` and Nyquist planes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surrogates.ops.fft import irfftn, rfftn, wavenumbers

__all__ = [
    "Grid",
    "curl",
    "divergence",
    "mean_square",
    "project",
    "shell_spectrum",
    "to_physical",
    "to_spectral",
]


@dataclass(frozen=True)
class Grid:
    """A cubic periodic grid and its real-FFT wavenumbers.

    Parameters
    ----------
    n : int
        Points per axis.
    box_size : float
        Side length of the periodic box.
    dtype : {"float64", "float32"}
        Real precision of the computation (spectral arrays use the matching complex type).
    """

    n: int
    box_size: float
    dtype: str = "float64"
    k: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False)
    k2: np.ndarray = field(init=False, repr=False)
    inv_k2: np.ndarray = field(init=False, repr=False)
    dealias: np.ndarray = field(init=False, repr=False)
    weight: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        real = np.dtype(self.dtype)
        shape = (self.n,) * 3
        ks = tuple(k.astype(real) for k in wavenumbers(shape, self.box_size))
        k2 = ks[0] ** 2 + ks[1] ** 2 + ks[2] ** 2
        inv_k2 = np.zeros_like(k2)
        np.divide(1.0, k2, out=inv_k2, where=k2 > 0)
        # 2/3 rule: keep integer modes m with 3|m| < n on every axis (alias-free products).
        modes = [np.rint(k * self.box_size / (2 * np.pi)) for k in ks]
        keep = (3 * np.abs(modes[0]) < self.n) & (3 * np.abs(modes[1]) < self.n)
        keep = keep & (3 * np.abs(modes[2]) < self.n)
        weight = np.full(self.n // 2 + 1, 2.0, dtype=real)
        weight[0] = 1.0
        if self.n % 2 == 0:
            weight[-1] = 1.0
        object.__setattr__(self, "k", ks)
        object.__setattr__(self, "k2", k2)
        object.__setattr__(self, "inv_k2", inv_k2)
        object.__setattr__(self, "dealias", keep)
        object.__setattr__(self, "weight", weight)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Real-space shape ``(n, n, n)``."""
        return (self.n, self.n, self.n)

    @property
    def spectral_shape(self) -> tuple[int, int, int]:
        """Real-FFT shape ``(n, n, n // 2 + 1)``."""
        return (self.n, self.n, self.n // 2 + 1)

    @property
    def spacing(self) -> float:
        """Grid spacing ``box_size / n``."""
        return self.box_size / self.n

    @property
    def k0(self) -> float:
        """Fundamental wavenumber ``2 pi / box_size``."""
        return 2.0 * np.pi / self.box_size

    @property
    def complex_dtype(self) -> np.dtype:
        """Complex type matching :attr:`dtype`."""
        return np.result_type(np.dtype(self.dtype), np.complex64)

    def coordinates(self) -> np.ndarray:
        """Cell-centre coordinates ``(i + 1/2) box_size / n``, shape ``(n,)``."""
        return (np.arange(self.n) + 0.5) * self.spacing

    def shell_index(self) -> np.ndarray:
        """Integer shell ``round(|k| / k0)`` of each spectral mode, shape ``spectral_shape``."""
        return np.rint(np.sqrt(self.k2) / self.k0).astype(np.int64)


def to_spectral(grid: Grid, f: np.ndarray) -> np.ndarray:
    """Real-FFT of the last three axes, shape ``(..., n, n, n)`` -> ``(..., n, n, n//2+1)``."""
    return rfftn(np.asarray(f, dtype=grid.dtype), ndim=3)


def to_physical(grid: Grid, fk: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_spectral`, shape ``(..., n, n, n//2+1)`` -> ``(..., n, n, n)``."""
    return irfftn(fk, grid.shape)


def curl(grid: Grid, uk: np.ndarray) -> np.ndarray:
    """Spectral curl ``i k x u``, shape ``(3, *spectral_shape)`` -> same."""
    kx, ky, kz = grid.k
    out = np.empty_like(uk)
    out[0] = 1j * (ky * uk[2] - kz * uk[1])
    out[1] = 1j * (kz * uk[0] - kx * uk[2])
    out[2] = 1j * (kx * uk[1] - ky * uk[0])
    return out


def project(grid: Grid, fk: np.ndarray) -> np.ndarray:
    """Leray projection ``f - k (k . f) / |k|^2`` in place; returns ``fk``.

    The ``k = 0`` mode is left unchanged (it carries the mean, which has no gradient part).
    """
    kx, ky, kz = grid.k
    div = kx * fk[0] + ky * fk[1] + kz * fk[2]
    div *= grid.inv_k2
    fk[0] -= kx * div
    fk[1] -= ky * div
    fk[2] -= kz * div
    return fk


def divergence(grid: Grid, uk: np.ndarray) -> np.ndarray:
    """Spectral divergence ``i k . u``, shape ``(3, *spectral_shape)`` -> ``spectral_shape``."""
    kx, ky, kz = grid.k
    return 1j * (kx * uk[0] + ky * uk[1] + kz * uk[2])


def mean_square(grid: Grid, fk: np.ndarray, factor: np.ndarray | None = None) -> float:
    """Volume mean of ``sum_c f_c^2`` from spectral components, via Parseval.

    Parameters
    ----------
    grid : Grid
    fk : ndarray, shape ``(c, *spectral_shape)`` or ``spectral_shape``
        Real-FFT coefficients (unnormalised, as :func:`to_spectral` returns them).
    factor : ndarray, optional
        Weight per mode broadcasting against ``spectral_shape`` (e.g. ``k^2`` for
        ``<|grad f|^2>`` or a band mask).
    """
    power = fk.real**2 + fk.imag**2
    if power.ndim == 4:
        power = power.sum(axis=0)
    if factor is not None:
        power = power * factor
    return float(np.sum(power * grid.weight, dtype=np.float64)) / float(grid.n) ** 6


def shell_spectrum(grid: Grid, uk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shell-summed kinetic-energy spectrum ``E(k)`` with ``sum E = <|u|^2> / 2``.

    Parameters
    ----------
    grid : Grid
    uk : ndarray, shape ``(3, *spectral_shape)``

    Returns
    -------
    k : ndarray, shape ``(m,)``
        Shell wavenumbers ``j k0`` for ``j = 0 .. m - 1``.
    energy : ndarray, shape ``(m,)``
        Energy in each integer shell ``round(|k| / k0) = j``.
    """
    shells = grid.shell_index()
    power = (uk.real**2 + uk.imag**2).sum(axis=0) * grid.weight
    energy = np.bincount(shells.ravel(), weights=power.ravel().astype(np.float64))
    energy *= 0.5 / float(grid.n) ** 6
    return np.arange(energy.size) * grid.k0, energy
