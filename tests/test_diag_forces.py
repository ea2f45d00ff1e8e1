"""Tests of surrogates.diagnostics.forces: body forces, coefficients, Strouhal number."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from surrogates import DataError
from surrogates.diagnostics import force_coefficients, strouhal


def _centres(shape, spacing, origin=0.0):
    axes = [origin + (np.arange(n) + 0.5) * h for n, h in zip(shape, spacing, strict=True)]
    return np.meshgrid(*axes, indexing="ij")


def test_uniform_flow_gives_zero_force():
    # A uniform stream at uniform pressure exerts no net force: the closed staircase
    # surface integral of a constant pressure cancels (inviscid: no-slip is not imposed),
    # and the control-volume momentum fluxes in and out cancel (any viscosity, no
    # gradients). Tolerance: round-off.
    shape = (40, 30)
    mask = np.zeros(shape, bool)
    mask[10:18, 12:17] = True
    mask[25:28, 3:9] = True
    u, v, p = np.full(shape, 1.7), np.full(shape, -0.4), np.full(shape, 3.0)
    surf = force_coefficients(p, u, v, box_size=(4.0, 3.0), mask=mask, velocity=1.7, nu=0.0)
    cv = force_coefficients(
        p, u, v, box_size=(4.0, 3.0), mask=mask, velocity=1.7, nu=0.1, method="control_volume"
    )
    assert surf.sizes["body"] == 2
    np.testing.assert_allclose(surf.force, 0.0, atol=1e-12)
    np.testing.assert_allclose(cv.force, 0.0, atol=1e-12)


@pytest.mark.parametrize("ndim", [2, 3])
def test_linear_pressure_gives_archimedes_force(ndim):
    # Archimedes: in a fluid at rest with p = g . x the force on a body is -V grad p
    # (V: volume of the solid cells; area per unit depth in 2D). The wall pressure is
    # extrapolated linearly, exact for a linear p: tolerance round-off.
    shape, spacing = (24, 20, 16)[:ndim], (0.1, 0.2, 0.15)[:ndim]
    grad = np.array([2.0, -3.0, 0.5])[:ndim]
    coords = _centres(shape, spacing)
    p = sum(g * c for g, c in zip(grad, coords, strict=True))
    mask = np.zeros(shape, bool)
    mask[(slice(5, 11), slice(4, 9), slice(3, 7))[:ndim]] = True
    mask[(slice(15, 20), slice(12, 15), slice(9, 13))[:ndim]] = True
    zero = [np.zeros(shape)] * ndim
    ds = force_coefficients(
        p, *zero, box_size=np.multiply(shape, spacing), mask=mask, velocity=2.0, rho=1.5, nu=0.01
    )
    volumes = np.array([6 * 5 * 4, 5 * 3 * 4]) if ndim == 3 else np.array([6 * 5, 5 * 3])
    volumes = volumes * np.prod(spacing)
    np.testing.assert_allclose(ds.force, -volumes[:, None] * grad[None, :], rtol=1e-12)
    # C = 2 F / (rho U^2 A) with A = projected extent across x (2D) / frontal area (3D)
    ref = (
        np.array([5 * 4, 3 * 4]) * spacing[1] * spacing[2]
        if ndim == 3
        else (np.array([5, 3]) * spacing[1])
    )
    np.testing.assert_allclose(ds.reference, ref)
    np.testing.assert_allclose(ds.C_D, 2 * ds.force.sel(component="x") / (1.5 * 4.0 * ref))
    np.testing.assert_allclose(ds.C_L, 2 * ds.force.sel(component="y") / (1.5 * 4.0 * ref))
    if ndim == 3:  # the side force: the third axis
        np.testing.assert_allclose(ds.C_S, 2 * ds.force.sel(component="z") / (1.5 * 4.0 * ref))
        swapped = force_coefficients(
            p, *zero, box_size=np.multiply(shape, spacing), mask=mask, velocity=2.0, rho=1.5,
            nu=0.01, lift_axis=2,
        )  # fmt: skip
        np.testing.assert_allclose(swapped.C_L, ds.C_S)
        np.testing.assert_allclose(swapped.C_S, ds.C_L)
    else:
        assert "C_S" not in ds


def _poiseuille(nx, ny_fluid, hx, hy, mu, speed):
    """Channel with walls (2 solid rows each side) at y = +-h: u = U (1 - y^2 / h^2),
    dp/dx = -2 mu U / h^2 (an exact steady Navier-Stokes solution)."""
    h = 0.5 * ny_fluid * hy
    y = (np.arange(-2, ny_fluid + 2) + 0.5) * hy - h
    walls = np.zeros((nx, ny_fluid + 4), bool)
    walls[:, :2] = walls[:, -2:] = True
    u = np.where(walls, 0.0, speed * (1 - y**2 / h**2)[None, :].repeat(nx, 0))
    x = (np.arange(nx) + 0.5) * hx
    p = np.broadcast_to((-2 * mu * speed / h**2 * x)[:, None], walls.shape).copy()
    return u, p, walls, h


def test_poiseuille_wall_shear_is_exact():
    # Plane Poiseuille flow: wall shear tau_w = 2 mu U / h on each wall, along the flow.
    # The one-sided second-order stencil (9 u1 - u2) / (3 H) is exact for the parabola, so
    # the x force on each wall is tau_w times its length to round-off.
    nx, ny, hx, hy, mu, speed = 20, 16, 0.05, 0.1, 0.02, 1.5
    u, p, walls, h = _poiseuille(nx, ny, hx, hy, mu, speed)
    box = (nx * hx, walls.shape[1] * hy)
    ds = force_coefficients(p, u, np.zeros_like(u), box_size=box, mask=walls, velocity=speed, mu=mu)
    np.testing.assert_allclose(
        ds.force.sel(component="x"), 2 * mu * speed / h * nx * hx, rtol=1e-12
    )
    assert bool(ds.touches_boundary.all())


def test_control_volume_balance_in_poiseuille_flow():
    # The control-volume estimate is a property of the field on the box surface. Around a
    # marker cell inside an exact body-free Poiseuille flow the pressure drop balances the
    # shear on the top and bottom faces: zero force (round-off; np.gradient and the
    # trapezoid rule are exact for these polynomials, the u^2 fluxes cancel in and out).
    # With the viscosity doubled but the same pressure, the shear term alone changes by
    # mu (u'(y2) - u'(y1)) L = -2 mu U L (y2 - y1) / h^2 (analytic).
    nx, ny, hx, hy, mu, speed = 24, 20, 0.05, 0.1, 0.02, 1.5
    u, p, walls, h = _poiseuille(nx, ny, hx, hy, mu, speed)
    marker = np.zeros_like(walls)
    marker[10:12, 9:12] = True
    box = (nx * hx, walls.shape[1] * hy)
    kw = {
        "box_size": box,
        "mask": marker,
        "velocity": speed,
        "method": "control_volume",
        "margin": 3,
    }
    zero = np.zeros_like(u)
    balanced = force_coefficients(p, u, zero, mu=mu, **kw)
    np.testing.assert_allclose(balanced.force, 0.0, atol=1e-12)
    doubled = force_coefficients(p, u, zero, mu=2 * mu, **kw)
    length, height = (14 - 7) * hx, (14 - 6) * hy  # cell-centre planes x 7..14, y 6..14
    expected = -2 * mu * speed * length * height / h**2
    np.testing.assert_allclose(doubled.force.sel(component="x"), expected, rtol=1e-10)
    np.testing.assert_allclose(doubled.force.sel(component="y"), 0.0, atol=1e-12)


def test_kutta_joukowski_lift_by_control_volume():
    # Potential flow past a cylinder (radius a) with circulation Gamma, Bernoulli
    # pressure, inviscid: Kutta-Joukowski lift per unit depth -rho U Gamma (Gamma counter-
    # clockwise), d'Alembert zero drag, for any contour around the body. Trapezoidal
    # quadrature on a grid of a / 20: within 1e-3 relative; the staircase surface
    # integral of the same field within 2%.
    n, half, a, speed, gamma, rho = 160, 4.0, 1.0, 1.2, 2.0, 1.1
    x, y = _centres((n, n), (2 * half / n,) * 2, origin=-half)
    z = x + 1j * y
    dw = speed * (1 - a**2 / z**2) - 1j * gamma / (2 * np.pi * z)  # u - i v
    u, v = dw.real, -dw.imag
    p = 0.5 * rho * (speed**2 - u**2 - v**2)
    mask = np.abs(z) < a
    for f in (u, v, p):
        f[mask] = 0.0
    lift = -rho * speed * gamma
    for margin in (3, 15):
        cv = force_coefficients(
            p,
            u,
            v,
            box_size=2 * half,
            mask=mask,
            velocity=speed,
            rho=rho,
            nu=0.0,
            method="control_volume",
            margin=margin,
        )
        assert float(cv.force.sel(component="y", body=1)) == pytest.approx(lift, rel=1e-3)
        assert abs(float(cv.force.sel(component="x", body=1))) < 1e-3 * abs(lift)
    surf = force_coefficients(
        p, u, v, box_size=2 * half, mask=mask, velocity=speed, rho=rho, nu=0.0
    )
    assert float(surf.force.sel(component="y", body=1)) == pytest.approx(lift, rel=0.02)
    # C_L = 2 F_y / (rho U^2 D) with D = 2a up to the staircase: 40 cells of a / 20.
    assert float(surf.reference.sel(body=1)) == pytest.approx(2 * a, rel=0.05)


def test_xarray_fields_with_time():
    # Coordinates give the spacing; the time dim is kept (force doubles with pressure).
    shape = (12, 10)
    x, y = _centres(shape, (0.5, 0.5))
    mask = np.zeros(shape, bool)
    mask[4:8, 3:6] = True
    coords = {"time": [0, 1], "x": x[:, 0], "y": y[0]}
    p = xr.DataArray(np.stack([x, 2 * x]), dims=("time", "x", "y"), coords=coords)
    zero = xr.zeros_like(p)
    ds = force_coefficients(p, zero, zero, mask=mask, velocity=1.0, nu=0.0)
    np.testing.assert_allclose(ds.force.sel(component="x", body=1), [-3.0, -6.0], rtol=1e-12)


def test_strouhal_of_synthetic_sinusoid():
    # A sinusoid of frequency 1.37 (plus a linear drift and noise) sampled for 41.1
    # periods: peak interpolation recovers f within 0.5%, so St = f D / U = 0.2 * 1.37 / 1.5.
    t = np.arange(3000) * 0.01
    rng = np.random.default_rng(0)
    signal = 0.8 * np.sin(2 * np.pi * 1.37 * t + 0.4) + 0.05 * t + 0.05 * rng.normal(size=t.size)
    assert strouhal(signal, 0.01, diameter=0.2, velocity=1.5) == pytest.approx(
        0.2 * 1.37 / 1.5, rel=5e-3
    )
    with pytest.raises(DataError, match="at least 2 periods"):
        strouhal(np.sin(2 * np.pi * 0.02 * t), 0.01, 1.0, 1.0)  # 0.6 periods


def test_force_errors():
    shape = (8, 8)
    z = np.zeros(shape)
    mask = np.zeros(shape, bool)
    with pytest.raises(DataError, match="exactly one of nu or mu"):
        force_coefficients(z, z, z, box_size=1.0, mask=mask, velocity=1.0)
    with pytest.raises(DataError, match="mask has no solid cells"):
        force_coefficients(z, z, z, box_size=1.0, mask=mask, velocity=1.0, nu=0.1)
    mask[2:4, 2:4] = True
    with pytest.raises(DataError, match=r"mask shape \(8, 6\) for grid \(8, 8\)"):
        force_coefficients(z, z, z, box_size=1.0, mask=mask[:, :6], velocity=1.0, nu=0.1)
    with pytest.raises(DataError, match="got 1 velocity components"):
        force_coefficients(z, z, None, box_size=1.0, mask=mask, velocity=1.0, nu=0.1)
    with pytest.raises(DataError, match="u_z: got a scalar"):
        force_coefficients(z, z, z, 1.0, mask=mask, velocity=1.0, nu=0.1)
    with pytest.raises(DataError, match="method: got 'pressure'"):
        force_coefficients(
            z, z, z, box_size=1.0, mask=mask, velocity=1.0, nu=0.1, method="pressure"
        )
