"""The particle-mesh solver: FastPM stepping, conservation and symmetry, accuracy against
linear theory and 2LPT, the canonical dataset, registration and the Gadget writer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_solver_pm_ic import binned_power

from surrogates.errors import DataError, ModelError
from surrogates.io.schema import validate
from surrogates.ops import fft, mesh
from surrogates.solvers import registry
from surrogates.solvers.pm import Config, ic, simulate, solver, write
from surrogates.solvers.pm.cosmology import Background
from surrogates.solvers.pm.nbody import ForceMesh, leapfrog, time_stages


def _plane_wave_growth(steps: int) -> float:
    """Growth of the Fourier amplitude of a Zel'dovich plane wave from a = 0.1 to 1 divided
    by D(1) / D(0.1). A plane wave is one-dimensional, so a 2D lattice (128², force mesh
    256², mesh factor 2 as in the solver) represents it; its amplitude reaches
    D k A = 0.5 at a = 1, before shell crossing (D k A = 1)."""
    bg, box, n = Background(0.3), 100.0, 128
    q = mesh.lattice(n, box, ndim=2)
    k = 2 * np.pi / box
    shape = np.sin(k * q[:, 0])
    psi = np.zeros_like(q)
    psi[:, 0] = 0.5 / k * shape  # displacement at D = 1
    a0 = 0.1
    x = q + bg.D(a0) * psi
    p = a0**3 * bg.E(a0) * bg.dD_da(a0) * psi
    force = ForceMesh((2 * n, 2 * n), box, bg.Omega_m)
    leapfrog(x, p, bg, force.accelerations, time_stages(a0, 1.0, steps))
    amplitude = (x - q)[:, 0] @ shape / (shape @ shape)
    return amplitude / (0.5 / k)


def test_plane_wave_grows_as_linear_theory_with_few_steps():
    # Zel'dovich solution is exact in 1D before shell crossing; FastPM's kick and drift
    # factors (Feng et al. 2016, §2.2) reproduce it whatever the number of steps. The
    # 1e-3 tolerance covers the CIC force error of the mesh (measured: 5e-4).
    g5, g50 = _plane_wave_growth(5), _plane_wave_growth(50)
    assert g5 == pytest.approx(1.0, abs=1e-3)
    assert g50 == pytest.approx(1.0, abs=1e-3)
    assert g5 == pytest.approx(g50, abs=1e-3)


def test_leapfrog_exact_for_linear_force():
    # With the exact linear force F = 3/2 Ω_m (x - q) a growing-mode start stays on the
    # growing mode: x - q = D(a) Ψ and p = a^3 E dD/da Ψ to round-off with 3 steps.
    bg = Background(0.35)
    rng = np.random.default_rng(0)
    q, psi = rng.uniform(0, 10, (50, 3)), rng.normal(size=(50, 3))
    x = q + bg.D(0.2) * psi
    p = bg.Gf(0.2) * psi
    calls = []
    leapfrog(x, p, bg, lambda y: 1.5 * bg.Omega_m * (y - q), time_stages(0.2, 1.3, 3),
             progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    np.testing.assert_allclose(x - q, bg.D(1.3) * psi, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(p, bg.Gf(1.3) * psi, rtol=1e-12, atol=1e-13)
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_uniform_lattice_feels_no_force():
    # A CIC-painted unperturbed lattice at the cell-centre convention is uniform on a mesh
    # 2x finer (each particle splits 1/2, 1/2 per axis), so the force vanishes (round-off).
    force = ForceMesh((16, 16, 16), 40.0, 0.3)
    assert np.abs(force.accelerations(mesh.lattice(8, 40.0))).max() < 1e-12


@pytest.fixture(scope="module")
def box_run():
    """One 32³ realisation in a 256 Mpc/h box (8 Mpc/h spacing), float64 arrays."""
    config = Config(n=32, box_size=256.0, steps=10)
    noise = ic.white_noise(config.n, 3)
    return config, noise, solver.run(config, noise)


def test_power_spectrum_growth(box_run):
    # At the lowest k the final power equals D(a)² times the power of the same realisation's
    # linear field (cosmic variance cancels) within a few percent (here D(1) = 1; residual:
    # mode coupling and the propagator damping exp(-k²σ²/2) ≈ 0.99, Crocce & Scoccimarro
    # 2006); at k ≈ 0.25-0.35 h/Mpc nonlinear growth raises the power above linear theory
    # (halofit, Smith et al. 2003: ~1.5-2x at z = 0), while 2LPT-level evolution would not.
    config, noise, out = box_run
    shape = (config.n,) * 3
    linear_k = ic.linear_field_k(noise, config.box_size, solver.linear_power(config))
    final_k = mesh.compensate(fft.rfftn(out["delta"]), shape, config.box_size)
    k, p_final, _ = binned_power(final_k, final_k, shape, config.box_size)
    _, p_lin, _ = binned_power(linear_k, linear_k, shape, config.box_size)
    growth = Background(config.Omega_m).D(config.a_final) ** 2
    ratio = p_final / (growth * p_lin)
    assert ratio[0] == pytest.approx(1.0, abs=0.05)
    high = (k > 0.25) & (k < 0.35)
    assert np.all(ratio[high] > 1.2), ratio[high]


def test_momentum_conserved_and_2lpt_beats_za(box_run):
    # CIC paint and read-out with the same kernel and an odd (-ik) gradient give zero net
    # force (Hockney & Eastwood 1988, §5-6); the ICs carry no net momentum, so Σv = 0.
    _, _, out = box_run
    vel = out["vel"]
    rms = np.sqrt(np.mean(vel**2))
    assert np.abs(vel.sum(axis=0)).max() < 1e-12 * rms * len(vel)
    # 2LPT is closer to the N-body displacement than ZA (e.g. Scoccimarro 1998; Crocce,
    # Pueblas & Scoccimarro 2006).
    err_za = np.sqrt(np.mean((out["disp"] - out["disp_za"]) ** 2))
    err_2lpt = np.sqrt(np.mean((out["disp"] - out["disp_2lpt"]) ** 2))
    assert err_2lpt < 0.9 * err_za


def test_translation_invariance():
    # Rolling the white noise by whole lattice steps rolls every output field: the mesh is
    # 2x the lattice, so the shift is a whole number of mesh cells (round-off only).
    config = Config(n=16, box_size=64.0, steps=4)
    noise = ic.white_noise(16, 11)
    shift = (3, -5, 7)
    base = solver.run(config, noise)
    moved = solver.run(config, np.roll(noise, shift, axis=(0, 1, 2)))
    for name in ("disp", "disp_2lpt", "vel"):
        grid = base[name].reshape(16, 16, 16, 3)
        expect = np.roll(grid, shift, axis=(0, 1, 2)).reshape(-1, 3)
        scale = np.abs(grid).max()
        np.testing.assert_allclose(moved[name], expect, atol=1e-9 * scale)
    np.testing.assert_allclose(
        moved["delta"], np.roll(base["delta"], shift, axis=(0, 1, 2)), atol=1e-9
    )


def test_simulate_dataset_schema():
    config = Config(n=8, box_size=32.0, steps=2, Omega_m=0.27)
    calls = []
    ds = simulate(config, 4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    assert dict(ds.sizes) == {"x": 8, "y": 8, "z": 8}
    np.testing.assert_allclose(ds["x"].values, (np.arange(8) + 0.5) * 4.0)
    for prefix, unit in (("disp_za", "Mpc/h"), ("disp_2lpt", "Mpc/h"), ("disp", "Mpc/h"),
                         ("vel", "km/s")):  # fmt: skip
        for d in "xyz":
            var = ds[f"{prefix}_{d}"]
            assert var.dims == ("x", "y", "z") and var.dtype == np.float32
            assert var.attrs["units"] == unit
    assert ds["delta"].dtype == np.float32 and abs(float(ds["delta"].mean())) < 1e-6
    assert np.all(np.abs(ds["disp_x"].values) <= 16.0)  # minimum image
    assert float(ds["Omega_m"]) == 0.27 and float(ds["sigma8"]) == 0.8 and float(ds["seed"]) == 4
    validate(ds)  # the canonical schema of surrogates.io
    assert ds.attrs["box_size"] == 32.0 and ds.attrs["particle_spacing"] == 4.0
    assert ds.attrs["steps"] == 2 and ds.attrs["mesh_factor"] == 2
    assert ds.attrs["a_final"] == 1.0 and ds.attrs["source_format"] == "surrogates.solvers.pm"
    assert all(ds.attrs[f"boundary_{d}"] == "periodic" for d in "xyz")
    again = simulate(config, 4)
    np.testing.assert_array_equal(again["disp_x"].values, ds["disp_x"].values)
    assert simulate(dataclasses.replace(config, dtype="float64"), 4)["vel_y"].dtype == np.float64


def test_registered():
    spec = registry.get("pm")
    assert spec.config is Config and spec.simulate is simulate and spec.formats == ("gadget",)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n": 1}, "n must be an integer >= 2"),
        ({"box_size": -1.0}, "box_size must be > 0"),
        ({"a_start": 0.5, "a_final": 0.4}, "need 0 < a_start < a_final"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"mesh_factor": 0}, "mesh_factor must be an integer >= 1"),
        ({"n": 1500}, "force mesh n \\* mesh_factor must be <= 2048"),
        ({"Omega_b": 0.5}, "need 0 < Omega_b < Omega_m <= 1"),
        ({"dtype": "int8"}, "dtype must be 'float32' or 'float64'"),
    ],
)
def test_config_errors(changes, message):
    with pytest.raises(ModelError, match=message):
        Config(**changes)


def test_simulate_errors(tmp_path):
    with pytest.raises(ModelError, match="seed must be a non-negative integer, got -1"):
        simulate(Config(n=4, box_size=16.0, steps=1), -1)
    table = tmp_path / "pk.txt"
    np.savetxt(table, [[1e-4, 1.0], [10.0, 1e-3]])
    with pytest.raises(DataError, match=r"pk.txt: P\(k\) needed for k in"):
        simulate(Config(n=8, box_size=1.0, steps=1, power_table=str(table)), 0)
    with pytest.raises(ModelError, match=r"noise has shape \(4, 4, 4\)"):
        solver.run(Config(n=8), np.zeros((4, 4, 4)))
    with pytest.raises(DataError, match="cannot write format 'netcdf'"):
        write(simulate(Config(n=4, box_size=16.0, steps=1), 0), tmp_path / "x", "netcdf")


def test_gadget_roundtrip(tmp_path):
    gadget = pytest.importorskip("surrogates.io.gadget")
    config = Config(n=8, box_size=32.0, steps=2)
    one = simulate(config, 1)
    many = __import__("xarray").concat([one, simulate(config, 2)], dim="sample")
    files = write(many, tmp_path / "snap", "gadget")
    assert [f.name for f in files] == ["snap_00000.hdf5", "snap_00001.hdf5"]
    assert write(one, tmp_path / "single.hdf5", "gadget")[0].name == "single.hdf5"
    back = gadget.open(files[1], fields=("displacement", "velocity")).load()
    for name in ("disp_x", "disp_z", "vel_y"):
        scale = float(np.abs(many[name][1]).max())
        np.testing.assert_allclose(back[name].values, many[name][1].values, atol=1e-5 * scale)


def test_recipes():
    # The shipped recipes validate; the evaluation box has the training particle spacing
    # and an Omega_m inside the training range that no training draw equals.
    from pathlib import Path

    from surrogates.solvers.recipe import load_recipe, sample_configs

    root = Path(__file__).resolve().parents[1] / "datasets"
    train = load_recipe(root / "cosmo-pm-train")
    large = load_recipe(root / "cosmo-pm-large")
    assert train.solver == large.solver == "pm"
    draws = [config.Omega_m for config, _ in sample_configs(train)]
    assert len(draws) == train.samples and min(draws) >= 0.2 and max(draws) <= 0.4
    assert 0.2 < large.config.Omega_m < 0.4 and large.config.Omega_m not in draws
    assert large.config.particle_spacing == train.config.particle_spacing
    assert large.config.n == 4 * train.config.n
    assert large.seed >= train.seed + train.samples  # no white noise shared with training
