"""Initial velocity fields for the spectral Navier-Stokes solver.

All fields are returned in spectral space, shape ``(3, n, n, n // 2 + 1)``, solenoidal,
truncated by the 2/3 rule and Hermitian-consistent (the transform of a real field).
"""

from __future__ import annotations

import numpy as np

from surrogates.solvers.ns.spectral import Grid, project, shell_spectrum, to_spectral

__all__ = [
    "abc_flow",
    "model_spectrum",
    "prescribed_shell_energy",
    "random_isotropic",
    "taylor_green",
]


def _mesh(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k0 x, k0 y, k0 z`` at cell centres, each broadcastable to ``(n, n, n)``."""
    c = grid.coordinates() * grid.k0
    return c[:, None, None], c[None, :, None], c[None, None, :]


def taylor_green(grid: Grid, velocity: float = 1.0) -> np.ndarray:
    """Taylor-Green vortex ``u = V sin x cos y cos z``, ``v = -V cos x sin y cos z``, ``w = 0``.

    Coordinates are scaled by the fundamental wavenumber ``k0 = 2 pi / box_size``.
    The kinetic energy ``<|u|^2> / 2`` is ``V^2 / 8``.
    """
    x, y, z = _mesh(grid)
    u = np.zeros((3, *grid.shape), dtype=grid.dtype)
    u[0] = velocity * np.sin(x) * np.cos(y) * np.cos(z)
    u[1] = -velocity * np.cos(x) * np.sin(y) * np.cos(z)
    return to_spectral(grid, u) * grid.dealias


def abc_flow(grid: Grid, velocity: float = 1.0) -> np.ndarray:
    """Arnold-Beltrami-Childress flow with ``A = B = C = V`` (scaled by ``k0``).

    ``u = (A sin z + C cos y, B sin x + A cos z, C sin y + B cos x)``; the vorticity equals
    ``k0 u``, so ``u x omega = 0`` and the flow decays as ``exp(-nu k0^2 t)``: an exact
    Navier-Stokes solution.
    """
    x, y, z = _mesh(grid)
    u = np.empty((3, *grid.shape), dtype=grid.dtype)
    u[0] = velocity * (np.sin(z) + np.cos(y))
    u[1] = velocity * (np.sin(x) + np.cos(z))
    u[2] = velocity * (np.sin(y) + np.cos(x))
    return to_spectral(grid, u) * grid.dealias


def model_spectrum(k: np.ndarray, peak: float) -> np.ndarray:
    """Unnormalised model spectrum ``(k / k_p)^4 exp(-2 (k / k_p)^2)``, peaked at ``k_p``."""
    q = np.asarray(k, dtype=np.float64) / peak
    return q**4 * np.exp(-2.0 * q**2)


def prescribed_shell_energy(grid: Grid, peak: float, energy: float) -> np.ndarray:
    """Energy per integer shell of :func:`random_isotropic`, shape ``(m,)``.

    ``model_spectrum`` at the shell wavenumbers ``j k0`` for ``1 <= j < n / 3`` (the largest
    sphere inside the 2/3-rule cube), zero elsewhere, normalised to sum to ``energy``.
    ``m`` is the number of shells :func:`~surrogates.solvers.ns.spectral.shell_spectrum`
    returns for this grid.
    """
    m = int(grid.shell_index().max()) + 1
    j = np.arange(m)
    target = np.where((j >= 1) & (3 * j < grid.n), model_spectrum(j * grid.k0, peak * grid.k0), 0)
    return energy * target / target.sum()


def random_isotropic(
    grid: Grid, rng: np.random.Generator, peak: float = 4.0, energy: float = 0.5
) -> np.ndarray:
    """Random solenoidal field with the shell spectrum of :func:`prescribed_shell_energy`.

    Gaussian white noise is transformed (which makes it Hermitian-consistent), projected
    onto solenoidal fields, and each integer shell ``round(|k| / k0) = j`` is rescaled to
    carry exactly its prescribed energy, so the phases are random and the shell-summed
    spectrum is the prescribed one to round-off.

    Parameters
    ----------
    grid : Grid
    rng : numpy.random.Generator
        Source of the random phases (seeded by the caller).
    peak : float
        Peak wavenumber ``k_p`` in units of ``k0 = 2 pi / box_size``.
    energy : float
        Kinetic energy ``<|u|^2> / 2``.

    Returns
    -------
    ndarray, shape ``(3, n, n, n // 2 + 1)``
    """
    noise = rng.standard_normal((3, *grid.shape)).astype(grid.dtype, copy=False)
    uk = project(grid, to_spectral(grid, noise) * grid.dealias)
    uk[:, 0, 0, 0] = 0.0
    target = prescribed_shell_energy(grid, peak, energy)
    _, current = shell_spectrum(grid, uk)
    scale = np.zeros_like(target)
    np.divide(target, current, out=scale, where=current > 0)
    uk *= np.sqrt(scale).astype(grid.dtype)[grid.shell_index()]
    return uk
