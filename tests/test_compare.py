"""surrogates.compare: known answers on synthetic fields, the result layout, and mismatches."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import xarray as xr

from surrogates.compare import compare, density_field
from surrogates.errors import DataError
from surrogates.ops.constants import RHO_CRIT

AXES = ("x", "y", "z")


def box(fields, spacing, *, times=None, samples=None, periodic=True, units="Mpc/h"):
    """Canonical dataset of ``fields`` (arrays over (sample?, time?, *spatial); 0-d arrays
    are parameters) with cells of side ``spacing``."""
    shape = next(v.shape for v in fields.values() if np.ndim(v))
    lead = (("sample",) if samples is not None else ()) + (("time",) if times is not None else ())
    nd = len(shape) - len(lead)
    dims = lead + AXES[:nd]
    coords = {
        a: (a, (np.arange(n) + 0.5) * spacing, {"units": units})
        for a, n in zip(AXES[:nd], shape[len(lead) :], strict=True)
    }
    if times is not None:
        coords["time"] = ("time", np.asarray(times, dtype=np.float64))
    if samples is not None:
        coords["sample"] = ("sample", np.arange(samples))
    data = {k: (dims if np.ndim(v) else (), v) for k, v in fields.items()}
    kind = "periodic" if periodic else "wall"
    attrs = {f"boundary_{a}": kind for a in AXES[:nd]} | {"source": "test", "source_format": "t"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


@pytest.fixture(scope="module")
def white():
    """Unit-variance white noise on a 32^3 box, 2 samples x 2 times."""
    rng = np.random.default_rng(1)
    return rng.standard_normal((2, 2, 32, 32, 32))


def test_identical_prediction_gives_zero_errors_and_unit_spectra(white):
    truth = box({"delta": white}, 2.0, times=[0.0, 1.0], samples=2)
    res = compare(truth.copy(), truth)
    assert res.attrs["diagnostics"] == "metrics,cosmology"
    for name in ("rmse", "nrmse", "crmse", "brmse", "frmse", "vrmse", "relative_l2"):
        assert res[name].dims[:4] == ("model", "variable", "sample", "time")
        np.testing.assert_array_equal(res[name].values, 0.0)  # exactly zero
    assert res["transfer"].dims == ("model", "sample", "time", "k")
    k_fundamental = 2 * np.pi / 64.0  # bins of width k_F, cut at the Nyquist pi n / L
    assert res.attrs["k_nyquist"] == pytest.approx(np.pi * 32 / 64.0)
    assert res["k"].max() < res.attrs["k_nyquist"] + k_fundamental
    np.testing.assert_allclose(res["transfer"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res["cross_correlation"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res["power_ratio"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res["xi"].sel(model="surrogate"), res["xi_truth"], rtol=1e-12)


def test_fields_follow_the_truths_order_not_the_predictions():
    # A zarr store lists its arrays in directory order (e.g. disp_y, disp_z, disp_x); the
    # tables must still read x, y, z as the truth has them.
    rng = np.random.default_rng(0)
    fields = {f"disp_{a}": rng.standard_normal((8, 8, 8)) for a in AXES}
    truth = box(fields, 4.0)
    pred = box({k: fields[k] for k in ("disp_y", "disp_z", "disp_x")}, 4.0)
    res = compare(pred, truth, diagnostics=["metrics"])
    assert list(res["variable"].values) == ["disp_x", "disp_y", "disp_z"]


def test_doubled_prediction_has_transfer_two_and_unit_correlation(white):
    truth = box({"delta": white[0, 0]}, 2.0)
    res = compare(truth * 2.0, truth)
    # T = sqrt(P(2d) / P(d)) = 2 and r = 1 exactly; ||2d - d|| / ||d|| = 1.
    np.testing.assert_allclose(res["transfer"], 2.0, rtol=1e-12)
    np.testing.assert_allclose(res["cross_correlation"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res["power_ratio"], 4.0, rtol=1e-12)
    np.testing.assert_allclose(res["relative_l2"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res["nrmse"], 1.0, rtol=1e-12)
    assert res["power"].attrs.get("units") == "(Mpc/h)^3"


def test_independent_noise_sets_cross_correlation(white):
    """prediction = truth + independent noise of power N: r = sqrt(P / (P + N)),
    T = sqrt((P + N) / P). White fields: P = s^2 V / N_cells, N = n^2 V / N_cells."""
    s2, n2 = 1.0, 0.75**2
    truth = box({"delta": white[0, 0]}, 2.0)
    noise = np.sqrt(n2) * np.random.default_rng(7).standard_normal(white.shape[2:])
    res = compare(truth + noise, truth, ["cosmology"])
    r_true, t_true = np.sqrt(s2 / (s2 + n2)), np.sqrt((s2 + n2) / s2)
    m = res["n_modes"].values / 2.0  # independent complex modes per bin
    well = m >= 50
    assert well.sum() >= 10
    r = res["cross_correlation"].sel(model="surrogate").values
    t = res["transfer"].sel(model="surrogate").values
    # Cosmic variance: the sample correlation coefficient of M Gaussian pairs has standard
    # error (1 - r^2) / sqrt(M) (Fisher 1915); the ratio of two band powers a relative
    # error below sqrt(2 / M) (uncorrelated bound), halved for the square root. 5 sigma.
    assert np.all(np.abs(r[well] - r_true) < 5 * (1 - r_true**2) / np.sqrt(m[well]))
    assert np.all(np.abs(t[well] / t_true - 1) < 5 * 0.5 * np.sqrt(2 / m[well]))
    assert abs(np.mean(r[well]) - r_true) < 0.01


def clumped_displacement(n=16, length=16.0, block=4, shrink=0.9):
    """Lattice displacement that gathers each block^3 group of particles to its centre.

    Block centres sit on cell boundaries shifted by half a block, so the groups at the box
    edge straddle the periodic boundary. Returns (3, n, n, n).
    """
    q = (np.arange(n) + 0.5) * (length / n)
    grid = np.stack(np.meshgrid(q, q, q, indexing="ij"))
    centre = np.floor((grid + block / 2) / block) * block
    return (centre - grid) * shrink


def test_particles_halo_mass_functions_and_models():
    disp = clumped_displacement()
    fields = {f"disp_{a}": disp[i] for i, a in enumerate(AXES)}
    truth = box({**fields, "Omega_m": np.float64(0.3)}, 1.0)
    lattice = box({k: np.zeros_like(v) for k, v in fields.items()}, 1.0)
    res = compare(truth[list(fields)], truth, baselines={"ZA": lattice}, min_members=10)
    assert list(res["model"].values) == ["surrogate", "ZA"]
    # 64 groups of 64 particles (those at the edges wrapped); particle mass
    # Omega_m rho_crit V / N with V / N = 1 (Mpc/h)^3. One mass -> one bin centred on it.
    mass = 64 * 0.3 * RHO_CRIT
    np.testing.assert_allclose(res["mass"].values, [mass], rtol=1e-12)
    assert res["mass"].attrs["units"] == "1e10 Msun/h"
    np.testing.assert_array_equal(res["halo_count_truth"].values, [64.0])
    np.testing.assert_array_equal(res["halo_count"].values, [[64.0], [0.0]])
    dn = 64.0 / (16.0**3 * np.log(1.1**2))
    np.testing.assert_allclose(res["mass_function_truth"].values, [dn], rtol=1e-12)
    np.testing.assert_allclose(res["mass_function_err_truth"].values, [dn / 8.0], rtol=1e-12)
    assert res.attrs["shot_noise"] == 1.0
    assert res.attrs["k_nyquist"] == pytest.approx(np.pi)


def test_density_field_paints_lattice_plus_displacement():
    # One particle per cell moved by exactly one cell along x: delta stays 0 (CIC of a
    # particle at a cell centre fills that cell only); a uniform shift of 0.5 cell too.
    zeros = np.zeros((8, 8, 8))
    ds = box({"disp_x": zeros + 2.0, "disp_y": zeros, "disp_z": zeros}, 2.0)
    np.testing.assert_allclose(density_field(ds).values, 0.0, atol=1e-12)
    # Half the particles moved onto their neighbours' cells: delta = +1 / -1 in x slabs.
    dx = np.where((np.arange(8) % 2 == 0)[:, None, None], 2.0, 0.0) + zeros
    ds = box({"disp_x": dx, "disp_y": zeros, "disp_z": zeros}, 2.0)
    delta = density_field(ds)
    expected = np.where((np.arange(8) % 2 == 1)[:, None, None], 1.0, -1.0) + zeros
    np.testing.assert_allclose(delta.values, expected, atol=1e-12)
    assert delta.dims == AXES and delta["x"].attrs["units"] == "Mpc/h"


def test_baselines_from_datasets_and_truth_stems(white):
    d = white[0, 0]
    truth = box({"delta": d, "delta_half": 0.5 * d}, 2.0)
    res = compare(truth[["delta"]], truth, baselines={"half": "delta_half", "triple": truth * 3})
    assert list(res["model"].values) == ["surrogate", "half", "triple"]
    assert res["nrmse"].dims == ("model", "variable")
    np.testing.assert_allclose(res["nrmse"].sel(variable="delta"), [0.0, 0.5, 2.0], rtol=1e-12)
    np.testing.assert_allclose(res["transfer"].sel(model="half"), 0.5, rtol=1e-12)
    assert res["power_truth"].dims == ("k",)


def taylor_green(n=16):
    """u = (sin x cos y cos z, -cos x sin y cos z, 0) on [0, 2 pi)^3."""
    c = (np.arange(n) + 0.5) * (2 * np.pi / n)
    x, y, z = np.meshgrid(c, c, c, indexing="ij")
    return np.sin(x) * np.cos(y) * np.cos(z), -np.cos(x) * np.sin(y) * np.cos(z), 0 * x


def test_turbulence_energy_spectra_and_dissipation():
    nu = 0.01
    decay = np.exp(-3 * nu * np.array([0.0, 1.0, 2.0]))[:, None, None, None]
    u = {f"u_{a}": decay * c for a, c in zip(AXES, taylor_green(), strict=True)}
    truth = box({**u, "nu": np.float64(nu)}, 2 * np.pi / 16, times=[0.0, 1.0, 2.0])
    pred = box({k: 2 * v for k, v in u.items()}, 2 * np.pi / 16, times=[0.0, 1.0, 2.0])
    res = compare(pred, truth)
    assert res.attrs["diagnostics"] == "metrics,turbulence"
    # Taylor-Green at amplitude A: <|u|^2>/2 = A^2/8, epsilon = 3 nu A^2 / 4 (spectral, exact).
    amp2 = decay.ravel() ** 2
    np.testing.assert_allclose(res["dissipation_truth"], 0.75 * nu * amp2, rtol=1e-10)
    np.testing.assert_allclose(res["energy_truth"].sum("k_shell"), amp2 / 8, rtol=1e-10)
    np.testing.assert_allclose(res["dissipation_error"], 3.0, rtol=1e-10)  # 4x - 1
    assert res["energy"].dims == ("model", "time", "k_shell")
    nonzero = res["energy_truth"] > 1e-20
    np.testing.assert_allclose(res["energy_ratio"].where(nonzero).dropna("k_shell"), 4.0)


def channel_with_bodies(times=(0.0, 1.0), gradient=0.1):
    """2D channel 24 x 16 (spacing 1), two 4x4 bodies, still fluid, p = -G x."""
    mask = np.zeros((24, 16))
    mask[4:8, 6:10] = 1.0
    mask[14:18, 2:6] = 1.0
    x = (np.arange(24) + 0.5)[:, None] + np.zeros((24, 16))
    p = np.stack([-gradient * x] * len(times))
    zero = np.zeros_like(p)
    ds = box({"p": p, "u_x": zero, "u_y": zero}, 1.0, times=times, periodic=False, units="m")
    return ds.assign(mask=(("x", "y"), mask))


def test_forces_from_a_pressure_gradient():
    truth = channel_with_bodies()
    pred = channel_with_bodies(gradient=0.2)
    res = compare(pred, truth, U=1.0, nu=0.0)
    assert res.attrs["diagnostics"] == "metrics,forces"
    # Divergence theorem: F = -oint p n dA = G * area = 0.1 * 16 per unit depth;
    # C_D = 2 F / (rho U^2 D) with D = 4 cells: 0.8 (linear p: wall extrapolation exact).
    np.testing.assert_allclose(res["C_D_truth"], 0.8, rtol=1e-12)
    np.testing.assert_allclose(res["C_D"], 1.6, rtol=1e-12)
    np.testing.assert_allclose(res["C_L"], 0.0, atol=1e-12)
    assert res["C_D"].dims == ("model", "time", "body")
    assert list(res["body"].values) == [1, 2]
    assert "C_S" not in res  # 2D: one transverse component


def test_side_force_in_3d():
    # Still fluid, p = -G z around a 4x4x4 body (spacing 1): Archimedes, F = G V e_z with
    # V = 64, frontal area A = 16, so C_S = 2 G V / (rho U^2 A) = 8 G; C_D = C_L = 0.
    mask = np.zeros((16, 12, 12))
    mask[6:10, 4:8, 4:8] = 1.0
    z = np.broadcast_to((np.arange(12) + 0.5), (16, 12, 12))

    def channel(gradient):
        zero = np.zeros((16, 12, 12))
        ds = box({"p": -gradient * z, "u_x": zero, "u_y": zero, "u_z": zero}, 1.0, periodic=False,
                 units="m")  # fmt: skip
        return ds.assign(mask=(AXES, mask))

    res = compare(channel(0.2), channel(0.1), U=1.0, nu=0.0, diagnostics=["forces"])
    np.testing.assert_allclose(res["C_S_truth"], 0.8, rtol=1e-12)
    np.testing.assert_allclose(res["C_S"], 1.6, rtol=1e-12)
    np.testing.assert_allclose(res[["C_D", "C_L", "C_D_truth", "C_L_truth"]].to_array(), 0.0,
                               atol=1e-12)  # fmt: skip
    assert res["C_S"].attrs["long_name"].startswith("side force")


def test_truth_is_taken_at_the_prediction_times(white):
    truth = box({"delta": white[0]}, 2.0, times=[0.0, 0.5])
    res = compare(truth.isel(time=[1]), truth)
    np.testing.assert_array_equal(res["time"].values, [0.5])
    np.testing.assert_array_equal(res["nrmse"].values, 0.0)


def test_dask_backed_inputs_give_the_same_result(white, monkeypatch):
    truth = box({"delta": white[0]}, 2.0, times=[0.0, 1.0])
    pred = truth * 1.5
    eager = compare(pred, truth)
    small = compare(pred.chunk({"x": 16}), truth.chunk())  # loaded at once
    xr.testing.assert_allclose(eager, small)
    # Above the size limit the metrics reduce the dask graphs chunk by chunk.
    monkeypatch.setattr(importlib.import_module("surrogates.compare"), "LOAD_LIMIT_BYTES", 0)
    lazy = compare(pred.chunk({"time": 1, "x": 16}), truth.chunk({"time": 1}))
    xr.testing.assert_allclose(eager, lazy)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p: p.isel(x=slice(0, 4)), r"grid differs along x: model 'surrogate' has 4 cells"),
        (lambda p: p.assign_coords(y=p["y"] * 2), r"grid differs along y"),
        (lambda p: p.rename(u="v"), r"the truth lacks variables \['v'\]"),
        (lambda p: p.assign_coords(time=[0.0, 5.0]), r"times differ: truth lacks .*5\.0"),
        (lambda p: p.isel(time=0), r"truth has 2 times, the prediction has none"),
        (lambda p: p.isel(sample=[0]), r"samples differ"),
    ],
)
def test_mismatched_inputs_raise(change, match):
    data = np.random.default_rng(3).standard_normal((2, 2, 6, 6))
    truth = box({"u": data}, 1.0 / 6, times=[0.0, 1.0], samples=2)
    with pytest.raises(DataError, match=match):
        compare(change(truth), truth, "metrics")


def test_bad_requests_raise(white):
    truth = box({"delta": white[0, 0]}, 2.0)
    with pytest.raises(DataError, match=r"model 'b' lacks variables \['delta'\]"):
        compare(truth, truth, baselines={"b": truth.rename(delta="other")})
    two = truth.assign(other=truth["delta"])
    with pytest.raises(DataError, match=r"stem 'delta' is ambiguous"):
        compare(two, two, baselines={"b": "delta"})
    with pytest.raises(DataError, match=r"unknown options \['bogus'\]"):
        compare(truth, truth, bogus=1)
    with pytest.raises(DataError, match=r"unknown diagnostics \['spectra'\]"):
        compare(truth, truth, ["spectra"])
    with pytest.raises(DataError, match=r"'turbulence' need u_x, u_y"):
        compare(truth, truth, ["turbulence"])
    with pytest.raises(DataError, match=r"expected xarray.Dataset"):
        compare(truth["delta"], truth)
    u = dict(zip(("u_x", "u_y", "u_z"), taylor_green(8), strict=True))
    flow = box(u, 2 * np.pi / 8)
    with pytest.raises(DataError, match=r"needs nu: pass nu="):
        compare(flow, flow)
