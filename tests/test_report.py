"""surrogates.report: the files of `surrogates compare PRED TRUTH --out DIR`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr

from surrogates.compare import compare
from surrogates.errors import DataError
from surrogates.io import open_dataset, to_netcdf
from surrogates.report import compare_report, read_metrics_json

AXES = ("x", "y", "z")


def particles(disp, samples=False):
    """Canonical PM-like dataset: displacements (and a 2LPT-like baseline) on a 16^3 lattice."""
    n = disp.shape[-1]
    dims = (("sample",) if samples else ()) + AXES
    data = {}
    for i, a in enumerate(AXES):
        data[f"disp_{a}"] = (dims, disp[..., i, :, :, :], {"units": "Mpc/h"})
        data[f"disp_2lpt_{a}"] = (dims, 0.8 * disp[..., i, :, :, :], {"units": "Mpc/h"})
    coords = {a: (a, (np.arange(n) + 0.5) * 1.0, {"units": "Mpc/h"}) for a in AXES}
    attrs = {f"boundary_{a}": "periodic" for a in AXES} | {"source": "t", "source_format": "t"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Truth with clumps (halos) and a noisy prediction, written as netCDF."""
    n = 16
    q = (np.arange(n) + 0.5)[None, :, None, None] * np.ones((3, n, n, n))
    q = np.stack([np.moveaxis(q[0], 0, a) for a in range(3)])
    disp = (np.floor((q + 2) / 4) * 4 - q) * 0.9
    noise = 0.05 * np.random.default_rng(2).standard_normal(disp.shape)
    root = tmp_path_factory.mktemp("report")
    truth, pred = root / "truth.nc", root / "pred.nc"
    to_netcdf(particles(disp), truth)
    to_netcdf(particles(disp * 0.95 + noise)[[f"disp_{a}" for a in AXES]], pred)
    return pred, truth


@pytest.fixture(scope="module")
def report(files, tmp_path_factory):
    pred, truth = files
    out = tmp_path_factory.mktemp("out") / "report"
    returned = compare_report(pred, truth, out, baselines={"2LPT": "disp_2lpt"}, min_members=10)
    assert returned == out
    return out


def test_report_writes_the_expected_files(report):
    names = {p.name for p in report.iterdir()}
    expected = {
        "metrics.nc",
        "metrics.json",
        "summary.md",
        "power_spectrum.png",
        "correlation.png",
        "mass_function.png",
        "density_slices.png",
    }
    assert names == expected  # no temporary files left behind
    for name in expected - {"metrics.nc", "metrics.json", "summary.md"}:
        assert (report / name).read_bytes()[:4] == b"\x89PNG"


def test_metrics_files_hold_the_comparison(report, files):
    pred, truth = files
    expected = compare(
        open_dataset(pred), open_dataset(truth), baselines={"2LPT": "disp_2lpt"}, min_members=10
    )
    with xr.open_dataset(report / "metrics.nc") as nc:
        xr.testing.assert_allclose(nc.load(), expected)
        assert nc.attrs["models"] == "surrogate,2LPT"
    from_json = read_metrics_json(report / "metrics.json")
    xr.testing.assert_allclose(from_json, expected)
    assert from_json["frmse"].dtype == np.float64 and np.isnan(from_json["frmse"]).any()
    raw = json.loads((report / "metrics.json").read_text())  # strict JSON: NaN as null
    assert raw["data_vars"]["frmse"]["data"][0][0][2] is None


def table(text: str, heading: str) -> list[list[str]]:
    block = text.split(heading, 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in block.splitlines()[2:]]
    return [[cell.strip() for cell in row] for row in rows]


