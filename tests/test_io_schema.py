"""The canonical schema: canonicalize() repairs what it may, validate() rejects the rest."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from io_fixtures import canonical_dataset, centres

from surrogates.errors import DataError
from surrogates.io import assert_finite, check_finite, open_dataset, validate
from surrogates.io.schema import canonicalize, grid_spacing


def _raw(**overrides):
    """A non-canonical in-memory dataset: dims (x, time), ints, no attributes."""
    values = overrides.pop("values", np.arange(24, dtype=np.int32).reshape(6, 4))
    x = overrides.pop("x", centres(6))
    time = overrides.pop("time", np.arange(4.0))
    return xr.Dataset({"u": (("x", "time"), values)}, {"x": x, "time": time})


def test_in_memory_dataset_is_transposed_cast_and_given_defaults():
    ds = open_dataset(_raw())
    assert ds["u"].dims == ("time", "x")
    assert ds["u"].dtype == np.float64  # integers become float64 (documented choice)
    np.testing.assert_array_equal(ds["u"].values, np.arange(24).reshape(6, 4).T)
    assert ds.attrs["boundary_x"] == "open"  # never silently periodic
    assert ds.attrs["source_format"] == "xarray"
    assert ds["u"].chunks is not None  # dask-backed


def test_descending_coordinates_are_reversed_with_the_data():
    raw = _raw(x=centres(6)[::-1])
    ds = open_dataset(raw)
    assert (np.diff(ds["x"].values) > 0).all()
    np.testing.assert_array_equal(ds["u"].sel(x=raw["x"][0]).values, raw["u"].values[0])


def test_boundary_option_string_and_mapping():
    two_d = canonical_dataset(2, boundary="wall")
    assert open_dataset(two_d).attrs["boundary_y"] == "wall"  # kept from the attributes
    ds = open_dataset(two_d, boundary={"x": "PERIODIC"})
    assert (ds.attrs["boundary_x"], ds.attrs["boundary_y"]) == ("periodic", "wall")
    assert open_dataset(two_d, boundary="open").attrs["boundary_x"] == "open"


def test_renames_of_dims_and_variables():
    raw = _raw().rename({"x": "lon", "u": "rho"})
    ds = open_dataset(raw, dims={"lon": "x"}, variables={"rho": "density"})
    assert list(ds.data_vars) == ["density"] and ds["density"].dims == ("time", "x")


def test_float16_becomes_float32_and_float32_is_kept():
    raw = _raw(values=np.ones((6, 4), np.float16))
    assert open_dataset(raw)["u"].dtype == np.float32
    assert open_dataset(canonical_dataset(1))["density"].dtype == np.float32


@pytest.mark.parametrize(
    ("raw", "options", "match"),
    [
        (_raw().rename({"x": "lon"}), {}, r"got dims \('lon', 'time'\).*rename with dims="),
        (_raw().rename({"x": "lon"}), {"dims": {"lat": "x"}}, r"dims=\{'lat': 'x'\}: no dim 'lat'"),
        (_raw().rename({"x": "lon"}), {"dims": {"lon": "longitude"}}, "not a canonical dimension"),
        (_raw(), {"variables": {"rho": "density"}}, r"no variable 'rho'; found"),
        (_raw(), {"boundary": {"z": "wall"}}, r"boundary names axis 'z', expected one of \['x'\]"),
        (_raw(), {"boundary": "reflective"}, r"'reflective', expected one of \('periodic'"),
        (_raw(x=np.array([0.1, 0.2, 0.35, 0.4, 0.5, 0.6])), {}, r"'x' is not uniformly spaced"),
        (_raw(x=np.array([0.1, 0.3, 0.2, 0.4, 0.5, 0.6])), {}, r"'x' is not monotonic.*0\.3, 0\.2"),
        (_raw(time=np.array([0.0, 1.0, 1.0, 2.0])), {}, r"'time' is not monotonic"),
        (_raw(values=np.ones((6, 0)), time=np.arange(0.0)), {}, r"'time' has length 0"),
        (_raw(values=np.full((6, 4), "a")), {}, r"variable 'u' has non-numeric dtype <U1"),
        (_raw(values=np.ones((6, 4), complex)), {}, r"non-numeric dtype complex128"),
        (_raw(time=np.datetime64("2000-01-01") + np.arange(4)), {}, r"'time' has non-numeric"),
        (_raw().drop_vars("x"), {}, r"dimension 'x' has no coordinate"),
        (_raw().rename({"x": "y"}), {}, r"spatial dims \('y',\), expected \('x',\)"),
    ],
)
def test_invalid_input_raises_data_error(raw, options, match):
    with pytest.raises(DataError, match=match):
        open_dataset(raw, **options)


def test_validate_rejects_non_canonical_datasets():
    good = open_dataset(canonical_dataset(2))
    assert validate(good) is good
    with pytest.raises(DataError, match=r"variable 'density': got dims \('x', 'sample'"):
        validate(good.transpose("x", "sample", ...))
    with pytest.raises(DataError, match=r"attribute boundary_y=None, expected one of"):
        validate(_without(good, "boundary_y"))
    with pytest.raises(DataError, match=r"attribute 'source_format' missing"):
        validate(_without(good, "source_format"))
    with pytest.raises(DataError, match=r"'density' is int64, expected float32/64"):
        validate(good.assign(density=good["density"].astype(np.int64)))


def _without(ds, key):
    ds = ds.copy()
    del ds.attrs[key]
    return ds


@settings(max_examples=50, deadline=None, database=None)
@given(
    n=st.integers(2, 2000),
    start=st.floats(-1e4, 1e4),
    step=st.floats(1e-4, 1e2),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_uniform_grids_pass_at_their_storage_precision(n, start, step, dtype):
    # Reference: values start + i * step rounded to the storage dtype deviate from the
    # exact grid by at most half an ulp of their magnitude, under the tolerance
    # UNIFORM_RTOL * step + 4 * eps32 * max|value| whenever step is not tiny next to
    # the values; cases where float32 cannot resolve the step are skipped.
    values = (start + step * np.arange(n)).astype(dtype)
    if np.any(np.diff(values.astype(np.float64)) <= 0):
        return
    assert grid_spacing(values) == pytest.approx(
        step, rel=1e-3, abs=4e-7 * float(abs(values).max())
    )


@settings(max_examples=30, deadline=None, database=None)
@given(n=st.integers(3, 500), index=st.data(), rel=st.floats(1e-3, 0.4))
def test_perturbed_grids_fail(n, index, rel):
    values = centres(n)
    i = index.draw(st.integers(1, n - 2))
    values[i] += rel / n  # move one centre by `rel` cells: far above the 1e-5 tolerance
    with pytest.raises(DataError, match=f"at index {i} is"):
        grid_spacing(values, name="x", where="f.nc")


def test_check_finite_names_file_variable_sample_and_time():
    ds = canonical_dataset(2, n_sample=3, n_time=4)
    ds["velocity_y"][2, 1, 3, 4] = np.inf
    ds["velocity_y"][2, 3, 0, 0] = np.nan  # later in (sample, time) order: not reported
    ds = open_dataset(ds.assign_attrs(source="run.nc"))
    check_finite(ds[["density"]])  # clean variables pass
    message = (
        r"run\.nc: variable 'velocity_y' has a non-finite value "
        r"\(inf\) at sample 2, time 1, position \(3, 4\)"
    )
    with pytest.raises(DataError, match=message):
        check_finite(ds)


def test_assert_finite_on_a_read_block():
    block = np.zeros((4, 4, 4), np.float32)
    assert_finite(block, source="a.h5", variable="density", sample=0, time=0)
    block[1, 2, 3] = np.nan
    message = (
        r"a\.h5: variable 'density' has a non-finite value \(nan\)"
        r" at sample 5, time 7, position \(1, 2, 3\)"
    )
    with pytest.raises(DataError, match=message):
        assert_finite(block, source="a.h5", variable="density", sample=5, time=7)


def test_canonicalize_sets_provenance_attributes():
    ds = canonicalize(_raw(), source="s.nc", source_format="netcdf", boundary="periodic")
    assert ds.attrs == {"boundary_x": "periodic", "source_format": "netcdf", "source": "s.nc"}
