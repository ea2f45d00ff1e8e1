"""FastPM particle-mesh time stepping: CIC force on a periodic mesh and the kick-drift-kick
leapfrog in the scale factor with growth-based kick and drift factors.

Equations (x comoving in Mpc/h, H0 = 1, canonical momentum ``p = a^3 E dx/da`` in units of
100 km/s): ``dx/da = p / (a^3 E)``, ``dp/da = F / (a^2 E)`` with ``F = -∇φ`` and
``∇²φ = 3/2 Ω_m δ``. The factors of :class:`.cosmology.Background` (Feng et al. 2016,
arXiv:1603.00476) make a linear displacement grow exactly as ``D(a)`` with any number of
steps; the peculiar velocity is ``v = 100 p / a`` km/s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from surrogates.ops import fft, mesh
from surrogates.solvers.pm.cosmology import Background

__all__ = ["ForceMesh", "time_stages", "leapfrog"]


@dataclass(frozen=True)
class ForceMesh:
    """Particle-mesh gravity on a periodic mesh of ``shape`` covering a box of side ``box_size``.

    The particles (all of equal mass) are painted with CIC, the density contrast is
    transformed, turned into the acceleration ``ik (3/2 Ω_m δ_k) / k²`` per axis (Nyquist
    planes zeroed) and read out at the particles with the same CIC kernel, so the total
    momentum is conserved. The CIC window is not deconvolved: with a mesh finer than the
    particle lattice (``mesh_factor`` 2) that would amplify the lattice's aliased power
    near the mesh Nyquist frequency (FastPM does not deconvolve either).
    """

    shape: tuple[int, ...]
    box_size: float
    Omega_m: float

    @functools.cached_property
    def _kernels(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """``mask / k²`` on the rfft grid (0 at k = 0) and the per-axis ``i k`` (broadcastable)."""
        ks = fft.wavenumbers(self.shape, self.box_size)
        k2 = sum(k * k for k in ks)
        k2.flat[0] = np.inf
        inv_k2 = fft.nyquist_mask(self.shape) / k2
        return inv_k2, [1j * k for k in ks]

    def density(self, x: np.ndarray) -> np.ndarray:
        """CIC density contrast of particles ``x`` (N, d) on the mesh, shape ``shape``."""
        rho = mesh.paint(x, self.shape, self.box_size)
        rho *= np.prod(self.shape) / len(x)
        rho -= 1.0
        return rho

    def accelerations(self, x: np.ndarray) -> np.ndarray:
        """``F = -∇φ`` at the particles, shape (N, d), in H0² Mpc/h (the units of ``dp/da``)."""
        inv_k2, ik = self._kernels
        potential_k = fft.rfftn(self.density(x))
        potential_k *= inv_k2
        potential_k *= 1.5 * self.Omega_m  # minus the potential: -φ_k = 3/2 Ω_m δ_k / k²
        # All components read out in one pass (the CIC stencil is computed once).
        fields = np.empty((len(self.shape), *self.shape))
        for axis in range(len(self.shape)):
            fields[axis] = fft.irfftn(potential_k * ik[axis], self.shape)
        del potential_k
        return mesh.readout(fields, x, self.box_size)


def time_stages(a_start: float, a_final: float, steps: int) -> np.ndarray:
    """The ``steps + 1`` scale factors of the force evaluations, linear in ``a`` (FastPM)."""
    return np.linspace(a_start, a_final, steps + 1)


def leapfrog(
    x: np.ndarray,
    p: np.ndarray,
    background: Background,
    force: Callable[[np.ndarray], np.ndarray],
    stages: np.ndarray,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Kick-drift-kick from ``stages[0]`` to ``stages[-1]``; ``x`` and ``p`` are updated in place.

    Each step ``a0 -> a1`` kicks to ``ah = sqrt(a0 a1)`` with the force at ``a0``, drifts to
    ``a1`` with the momentum at ``ah``, computes the force at ``a1`` and kicks to ``a1``
    (the FastPM leapfrog).

    Parameters
    ----------
    x, p : ndarray, shape (N, d)
        Positions (Mpc/h, not necessarily wrapped) and momenta at ``stages[0]``.
    force : callable
        ``force(x) -> F`` of shape (N, d), e.g. :meth:`ForceMesh.accelerations`.
    progress : callable, optional
        ``progress(done, total)`` after each step.

    Returns
    -------
    x, p : ndarray, shape (N, d)
        At ``stages[-1]`` (the same arrays).
    """
    steps = len(stages) - 1
    f = force(x)
    for i in range(steps):
        a0, a1 = float(stages[i]), float(stages[i + 1])
        ah = float(np.sqrt(a0 * a1))
        p += f * background.kick_factor(a0, a0, ah)
        x += p * background.drift_factor(a0, ah, a1)
        f = force(x)
        p += f * background.kick_factor(ah, a1, a1)
        if progress is not None:
            progress(i + 1, steps)
    return x, p
