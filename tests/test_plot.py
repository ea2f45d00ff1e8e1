"""surrogates.plot: figure content (axes, labels, lines, colour scales, data) and style."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from surrogates import plot
from surrogates.compare import compare
from surrogates.errors import DataError

AXES = ("x", "y", "z")


def field_ds(fields, spacing, *, times=None, units="m", periodic=True):
    shape = next(v.shape for v in fields.values() if np.ndim(v))
    lead = ("time",) if times is not None else ()
    spatial = AXES[: len(shape) - len(lead)]
    coords = {
        a: (a, (np.arange(n) + 0.5) * spacing, {"units": units})
        for a, n in zip(spatial, shape[len(lead) :], strict=True)
    }
    if times is not None:
        coords["time"] = ("time", np.asarray(times, dtype=np.float64), {"units": "s"})
    data = {k: ((*lead, *spatial) if np.ndim(v) else (), v) for k, v in fields.items()}
    kind = "periodic" if periodic else "wall"
    return xr.Dataset(data, coords=coords, attrs={f"boundary_{a}": kind for a in spatial})


def data_lines(ax):
    """Lines drawn from data (guides are labelled '_reference')."""
    return [ln for ln in ax.get_lines() if ln.get_label() != "_reference"]


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(5)


@pytest.fixture(scope="module")
def cosmo(rng):
    d = rng.standard_normal((16, 16, 16))
    truth = field_ds({"delta": d}, 2.0, units="Mpc/h")
    half = truth * 0.5
    return compare(truth * 1.2 + 0.1 * rng.standard_normal(d.shape), truth, baselines={"ZA": half})


@pytest.fixture(scope="module")
def rollout(rng):
    """Two variables over 4 times, prediction drifting away; 3D periodic velocity."""
    u = rng.standard_normal((4, 3, 8, 8, 8))
    truth = field_ds(
        {f"u_{a}": u[:, i] for i, a in enumerate(AXES)} | {"nu": np.float64(0.1)},
        2 * np.pi / 8,
        times=[0.0, 0.5, 1.0, 1.5],
    )
    drift = np.linspace(0, 0.3, 4)[:, None, None, None]
    pred = truth.drop_vars("nu").map(lambda v: v * (1 + drift))
    return compare(pred, truth, baselines={"copy": truth.drop_vars("nu")})


def test_style_sets_rc_and_figures_are_not_pyplot_managed(cosmo, tmp_path):
    with plot.style():
        assert mpl.rcParams["font.size"] == plot.RC["font.size"]
    before = plt.get_fignums()
    fig = plot.power_spectra(cosmo)
    assert plt.get_fignums() == before  # never registered with pyplot, never shown
    path = tmp_path / "p.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.get_layout_engine() is not None
    ax = fig.axes[0]
    assert ax.get_lines()[0].get_linewidth() == pytest.approx(1.8)  # the truth, bold black
    assert mpl.colors.to_hex(ax.get_lines()[1].get_color()) == plot._style.COLORS[0].lower()


def test_slices_share_colour_scales_and_show_the_difference(rng):
    truth = xr.DataArray(
        rng.standard_normal((6, 5, 4)),
        dims=AXES,
        name="rho",
        coords={
            a: (a, np.arange(n) * 0.5 + 0.25, {"units": "m"})
            for a, n in zip(AXES, (6, 5, 4), strict=True)
        },
        attrs={"units": "kg/m^3"},
    )
    preds = {"a": truth * 1.5, "b": truth + 0.3}
    fig = plot.slices(truth, preds, axis="z", index=1)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 6 and len(fig.axes) == 8  # 2 rows x 3 panels + 2 colour bars
    fields = [im for i, im in enumerate(images) if i % 3 != 2]
    diffs = [im for i, im in enumerate(images) if i % 3 == 2]
    lims = {im.get_clim() for im in fields}
    assert len(lims) == 1
    everything = np.concatenate([truth.values.ravel(), 1.5 * truth.values.ravel()])
    assert lims.pop() == pytest.approx((everything.min(), everything.max()))
    plane = truth.isel(z=1).values
    dlim = max(np.abs(0.5 * plane).max(), 0.3)
    assert diffs[0].get_clim() == diffs[1].get_clim() == pytest.approx((-dlim, dlim))
    assert all(im.get_cmap().name == "RdBu_r" for im in diffs)
    np.testing.assert_allclose(images[0].get_array(), plane.T)  # x horizontal, y vertical
    np.testing.assert_allclose(images[2].get_array(), 0.5 * plane.T)
    assert images[0].get_extent() == pytest.approx([0.0, 3.0, 0.0, 2.5])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["truth", "a", "a − truth"]
    assert fig.axes[3].get_xlabel() == "x [m]" and fig.axes[0].get_ylabel() == "y [m]"
    assert fig.axes[6].get_xlabel() == "rho [kg/m^3]"  # the field colour bar, under its columns


def test_slices_project_a_slab_and_need_one_snapshot(rng):
    truth = xr.DataArray(rng.standard_normal((2, 4, 4, 6)), dims=("time", *AXES))
    fig = plot.slices(truth, truth, isel={"time": 1}, axis="x", index=1, thickness=2)
    expected = truth.isel(time=1, x=slice(1, 3)).mean("x").values.T
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected)
    with pytest.raises(DataError, match=r"dims \['time'\] left"):
        plot.slices(truth, truth)
    with pytest.raises(DataError, match=r"shape"):
        plot.slices(truth.isel(time=0), truth.isel(time=0, y=slice(0, 2)))


def test_slices_stack_panels_of_wide_domains(rng):
    truth = xr.DataArray(rng.standard_normal((40, 8)), dims=("x", "y"))  # aspect 1/5
    fig = plot.slices(truth, {"a": truth, "b": truth * 2})
    titles = [ax.get_title() for ax in fig.axes[:6]]
    assert titles == ["truth", "truth", "a", "b", "a − truth", "b − truth"]  # one column each
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), truth.values.T)
    assert fig.axes[4].get_xlabel() == "x" and fig.axes[1].get_ylabel() == ""


def test_power_spectra_panels(cosmo):
    fig = plot.power_spectra(cosmo)
    ax_p, ax_t, ax_r = fig.axes
    assert (ax_p.get_xscale(), ax_p.get_yscale(), ax_t.get_xscale()) == ("log", "log", "log")
    k = cosmo["k"].values
    lines = data_lines(ax_p)
    assert [ln.get_label() for ln in lines] == ["truth", "surrogate", "ZA"]
    np.testing.assert_array_equal(lines[0].get_ydata(), cosmo["power_truth"].values)
    np.testing.assert_array_equal(lines[2].get_xdata(), k)
    np.testing.assert_array_equal(lines[2].get_ydata(), cosmo["power"].sel(model="ZA").values)
    t_lines, r_lines = data_lines(ax_t), data_lines(ax_r)
    assert len(t_lines) == len(r_lines) == 2
    np.testing.assert_array_equal(t_lines[1].get_ydata(), cosmo["transfer"].sel(model="ZA"))
    np.testing.assert_array_equal(
        r_lines[0].get_ydata(), cosmo["cross_correlation"].sel(model="surrogate")
    )
    guides = {ln.get_ydata()[0] for ln in ax_r.get_lines() if ln.get_label() == "_reference"}
    assert {1.0, 0.99} <= guides
    assert ax_p.get_ylabel() == "P(k) [(Mpc/h)^3]"
    assert (ax_t.get_ylabel(), ax_r.get_ylabel()) == ("T(k)", "r(k)")
    assert ax_r.get_xlabel() == "k [1/(Mpc/h)]"


def test_correlation_plots_r2_xi(cosmo):
    fig = plot.correlation(cosmo, models=["ZA"])
    (ax,) = fig.axes
    lines = data_lines(ax)
    assert [ln.get_label() for ln in lines] == ["truth", "ZA"]
    r = cosmo["r"].values
    np.testing.assert_allclose(lines[1].get_ydata(), r**2 * cosmo["xi"].sel(model="ZA").values)
    assert ax.get_xlabel() == "r [Mpc/h]"
    with pytest.raises(DataError, match=r"models \['2LPT'\] not in the result"):
        plot.correlation(cosmo, models=["2LPT"])


def test_mass_function_error_bars():
    mass = np.array([1.0, 2.0, 4.0])
    result = xr.Dataset(
        {
            "mass_function_truth": ("mass", [4.0, 2.0, 1.0], {"units": "1/m^3"}),
            "mass_function_err_truth": ("mass", [2.0, 1.4, 1.0]),
            "mass_function": (("model", "mass"), [[3.0, 2.0, 0.0]]),
            "mass_function_err": (("model", "mass"), [[1.7, 1.4, 0.0]]),
        },
        coords={"mass": ("mass", mass, {"units": "Msun"}), "model": ["emu"]},
    )
    fig = plot.mass_function(result)
    ax_n, ax_q = fig.axes
    assert len(ax_n.containers) == 2 and len(ax_q.containers) == 1
    line, _, (bars,) = ax_n.containers[1].lines
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 0.0])
    segments = bars.get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments[:2]], [[1.3, 4.7], [0.6, 3.4]])
    ratio = ax_q.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(ratio, [0.75, 1.0, np.nan])  # empty model bin: no ratio
    assert ax_n.get_ylabel() == "dn/dlnM [1/m^3]" and ax_q.get_xlabel() == "M [Msun]"


def test_energy_spectra_and_dissipation(rollout):
    fig = plot.energy_spectra(rollout)
    ax_e, ax_q = fig.axes
    lines = data_lines(ax_e)
    assert [ln.get_label() for ln in lines] == ["truth", "surrogate", "copy"]
    np.testing.assert_array_equal(lines[0].get_ydata(), rollout["energy_truth"].isel(time=-1))
    np.testing.assert_allclose(data_lines(ax_q)[1].get_ydata(), 1.0)  # the exact copy
    fig = plot.dissipation(rollout)
    ax_e, ax_q = fig.axes
    np.testing.assert_array_equal(data_lines(ax_e)[0].get_xdata(), rollout["time"].values)
    np.testing.assert_array_equal(data_lines(ax_e)[0].get_ydata(), rollout["dissipation_truth"])
    err = rollout["dissipation_error"].sel(model="surrogate").values
    np.testing.assert_array_equal(data_lines(ax_q)[0].get_ydata(), err)
    assert err[-1] == pytest.approx(1.3**2 - 1)
    assert ax_q.get_xlabel() == "time [s]"


def test_error_vs_step(rollout):
    fig = plot.error_vs_step(rollout, "nrmse", variables=["u_x", "u_z"])
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4  # 2 variables x 2 models
    assert lines[0].get_label() == "u_x (surrogate)"
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(4))
    expected = rollout["nrmse"].sel(model="surrogate", variable="u_x").values
    np.testing.assert_array_equal(lines[0].get_ydata(), expected)
    np.testing.assert_allclose(expected, np.linspace(0, 0.3, 4), atol=1e-12)
    assert lines[0].get_linestyle() != lines[2].get_linestyle()  # models differ by style
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("rollout step", "nRMSE (PDEBench)")
    fig = plot.error_vs_step(rollout, "frmse", band="mid", x="time", log=True)
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].get_lines()) == 6


def test_force_coefficients_per_body():
    times = np.array([0.0, 1.0, 2.0])
    cd_t = np.array([[1.0, 2.0], [1.1, 2.1], [1.2, 2.2]])
    result = xr.Dataset(
        {
            "C_D_truth": (("time", "body"), cd_t),
            "C_L_truth": (("time", "body"), -cd_t),
            "C_D": (("model", "time", "body"), np.stack([cd_t * 1.1, cd_t * 0.9])),
            "C_L": (("model", "time", "body"), np.stack([-cd_t, -cd_t * 0.5])),
        },
        coords={"time": ("time", times, {"units": "s"}), "body": [1, 2], "model": ["a", "b"]},
    )
    fig = plot.force_coefficients(result)
    assert len(fig.axes) == 4  # 2 bodies x (C_D, C_L)
    for ax in fig.axes:
        assert len(ax.get_lines()) == 3  # truth + 2 models
    body2_cl = fig.axes[3].get_lines()
    np.testing.assert_array_equal(body2_cl[0].get_ydata(), -cd_t[:, 1])
    np.testing.assert_array_equal(body2_cl[2].get_ydata(), -0.5 * cd_t[:, 1])
    np.testing.assert_array_equal(body2_cl[0].get_xdata(), times)
    assert fig.axes[0].get_ylabel() == "$C_D$, body 1"
    assert fig.axes[3].get_xlabel() == "time [s]"
    assert len(plot.force_coefficients(result, bodies=[2]).axes) == 2
    side = result.assign(C_S_truth=0.5 * result["C_L_truth"], C_S=0.5 * result["C_L"])
    fig = plot.force_coefficients(side)  # 3D: the side force is a third column
    assert len(fig.axes) == 6 and fig.axes[5].get_ylabel() == "$C_S$, body 2"
    np.testing.assert_array_equal(fig.axes[5].get_lines()[0].get_ydata(), -0.5 * cd_t[:, 1])


def test_matched_accuracy_draws_the_solver_curve_and_each_model():
    seconds = np.array([0.0, 1.0, 2.0, 4.0])
    error = np.array([1.0, 0.5, 0.1, 0.01])
    fig = plot.matched_accuracy(seconds, error, {"a": (0.05, 0.2), "b": (0.1, 0.02)})
    (ax,) = fig.axes
    solver, a, guide_a, b, guide_b = ax.get_lines()
    np.testing.assert_array_equal(solver.get_xdata(), seconds[1:])  # 0 s is off a log axis
    np.testing.assert_array_equal(solver.get_ydata(), error[1:])
    assert (a.get_xdata()[0], a.get_ydata()[0]) == (0.05, 0.2)
    assert list(guide_b.get_ydata()) == [0.02, 0.02]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["solver", "a", "b"]
    with pytest.raises(DataError, match="differ"):
        plot.matched_accuracy(seconds, error[:2], {})


def test_plots_name_what_the_result_lacks(cosmo):
    with pytest.raises(DataError, match=r"lacks \['energy_truth'"):
        plot.energy_spectra(cosmo)
    with pytest.raises(DataError, match=r"no 'model' coordinate"):
        plot.power_spectra(cosmo.drop_vars("model"))
