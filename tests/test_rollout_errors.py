"""Bad inputs to a rollout raise DataError naming what was found and what was expected."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from test_rollout_fixtures import make_state, make_surrogate

from surrogates.errors import DataError
from surrogates.io import open_dataset, to_netcdf
from surrogates.rollout import rollout, rollout_cli

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def lead():
    return make_surrogate("vnet", 2, params=("amp",), width=4, levels=1)


@pytest.fixture(scope="module")
def state(lead):
    return make_state(lead, (20, 18), params={"amp": 0.5})


def run(surrogate, state, **kwargs):
    return rollout(surrogate, state, progress=False, **kwargs)


def test_state_must_match_the_training_data(lead, state):
    with pytest.raises(DataError, match=r"needs variable\(s\) \['v'\]; the state has"):
        run(lead, state.drop_vars("v"))
    coarse = state.assign_coords(x=state.x * 2)
    with pytest.raises(DataError, match=r"grid spacing \{'x': 1.0, 'y': 0.5\} differs from.*"
                                        r"\{'x': 0.5, 'y': 0.5\}"):  # fmt: skip
        run(lead, coarse)
    walled = state.assign_attrs(boundary_y="wall")
    with pytest.raises(DataError, match="boundaries .*'y': 'wall'.*trained with"):
        run(lead, walled)
    small = r"axis 'y' has 12 cells, smaller than one window of the surrogate \(18 = alignment"
    with pytest.raises(DataError, match=small):
        run(lead, make_state(lead, (20, 12), params={"amp": 0.5}))
    with pytest.raises(DataError, match="dims .*expected spatial dims"):
        run(lead, state.rename(x="r"))
    bad = state.copy(deep=True)
    bad["u"][0, 3, 4] = np.nan
    with pytest.raises(DataError, match="'u' has a non-finite value"):
        run(lead, bad)


def test_parameters_must_be_known_and_complete(lead, state):
    with pytest.raises(DataError, match=r"unknown parameter\(s\) \['omega'\]; .*\['amp'\]"):
        run(lead, state, params={"omega": 1.0})
    with pytest.raises(DataError, match="parameter 'amp' is neither a variable of the state"):
        run(lead, state.drop_vars("amp"))
    with pytest.raises(DataError, match=r"'amp' has shape \(1, 2\).*expected \(1, 3\)"):
        run(lead, state, steps=3, params={"amp": [1.0, 2.0]})
    with pytest.raises(DataError, match="'amp' has non-finite values"):
        run(lead, state, params={"amp": float("nan")})
    with pytest.raises(DataError, match="params\\['amp'\\] has dims \\('t',\\)"):
        run(lead, state, params={"amp": xr.DataArray([1.0], dims="t")})


def test_run_options_are_checked(lead, state):
    with pytest.raises(DataError, match="steps=0, expected a positive integer"):
        run(lead, state, steps=0)
    two = xr.concat([state, state.assign_coords(time=[3.0])], "time", data_vars="minimal")
    with pytest.raises(DataError, match=r"2 time frames; .*state.isel\(time=\[-1\]\)"):
        run(lead, two)
    mapper = make_surrogate("vnet", 2, lead=None, width=4, levels=1)
    with pytest.raises(DataError, match="applied once; got steps=2"):
        run(mapper, make_state(mapper, (20, 18)), steps=2)
    with pytest.raises(DataError, match=r"backend='spark', expected one of \('local', 'dask'\)"):
        run(lead, state, backend="spark")
    with pytest.raises(DataError, match="tile=3: tile sizes .* multiples of 2"):
        run(lead, state, tile=3)
    with pytest.raises(DataError, match="expected bytes such as 4GB"):
        run(lead, state, memory="4 parsecs")
    with pytest.raises(DataError, match="exceeds the budget.*smallest tile needs"):
        run(lead, state, memory="10kB")
    over = r"1 tile\(s\) of \(8, 8\) need about \d+ kB, over the memory budget of 50 kB"
    with pytest.raises(DataError, match=over):
        run(lead, state, tile=8, memory="50kB")  # tile 8 needs ~120 kB
    with pytest.raises(DataError, match=r"4 tile\(s\) of \(2, 2\) need about"):
        run(lead, state, tile=2, batch=4, memory="100kB")
    with pytest.raises(DataError, match="batch=0, expected a positive integer"):
        run(lead, state, batch=0)
    with pytest.raises(DataError, match="resume=True continues a run recorded in a store"):
        run(lead, state, resume=True)
    with pytest.raises(DataError, match=r"precision='fp16', expected one of \('32-true', 'bf16"):
        run(lead, state, precision="fp16")
    with pytest.raises(DataError, match="state must be an xarray.Dataset"):
        run(lead, state["u"])


def test_rollout_cli_writes_a_store_from_files(tmp_path, lead, state):
    model = lead.save(tmp_path / "model.pt")
    frames = xr.concat([state, state.assign_coords(time=[2.25])], "time", data_vars="minimal")
    source = to_netcdf(frames, tmp_path / "state.nc")
    with pytest.raises(DataError, match="2 time frames"):
        rollout_cli(model, source, tmp_path / "a.zarr", steps=2)
    out = rollout_cli(model, source, tmp_path / "b.zarr", steps=2, memory="1GB", frame=-1)
    result = open_dataset(out)
    assert result.sizes["time"] == 3
    np.testing.assert_allclose(result["time"], [2.25, 2.5, 2.75])
    np.testing.assert_array_equal(result["u"].values[0], frames["u"].values[1])
    with pytest.raises(DataError, match="--frame 5 out of range for 2 time frames"):
        rollout_cli(model, source, tmp_path / "c.zarr", frame=5)
