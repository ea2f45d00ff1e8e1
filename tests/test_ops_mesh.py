"""Tests of surrogates.ops.mesh: NGP/CIC/TSC paint and read-out, windows, helpers."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from surrogates.errors import DataError
from surrogates.ops import fft, mesh

SCHEMES = ("ngp", "cic", "tsc")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("shape", [(8, 6), (4, 5, 6)])
def test_mass_conserved(rng, scheme, shape):
    # Every kernel's weights sum to one, so the painted total is the particle total
    # (tolerance: float64 round-off over 5000 additions).
    pos = rng.uniform(-30.0, 30.0, size=(5000, len(shape)))  # wraps several boxes
    mass = rng.uniform(0.5, 2.0, size=5000)
    rho = mesh.paint(pos, shape, 10.0, mass=mass, scheme=scheme)
    assert rho.shape == shape and rho.dtype == np.float64
    assert rho.sum() == pytest.approx(mass.sum(), rel=1e-12)
    assert rho.min() >= 0.0


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("shape", [(8, 6), (4, 5, 6)])
def test_readout_is_adjoint_of_paint(rng, scheme, shape):
    # <paint(x, m), f> == <m, readout(f, x)> for the same kernel (exact transpose).
    box = (3.0, 2.0, 5.0)[: len(shape)]
    pos = rng.uniform(0.0, 5.0, size=(300, len(shape)))
    mass = rng.normal(size=300)
    field = rng.normal(size=shape)
    lhs = np.sum(mesh.paint(pos, shape, box, mass=mass, scheme=scheme) * field)
    rhs = np.sum(mass * mesh.readout(field, pos, box, scheme=scheme))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_weights_at_simple_positions():
    # Cell centres are at (i + 0.5) * H (here H = 1): a particle at a centre fills that cell
    # for NGP and CIC; TSC spreads 1/8, 3/4, 1/8 per axis (B-spline of order 3).
    at_centre = np.array([[2.5, 1.5]])
    ngp = mesh.paint(at_centre, (4, 4), 4.0, scheme="ngp")
    cic = mesh.paint(at_centre, (4, 4), 4.0, scheme="cic")
    expect = np.zeros((4, 4))
    expect[2, 1] = 1.0
    np.testing.assert_array_equal(ngp, expect)
    np.testing.assert_array_equal(cic, expect)
    tsc = mesh.paint(at_centre, (4, 4), 4.0, scheme="tsc")
    w = np.array([0.125, 0.75, 0.125])
    np.testing.assert_allclose(tsc[1:4, 0:3], np.outer(w, w), atol=1e-15)
    # Half-way between centres 1 and 2 (x = 2.0): CIC splits 1/2, 1/2; TSC 1/2, 1/2 too.
    edge = np.array([[2.0, 1.5]])
    np.testing.assert_allclose(mesh.paint(edge, (4, 4), 4.0)[1:3, 1], [0.5, 0.5])
    tsc_edge = mesh.paint(edge, (4, 4), 4.0, scheme="tsc").sum(axis=1)  # sum the y spread
    np.testing.assert_allclose(tsc_edge, [0.0, 0.5, 0.5, 0.0], atol=1e-15)
    # A quarter cell right of centre 1 (x = 1.75): CIC gives 3/4, 1/4;
    # TSC 0.5*(0.25)^2, 0.75 - 0.25^2, 0.5*(0.75)^2.
    quarter = np.array([[1.75, 0.5]])
    np.testing.assert_allclose(mesh.paint(quarter, (4, 4), 4.0)[1:3, 0], [0.75, 0.25])
    np.testing.assert_allclose(
        mesh.paint(quarter, (4, 4), 4.0, scheme="tsc").sum(axis=1)[0:3], [0.03125, 0.6875, 0.28125]
    )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_periodic_wrapping(scheme):
    # A particle just below 0 belongs with the last and first cells; shifting by whole
    # boxes (positive or negative) changes nothing.
    pos = np.array([[-0.25, 3.5, 0.5]])
    rho = mesh.paint(pos, (4, 4, 4), 4.0, scheme=scheme)
    for shift in (-8.0, 4.0, 12.0):
        np.testing.assert_allclose(mesh.paint(pos + shift, (4, 4, 4), 4.0, scheme=scheme), rho)
    if scheme == "cic":  # u = -0.75: 3/4 into cell -1 == 3, 1/4 into cell 0
        np.testing.assert_allclose(rho[[3, 0], 3, 0], [0.75, 0.25])


@pytest.mark.parametrize("n", [1, 2])
def test_mesh_narrower_than_kernel(n):
    # TSC touches 3 cells per axis: on 1- or 2-cell meshes the stencil wraps several times.
    pos = np.array([[0.3, 1.7], [1.9, 0.1]])
    rho = mesh.paint(pos, (n, 3), 2.0, scheme="tsc")
    assert rho.sum() == pytest.approx(2.0, rel=1e-14)
    field = np.arange(3 * n, dtype=float).reshape(n, 3)
    lhs = np.sum(rho * field)
    assert lhs == pytest.approx(mesh.readout(field, pos, 2.0, scheme="tsc").sum(), rel=1e-14)


def test_repeated_indices_summed_in_parallel():
    # 200k particles in 3 cells, spread across all threads' chunks: none may be lost.
    n = 200_000
    pos = np.repeat(np.array([[0.5, 0.5, 0.5], [1.5, 0.5, 0.5], [3.5, 3.5, 3.5]]), n, axis=0)
    rho = mesh.paint(pos, (4, 4, 4), 4.0, scheme="cic")
    assert rho[0, 0, 0] == n and rho[1, 0, 0] == n and rho[3, 3, 3] == n
    assert rho.sum() == 3 * n
    assert numba.get_num_threads() >= 1


def test_out_accumulates_in_its_dtype(rng):
    pos = rng.uniform(0, 1, size=(100, 2))
    out = np.ones((5, 5), dtype=np.float32)
    res = mesh.paint(pos, (5, 5), 1.0, out=out)
    assert res is out and out.dtype == np.float32
    assert out.sum() == pytest.approx(125.0, rel=1e-6)


def test_readout_components_and_linear_field(rng):
    # CIC read-out of a field linear in x between centres is exact (linear interpolation).
    n, box = 8, 4.0
    centres = (np.arange(n) + 0.5) * box / n
    field = np.broadcast_to(centres[:, None], (n, n)).copy()
    pos = rng.uniform(0.5, 3.4, size=(50, 2))  # away from the periodic jump
    np.testing.assert_allclose(mesh.readout(field, pos, box), pos[:, 0], atol=1e-12)
    both = mesh.readout(np.stack([field, 2 * field]), pos, box)
    assert both.shape == (50, 2)
    np.testing.assert_allclose(both[:, 1], 2 * pos[:, 0], atol=1e-12)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_window_matches_analytic_and_painted_delta(scheme):
    # W(k) = prod sinc(k H / 2)^p; a particle at the origin's cell centre painted with the
    # kernel has FFT amplitude |W(k)| (the kernel's Fourier transform sampled on the grid
    # is the aliased sum, so compare with the analytic value only at the fundamental).
    p = mesh.SCHEMES[scheme]
    shape, box = (16, 8, 8), (16.0, 8.0, 4.0)
    w = mesh.window(shape, box, scheme)
    assert w.shape == (16, 8, 5)
    assert w[0, 0, 0] == 1.0
    h = 0.5  # z spacing
    kz = 2 * np.pi / 4.0
    assert w[0, 0, 1] == pytest.approx((np.sin(kz * h / 2) / (kz * h / 2)) ** p, rel=1e-14)
    kx, ky = 2 * np.pi * 3 / 16.0, 2 * np.pi * 2 / 8.0
    expect = (np.sinc(kx / 2 / np.pi) * np.sinc(ky / 2 / np.pi)) ** p
    assert w[3, 2, 0] == pytest.approx(expect, rel=1e-14)
    full = mesh.window(shape, box, scheme, real=False)
    assert full.shape == shape
    ones = np.ones((16, 8, 5), dtype=complex)
    np.testing.assert_allclose(mesh.compensate(ones, shape, box, scheme) * w, ones)


def test_compensated_cic_flat_for_random_particles(rng):
    # Shot noise of uniform random particles is white; the CIC-painted field's power is
    # W^2 times that (plus aliasing): dividing by W twice leaves it flat to ~10% below
    # half the Nyquist wavenumber (Jing 2005, ApJ 620:559: aliasing < few % there).
    shape, box, npart = (32, 32, 32), 1.0, 200_000
    rho = mesh.paint(rng.uniform(0, box, size=(npart, 3)), shape, box)
    dk = fft.rfftn(rho / rho.mean() - 1.0)
    dk = mesh.compensate(dk, shape, box)
    power = np.abs(dk) ** 2
    kmag = fft.wavenumber_magnitude(shape, box)
    band = (kmag > 0) & (kmag < 0.5 * np.pi * 32)
    flat = power[band] / (np.prod(shape) ** 2 / npart)
    assert abs(flat.mean() - 1.0) < 0.1


def test_minimum_image_and_lattice():
    dx = np.array([[-0.5, 0.49, 0.51, 1.7, -3.2]]).T * np.array([[2.0, 4.0]])
    out = mesh.minimum_image(dx, (2.0, 4.0))
    assert np.all(out >= -np.array([1.0, 2.0])) and np.all(out < np.array([1.0, 2.0]))
    np.testing.assert_allclose(out[:, 0], [-1.0, 0.98, -0.98, -0.6, -0.4])
    q = mesh.lattice(4, 8.0)
    assert q.shape == (64, 3)
    np.testing.assert_allclose(q[0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(q[1 * 16 + 2 * 4 + 3], [3.0, 5.0, 7.0])  # C order
    assert mesh.lattice(3, (3.0, 6.0), ndim=2)[5].tolist() == [1.5, 5.0]


def test_errors():
    pos = np.zeros((3, 3))
    with pytest.raises(DataError, match="unknown mass-assignment scheme 'pcs'"):
        mesh.paint(pos, (4, 4, 4), 1.0, scheme="pcs")
    with pytest.raises(DataError, match=r"positions: got shape \(3, 3\), expected \(N, 2\)"):
        mesh.paint(pos, (4, 4), 1.0)
    with pytest.raises(DataError, match=r"mass: got shape \(2,\)"):
        mesh.paint(pos, (4, 4, 4), 1.0, mass=np.ones(2))
    with pytest.raises(DataError, match="box_size must be positive"):
        mesh.paint(pos, (4, 4, 4), -1.0)
    with pytest.raises(DataError, match=r"out: got shape \(4, 4\)"):
        mesh.paint(pos, (4, 4, 4), 1.0, out=np.zeros((4, 4)))
    with pytest.raises(DataError, match=r"positions: 1 particle\(s\) with non-finite"):
        mesh.paint(np.array([[0.0, np.nan, 0.0], [0.1, 0.2, 0.3]]), (4, 4, 4), 1.0)
    with pytest.raises(DataError, match="field: got shape"):
        mesh.readout(np.zeros(4), pos, 1.0)
    with pytest.raises(DataError, match="lattice: n must be a positive int"):
        mesh.lattice(0, 1.0)


# ----------------------------------------------------------------------------- cell origin


def _pylians_cic(pos, n, box):
    """CIC as Pylians' MAS_library writes it (cell i at i H): per axis
    ``index_d = floor(x / H)``, ``u = x / H - index_d``, weights ``1 - u`` on ``index_d`` and
    ``u`` on ``index_d + 1`` (mod n). An independent numpy reference for the option."""
    dist = np.mod(pos, box) * (n / box)
    lo = np.floor(dist).astype(int)
    u = dist - lo
    rho = np.zeros((n,) * pos.shape[1])
    for corner in np.ndindex(*(2,) * pos.shape[1]):
        step = np.array(corner)
        weight = np.prod(np.where(step == 1, u, 1.0 - u), axis=1)
        np.add.at(rho, tuple(np.mod(lo + step, n).T), weight)
    return rho


@pytest.mark.parametrize("ndim", [2, 3])
def test_corner_origin_puts_a_particle_at_i_h_wholly_in_cell_i(ndim):
    n, box = 8, 4.0
    h = box / n
    for i in (0, 3, n - 1):
        pos = np.full((1, ndim), i * h)
        for scheme in ("ngp", "cic"):
            rho = mesh.paint(pos, (n,) * ndim, box, scheme=scheme, cell_origin="corner")
            expect = np.zeros((n,) * ndim)
            expect[(i,) * ndim] = 1.0
            np.testing.assert_array_equal(rho, expect)
        # ours puts the same particle half-way between cells i - 1 and i: 1/2^d in each
        ours = mesh.paint(pos, (n,) * ndim, box, scheme="cic")
        assert ours[(i,) * ndim] == 0.5**ndim


@pytest.mark.parametrize("scheme", SCHEMES)
def test_corner_origin_equals_positions_shifted_by_half_a_cell(rng, scheme):
    shape, box = (8, 6, 4), (4.0, 3.0, 2.0)
    pos = rng.uniform(0.0, 4.0, size=(2000, 3))
    half = np.asarray(box) / np.asarray(shape) / 2
    corner = mesh.paint(pos, shape, box, scheme=scheme, cell_origin="corner")
    shifted = mesh.paint(pos + half, shape, box, scheme=scheme)
    np.testing.assert_allclose(corner, shifted, rtol=0, atol=1e-12)  # float64 round-off
    field = rng.normal(size=shape)  # the read-out is the same transpose with the option
    lhs = np.sum(corner * field)
    rhs = np.sum(mesh.readout(field, pos, box, scheme=scheme, cell_origin="corner"))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_corner_origin_matches_pylians_cic(rng):
    pos = rng.uniform(-2.0, 6.0, size=(3000, 3))  # wraps
    rho = mesh.paint(pos, (8, 8, 8), 4.0, scheme="cic", cell_origin="corner")
    np.testing.assert_allclose(rho, _pylians_cic(pos, 8, 4.0), rtol=0, atol=1e-12)


def test_unknown_cell_origin_is_an_error():
    with pytest.raises(DataError, match=r"cell_origin='center'; expected one of \['centre'"):
        mesh.paint(np.zeros((1, 2)), (4, 4), 1.0, cell_origin="center")
    with pytest.raises(DataError, match="cell_origin=None"):
        mesh.readout(np.zeros((4, 4)), np.zeros((1, 2)), 1.0, cell_origin=None)
