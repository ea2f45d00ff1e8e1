"""Background, growth and linear power spectrum of the particle-mesh solver."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate

from surrogates.errors import DataError, ModelError
from surrogates.solvers.pm.cosmology import Background
from surrogates.solvers.pm.linear import (
    eisenstein_hu_nowiggle,
    eisenstein_hu_power,
    read_power_table,
)


def _growth_quad(omega_m: float, a: float) -> float:
    # Heath (1977): D ∝ E(a) ∫_0^a da' / (a' E(a'))^3 for matter + Λ, by adaptive quadrature.
    bg = Background(omega_m)
    integral, _ = scipy.integrate.quad(
        lambda x: (x * bg.E(x)) ** -3 if x > 0 else 0.0, 0.0, a, epsabs=0, epsrel=1e-13
    )
    return float(bg.E(a)) * integral


@pytest.mark.parametrize("omega_m", [0.2, 0.3, 0.4, 1.0])
def test_growth_matches_quadrature(omega_m):
    # Reference: the integral solution by scipy quad; tolerance 1e-6 (achieved ~1e-12).
    bg = Background(omega_m)
    today = _growth_quad(omega_m, 1.0)
    for a in (0.02, 0.1, 0.5, 1.0, 2.0):
        assert bg.D(a) == pytest.approx(_growth_quad(omega_m, a) / today, rel=1e-6)


def test_growth_rate_and_derivatives():
    bg = Background(0.3)
    a = np.array([0.05, 0.1, 0.3, 0.7, 1.0, 1.5])
    eps = 1e-5
    # f = dlnD/dlna vs a central difference (truncation ~eps^2): tolerance 1e-6.
    numeric = (np.log(bg.D(a * np.exp(eps))) - np.log(bg.D(a * np.exp(-eps)))) / (2 * eps)
    np.testing.assert_allclose(bg.f(a), numeric, rtol=1e-6)
    # f ≈ Ω_m(a)^0.55 (Linder 2005, PRD 72:043529: a fit good to ~0.6% for a <= 1).
    np.testing.assert_allclose(bg.f(a[:-1]), bg.Omega_m_of_a(a[:-1]) ** 0.55, rtol=1e-2)
    numeric_d2 = (bg.D2(a * (1 + eps)) - bg.D2(a * (1 - eps))) / (2 * eps * a)
    np.testing.assert_allclose(bg.dD2_da(a), numeric_d2, rtol=1e-6)
    # gf is dGf/da (the growth ODE), checked by differencing Gf.
    numeric_gf = (bg.Gf(a * (1 + eps)) - bg.Gf(a * (1 - eps))) / (2 * eps * a)
    np.testing.assert_allclose(bg.gf(a), numeric_gf, rtol=1e-6)


def test_growth_against_colossus_values():
    # Independent reference: colossus 1.4.0 (Diemer 2018) growthFactor(z) for flat ΛCDM
    # Ω_m = 0.3 without radiation at z = 0.5, 1, 3 (its own interpolation is good to ~3e-5:
    # it returns 0.99997 at z = 0).
    bg = Background(0.3)
    a = 1.0 / (1.0 + np.array([0.5, 1.0, 3.0]))
    np.testing.assert_allclose(bg.D(a), [0.77318775, 0.61181664, 0.3188407], rtol=3e-5)


def test_second_order_growth():
    # Einstein-de Sitter: D = a and D2 = -3/7 a^2 exactly (Bouchet et al. 1995).
    eds = Background(1.0)
    a = np.array([0.1, 0.5, 1.0])
    np.testing.assert_allclose(eds.D(a), a, rtol=1e-12)
    np.testing.assert_allclose(eds.D2(a), -3 / 7 * a**2, rtol=1e-8)
    np.testing.assert_allclose(eds.dD2_da(a), -6 / 7 * a, rtol=1e-8)
    # ΛCDM: D2 ≈ -3/7 D^2 Ω_m(a)^(-1/143) (Bouchet et al. 1995 fit, good to ~0.2%).
    bg = Background(0.3)
    a = np.array([0.1, 0.5, 1.0])
    fit = -3 / 7 * bg.D(a) ** 2 * bg.Omega_m_of_a(a) ** (-1 / 143)
    np.testing.assert_allclose(bg.D2(a), fit, rtol=2e-3)


def test_fastpm_factors_are_exact_for_linear_motion():
    # Feng et al. 2016 eqs. 15-20: for x = D Ψ, p = Gf Ψ and F = 3/2 Ω_m D Ψ one drift and
    # one kick move (x, p) exactly along the growing mode, for any step (round-off only).
    bg = Background(0.25)
    ai, ac, af = 0.1, 0.35, 0.9
    p_c = float(bg.Gf(ac))
    assert bg.D(ai) + p_c * bg.drift_factor(ai, ac, af) == pytest.approx(bg.D(af), rel=1e-12)
    force = 1.5 * bg.Omega_m * float(bg.D(ac))
    assert bg.Gf(ai) + force * bg.kick_factor(ai, ac, af) == pytest.approx(bg.Gf(af), rel=1e-12)


def test_background_errors():
    with pytest.raises(ModelError, match="Omega_m must be in"):
        Background(1.5)
    with pytest.raises(ModelError, match="scale factor must be in"):
        Background(0.3).D2(10.0)


def test_eisenstein_hu_against_colossus():
    # Independent implementation: colossus 1.4.0 modelEisenstein98ZeroBaryon (EH98 eqs.
    # 26-31) for h = 0.7, Ω_m = 0.3, Ω_b = 0.049, T_cmb = 2.7255 K; same formula, so 1e-8.
    k = np.array([1e-3, 1e-2, 0.1, 1.0, 10.0])
    reference = [9.92073687e-01, 7.86141372e-01, 1.31992336e-01, 4.59154801e-03, 8.75077279e-05]
    np.testing.assert_allclose(eisenstein_hu_nowiggle(k, 0.3, 0.049, 0.7), reference, rtol=1e-8)
    assert eisenstein_hu_nowiggle(1e-6, 0.3, 0.049, 0.7) == pytest.approx(1.0, abs=1e-5)


def test_sigma8_normalisation():
    power = eisenstein_hu_power(0.3, 0.049, 0.7, 0.96, 0.8)
    # The table is normalised by our Simpson integral; check it against scipy quad (1e-6).
    radius = 8.0

    def integrand(lnk):
        k = np.exp(lnk)
        x = k * radius
        w = 3 * (np.sin(x) - x * np.cos(x)) / x**3
        return k**3 * power(k) * w * w / (2 * np.pi**2)

    variance, _ = scipy.integrate.quad(integrand, np.log(1e-5), np.log(1e3), limit=2000)
    assert np.sqrt(variance) == pytest.approx(0.8, rel=1e-6)
    # colossus 1.4.0 matterPowerSpectrum(model="eisenstein98_zb", sigma8=0.8, ns=0.96): its
    # own σ8 integration differs by ~1e-5, hence 1e-4.
    k = np.array([1e-3, 1e-2, 0.1, 1.0])
    reference = [3.82548050e03, 2.19079512e04, 5.63242638e03, 6.21607654e01]
    np.testing.assert_allclose(power(k), reference, rtol=1e-4)


def test_power_table(tmp_path):
    reference = eisenstein_hu_power(0.3, 0.049, 0.7, 0.96, 0.8)
    k = np.geomspace(1e-4, 50.0, 600)
    path = tmp_path / "pk.txt"
    np.savetxt(path, np.column_stack([k, 3.0 * reference(k)]), header="k P")
    table = read_power_table(path).normalised(0.8)
    # Rescaled to σ8 = 0.8 it is the EH spectrum again (interpolation error of the table).
    np.testing.assert_allclose(table(np.array([0.01, 0.1, 1.0])), reference([0.01, 0.1, 1.0]),
                               rtol=1e-4)  # fmt: skip
    with pytest.raises(DataError, match=r"P\(k\) needed for k in \[0.01, 100\]"):
        table(np.array([0.01, 100.0]))


def test_power_table_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0.1 1 2\n0.2 1 2\n")
    with pytest.raises(DataError, match="bad.txt: expected two columns"):
        read_power_table(bad)
    bad.write_text("0.2 1\n0.1 1\n")
    with pytest.raises(DataError, match="k must be strictly increasing"):
        read_power_table(bad)
    bad.write_text("0.1 -1\n0.2 1\n")
    with pytest.raises(DataError, match="must be finite and positive"):
        read_power_table(bad)
    bad.write_text("0.01 1\n0.2 1\n")
    with pytest.raises(DataError, match="cannot normalise to sigma8"):
        read_power_table(bad).normalised(0.8)
    with pytest.raises(DataError, match="cannot read power spectrum table"):
        read_power_table(tmp_path / "missing.txt")
