"""Lattice Boltzmann solver: analytic and published flows, conservation, symmetry and the
canonical dataset it writes.

References: plane Poiseuille flow and the Poiseuille flow in a square duct (series
solution, e.g. White, Viscous Fluid Flow, eq. 3-48); Schafer & Turek (1996) "Benchmark
computations of laminar flow around a cylinder", case 2D-1 (Re = 20): C_D = 5.5795,
C_L = 0.0106 (reference intervals 5.57-5.59 and 0.0104-0.0110); case 2D-2 (Re = 100):
St = 0.295-0.305, max C_D = 3.22-3.24.
"""

from __future__ import annotations

import os

# Threads that finish a parallel sweep early sleep instead of spinning (a spinning thread
# takes the core its partner needs on a loaded 2-core machine); only effective if set
# before the OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from surrogates.io.schema import validate  # noqa: E402
from surrogates.solvers import registry  # noqa: E402
from surrogates.solvers.lbm import Config, Simulation, simulate, strouhal  # noqa: E402

ST_DRAG, ST_LIFT = 5.5795, 0.0106


def _channel(**changes) -> Config:
    """Obstacle-free channel, 6 x 1, 20 cells across, uniform inflow U = 1 developing
    into plane Poiseuille flow (Re = U H / nu = 10)."""
    base = dict(
        shape=(120, 20),
        size=(6.0, 1.0),
        obstacle="none",
        inflow="uniform",
        inflow_speed=1.0,
        reynolds=10.0,
        u_lattice=0.05,
        t_end=25.0,
        save_every=25.0,
    )
    return Config(**(base | changes))


def _profile_error(ds, exact: np.ndarray) -> float:
    """Relative L2 error of u_x at 3/4 of the length at the last frame."""
    u = ds.u_x.isel(time=-1, x=int(0.75 * ds.sizes["x"])).values.astype(np.float64)
    return float(np.linalg.norm(u - exact) / np.linalg.norm(exact))


def _parabola(n: int, mean: float) -> np.ndarray:
    s = (np.arange(n) + 0.5) / n  # cell centres; half-way walls at s = 0 and 1
    p = 4 * s * (1 - s)
    return mean * p / p.mean()  # incompressible model: the flux equals the inflow


@pytest.mark.parametrize("inlet", ["regularized", "zou-he"])
def test_channel_develops_plane_poiseuille_flow(inlet):
    # Developed profile u = 6 U s (1 - s) with the inflow's flux; tolerance 0.2% (L2), measured
    # 0.05%.
    ds = simulate(_channel(inlet=inlet, dtype="float64"), seed=0)
    assert _profile_error(ds, _parabola(20, 1.0)) < 2e-3


def test_trt_walls_are_exact_where_bgk_walls_slip():
    # tau = 1.5: BGK bounce-back walls sit off the half-way point by a tau-dependent
    # amount (He et al. 1997): Poiseuille with an effective width^2 = H^2 + 16 L / 3 - 1,
    # L = (tau - 1/2)^2 = 1, i.e. ~1% slip at H = 20; TRT with L = 3/16 puts them exactly
    # half-way (Ginzburg et al. 2008). Measured: TRT 1e-5 (still converging), BGK 6.5e-3.
    common = dict(tau=1.5, reynolds=2.0, dtype="float64", t_end=8.0, save_every=8.0)
    trt = _profile_error(simulate(_channel(magic=3 / 16, **common)), _parabola(20, 1.0))
    bgk = _profile_error(simulate(_channel(collision="bgk", **common)), _parabola(20, 1.0))
    assert trt < 1e-4 and bgk > 3e-3


