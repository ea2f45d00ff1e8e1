"""open_dataset: layout detection, netCDF/zarr, several files, options, and input errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr
from io_fixtures import (
    canonical_dataset,
    truncate,
    write_netcdf_cf,
    write_pdebench_cfd,
    write_pdebench_tensor,
    write_well,
)
from xarray.backends.netCDF4_ import NetCDF4ArrayWrapper

from surrogates.errors import DataError
from surrogates.io import LAYOUTS, check_finite, open_dataset, to_netcdf, to_zarr
from surrogates.io.api import detect_layout


def test_detection_order_puts_specific_hdf5_layouts_before_netcdf():
    assert LAYOUTS.index("well") < LAYOUTS.index("netcdf")
    assert LAYOUTS.index("pdebench") < LAYOUTS.index("netcdf")
    assert LAYOUTS.index("gadget") < LAYOUTS.index("netcdf")


def test_each_layout_is_detected(tmp_path):
    write_well(tmp_path / "w.h5", 2)
    write_pdebench_tensor(tmp_path / "p.h5", 1)
    write_netcdf_cf(tmp_path / "n.nc")
    to_zarr(open_dataset(canonical_dataset(1)), tmp_path / "z.zarr")
    xr.Dataset({"u": ("x", np.ones(4))}, {"x": np.arange(4.0)}).to_netcdf(
        tmp_path / "n3.nc", format="NETCDF3_64BIT", engine="netcdf4"
    )
    names = ("w.h5", "p.h5", "n.nc", "n3.nc", "z.zarr")
    found = {name: detect_layout(tmp_path / name) for name in names}
    assert found == {
        "w.h5": "well",
        "p.h5": "pdebench",
        "n.nc": "netcdf",
        "n3.nc": "netcdf",
        "z.zarr": "zarr",
    }
    assert open_dataset(tmp_path / "n3.nc", format="netcdf")["u"].dims == ("x",)


def test_netcdf_is_opened_lazily_and_crops_read_their_hyperslab(tmp_path, monkeypatch):
    ds = open_dataset(canonical_dataset(3, sizes=(16, 12, 8)))
    to_netcdf(ds, tmp_path / "big.nc")
    reads = []
    original = NetCDF4ArrayWrapper._getitem

    def counting(self, key):
        reads.append((self.variable_name, key))
        return original(self, key)

    monkeypatch.setattr(NetCDF4ArrayWrapper, "_getitem", counting)
    back = open_dataset(tmp_path / "big.nc")
    assert {name for name, _ in reads} <= {"sample", "time", "x", "y", "z", "gamma"}  # no field
    reads.clear()
    crop = back["density"].isel(sample=1, time=2, x=slice(3, 7), y=slice(2, 6), z=slice(1, 5))
    np.testing.assert_array_equal(crop.values, ds["density"].values[1, 2, 3:7, 2:6, 1:5])
    assert reads == [("density", (1, 2, slice(3, 7, 1), slice(2, 6, 1), slice(1, 5, 1)))]


def test_cf_netcdf_any_dim_order_with_renames(tmp_path):
    raw = write_netcdf_cf(tmp_path / "cf.nc")
    ds = open_dataset(tmp_path / "cf.nc", dims={"lon": "x", "lat": "y"})
    assert ds["temp"].dims == ("time", "x", "y") and "time_bnds" not in ds  # CF bounds dropped
    assert (np.diff(ds["y"].values) > 0).all()  # descending latitude reversed with the data
    expected = raw["temp"].transpose("time", "lon", "lat").values[:, :, ::-1]
    np.testing.assert_array_equal(ds["temp"].values, expected)
    assert ds["count"].dtype == np.float64  # int32 in the file
    assert ds["time"].attrs["units"] == "days since 2000-01-01"  # numeric, units kept
    assert ds["temp"].attrs["units"] == "K"


def test_integer_netcdf_variable_is_cast_per_read_without_loading(tmp_path, monkeypatch):
    raw = write_netcdf_cf(tmp_path / "cf.nc")
    reads = []
    original = NetCDF4ArrayWrapper._getitem

    def counting(self, key):
        reads.append(self.variable_name)
        return original(self, key)

    monkeypatch.setattr(NetCDF4ArrayWrapper, "_getitem", counting)
    ds = open_dataset(tmp_path / "cf.nc", dims={"lon": "x", "lat": "y"})
    assert "count" not in reads and "temp" not in reads  # opening read coordinates only
    crop = ds["count"].isel(time=1, x=slice(2, 4))
    np.testing.assert_array_equal(crop.values, raw["count"].values[2:4, 1, ::-1])
    assert reads.count("count") == 1


def test_several_files_concatenate_along_sample(tmp_path):
    truths = [write_pdebench_cfd(tmp_path / f"run{i}.h5", 2, n=2, seed=i) for i in range(3)]
    ds = open_dataset(str(tmp_path / "run*.h5"))
    assert ds.sizes["sample"] == 6
    np.testing.assert_array_equal(
        ds["density"].values, np.concatenate([t["density"] for t in truths])
    )
    np.testing.assert_array_equal(ds["sample"].values, np.arange(6))
    assert ds["eta"].dims == ("sample",)  # per-file parameters gain the sample axis
    assert str(ds["source_file"].values[3]).endswith("run1.h5")
    assert ds.attrs["source"] == str(tmp_path / "run*.h5")


def test_non_finite_value_names_the_file_it_came_from(tmp_path):
    for i in range(2):
        write_pdebench_cfd(tmp_path / f"run{i}.h5", 1, n=2, seed=i)
    with h5py.File(tmp_path / "run1.h5", "a") as f:
        f["pressure"][1, 2, 0] = np.nan
    ds = open_dataset([tmp_path / "run0.h5", tmp_path / "run1.h5"])
    message = (
        r"run1\.h5: variable 'pressure' has a non-finite value "
        r"\(nan\) at sample 3, time 2"
    )
    with pytest.raises(DataError, match=message):
        check_finite(ds)


def test_several_files_concatenate_along_time(tmp_path):
    base = open_dataset(canonical_dataset(1, n_time=4))
    to_netcdf(base.isel(time=slice(0, 2)), tmp_path / "a.nc")
    to_netcdf(base.isel(time=slice(2, 4)), tmp_path / "b.nc")
    ds = open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"], concat_dim="time")
    np.testing.assert_array_equal(ds["density"].values, base["density"].values)
    np.testing.assert_array_equal(ds["time"].values, base["time"].values)
    with pytest.raises(DataError, match=r"'time' is not strictly increasing"):
        open_dataset([tmp_path / "b.nc", tmp_path / "a.nc"], concat_dim="time")


def test_chunks_option_and_default_frame_chunks(tmp_path):
    write_pdebench_cfd(tmp_path / "c.h5", 3, n=2, t=3)
    assert open_dataset(tmp_path / "c.h5")["density"].chunks == ((1, 1), (1,) * 3, (8,), (6,), (4,))
    chunked = open_dataset(tmp_path / "c.h5", chunks={"time": 3, "x": 4})
    assert chunked["density"].chunks[1:3] == ((3,), (4, 4))


def _bad_files(tmp_path):
    write_pdebench_cfd(tmp_path / "good.h5", 2)
    (tmp_path / "notes.txt").write_text("not a solver file\n")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["something"] = np.zeros(3)
    (tmp_path / "empty.zarr").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("source", "options", "match"),
    [
        ("missing.nc", {}, r"missing\.nc: file not found"),
        ("nothing*.h5", {}, r"nothing\*\.h5: no file matches this pattern"),
        ("notes.txt", {}, r"notes\.txt: not an HDF5, netCDF or zarr file; no layout matched; "
                          r"tried well: not an HDF5 file; pdebench: .*; netcdf: neither"),
        ("other.h5", {}, r"other\.h5: no layout matched; tried well: HDF5 file without The Well.*"
                         r"pdebench: HDF5 file without PDEBench.*netcdf: HDF5 file without netCDF-4"
                         r".*zarr: not a directory"),
        ("empty.zarr", {}, r"empty\.zarr: no layout matched.*zarr: directory without zarr"),
        ("good.h5", {"format": "hdf4"}, r"format='hdf4' is not a known layout"),
        ("good.h5", {"format": "well"}, r"good\.h5: not a 'well' file \(HDF5 file without The"),
        ("good.h5", {"frobnicate": 1}, r"format 'pdebench' does not accept option\(s\) "
                                       r"\['frobnicate'\]"),
        ("good.h5", {"concat_dim": "x"}, r"concat_dim='x', expected 'sample' or 'time'"),
        ("good.h5", {"chunks": {"q": 2}}, r"option chunks names \['q'\]"),
        ("good.h5", {"variables": {"rho": "x2"}}, r"good\.h5: option variables=\{'rho': 'x2'\}: "
                                                  r"no variable 'rho'"),
        (["good.h5", "notes.txt"], {}, r"notes\.txt: not a 'pdebench' file"),
    ],
)  # fmt: skip
def test_bad_sources_raise_data_error(tmp_path, source, options, match):
    root = _bad_files(tmp_path)
    source = [str(root / s) for s in source] if isinstance(source, list) else str(root / source)
    with pytest.raises(DataError, match=match):
        open_dataset(source, **options)


def test_non_path_source_is_rejected():
    with pytest.raises(DataError, match=r"source of type int, expected a path"):
        open_dataset(3)


@pytest.mark.parametrize("writer", [write_pdebench_tensor, write_netcdf_cf])
def test_truncated_file_names_the_file(tmp_path, writer):
    writer(tmp_path / "full.h5", 2) if writer is write_pdebench_tensor else writer(
        tmp_path / "full.h5"
    )
    cut = truncate(tmp_path / "full.h5", tmp_path / "cut.h5")
    with pytest.raises(DataError, match=r"cut\.h5: cannot be read as HDF5 \(truncated or corrupt"):
        open_dataset(cut)


def test_files_with_different_grids_cannot_be_concatenated(tmp_path):
    write_pdebench_tensor(tmp_path / "a.h5", 1, sizes=(8,))
    write_pdebench_tensor(tmp_path / "b.h5", 1, sizes=(16,))
    with pytest.raises(DataError, match=r"files cannot be concatenated along 'sample'"):
        open_dataset([tmp_path / "a.h5", tmp_path / "b.h5"])


def test_files_with_different_boundaries_cannot_be_concatenated(tmp_path):
    write_pdebench_tensor(tmp_path / "a_periodic.h5", 1)
    write_pdebench_tensor(tmp_path / "b.h5", 1)
    with pytest.raises(DataError, match=r"files disagree on boundary_x \(\['open', 'periodic'\]\)"):
        open_dataset([tmp_path / "a_periodic.h5", tmp_path / "b.h5"])


def test_netcdf_open_errors_are_data_errors(tmp_path):
    write_netcdf_cf(tmp_path / "cf.nc")
    with pytest.raises(DataError, match=r"cf\.nc: cannot be opened as netCDF"):
        open_dataset(tmp_path / "cf.nc", group="no_such_group")