def test_summary_tables_quote_the_metrics(report):
    text = (report / "summary.md").read_text()
    with xr.open_dataset(report / "metrics.nc") as nc:
        rows = table(text, "## Field errors")
        assert len(rows) == 6  # 2 models x 3 variables
        for model, var, nrmse, vrmse, l2, crmse in rows:
            sel = {"model": model, "variable": var}
            assert nrmse == f"{float(nc['nrmse'].sel(sel)):.4g}"
            assert vrmse == f"{float(nc['vrmse'].sel(sel)):.4g}"
            assert l2 == f"{float(nc['relative_l2'].sel(sel)):.4g}"
            assert crmse == f"{float(nc['crmse'].sel(sel)):.4g}"
        assert [r[3] for r in rows if r[0] == "2LPT"] == ["0.2"] * 3  # 0.8 x truth
        k_half = 0.5 * nc.attrs["k_nyquist"]
        assert f"k½ = k_Nyquist / 2 = {k_half:.4g}" in text
        cosmo = {r[0]: r for r in table(text, "## Cosmology")}
        t = nc["transfer"].sel(model="2LPT").values
        assert cosmo["2LPT"][1] == f"{np.interp(k_half, nc['k'].values, t):.4g}"
        upto = nc["k"].values <= k_half
        assert cosmo["2LPT"][3] == f"{np.nanmax(np.abs(t[upto] - 1)):.4g}"
        halos = nc["halo_count"].sum("mass") / nc["halo_count_truth"].sum()
        assert cosmo["surrogate"][5] == f"{float(halos.sel(model='surrogate')):.4g}"
        # The D3M-style verdict counts k-bins up to k½ where the surrogate is closer to PM.
        closer = lambda var, f: f(nc[var].sel(model="surrogate")) < f(nc[var].sel(model="2LPT"))  # noqa: E731
        wins_t = int(closer("transfer", lambda t: abs(t - 1))[upto].sum())
        wins_r = int(closer("cross_correlation", lambda r: 1 - r)[upto].sum())
        n = int(upto.sum())
        verdict = "beats" if wins_t == wins_r == n else "does not beat"
        assert (
            f"- surrogate {verdict} 2LPT at every k ≤ k½: |1 − T| smaller in {wins_t}/{n} k-bins,"
            f" 1 − r smaller in {wins_r}/{n}"
        ) in text
    assert re.search(r"!\[power_spectrum\]\(power_spectrum\.png\)", text)


def test_mismatched_datasets_raise_before_writing(files, tmp_path):
    pred, truth = files
    small = tmp_path / "small.nc"
    to_netcdf(open_dataset(pred).isel(x=slice(0, 8)).load(), small)
    out = tmp_path / "never"
    with pytest.raises(DataError, match=r"grid differs along x: model 'surrogate' has 8 cells"):
        compare_report(small, truth, out)
    assert not out.exists()
    with pytest.raises(DataError, match=r"truth has no variable 'disp_za_x'"):
        compare_report(pred, truth, out, baselines={"ZA": "disp_za"})


def test_turbulence_report_without_figures(tmp_path):
    rng = np.random.default_rng(4)
    u = rng.standard_normal((2, 3, 3, 8, 8, 8))
    dims = ("sample", "time", *AXES)
    coords = {a: (a, (np.arange(8) + 0.5) * np.pi / 4) for a in AXES}
    coords["time"] = ("time", [0.0, 1.0, 2.0])
    attrs = {f"boundary_{a}": "periodic" for a in AXES} | {"source": "t", "source_format": "t"}
    fields = {f"u_{a}": (dims, u[:, :, i]) for i, a in enumerate(AXES)}
    truth = xr.Dataset(fields | {"nu": ((), 0.05)}, coords=coords, attrs=attrs)
    pred = truth.drop_vars("nu") * 1.1
    out = compare_report(pred, truth, tmp_path / "turb", figures=False)
    assert {p.name for p in out.iterdir()} == {"metrics.nc", "metrics.json", "summary.md"}
    text = (out / "summary.md").read_text()
    rows = table(text, "## Turbulence")
    # 1.1 x the velocity: epsilon scales by 1.21 at every time.
    assert rows == [["surrogate", "0.21", "0.21", rows[0][3]]]
    assert "nRMSE (last step)" in text


def test_forces_report_has_the_side_force_in_3d(tmp_path):
    # Still fluid around a 4x4x4 body with p = -G (x + z): Archimedes, F = G V (1, 0, 1),
    # so C_D = C_S = 2 G V / (rho U^2 A) = 8 G (V = 64, A = 16 cells); the prediction
    # doubles G: C_D rel. error 1, |ΔC_S| = 8 * 0.1.
    mask = np.zeros((16, 12, 12))
    mask[6:10, 4:8, 4:8] = 1.0
    x, _, z = np.meshgrid(*(np.arange(n) + 0.5 for n in mask.shape), indexing="ij")
    coords = {
        a: (a, np.arange(n) + 0.5, {"units": "m"}) for a, n in zip(AXES, mask.shape, strict=True)
    }
    attrs = {f"boundary_{a}": "wall" for a in AXES} | {"source": "t", "source_format": "t"}

    def channel(gradient):
        zero = np.zeros(mask.shape)
        data = {"p": -gradient * (x + z), "u_x": zero, "u_y": zero, "u_z": zero}
        fields = {k: (AXES, v) for k, v in data.items()}
        return xr.Dataset(fields | {"mask": (AXES, mask)}, coords=coords, attrs=attrs)

    out = compare_report(
        channel(0.2).drop_vars("mask"), channel(0.1), tmp_path / "forces", figures=False,
        U=1.0, nu=0.0,
    )  # fmt: skip
    rows = table((out / "summary.md").read_text(), "## Forces")
    assert rows == [["surrogate", "1", "0.8", "1.6", "1", "0", "0.8"]]
