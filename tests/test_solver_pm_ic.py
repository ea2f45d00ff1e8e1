"""Initial conditions of the particle-mesh solver: Gaussian field, ZA and 2LPT displacements."""

from __future__ import annotations

import numpy as np
import pytest

from surrogates.ops import fft
from surrogates.solvers.pm import ic
from surrogates.solvers.pm.linear import eisenstein_hu_power


def binned_power(a_k, b_k, shape, box, expected=None):
    """Shell averages (width k_F, nearest integer |k|/k_F) of Re(a b*) V / n^(2d) over the
    full k-grid (rfft half-plane modes counted twice); bins 1 .. n/2 - 1."""
    kmag = fft.wavenumber_magnitude(shape, box)
    weight = np.full(a_k.shape, 2.0)
    weight[..., 0] = 1.0
    if shape[-1] % 2 == 0:
        weight[..., -1] = 1.0
    index = np.floor(kmag / (2 * np.pi / box) + 0.5).astype(int)
    nbin = shape[0] // 2
    keep = (index > 0) & (index < nbin)
    idx, w = index[keep], weight[keep]
    counts = np.bincount(idx, w, nbin)[1:]
    cross = (a_k * b_k.conj()).real[keep] * w
    power = np.bincount(idx, cross, nbin)[1:] / counts * box ** len(shape) / np.prod(shape) ** 2
    k_mean = np.bincount(idx, kmag[keep] * w, nbin)[1:] / counts
    if expected is None:
        return k_mean, power, counts
    return k_mean, power, counts, np.bincount(idx, expected[keep] * w, nbin)[1:] / counts


def test_white_noise_is_deterministic():
    a, b = ic.white_noise(8, seed=5), ic.white_noise(8, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, ic.white_noise(8, seed=6))
    assert ic.white_noise(4, seed=1, ndim=2).shape == (4, 4)


@pytest.mark.parametrize("seed", [0, 1])
def test_initial_power_matches_input_within_cosmic_variance(seed):
    # Each bin's estimate of P averages N/2 independent complex Gaussian modes (N counted on
    # the full grid), so sigma_P = <P> sqrt(2 / N) and chi^2/dof has mean 1 and standard
    # deviation sqrt(2/dof); accept within 4 standard deviations.
    n, box = 32, 200.0
    power = eisenstein_hu_power(0.3, 0.049, 0.7, 0.96, 0.8)
    delta_k = ic.linear_field_k(ic.white_noise(n, seed), box, power)
    shape = (n, n, n)
    expected = power(fft.wavenumber_magnitude(shape, box))
    _, measured, counts, mean_p = binned_power(delta_k, delta_k, shape, box, expected)
    chi2 = np.sum(((measured - mean_p) / (mean_p * np.sqrt(2.0 / counts))) ** 2)
    dof = len(counts)
    assert abs(chi2 / dof - 1.0) < 4.0 * np.sqrt(2.0 / dof), (chi2, dof)
    # The real-space field is real with zero mean and the k = 0 mode removed.
    assert delta_k.flat[0] == 0.0


def test_zeldovich_divergence_is_minus_delta():
    # Ψ1 = ∇(-∇^{-2} δ): its spectral divergence is -δ off the Nyquist planes, its curl is 0.
    n, box = 16, 64.0
    shape = (n, n, n)
    delta_k = ic.linear_field_k(
        ic.white_noise(n, 3), box, eisenstein_hu_power(0.3, 0.049, 0.7, 0.96, 0.8)
    )
    psi = ic.zeldovich(delta_k, shape, box)
    assert psi.shape == (3, n, n, n)
    ks = fft.wavenumbers(shape, box)
    psi_k = [fft.rfftn(c) for c in psi]
    mask = fft.nyquist_mask(shape)
    divergence = sum(1j * k * p for k, p in zip(ks, psi_k, strict=True))
    np.testing.assert_allclose(divergence[mask], -delta_k[mask], atol=1e-9 * np.abs(delta_k).max())
    curl_z = 1j * ks[0] * psi_k[1] - 1j * ks[1] * psi_k[0]
    assert np.abs(curl_z).max() < 1e-9 * np.abs(delta_k).max()


def test_second_order_analytic_case():
    # φ = A cos(k x) + B cos(k y) (δ = ∇²φ): the 2LPT source φ_xx φ_yy - φ_xy² is
    # A B k^4 cos(kx) cos(ky), so φ2 = -A B k² / 2 cos(kx) cos(ky) and
    # Ψ2 = ∇φ2 = (A B k³ / 2) (sin kx cos ky, cos kx sin ky, 0)   (exact to round-off).
    n, box = 16, 2 * np.pi
    k, amp_a, amp_b = 2.0, 0.3, -0.7
    axis = (np.arange(n) + 0.5) * box / n
    x, y, _ = np.meshgrid(axis, axis, axis, indexing="ij")
    delta = -(k**2) * (amp_a * np.cos(k * x) + amp_b * np.cos(k * y))
    psi2 = ic.second_order(fft.rfftn(delta), (n, n, n), box)
    scale = amp_a * amp_b * k**3 / 2
    np.testing.assert_allclose(psi2[0], scale * np.sin(k * x) * np.cos(k * y), atol=1e-12)
    np.testing.assert_allclose(psi2[1], scale * np.cos(k * x) * np.sin(k * y), atol=1e-12)
    np.testing.assert_allclose(psi2[2], 0.0, atol=1e-12)
    # In 2D the same code gives the same field (written once for any dimension).
    x2, y2 = np.meshgrid(axis, axis, indexing="ij")
    delta2 = -(k**2) * (amp_a * np.cos(k * x2) + amp_b * np.cos(k * y2))
    np.testing.assert_allclose(
        ic.second_order(fft.rfftn(delta2), (n, n), box)[0], psi2[0][..., 0], atol=1e-12
    )
