"""Tests of surrogates.diagnostics spectra, correlation function and bispectrum."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import torch
import xarray as xr

from surrogates import DataError
from surrogates.diagnostics import (
    bispectrum,
    correlation_function,
    cross_correlation,
    density_contrast,
    power_spectrum,
    transfer_function,
)
from surrogates.ops import mesh


def _mode_radius(shape, box):
    """|k| / k_F on the full FFT grid, k_F = 2 pi / max(L), from integer mode numbers (so
    that |k| on a bin edge is exact, as in the code under test)."""
    ms = np.meshgrid(
        *[np.fft.fftfreq(n, 1.0 / n) * (max(box) / b) for n, b in zip(shape, box, strict=True)],
        indexing="ij",
    )
    return np.sqrt(sum(m**2 for m in ms))


def _hist(x, edges, weights=None):
    """Half-open bins [e_j, e_j+1) (np.histogram closes the last bin)."""
    idx = np.searchsorted(edges, x, side="right") - 1
    ok = (idx >= 0) & (idx < len(edges) - 1)
    w = None if weights is None else weights[ok]
    return np.bincount(idx[ok], weights=w, minlength=len(edges) - 1)


def _full_kmag(shape, box):
    return _mode_radius(shape, box) * 2 * np.pi / max(box)


def _gaussian_field(rng, shape, box, power):
    """Real Gaussian field with <|delta_k|^2> = N^2 P(k) / V (white noise coloured)."""
    n, vol = np.prod(shape), np.prod(box)
    noise_k = np.fft.fftn(rng.normal(size=shape))
    return np.fft.ifftn(noise_k * np.sqrt(power(_full_kmag(shape, box)) * n / vol)).real


def _powerlaw(k):
    with np.errstate(divide="ignore"):
        return np.where(k > 0, 50.0 * (k / 0.5) ** -1.5 * np.exp(-((k / 4.0) ** 2)), 0.0)


@pytest.mark.parametrize(
    "shape, box",
    [((16, 16, 16), 1.0), ((8, 12, 10), (1.0, 2.0, 1.5)), ((9, 7, 5), 3.0), ((12, 9), (2.0, 1.0))],
)
def test_mode_counts_and_parseval(shape, box):
    # Exact: per-bin mode counts equal a histogram of |k| over the *full* FFT grid (no
    # half-plane bookkeeping), they sum to N - 1 (k = 0 excluded), and Parseval gives
    # sum(P * n_modes) / V == variance of the field (round-off, rtol 1e-12).
    rng = np.random.default_rng(3)
    field = rng.normal(size=shape)
    ds = power_spectrum(field, box)
    boxes = np.broadcast_to(box, (len(shape),))
    radius = _mode_radius(shape, boxes).ravel()[1:]
    edges = np.round(np.append(ds.k_lo.values, ds.k_hi.values[-1]) / (2 * np.pi / max(boxes)))
    expected = _hist(radius, edges)
    np.testing.assert_array_equal(ds.n_modes.values, expected[expected > 0])
    assert ds.n_modes.sum() == np.prod(shape) - 1
    total = float((ds.power * ds.n_modes).sum()) / np.prod(boxes)
    assert total == pytest.approx(field.var(), rel=1e-12)
    # default bins are floor(|k| / k_F): edges at integer multiples of k_F = 2 pi / max(L)
    np.testing.assert_allclose(ds.k_lo / (2 * np.pi / max(boxes)), edges[:-1][expected > 0])


def test_gaussian_field_matches_input_spectrum_within_cosmic_variance():
    # Reference: a Gaussian field has Var[P_hat] = P^2 * 2 / N_modes per bin (N_modes
    # counting k and -k). chi^2 over bins of (P_hat - <P>_bin) / sigma must be consistent
    # with its dof: |chi^2/dof - 1| < 4 sqrt(2/dof) (4 sigma).
    rng = np.random.default_rng(11)
    shape, box = (32, 32, 32), (100.0, 100.0, 100.0)
    field = _gaussian_field(rng, shape, box, _powerlaw)
    ds = power_spectrum(field, box, kmax=np.pi * 32 / 100.0)
    kf = 2 * np.pi / 100.0
    radius = _mode_radius(shape, box).ravel()[1:]
    edges = np.round(np.append(ds.k_lo.values, ds.k_hi.values[-1]) / kf)
    counts = _hist(radius, edges)
    mean_p = _hist(radius, edges, weights=_powerlaw(radius * kf)) / counts
    sigma = mean_p * np.sqrt(2.0 / ds.n_modes.values)
    chi2 = np.sum(((ds.power.values - mean_p) / sigma) ** 2)
    dof = ds.sizes["k"]
    assert abs(chi2 / dof - 1) < 4 * np.sqrt(2 / dof), (chi2, dof)


@pytest.mark.parametrize("seed", [0, 1])
def test_cic_compensation_flattens_poisson_shot_noise(seed):
    # Poisson particles have P = V / N_p (shot noise). CIC painting multiplies it by the
    # aliased window sum_n W^2(k + 2 k_N n); after dividing by W^2(k) the residual is
    # 1 - 2/3 sin^2(k H / 2) over sinc^4(k H / 2) per axis <= 1.016 for |k| <= k_N / 2
    # (Jing 2005, ApJ 620, 559, eq. 20). Tolerance per bin: 2% systematic + 4 sigma
    # statistical (sigma = sqrt(2 / N_modes)).
    rng = np.random.default_rng(seed)
    n_part, n_mesh, box = 32768, 32, 1.0
    pos = rng.uniform(0.0, box, size=(n_part, 3))
    delta = density_contrast(mesh.paint(pos, (n_mesh,) * 3, box, scheme="cic"))
    k_half_nyquist = 0.5 * np.pi * n_mesh / box
    shot = box**3 / n_part
    comp = power_spectrum(delta, box, scheme="cic", kmax=k_half_nyquist, shot_noise=shot)
    raw = power_spectrum(delta, box, kmax=k_half_nyquist)
    assert comp.attrs["shot_noise"] == shot
    ratio = comp.power.values / shot
    tol = 0.02 + 4 * np.sqrt(2.0 / comp.n_modes.values)
    assert np.all(np.abs(ratio - 1) < tol), ratio
    # Without compensation the last bin is suppressed by W^2 ~ 0.7 (the test has teeth).
    assert raw.power.values[-1] / shot < 0.85
    assert abs(np.average(ratio, weights=comp.n_modes) - 1) < 0.02


def test_cross_correlation_and_transfer_function():
    # r(k) = 1 and T(k) = 2 exactly for pred = 2 * truth (round-off); r of independent
    # fields scatters around 0 with sigma = 1 / sqrt(N_modes / 2) (4 sigma bound).
    rng = np.random.default_rng(5)
    truth = _gaussian_field(rng, (16, 16, 16), (1.0,) * 3, _powerlaw)
    tf = transfer_function(2.0 * truth, truth, 1.0)
    np.testing.assert_allclose(tf.transfer, 2.0, rtol=1e-12)
    np.testing.assert_allclose(tf.r, 1.0, rtol=1e-12)
    other = rng.normal(size=truth.shape)
    cc = cross_correlation(truth, other, 1.0)
    assert np.all(np.abs(cc.r) < 4 / np.sqrt(cc.n_modes / 2))
    cross = power_spectrum(truth, 1.0, field2=2.0 * truth)
    np.testing.assert_allclose(cross.power, 2.0 * power_spectrum(truth, 1.0).power, rtol=1e-12)


def test_xarray_torch_and_leading_dims():
    # The box is read from the cell-centre coordinates (spacing 0.5 -> L = 8), a leading
    # time dim is kept, units are propagated; torch input gives the numpy result.
    rng = np.random.default_rng(2)
    data = rng.normal(size=(3, 16, 16)).astype(np.float32)
    x = (np.arange(16) + 0.5) * 0.5
    da = xr.DataArray(
        data,
        dims=("time", "x", "y"),
        coords={"time": [0.0, 1.0, 2.0], "x": ("x", x, {"units": "Mpc"}), "y": x},
        attrs={"units": "K"},
    )
    ds = power_spectrum(da)
    assert ds.power.dims == ("time", "k")
    np.testing.assert_array_equal(ds.time, [0.0, 1.0, 2.0])
    assert ds.k.attrs["units"] == "1/(Mpc)"
    assert ds.power.attrs["units"] == "(K)^2 (Mpc)^2"
    ref = power_spectrum(torch.from_numpy(data[1]), 8.0)
    np.testing.assert_allclose(ds.power.isel(time=1), ref.power, rtol=1e-6)


def test_spectra_errors():
    field = np.zeros((8, 8, 8))
    with pytest.raises(DataError, match="box_size is required"):
        power_spectrum(field)
    with pytest.raises(DataError, match="box_size must be one positive value or 3"):
        power_spectrum(field, (1.0, 2.0))
    with pytest.raises(DataError, match=r"field2: got grid shape \(4, 4, 4\)"):
        power_spectrum(field, 1.0, field2=np.zeros((4, 4, 4)))
    with pytest.raises(DataError, match="unknown mass-assignment scheme 'pcs'"):
        power_spectrum(field, 1.0, scheme="pcs")
    with pytest.raises(DataError, match="not uniformly increasing"):
        power_spectrum(
            xr.DataArray(np.zeros((3, 3)), dims=("x", "y"), coords={"x": [0, 1, 3], "y": [0, 1, 2]})
        )


def _xi_gaussian(r, amplitude, radius, ndim=3):
    """Analytic xi(r) of P(k) = A exp(-k^2 R^2 / 2): A (2 pi R^2)^(-d/2) exp(-r^2 / 2 R^2)."""
    return amplitude * (2 * np.pi * radius**2) ** (-ndim / 2) * np.exp(-(r**2) / (2 * radius**2))


def test_correlation_function_of_gaussian_spectrum():
    # Reference: xi is the Hankel transform of P(k); for P = A exp(-k^2 R^2 / 2) it is
    # analytic (checked here against scipy quad of (1/2 pi^2) int k^2 P j0(kr) dk). A
    # fixed-amplitude field (|delta_k|^2 = N^2 P / V exactly, random phases) has no
    # cosmic variance; with R = 2 H aliasing is ~e^-20 and the missing k = 0 mode shifts xi
    # by -P(0) / V. Compared bin by bin with the analytic xi averaged over the same lattice
    # separations: tolerance 1e-6 of xi(0).
    amp, radius, n, box = 1.0, 1.0 / 16, 32, 1.0
    for r in (0.03, 0.1):

        def integrand(k, r=r):
            return k**2 * amp * np.exp(-((k * radius) ** 2) / 2) * np.sinc(k * r / np.pi)

        hankel = scipy.integrate.quad(integrand, 0, 40 / radius, limit=400)[0] / (2 * np.pi**2)
        assert hankel == pytest.approx(_xi_gaussian(r, amp, radius), rel=1e-8)
    rng = np.random.default_rng(0)
    kmag = _full_kmag((n,) * 3, (box,) * 3)
    phases = np.fft.fftn(rng.normal(size=(n,) * 3))
    amplitude = np.sqrt(amp * np.exp(-((kmag * radius) ** 2) / 2) / box**3) * n**3  # N^2 P / V
    field_k = amplitude * phases / np.maximum(np.abs(phases), 1e-300)
    field_k[0, 0, 0] = 0.0
    field = np.fft.ifftn(field_k).real
    ds = correlation_function(field, box)
    sep = np.fft.fftfreq(n, 1.0 / n) * box / n
    rr = np.sqrt(sum(g**2 for g in np.meshgrid(sep, sep, sep, indexing="ij"))).ravel()
    edges = np.append(ds.r_lo.values, ds.r_hi.values[-1])
    counts = _hist(rr, edges)
    summed = _hist(rr, edges, weights=_xi_gaussian(rr, amp, radius))
    keep = counts > 0
    expected = summed[keep] / counts[keep] - amp / box**3
    np.testing.assert_array_equal(ds.n_pairs, counts[keep])
    np.testing.assert_allclose(ds.xi, expected, atol=1e-6 * _xi_gaussian(0, amp, radius))
    assert float(ds.xi[0]) == pytest.approx(field.var() + field.mean() ** 2, rel=1e-10)


def test_bispectrum_gaussian_vs_quadratic_field():
    # References (4 seeds, scalene triangles k1 = 4, k2 = 6, k3 = 3, 8, 9.5 k_F in
    # disjoint shells of width k_F):
    # - Gaussian g: B = 0 with Var[B_hat] = V P1 P2 P3 / N_triangles (Scoccimarro 1998,
    #   MNRAS 299, 1097). chi^2 over the 12 measurements < 32.9, the 99.9% point of
    #   chi^2_12 (over 40 seeds we measured <chi^2>/dof ~ 1.2: the formula ignores the
    #   scatter of the measured shell powers).
    # - delta = g + f (g^2 - <g^2>): tree level B = 2 f (P1 P2 + P2 P3 + P3 P1). The
    #   Gaussian noise cancels in B(delta) - B(g), whose ratio to sum P_g P_g must be 2 f;
    #   its 4-seed mean scatters by 0.07 (40 seeds), tolerance 0.3; f sigma = 0.15 keeps
    #   loop terms at the few-% level. The reduced Q of delta itself must be positive.
    kf, box, f = 2 * np.pi, (1.0,) * 3, 0.5
    sides = {"k1": 4 * kf, "k2": 6 * kf, "k3": np.array([3.0, 8.0, 9.5]) * kf}
    chi2, ratio, reduced = 0.0, [], []
    for seed in range(4):
        g = _gaussian_field(
            np.random.default_rng(seed), (32,) * 3, box, lambda k: np.where(k < 12 * kf, 1.0, 0.0)
        )
        g *= 0.3 / g.std()
        bg = bispectrum(g, box, **sides)
        bd = bispectrum(g + f * (g**2 - np.mean(g**2)), box, **sides)
        p1, p2, p3 = bg.power_1, bg.power_2, bg.power_3
        chi2 += float(((bg.bispectrum**2) * bg.n_triangles / (p1 * p2 * p3)).sum())
        ratio.append((bd.bispectrum - bg.bispectrum) / (p1 * p2 + p2 * p3 + p3 * p1))
        reduced.append(bd.reduced)
    assert chi2 < 32.9
    assert float(np.mean(ratio)) == pytest.approx(2 * f, abs=0.3)
    assert float(np.mean(reduced)) > 0.3
    assert np.all(bd.n_triangles > 4000)
    theta = np.array([0.3, 1.5, 2.7])
    by_angle = bispectrum(g, box, k1=4 * kf, k2=6 * kf, theta=theta)
    np.testing.assert_allclose(by_angle.k3**2, (52 + 48 * np.cos(theta)) * kf**2)
    with pytest.raises(DataError, match="exactly one of k3 or theta"):
        bispectrum(g, box, k1=kf, k2=kf)
    with pytest.raises(DataError, match="no Fourier modes in the shell"):
        bispectrum(g, box, k1=kf, k2=kf, k3=100 * kf)


def test_power_spectrum_with_pylians_cell_origin():
    # Pylians and nbodykit paint cell i at i H, we at (i + 1/2) H (see the spectra module
    # docstring). With cell_origin="corner", P(k) equals the one of the positions shifted
    # by H / 2 painted our way, to float64 round-off (reference: that shifted computation).
    rng = np.random.default_rng(27)
    n, box = 16, 100.0
    pos = rng.uniform(0.0, box, size=(4000, 3))
    h = box / n

    def pk(rho):
        return power_spectrum(density_contrast(rho), box, scheme="cic")["power"].values

    corner = pk(mesh.paint(pos, (n,) * 3, box, cell_origin="corner"))
    shifted = pk(mesh.paint(pos + h / 2, (n,) * 3, box))
    np.testing.assert_allclose(corner, shifted, rtol=1e-10)
    # the convention matters: for Poisson particles P(k) is mostly shot noise, whose painted
    # realisation depends on where the grid sits; here bins differ by 0.2 % to 80 %
    ours = pk(mesh.paint(pos, (n,) * 3, box))
    assert np.max(np.abs(corner / ours - 1)) > 0.1
