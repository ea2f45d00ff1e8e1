"""Initial conditions of the particle-mesh solver: a Gaussian random field from an integer
seed, its Zel'dovich displacement Ψ1 and the second-order (2LPT) displacement Ψ2.

Conventions (Scoccimarro 1998, MNRAS 299:1097; Bouchet et al. 1995): a particle at the
Lagrangian position ``q`` moves to ``x = q + D(a) Ψ1(q) + D2(a) Ψ2(q)`` with
``∇·Ψ1 = -δ_L`` and ``Ψ2 = ∇φ2``, ``∇²φ2 = Σ_{i<j} (φ_ii φ_jj - φ_ij²)``, where
``∇²φ = δ_L`` and ``D2 ≈ -3/7 D²``. Fields are at ``a = 1`` (the linear density of
:mod:`.linear` today). Spectral derivatives ``ik`` have the Nyquist planes zeroed.

Fields live on an ``n**d`` grid of side ``L`` (the Lagrangian lattice of the particles) in
any dimension ``d``; Fourier arrays are on the rfft grid of :mod:`surrogates.ops.fft`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np

from surrogates.ops import fft

__all__ = ["white_noise", "linear_field_k", "grad_inverse_laplacian", "zeldovich", "second_order"]


def white_noise(n: int, seed: int, ndim: int = 3) -> np.ndarray:
    """Unit-variance Gaussian white noise of shape ``(n,) * ndim`` from ``seed`` (PCG64)."""
    return np.random.default_rng(seed).standard_normal((n,) * ndim)


def linear_field_k(
    noise: np.ndarray, box_size: float, power: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Fourier modes of the linear density, ``δ_k = FFT(noise) sqrt(P(k) n^d / V)``.

    With the unnormalised FFT, ``<|δ_k|²> = n^{2d} P(k) / V`` (the estimator used by
    power-spectrum codes); real noise makes the field Hermitian. ``δ_k(0) = 0``.

    Parameters
    ----------
    noise : ndarray, shape (n,) * d
        White noise from :func:`white_noise`.
    box_size : float
        Box side (Mpc/h).
    power : callable
        ``P(k)`` with ``k`` in h/Mpc, (Mpc/h)^3.

    Returns
    -------
    ndarray, complex, shape (n,) * (d - 1) + (n // 2 + 1,)
    """
    shape = noise.shape
    kmag = fft.wavenumber_magnitude(shape, box_size)
    amplitude = np.sqrt(power(kmag) * np.prod(shape) / float(box_size) ** len(shape))
    delta_k = fft.rfftn(noise) * amplitude
    delta_k.flat[0] = 0.0
    return delta_k


def grad_inverse_laplacian(
    field_k: np.ndarray, shape: Sequence[int], box_size: float, axis: int
) -> np.ndarray:
    """``-∂_axis ∇^{-2} f`` in real space: ``IFFT[i k_axis f_k / k²]`` (zero mean, Nyquist zeroed).

    Applied to ``δ_L`` this is the Zel'dovich displacement component; applied to
    ``3/2 Ω_m δ`` it is the gravitational acceleration ``-∇φ``.

    Returns
    -------
    ndarray, float64, shape ``shape``
    """
    ks = fft.wavenumbers(shape, box_size)
    k2 = sum(k * k for k in ks)
    k2.flat[0] = 1.0  # the mean mode has k_axis = 0 anyway
    kernel = (1j * ks[axis] / k2) * fft.nyquist_mask(shape)
    return fft.irfftn(field_k * kernel, shape)


def zeldovich(delta_k: np.ndarray, shape: Sequence[int], box_size: float) -> np.ndarray:
    """Zel'dovich displacement ``Ψ1`` (Mpc/h at D = 1), shape ``(d, *shape)``."""
    return np.stack(
        [grad_inverse_laplacian(delta_k, shape, box_size, i) for i in range(len(shape))]
    )


def second_order(delta_k: np.ndarray, shape: Sequence[int], box_size: float) -> np.ndarray:
    """Second-order displacement ``Ψ2 = ∇φ2`` (Mpc/h, multiplied by ``D2``), shape ``(d, *shape)``.

    The source ``Σ_{i<j} (φ_ii φ_jj - φ_ij²)`` is built from the Hessian of ``φ = ∇^{-2} δ``
    (``φ_ij = IFFT[k_i k_j δ_k / k²]``); ``∇φ2 = -grad_inverse_laplacian(source)``.
    """
    d = len(shape)
    ks = fft.wavenumbers(shape, box_size)
    k2 = sum(k * k for k in ks)
    k2.flat[0] = 1.0
    phi_k = delta_k / k2 * fft.nyquist_mask(shape)  # -(true φ_k); signs cancel in products

    def hessian(i: int, j: int) -> np.ndarray:
        return fft.irfftn(phi_k * (ks[i] * ks[j]), shape)

    diagonal = [hessian(i, i) for i in range(d)]
    source = np.zeros(tuple(shape))
    for i, j in combinations(range(d), 2):
        source += diagonal[i] * diagonal[j] - hessian(i, j) ** 2
    del diagonal
    source_k = fft.rfftn(source)
    return np.stack([-grad_inverse_laplacian(source_k, shape, box_size, i) for i in range(d)])
