"""The Well layout: scalar, vector and tensor fields, scalars, boundary conditions."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from io_fixtures import AXES, centres, write_well

from surrogates.errors import DataError
from surrogates.io import open_dataset


@pytest.mark.parametrize("ndim", [2, 3])
def test_fields_components_and_parameters(tmp_path, ndim):
    truth = write_well(tmp_path / "flow.hdf5", ndim)
    ds = open_dataset(tmp_path / "flow.hdf5")
    axes = AXES[:ndim]
    assert ds.attrs["source_format"] == "well" and ds.attrs["dataset_name"] == "fixture_flow"
    np.testing.assert_array_equal(ds["density"].values, truth["density"])
    for i, a in enumerate(axes):
        np.testing.assert_array_equal(ds[f"velocity_{a}"].values, truth["velocity"][..., i])
        for j, b in enumerate(axes):
            np.testing.assert_array_equal(ds[f"stress_{a}{b}"].values, truth["stress"][..., i, j])
    assert "velocity_z" not in ds if ndim == 2 else "stress_zx" in ds
    # static field: neither sample nor time dimension
    assert ds["obstacle"].dims == axes
    np.testing.assert_array_equal(ds["obstacle"].values, truth["obstacle"])
    # scalars become parameters with their own dims; listed root attributes become 0-d
    assert ds["Reynolds"].dims == ("sample",) and ds["forcing"].dims == ("sample", "time")
    np.testing.assert_array_equal(ds["Reynolds"].values, truth["Reynolds"])
    assert float(ds["alpha"]) == 0.5 and "gamma_attr" not in ds  # only listed parameters
    np.testing.assert_allclose(ds["x"].values, centres(8, 2 * np.pi))
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.25, 0.5])


def test_non_varying_axis_is_broadcast_lazily(tmp_path):
    truth = write_well(tmp_path / "flow.hdf5", 2)
    ds = open_dataset(tmp_path / "flow.hdf5")
    profile = ds["profile"]
    assert profile.dims == ("sample", "time", "x", "y") and profile.shape == (2, 3, 8, 6)
    np.testing.assert_array_equal(profile.values, np.broadcast_to(truth["profile"], (2, 3, 8, 6)))


def test_boundary_conditions_map_to_attributes(tmp_path):
    write_well(tmp_path / "flow.hdf5", 3)
    ds = open_dataset(tmp_path / "flow.hdf5")
    # x: PERIODIC, z: WALL in the file; y: no boundary group -> "open"
    assert [ds.attrs[f"boundary_{a}"] for a in AXES] == ["periodic", "open", "wall"]
    # the option overrides the file
    assert (
        open_dataset(tmp_path / "flow.hdf5", boundary={"x": "wall"}).attrs["boundary_x"] == "wall"
    )


def test_mixed_edges_resolve_to_wall_and_are_recorded(tmp_path):
    path = tmp_path / "flow.hdf5"
    write_well(path, 2)
    with h5py.File(path, "a") as f:  # lower y edge a wall, upper y edge open
        f["boundary_conditions/wall_last/mask"][...] = [True, False, False, False, False, False]
        top = f["boundary_conditions"].create_group("open_top")
        top.attrs.update(associated_dims=["y"], bc_type="open")
        top["mask"] = np.eye(1, 6, 5, dtype=bool)[0]
    ds = open_dataset(path)
    assert ds.attrs["boundary_y"] == "wall"
    assert ds.attrs["well_boundary_y"] == "lower=wall, upper=open"


def test_spatial_dims_map_by_position_whatever_their_names(tmp_path):
    write_well(tmp_path / "polar.hdf5", 2, names=("r", "theta"))
    ds = open_dataset(tmp_path / "polar.hdf5")
    assert ds["velocity_y"].dims == ("sample", "time", "x", "y")


def _edit(path, action):
    with h5py.File(path, "a") as f:
        action(f)


def _set_attr(name, key, value):
    return lambda f: f[name].attrs.__setitem__(key, value)


def _replace(name, values):
    def action(f):
        attrs = dict(f[name].attrs)
        del f[name]
        f[name] = values
        f[name].attrs.update(attrs)

    return action


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (_replace("t1_fields/velocity", np.zeros((2, 3, 8, 6, 3), np.float32)),
         r"'/t1_fields/velocity' has shape \(2, 3, 8, 6, 3\), expected \[2, 3, 8, 6, 2\]"),
        (_replace("t0_fields/density", np.zeros((2, 3, 8, 5), np.float32)),
         r"expected \[2, 3, 8, 6\] from its attributes and 'dimensions'; shapes disagree"),
        (_replace("t0_fields/profile", np.zeros((2, 3, 8, 2), np.float32)),
         r"'/t0_fields/profile' has shape \(2, 3, 8, 2\), expected \[2, 3, 8, 1\]"),
        (_set_attr("boundary_conditions/wall_last", "bc_type", "SPONGE"),
         r"@bc_type='SPONGE', expected one of PERIODIC, WALL, OPEN"),
        (_set_attr("boundary_conditions/wall_last", "associated_dims", ["q"]),
         r"names dimension 'q', expected one of \['x', 'y'\]"),
        (lambda f: f["t0_fields/density"].attrs.__delitem__("time_varying"),
         r"dataset '/t0_fields/density': required attribute 'time_varying' missing"),
        (lambda f: f["dimensions"].__delitem__("y"), r"required dataset 'dimensions/y' missing"),
        (_set_attr("/", "n_spatial_dims", 3), r"n_spatial_dims=3 but dimensions @spatial_dims"),
        (_replace("scalars/Reynolds", np.zeros(5)), r"'scalars/Reynolds' has shape \(5,\)"),
        (_replace("dimensions/x", np.stack([centres(8), centres(8) + 1])),
         r"'dimensions/x' differs between trajectories"),
        (_replace("dimensions/x", np.array([0, 1, 2, 3, 5, 6, 7, 8.0])),
         r"coordinate 'x' is not uniformly spaced"),
    ],
)  # fmt: skip
def test_malformed_files_raise_data_error(tmp_path, action, match):
    path = tmp_path / "bad.hdf5"
    write_well(path, 2)
    _edit(path, action)
    with pytest.raises(DataError, match=match):
        open_dataset(path)
