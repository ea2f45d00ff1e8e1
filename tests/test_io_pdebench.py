"""PDEBench layouts (CFD, single-field, multi-seed) in 1D, 2D and 3D, and the 2D
incompressible Navier-Stokes layout of PDEBench's ``data_io.h5_for``."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from io_fixtures import (
    AXES,
    centres,
    write_pdebench_cfd,
    write_pdebench_ns_incomp,
    write_pdebench_seeds,
    write_pdebench_tensor,
)

from surrogates.errors import DataError
from surrogates.io import check_finite, open_dataset
from surrogates.io.lazy import H5Array


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_cfd_file(tmp_path, ndim):
    path = tmp_path / f"{ndim}D_CFD_Rand_periodic_Train.hdf5"
    truth = write_pdebench_cfd(path, ndim, n=2, t=3)
    ds = open_dataset(path)
    axes = AXES[:ndim]
    assert ds.attrs["source_format"] == "pdebench"
    assert ds["density"].dims == ("sample", "time", *axes)
    assert sorted(ds.data_vars) == sorted(
        ["density", "pressure", "eta", "zeta", "M", *(f"velocity_{a}" for a in axes)]
    )
    for axis in axes:
        np.testing.assert_array_equal(ds[f"velocity_{axis}"].values, truth[f"V{axis}"])
        assert ds.attrs[f"boundary_{axis}"] == "periodic"  # from the file name
    np.testing.assert_array_equal(ds["pressure"].values, truth["pressure"])
    # t-coordinate has T + 1 entries; frame k is at t[k]
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.05, 0.1], rtol=1e-6)
    assert float(ds["eta"]) == pytest.approx(0.01) and ds["M"].dims == ()


def test_cfd_file_without_periodic_in_its_name_is_open(tmp_path):
    write_pdebench_cfd(tmp_path / "1D_CFD_Shock_trans_Train.hdf5", 1, extra_time=False)
    ds = open_dataset(tmp_path / "1D_CFD_Shock_trans_Train.hdf5")
    assert ds.attrs["boundary_x"] == "open"
    assert ds.sizes["time"] == 3  # a t-coordinate with exactly T entries is used as is


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_single_field_file(tmp_path, ndim):
    truth = write_pdebench_tensor(tmp_path / "adv.h5", ndim)
    ds = open_dataset(tmp_path / "adv.h5", variables={"tensor": "u"})
    np.testing.assert_array_equal(ds["u"].values, truth)
    np.testing.assert_allclose(ds["x"].values, centres(8))
    assert float(ds["beta"]) == 0.5


def test_single_field_file_with_static_per_sample_field(tmp_path):
    """Darcy flow: tensor [N, 1, X, Y], coefficient nu [N, X, Y], no t-coordinate."""
    rng = np.random.default_rng(3)
    with h5py.File(tmp_path / "darcy.h5", "w") as f:
        f["tensor"] = rng.random((2, 1, 8, 6))
        f["nu"] = rng.random((2, 8, 6))
        f["x-coordinate"], f["y-coordinate"] = centres(8), centres(6)
    ds = open_dataset(tmp_path / "darcy.h5")
    assert ds["nu"].dims == ("sample", "x", "y")
    np.testing.assert_array_equal(ds["time"].values, [0.0])  # frame index without t-coordinate


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_multi_seed_file(tmp_path, ndim, monkeypatch):
    truth = write_pdebench_seeds(tmp_path / "diff_react.h5", ndim, seeds=3, t=4, channels=2)
    ds = open_dataset(tmp_path / "diff_react.h5")
    assert list(ds.data_vars) == ["data_0", "data_1"]
    assert ds["data_0"].dims == ("sample", "time", *AXES[:ndim])
    np.testing.assert_array_equal(ds["sample"].values, [0, 1, 2])
    for c in range(2):
        np.testing.assert_array_equal(ds[f"data_{c}"].values, truth[..., c])
    np.testing.assert_allclose(ds["x"].values, centres(8, 2.0) - 1.0)
    # a crop spanning two seeds reads the crop from those two seeds only
    reads = []
    original = H5Array._read
    monkeypatch.setattr(
        H5Array, "_read", lambda self, d, key: reads.append((d.name, key)) or original(self, d, key)
    )
    crop = ds["data_1"].isel(sample=slice(1, 3), time=2, x=slice(2, 5))
    np.testing.assert_array_equal(crop.values, truth[1:3, 2, 2:5, ..., 1])
    rest = (slice(0, n, 1) for n in (6, 4)[: ndim - 1])
    key = (slice(2, 3, 1), slice(2, 5, 1), *rest, 1)
    assert sorted(reads) == [("/0001/data", key), ("/0002/data", key)]


def test_single_channel_seed_file_names_its_variable_data(tmp_path):
    write_pdebench_seeds(tmp_path / "swe.h5", 2, channels=1)
    assert list(open_dataset(tmp_path / "swe.h5").data_vars) == ["data"]


def _edit(path, action):
    with h5py.File(path, "a") as f:
        action(f)
    return path


def _replace(name, values):
    def action(f):
        del f[name]
        if values is not None:
            f[name] = values

    return action


@pytest.mark.parametrize(
    ("writer", "action", "match"),
    [
        (write_pdebench_tensor, _replace("y-coordinate", None),
         r"required dataset 'y-coordinate' missing \(the data have 2 spatial axes\)"),
        (write_pdebench_cfd, _replace("Vy", np.zeros((2, 3, 8, 5))),
         r"variables' shapes disagree \(density \(2, 3, 8, 6\).*Vy \(2, 3, 8, 5\)"),
        (write_pdebench_cfd, _replace("x-coordinate", np.arange(5.0)),
         r"'x-coordinate' has 5 entries but the data have 8 cells along x"),
        (write_pdebench_cfd, _replace("t-coordinate", np.arange(7.0)),
         r"'t-coordinate' has 7 entries, expected 3 \(one per frame\) or 4"),
        (write_pdebench_seeds, _replace("0002/data", np.zeros((4, 8, 5, 2))),
         r"group '0002': data shape \(4, 8, 5, 2\) disagrees with \(4, 8, 6, 2\)"),
        (write_pdebench_seeds, _replace("0000/grid", None), r"required group '0000/grid' missing"),
        (write_pdebench_seeds, _replace("0001/data", None),
         r"required dataset '0001/data' missing"),
        (write_pdebench_tensor, lambda f: (_replace("tensor", np.zeros((2, 3, 0, 6)))(f),
                                           _replace("x-coordinate", np.zeros(0))(f)),
         r"bad\.h5: dimension 'x' has length 0, expected at least 1"),
        (write_pdebench_tensor, _replace("tensor", np.full((2, 3, 8, 6), b"abc")),
         r"bad\.h5: variable 'tensor' has non-numeric dtype \|S3"),
    ],
)  # fmt: skip
def test_malformed_files_raise_data_error(tmp_path, writer, action, match):
    path = tmp_path / "bad.h5"
    writer(path, 2)
    _edit(path, action)
    with pytest.raises(DataError, match=match):
        open_dataset(path)


def test_non_uniform_coordinate_in_file(tmp_path):
    path = tmp_path / "bad.h5"
    write_pdebench_tensor(path, 1)
    _edit(path, lambda f: f["x-coordinate"].write_direct(np.array([0, 1, 2, 3, 4, 5, 6, 9.0])))
    with pytest.raises(DataError, match=r"bad\.h5: coordinate 'x' is not uniformly spaced"):
        open_dataset(path)


def test_non_finite_value_in_file_is_reported_with_sample_and_time(tmp_path):
    path = tmp_path / "cfd.h5"
    write_pdebench_cfd(path, 2, n=3, t=4)
    _edit(path, lambda f: f["Vy"].__setitem__((2, 1, 5, 0), np.inf))
    ds = open_dataset(path)  # opening reads no values, so it succeeds
    message = (
        r"cfd\.h5: variable 'velocity_y' has a non-finite value "
        r"\(inf\) at sample 2, time 1, position \(5, 0\)"
    )
    with pytest.raises(DataError, match=message):
        check_finite(ds)


# ----------------------------------------------------------------------------- incompressible NS


def test_incompressible_navier_stokes_file(tmp_path):
    path = tmp_path / "ns_incom_inhom_2d_512-0.h5"
    truth = write_pdebench_ns_incomp(path, n=2, t=3, sizes=(8, 6))
    ds = open_dataset(path)
    assert ds.attrs["source_format"] == "pdebench"
    assert sorted(ds.data_vars) == sorted(
        ["velocity_x", "velocity_y", "particles", "force_x", "force_y", "NU"]
    )
    assert ds["velocity_x"].dims == ("sample", "time", "x", "y")
    assert ds["force_y"].dims == ("sample", "x", "y")  # static: no time
    # every value exactly as written (float32 kept)
    for c, axis in enumerate("xy"):
        assert ds[f"velocity_{axis}"].dtype == np.float32
        np.testing.assert_array_equal(ds[f"velocity_{axis}"].values, truth["velocity"][..., c])
        np.testing.assert_array_equal(ds[f"force_{axis}"].values, truth["force"][..., c])
    np.testing.assert_array_equal(ds["particles"].values, truth["particles"][..., 0])
    np.testing.assert_array_equal(ds["time"].values, truth["t"][0].astype(np.float64))
    # the grid: cell centres of the config's domain_size [1, 1]
    np.testing.assert_allclose(ds["x"].values, centres(8))
    np.testing.assert_allclose(ds["y"].values, centres(6))
    assert "from the config's domain_size" in ds.attrs["grid"]
    assert float(ds["NU"]) == 0.01 and "latestIndex" not in ds  # bookkeeping, not physics
    assert ds.attrs["boundary_x"] == ds.attrs["boundary_y"] == "wall"  # velocity ZERO
    assert "velocity_extrapolation: ZERO" in ds.attrs["config"]


def test_incompressible_file_without_config_is_on_the_unit_square(tmp_path):
    path = tmp_path / "ns.h5"
    write_pdebench_ns_incomp(path, sizes=(4, 8), config={})
    ds = open_dataset(path)
    np.testing.assert_allclose(ds["x"].values, centres(4))
    np.testing.assert_allclose(ds["y"].values, centres(8))
    assert ds.attrs["grid"].startswith("cell centres (i + 1/2) L / n of [0, 1] x [0, 1] (assumed")
    assert ds.attrs["boundary_x"] == "open" and "NU" not in ds  # nothing declared
    np.testing.assert_array_equal(ds["time"].values, [0.0, 1.0, 2.0])  # frame_int * DT = 1


def test_incompressible_domain_size_and_periodic_velocity_from_config(tmp_path):
    path = tmp_path / "ns.h5"
    config = {"domain_size": [2.0, 0.5], "velocity_extrapolation": "PERIODIC", "DT": 0.1}
    write_pdebench_ns_incomp(path, sizes=(8, 6), config=config)
    ds = open_dataset(path)
    np.testing.assert_allclose(ds["x"].values, centres(8, 2.0))
    np.testing.assert_allclose(ds["y"].values, centres(6, 0.5))
    assert ds.attrs["boundary_y"] == "periodic"
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.1, 0.2], rtol=1e-6)


def _time_per_sample(f):
    f["t"][1, :] = [0.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (_replace("velocity", np.zeros((2, 3, 8, 6, 3), np.float32)),
         r"'velocity' has shape \(2, 3, 8, 6, 3\); expected \[N, T, X, Y, 2\]"),
        (_replace("particles", np.zeros((2, 3, 8, 5, 1), np.float32)),
         r"'particles' has shape \(2, 3, 8, 5, 1\); expected \(2, 3, 8, 6, 1\)"),
        (_replace("force", np.zeros((2, 3, 8, 6, 2), np.float32)),
         r"'force' has shape \(2, 3, 8, 6, 2\); expected \(2, 8, 6, 2\)"),
        (_replace("t", np.zeros((2, 4), np.float32)),
         r"'t' has shape \(2, 4\); expected \(2, 3\)"),
        (lambda f: f.attrs.__setitem__("latestIndex", 0),
         r"attribute latestIndex = 0 but 'velocity' has 3 frames: the later frames were never"),
        (_time_per_sample, r"'t' of sample 1 is \[0.0, 2.0, 4.0\].*expected one time axis"),
        (lambda f: f.attrs.__setitem__("config", "a: [1, 2"),
         r"root attribute 'config' is not valid YAML \(while parsing"),
    ],
)  # fmt: skip
def test_malformed_incompressible_files_raise_data_error(tmp_path, action, match):
    path = tmp_path / "ns_bad.h5"
    write_pdebench_ns_incomp(path)
    _edit(path, action)
    with pytest.raises(DataError, match=r"ns_bad\.h5: " + match):
        open_dataset(path)


def test_incompressible_crop_reads_one_hyperslab_of_one_component(tmp_path, monkeypatch):
    path = tmp_path / "ns.h5"
    truth = write_pdebench_ns_incomp(path, n=3, t=4)
    ds = open_dataset(path)  # reads only 't' and the attributes
    reads = []
    original = H5Array._read
    monkeypatch.setattr(
        H5Array, "_read", lambda self, d, key: reads.append((d.name, key)) or original(self, d, key)
    )
    crop = ds["velocity_y"].isel(sample=2, time=slice(1, 3), x=slice(2, 5))
    np.testing.assert_array_equal(crop.values, truth["velocity"][2, 1:3, 2:5, :, 1])
    # one read per (sample, frame) chunk, as h5_for chunks the file; only component y
    keys = [(slice(2, 3, 1), slice(k, k + 1, 1), slice(2, 5, 1), slice(0, 6, 1), 1) for k in (1, 2)]
    assert sorted(reads, key=str) == [("/velocity", key) for key in keys]
