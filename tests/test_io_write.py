"""Writers (round trip over every writable format, atomicity), describe() and convert()."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from io_fixtures import canonical_dataset, write_pdebench_cfd, write_well

from surrogates.errors import DataError
from surrogates.io import convert, describe, open_dataset, to_netcdf, to_zarr

WRITERS = [
    pytest.param(to_netcdf, ".nc", "netcdf", id="netcdf"),
    pytest.param(to_zarr, ".zarr", "zarr", id="zarr"),
]


def _without_provenance(ds):
    ds = ds.copy()
    for key in ("source", "source_format"):
        ds.attrs.pop(key)
    ds.attrs.pop("history", None)  # a line per write, kept on reading (see surrogates.io.cf)
    return ds


def _sources(tmp_path):
    """Canonical datasets of every kind: 1D-3D in memory, a Well file, two files stacked."""
    write_well(tmp_path / "w.h5", 2)
    for i in range(2):
        write_pdebench_cfd(tmp_path / f"c{i}.h5", 1, seed=i)
    return {
        "1d": open_dataset(canonical_dataset(1, dtype="float64")),
        "2d": open_dataset(canonical_dataset(2)),
        "3d": open_dataset(canonical_dataset(3, boundary="wall")),
        "well": open_dataset(tmp_path / "w.h5"),
        "stacked": open_dataset([tmp_path / "c0.h5", tmp_path / "c1.h5"]),
    }


@pytest.mark.parametrize(("writer", "suffix", "layout"), WRITERS)
def test_round_trip_preserves_values_coords_and_attributes(tmp_path, writer, suffix, layout):
    for name, ds in _sources(tmp_path).items():
        path = writer(ds, tmp_path / f"{name}{suffix}")
        back = open_dataset(path)
        assert back.attrs["source"] == str(path) and back.attrs["source_format"] == layout
        assert "surrogates.io." in back.attrs["history"].splitlines()[-1]
        xr.testing.assert_identical(
            _without_provenance(back).load(), _without_provenance(ds).load()
        )
        assert all(back[v].dtype == ds[v].dtype for v in ds.data_vars)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize(("writer", "suffix", "layout"), WRITERS)
def test_overwrite_replaces_and_failed_write_keeps_the_old_target(tmp_path, writer, suffix, layout):
    target = tmp_path / f"out{suffix}"
    first = open_dataset(canonical_dataset(1, seed=1))
    writer(first, target)
    second = open_dataset(canonical_dataset(1, seed=2))
    with pytest.raises(DataError, match="pass --overwrite"):
        writer(second, target)  # an earlier output is replaced only when asked
    writer(second, target, overwrite=True)
    np.testing.assert_array_equal(open_dataset(target)["density"].values, second["density"].values)
    broken = second.assign_attrs(history=object())  # an attribute neither format can store
    with pytest.raises(DataError, match=f"(?i)out\\{suffix}: cannot write {layout}"):
        writer(broken, target, overwrite=True)
    np.testing.assert_array_equal(open_dataset(target)["density"].values, second["density"].values)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{suffix}"]


def test_writers_validate_their_input(tmp_path):
    ds = open_dataset(canonical_dataset(1)).transpose("x", ...)
    with pytest.raises(DataError, match=r"variable 'density': got dims \('x', 'sample', 'time'\)"):
        to_netcdf(ds, tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()


def test_describe_reports_the_canonical_view(tmp_path):
    write_well(tmp_path / "flow.hdf5", 2)
    text = describe(tmp_path / "flow.hdf5")
    for expected in (
        "layout: well (",
        "KiB on disk",
        "dims: sample=2, time=3, x=8, y=6",
        "x: 8 cells, spacing 0.785398",
        "boundary periodic",
        "y: 6 cells, spacing 1.0472",
        "boundary wall",
        "time: 3 steps, 0 .. 0.5, dt 0.25",
        "velocity_x  (sample, time, x, y)  float32",
        "obstacle    (x, y)  float32",
        "alpha       = 0.5",
        "Reynolds    (sample) range",
        "dataset_name = fixture_flow",
    ):
        assert expected in text, expected
    # an opened dataset remembers its layout and files
    assert describe(open_dataset(tmp_path / "flow.hdf5")) == text


def test_describe_in_memory_dataset_with_units():
    text = describe(canonical_dataset(3))
    assert "in memory" in text and "density     (sample, time, x, y, z)  float32  [kg m-3]" in text
    assert "centres 0.125 .. 1.875 m" in text


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_convert_writes_the_canonical_form(tmp_path, suffix):
    write_pdebench_cfd(tmp_path / "run_periodic.h5", 2)
    out = convert(tmp_path / "run_periodic.h5", tmp_path / f"run{suffix}", variables={"M": "mach"})
    assert out == tmp_path / f"run{suffix}"
    back, source = open_dataset(out), open_dataset(tmp_path / "run_periodic.h5")
    xr.testing.assert_equal(back["pressure"], source["pressure"])
    assert float(back["mach"]) == 1.0 and back.attrs["boundary_y"] == "periodic"


def test_convert_rejects_unknown_suffix_and_overwriting_its_input(tmp_path):
    write_pdebench_cfd(tmp_path / "run.h5", 1)
    with pytest.raises(DataError, match=r"out\.csv: unknown output format '\.csv'"):
        convert(tmp_path / "run.h5", tmp_path / "out.csv")
    to_netcdf(open_dataset(tmp_path / "run.h5"), tmp_path / "run.nc")
    with pytest.raises(DataError, match=r"run\.nc: output would overwrite an input file"):
        convert(tmp_path / "run.nc", tmp_path / "run.nc")
