"""PDEBench layouts (CFD, single-field, multi-seed) in 1D, 2D and 3D."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from io_fixtures import (
    AXES,
    centres,
    write_pdebench_cfd,
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