def _duct(y: np.ndarray, z: np.ndarray, half: float, terms: int = 100) -> np.ndarray:
    """Poiseuille flow in the square duct |y|, |z| < half (unnormalised series)."""
    u = np.zeros(np.broadcast(y, z).shape)
    for n in range(1, 2 * terms, 2):
        k = n * np.pi / (2 * half)
        u += (-1) ** (n // 2) / n**3 * (1 - np.cosh(k * z) / np.cosh(k * half)) * np.cos(k * y)
    return u


def test_d3q19_square_duct_matches_the_series_solution():
    # Uniform inflow develops into the duct profile; 12 x 12 cells; tolerance 1% (L2),
    # measured 0.34%.
    n = 12
    config = Config(
        lattice="D3Q19",
        shape=(48, n, n),
        size=(4.0, 1.0, 1.0),
        boundary=("open", "wall", "wall"),
        obstacle="none",
        inflow="uniform",
        inflow_speed=1.0,
        reynolds=5.0,
        u_lattice=0.05,
        t_end=6.0,
        save_every=6.0,
        dtype="float64",
    )
    ds = simulate(config)
    c = (np.arange(n) + 0.5) - n / 2
    exact = _duct(c[:, None], c[None, :], n / 2)
    exact *= 1.0 / exact.mean()
    u = ds.u_x.isel(time=-1, x=36).values
    assert np.linalg.norm(u - exact) / np.linalg.norm(exact) < 0.01


def test_schafer_turek_2d1_drag_and_lift():
    # Case 2D-1 at D = 20 cells, TRT, run until the velocity field and the force
    # coefficients change by less than 0.1% between frames 0.5 s apart (~8 s).
    # Measured: C_D = 5.63 (+0.9%); C_L = 0.0105 +- 0.002 (sound waves across the channel).
    config = Config(u_lattice=0.15, t_end=15.0, save_every=0.5, steady_tol=1e-3)
    ds = simulate(config)
    assert ds.sizes["time"] < 31  # stopped on the convergence criterion
    assert float(ds.drag_coefficient[-1]) == pytest.approx(ST_DRAG, rel=0.02)
    # Lift at Re = 20 is a small difference of large pressure forces, and the channel's
    # transverse sound waves make it oscillate by +-20%; its mean over the last 2 s gets
    # within 25% on a 20-cell staircase cylinder.
    lift = float(ds.lift_coefficient[-4:].mean())
    assert lift == pytest.approx(ST_LIFT, rel=0.25)


@pytest.mark.slow
def test_schafer_turek_2d2_strouhal_and_max_drag():
    # Case 2D-2 (Re = 100, U_m = 1.5) at D = 20 cells: periodic shedding after ~4 s.
    config = Config(reynolds=100.0, inflow_speed=1.5, t_end=8.0, save_every=0.01, spinup=5.0)
    ds = simulate(config)
    lift = ds.lift_coefficient.values
    st = strouhal(lift, 0.01, 0.1, 1.0)
    assert st == pytest.approx(0.30, rel=0.05)
    assert float(ds.drag_coefficient.max()) == pytest.approx(3.23, rel=0.05)


def test_symmetric_channel_gives_zero_lift():
    # Cylinder on the centre line of a symmetric channel: the lift vanishes by symmetry
    # (to round-off), while the drag does not.
    config = Config(
        shape=(120, 40), size=(1.2, 0.4), obstacle_center=(0.3, 0.2), t_end=0.5, save_every=0.5
    )
    ds = simulate(config)
    drag, lift = float(ds.drag_coefficient[-1]), float(ds.lift_coefficient[-1])
    assert drag > 1.0 and abs(lift) < 1e-9 * drag


def test_uniform_flow_in_a_periodic_box_stays_uniform_without_force():
    # Equilibrium at uniform velocity is a fixed point of stream-collide on a periodic
    # lattice; with no obstacle the force is zero.
    config = Config(
        lattice="D3Q19",
        shape=(8, 6, 5),
        size=(8.0, 6.0, 5.0),
        boundary=("periodic", "periodic", "periodic"),
        obstacle="none",
        inflow="uniform",
        t_end=2.0,
        save_every=1.0,
        dtype="float64",
    )
    ds = simulate(config)
    np.testing.assert_allclose(ds.u_x.values, ds.U.values, rtol=1e-12)
    np.testing.assert_allclose(ds.u_y.values, 0.0, atol=1e-14)
    np.testing.assert_allclose(ds.p.values, 0.0, atol=1e-12)
    assert np.all(ds.drag_coefficient.values == 0.0)


@pytest.mark.parametrize("lattice", ["D2Q9", "D3Q19"])
def test_mass_is_conserved_in_a_closed_periodic_box(lattice):
    # Periodic streaming and bounce-back move populations without creating or destroying
    # any: the total mass is constant to round-off while the flow decays on obstacles.
    dim = int(lattice[1])
    config = Config(
        lattice=lattice,
        shape=(32, 16, 12)[:dim],
        size=(2.0, 1.0, 0.75)[:dim],
        boundary=("periodic", "wall", "periodic")[:dim],
        obstacle="random",
        obstacle_count=2,
        obstacle_size_range=(0.2, 0.3),
        obstacle_region=(0.1, 0.9),
        reynolds=20.0,
    )
    sim = Simulation(config, seed=5)
    mass = sim.domain.to_interior(sim.f).sum()
    sim.step(200)
    assert abs(sim.domain.to_interior(sim.f).sum() / mass - 1) < 1e-12
    rho, u = sim.macroscopic()
    assert np.abs(u).max() > 1e-3  # a flow was there to conserve


def _small(**changes) -> Config:
    base = dict(
        lattice="D3Q19",
        shape=(30, 10, 8),
        size=(1.5, 0.5, 0.4),
        boundary=("open", "wall", "periodic"),
        obstacle="random",
        obstacle_count=2,
        obstacle_size_range=(0.12, 0.16),
        obstacle_region=(0.15, 0.7),
        reynolds=30.0,
        inflow_speed=1.0,
        t_end=0.4,
        save_every=0.2,
    )
    return Config(**(base | changes))


def test_canonical_dataset_form():
    calls = []
    ds = simulate(_small(), seed=2, progress=lambda done, total: calls.append((done, total)))
    assert dict(ds.sizes) == {"time": 3, "x": 30, "y": 10, "z": 8}
    for name in ("p", "u_x", "u_y", "u_z"):
        assert ds[name].dims == ("time", "x", "y", "z") and ds[name].dtype == np.float32
        assert ds[name].attrs["units"] in ("Pa", "m/s")
    assert ds.mask.dims == ("x", "y", "z") and set(np.unique(ds.mask.values)) == {0.0, 1.0}
    assert ds.drag_coefficient.dims == ds.side_coefficient_1.dims == ("time",)
    # the total force's coefficient weighs each obstacle's by its frontal area
    areas = np.array(ds.attrs["force_reference"])
    each = np.stack([ds.drag_coefficient_0, ds.drag_coefficient_1], axis=-1)
    np.testing.assert_allclose(ds.drag_coefficient, each @ areas / areas.sum(), rtol=1e-12)
    assert ds.Re.dims == () and float(ds.Re) == 30.0 and float(ds.seed) == 2
    np.testing.assert_allclose(ds.x.values, (np.arange(30) + 0.5) * 0.05)
    np.testing.assert_allclose(ds.time.values, [0.0, 0.2, 0.4])
    assert (ds.boundary_x, ds.boundary_y, ds.boundary_z) == ("open", "wall", "periodic")
    assert ds.attrs["source_format"] == "surrogates.solvers.lbm"
    assert "2 F / (rho U_mean^2 A)" in ds.attrs["force_normalisation"]
    # velocity vanishes inside obstacles, and the inflow speed is U at the centre line
    assert np.all(ds.u_x.values[:, ds.mask.values == 1] == 0)
    assert calls[-1][0] == calls[-1][1] and calls == sorted(calls)
    assert registry.get("lbm").simulate is simulate
    validate(ds)  # the schema of surrogates.io


def test_same_seed_same_run_other_seed_other_obstacles():
    a, b, c = (simulate(_small(t_end=0.2), seed=s) for s in (7, 7, 8))
    assert a.identical(b)
    assert not np.array_equal(a.mask.values, c.mask.values)


def test_obstacle_next_to_the_inlet_is_rejected():
    from surrogates import DataError

    with pytest.raises(DataError, match="obstacle_center"):
        Simulation(Config(obstacle_center=(0.04, 0.2)))


def test_steady_state_averages_frames_and_adds_the_inflow_field():
    # Reference: an obstacle-free channel with a parabolic inflow is plane Poiseuille flow
    # from the start. u_inflow must equal the velocity the solver imposes on its inlet
    # layer (exactly) and the steady u_x everywhere (1 %, the discrete profile's error).
    from surrogates import DataError
    from surrogates.solvers.lbm import steady_state

    config = _channel(shape=(60, 20), size=(3.0, 1.0), inflow="parabolic", t_end=2.0,
                      save_every=0.5, spinup=0.5)  # fmt: skip
    ds = simulate(config)
    steady = steady_state(ds, since=1.0)
    assert steady.attrs["steady_window"] == [1.0, 2.0]
    assert steady["u_x"].dims == ("time", "x", "y") and float(steady["time"][0]) == 2.0
    mean = ds["u_x"].sel(time=[1.0, 1.5, 2.0]).mean("time")
    np.testing.assert_allclose(steady["u_x"].isel(time=0), mean, rtol=1e-6)
    np.testing.assert_array_equal(steady["u_inflow"].isel(x=0), ds["u_x"].isel(time=-1, x=0))
    u = steady["u_x"].isel(time=0).values
    assert np.abs(steady["u_inflow"].values - u).max() < 0.01 * u.max()
    assert steady.attrs["steady_drift"] == 0.0  # no obstacle, no drag to drift
    for name in ("wake_short", "wake_long"):  # no obstacle, no wake
        assert steady[name].dims == ("x", "y") and float(np.abs(steady[name]).max()) == 0.0
    assert float(steady["wall_weight"].min()) == float(steady["wall_weight"].max()) == 1.0
    # drift: the largest change of a drag series over the window, relative to its mean;
    # an all-NaN series (a sample with fewer obstacles) is skipped
    times = ds["time"].values
    ramp = np.where(times >= 1.0, 1.0 + 0.2 * (times - 1.0), 5.0)
    drags = ds.assign(drag_coefficient_0=("time", ramp),
                      drag_coefficient_1=("time", np.full(times.size, np.nan)))  # fmt: skip
    drift = steady_state(drags, since=1.0).attrs["steady_drift"]
    assert drift == pytest.approx(0.2 / 1.1, rel=1e-12)
    with pytest.raises(DataError, match="no frame at or after"):
        steady_state(ds, since=3.0)
    with pytest.raises(DataError, match="needs an lbm run"):
        steady_state(ds.drop_vars("mask"))


def test_obstacle_distance_is_signed_capped_and_wraps_periodic_axes():
    # Reference: one solid cell; the distance of a fluid cell is its centre-to-centre
    # distance minus half a cell (the surface), the solid cell's -h/2, capped at +-cap.
    from surrogates.solvers.lbm import obstacle_distance

    h, cap = 0.1, 0.35
    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    d = obstacle_distance(mask, h, (False, False), cap=cap)
    i, j = np.meshgrid(np.arange(9) - 4, np.arange(9) - 4, indexing="ij")
    exact = np.clip(np.hypot(i, j) * h - 0.5 * h, -cap, cap)
    exact[4, 4] = -0.5 * h
    np.testing.assert_allclose(d, exact, atol=1e-6)
    # periodic along axis 1: a body on the last column is one cell from the first
    edge = np.zeros((5, 8), bool)
    edge[:, 7] = True
    assert obstacle_distance(edge, h, (False, True), cap=cap)[2, 0] == pytest.approx(0.5 * h)
    assert obstacle_distance(edge, h, (False, False), cap=cap)[2, 0] == pytest.approx(cap)
    assert np.all(obstacle_distance(np.zeros((4, 4), bool), h, (True, True), cap=cap) == cap)


def test_upstream_wake_carries_decays_and_spreads_the_blockage():
    # Reference: the linear wake model of one solid cell. A distance s = d h behind it the
    # cross-section holds h exp(-s / L) of blockage (exact: each blur conserves it), spread
    # with variance spread^2 s per cross-stream axis (Gaussian steps add variances; 1 %
    # for the sampled kernels), centred on the cell; nothing upstream of it.
    from surrogates import DataError
    from surrogates.solvers.lbm import upstream_wake

    h, length, spread = 1 / 24, 0.5, 0.15
    mask = np.zeros((40, 33, 33), bool)  # the cell in the middle: walls mirror evenly
    mask[5, 16, 16] = True
    wake = upstream_wake(mask, h, (True, False), length, spread)
    assert np.all(wake[:6] == 0)
    centres = np.arange(33) * h
    for d in (1, 8, 34):
        plane = wake[5 + d].astype(np.float64)
        assert plane.sum() == pytest.approx(h * np.exp(-d * h / length), rel=1e-6)
        for axis in (0, 1):
            profile = plane.sum(axis=1 - axis) / plane.sum()
            mean = (profile * centres).sum()
            assert mean == pytest.approx(centres[16], abs=1e-6)
            variance = (profile * (centres - mean) ** 2).sum()
            assert variance == pytest.approx(spread**2 * d * h, rel=0.01)
    # a body at the edge: wraps across the periodic axis, mirrored at the wall (axis 2)
    edge = np.zeros((12, 8, 8), bool)
    edge[1, 0, 0] = True
    wrapped = upstream_wake(edge, h, (True, False), length, spread)
    assert wrapped[6, -1, 0] > 0.5 * wrapped[6, 1, 0]
    assert wrapped[6, 0, 1] > wrapped[6, 0, 2] > wrapped[6, 0, -1]
    assert wrapped[6].sum() == pytest.approx(h * np.exp(-5 * h / length), rel=1e-6)
    with pytest.raises(DataError, match="periodic flags"):
        upstream_wake(edge, h, (True,), length)
    with pytest.raises(DataError, match="length > 0"):
        upstream_wake(edge, h, (True, True), 0.0)


def test_wall_weight_zero_inside_factor_within_the_band():
    # Reference: one solid cell; fluid cells within `band` face steps (Manhattan distance)
    # get `factor`, the rest 1, the solid 0.
    from surrogates import DataError
    from surrogates.solvers.lbm import wall_weight

    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    w = wall_weight(mask, band=2, factor=7.0)
    i, j = np.meshgrid(np.arange(9) - 4, np.arange(9) - 4, indexing="ij")
    steps = np.abs(i) + np.abs(j)
    expected = np.where(steps == 0, 0.0, np.where(steps <= 2, 7.0, 1.0))
    np.testing.assert_array_equal(w, expected)
    assert np.all(wall_weight(np.zeros((4, 4), bool)) == 1.0)
    with pytest.raises(DataError, match="wall_weight"):
        wall_weight(mask, band=-1)
