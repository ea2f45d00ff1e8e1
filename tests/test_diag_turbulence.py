"""Tests of surrogates.diagnostics.turbulence against analytic velocity fields."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from surrogates import DataError
from surrogates.diagnostics import (
    dissipation,
    energy_spectrum,
    enstrophy,
    gradient_statistics,
    structure_functions,
)

L = 2 * np.pi


def _grid(n, d=3):
    x = (np.arange(n) + 0.5) * L / n
    return np.meshgrid(*([x] * d), indexing="ij")


def _taylor_green(n):
    """u = sin x cos y cos z, v = -cos x sin y cos z, w = 0 (incompressible)."""
    x, y, z = _grid(n)
    u = np.sin(x) * np.cos(y) * np.cos(z)
    v = -np.cos(x) * np.sin(y) * np.cos(z)
    return u, v, np.zeros_like(u)


@pytest.mark.parametrize("shape, box", [((16, 12, 10), (1.0, 2.0, 3.0)), ((15, 8), (2.0, 1.0))])
def test_energy_spectrum_sums_to_kinetic_energy(shape, box):
    # Parseval: sum_k E(k) == 0.5 <|u|^2> to round-off (rtol 1e-12), mean flow included
    # in shell 0; random fields on anisotropic boxes, odd and even sizes.
    rng = np.random.default_rng(0)
    comps = [rng.normal(loc=0.3, size=shape) for _ in shape]
    ds = (
        energy_spectrum(*comps, box_size=box)
        if len(shape) == 3
        else energy_spectrum(comps[0], comps[1], box_size=box)
    )
    kinetic = 0.5 * np.mean(sum(c**2 for c in comps))
    assert float(ds.energy.sum()) == pytest.approx(kinetic, rel=1e-12)
    assert float(ds.energy[0]) == pytest.approx(0.5 * sum(c.mean() ** 2 for c in comps), rel=1e-12)
    assert ds.n_modes.sum() == np.prod(shape)


def test_taylor_green_energy_shell():
    # Taylor-Green has all its energy, 0.5 <u^2 + v^2> = 1/8, in the modes |k| = sqrt(3).
    ds = energy_spectrum(*_taylor_green(16), box_size=L)
    assert float(ds.energy.sel(k=2.0)) == pytest.approx(0.125, rel=1e-12)
    assert float(ds.energy.sum()) == pytest.approx(0.125, rel=1e-12)


def test_taylor_green_dissipation_and_enstrophy():
    # Analytic at t = 0: <s_ij s_ij> = 3/8, so epsilon = 2 nu 3/8 = 3 nu / 4, and
    # 0.5 <|omega|^2> = 3/8. Spectral derivatives are exact (rtol 1e-12). Periodic central
    # differences turn d/dx of a k = 1 mode into sin(h)/h times it, so the FD value is
    # 3 nu / 4 (sin h / h)^2 exactly (h = 2 pi / n). With "wall" boundaries the one-sided
    # second-order end stencils add an O(h^2) error: within 3% here.
    nu, n = 0.013, 24
    u, v, w = _taylor_green(n)
    h = L / n
    assert dissipation(u, v, w, L, nu=nu) == pytest.approx(0.75 * nu, rel=1e-12)
    assert enstrophy(u, v, w, L) == pytest.approx(0.375, rel=1e-12)
    fd = dissipation(u, v, w, L, nu=nu, method="fd")
    assert fd == pytest.approx(0.75 * nu * (np.sin(h) / h) ** 2, rel=1e-12)
    wall = dissipation(u, v, w, L, nu=nu, boundary="wall")
    assert wall == pytest.approx(0.75 * nu, rel=0.03)
    assert wall != pytest.approx(0.75 * nu, rel=1e-6)


def test_structure_functions_of_sinusoids():
    # u_i = sin x_i + a sin 2 x_i: du = A cos t + B cos 2t with A = 2 sin(r/2), B = 2a sin r,
    # so S2 = (A^2 + B^2) / 2 and S3 = 3 A^2 B / 4 (averages of cosine products); exact
    # on the grid up to round-off (1e-12), for lags r = 1..n/2 cells.
    a, n = 0.3, 32
    x, y, z = _grid(n)
    ds = structure_functions(
        np.sin(x) + a * np.sin(2 * x),
        np.sin(y) + a * np.sin(2 * y),
        np.sin(z) + a * np.sin(2 * z),
        L,
        orders=(2, 3),
    )
    r = ds.r.values
    big_a, big_b = 2 * np.sin(r / 2), 2 * a * np.sin(r)
    np.testing.assert_allclose(r, np.arange(1, n // 2 + 1) * L / n)
    np.testing.assert_allclose(ds.S2, (big_a**2 + big_b**2) / 2, atol=1e-12)
    np.testing.assert_allclose(ds.S3, 0.75 * big_a**2 * big_b, atol=1e-12)
    one_axis = structure_functions(np.sin(x), np.zeros_like(x), np.zeros_like(x), L, axes=(0,))
    np.testing.assert_allclose(one_axis.S2, 2 * np.sin(one_axis.r / 2) ** 2, atol=1e-12)


def test_gradient_statistics_of_two_mode_field():
    # du/dx = cos x + 2a cos 2x: <A^2> = 1/2 + 2 a^2, <A^3> = 3 (2a) / 4; skewness =
    # <A^3> / <A^2>^1.5 exactly with spectral derivatives. Flatness of cos x alone is
    # <cos^4> / <cos^2>^2 = (3/8) / (1/4) = 1.5.
    a, n = 0.3, 32
    x, y, z = _grid(n)
    ds = gradient_statistics(
        np.sin(x) + a * np.sin(2 * x),
        np.sin(y) + a * np.sin(2 * y),
        np.sin(z) + a * np.sin(2 * z),
        L,
    )
    m2, m3 = 0.5 + 2 * a**2, 0.75 * 2 * a
    assert float(ds.skewness) == pytest.approx(m3 / m2**1.5, rel=1e-10)
    assert float(ds.longitudinal_variance) == pytest.approx(m2, rel=1e-12)
    flat = gradient_statistics(np.sin(x), np.sin(y), np.sin(z), L)
    assert float(flat.flatness) == pytest.approx(1.5, rel=1e-10)
    assert np.isnan(float(flat.transverse_flatness))  # no transverse gradients at all


def test_xarray_input_with_time_dimension():
    # The box is read from the coordinates, the time dim is kept: epsilon scales with the
    # amplitude squared (1 and 4 times 3 nu / 4).
    n = 12
    u, v, w = _taylor_green(n)
    x = (np.arange(n) + 0.5) * L / n
    coords = {"time": [0.0, 1.0], "x": x, "y": x, "z": x}

    def wrap(c):
        return xr.DataArray(np.stack([c, 2 * c]), dims=("time", "x", "y", "z"), coords=coords)

    eps = dissipation(wrap(u), wrap(v), wrap(w), nu=1.0)
    assert eps.dims == ("time",)
    np.testing.assert_allclose(eps, [0.75, 3.0], rtol=1e-12)
    spec = energy_spectrum(wrap(u), wrap(v), wrap(w))
    np.testing.assert_allclose(spec.energy.sum("k"), [0.125, 0.5], rtol=1e-12)


def test_turbulence_errors():
    u = np.zeros((8, 8, 8))
    with pytest.raises(DataError, match="got 2 components for a 3D grid"):
        dissipation(u, u, box_size=1.0, nu=1.0)
    with pytest.raises(DataError, match="boundary: got 'slip'"):
        dissipation(u, u, u, 1.0, nu=1.0, boundary="slip")
    with pytest.raises(DataError, match="method='spectral' needs periodic axes"):
        enstrophy(u, u, u, 1.0, boundary=("periodic", "wall", "periodic"), method="spectral")
    with pytest.raises(DataError, match="must be valid axes with one spacing"):
        structure_functions(u, u, u, (1.0, 2.0, 1.0))
