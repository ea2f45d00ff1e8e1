"""NaN and Inf in the values read: inspect reports them, fit and rollout raise naming them.

Opening stays lazy and succeeds; what is read is checked (README "Non-finite values").
"""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest
import torch
from io_fixtures import canonical_dataset
from test_rollout_fixtures import make_state, make_surrogate
from test_training_fixtures import lead_dataset

from surrogates import fit
from surrogates.data import CubeDataset, Normalizer, Task
from surrogates.errors import DataError, ModelError
from surrogates.io import describe, open_dataset, to_netcdf
from surrogates.rollout import rollout

BAD = pytest.mark.parametrize(
    ("value", "kind"), [(np.nan, "NaN"), (np.inf, r"\+Inf"), (-np.inf, "-Inf")]
)
POLICY = r"expected finite values \(mask cells explicitly; see README 'Non-finite values'\)"


pytestmark = pytest.mark.usefixtures("one_thread_module")


# -- inspect -----------------------------------------------------------------------------


@BAD
def test_inspect_reports_non_finite_fields_and_parameters(tmp_path, value, kind):
    ds = canonical_dataset(3, n_sample=2, n_time=3)
    ds["density"][1, 2, 3, 0, 2] = value
    ds["density"][1, 2, 4, 1, 0] = value
    ds["nu"][1] = value
    to_netcdf(ds, tmp_path / "run.nc")
    text = describe(tmp_path / "run.nc")  # small: scanned by default
    assert "values: NON-FINITE in 1 of 5 fields" in text, text
    line = rf"  density: 2 {kind} in 1 of 6 frames, first at sample 1, time 2 \(t = 0.2\), "
    assert _search(line + "x=3, y=0, z=2", text)
    assert _search(
        rf"nu +\(sample\) range [0-9.e-]+ \.\. [0-9.e-]+, NON-FINITE: 1 {kind} of 2", text
    )
    assert "nan .. nan" not in text
    assert _search(r"values: all fields finite", describe(canonical_dataset(2)))


def test_inspect_scans_big_fields_only_when_asked(tmp_path, monkeypatch):
    ds = canonical_dataset(2)
    ds["velocity_y"][0, 1, 2, 3] = np.nan
    monkeypatch.setattr(importlib.import_module("surrogates.io.describe"), "SCAN_LIMIT", 16)
    text = describe(ds)
    assert "values: not scanned for NaN/Inf (" in text and "--check-finite" in text
    assert "NON-FINITE" not in text
    text = describe(ds, check_finite=True)
    assert (
        "velocity_y: 1 NaN in 1 of 6 frames, first at sample 0, time 1 (t = 0.1), x=2, y=3" in text
    )
    assert "(check_finite=False)" in describe(ds, check_finite=False)


# -- fit ---------------------------------------------------------------------------------


def _lead_file(tmp_path, value, sample=1, time=3):
    ds = lead_dataset(n_sample=3, n_time=6)
    ds["u"][sample, time, 4, 0] = value
    ds["u"][sample, time, 5, 7] = value
    path = tmp_path / "train.nc"
    to_netcdf(ds, path)
    return path


@BAD
def test_fit_statistics_name_file_variable_sample_time_and_cell(tmp_path, value, kind):
    path = _lead_file(tmp_path, value)
    task = Task(inputs=["u", "mask"], targets=["u"], params=["f"], lead=1)
    message = (
        rf"train\.nc: variable 'u' has non-finite values \(NaN or Inf\) at sample 1, time 3"
        rf" \(t = 1\.5\): 2 value\(s\) \(2 {kind}\), first at x=4, y=0; {POLICY}"
    )
    with pytest.raises(DataError, match=message):
        fit(path, task, "vnet", crop=8, max_steps=1, val_fraction=0, progress=False,
            model_config={"width": 4, "levels": 1})  # fmt: skip


@BAD
def test_the_first_crop_meeting_a_non_finite_value_raises(tmp_path, value, kind):
    ds = open_dataset(_lead_file(tmp_path, value))
    task = Task(inputs=["u", "mask"], targets=["u"], lead=1)
    clean = CubeDataset(ds, task, crop=8, pad=2, samples=[0, 2])  # the bad sample unused
    clean[0]
    Normalizer.from_dataset(ds, ["u"], samples=[0, 2])
    data = CubeDataset(ds, task, crop=16, pad=2, samples=[1], times=(2, 4))
    message = (
        rf"train\.nc: variable 'u' has a non-finite value \({value}\) at sample 1, time 3"
        rf" \(t = 1\.5\): 2 cell\(s\) \(2 {kind}\) in the window x \d+:\d+, y \d+:\d+,"
        rf" first at x=4, y=0; {POLICY}"
    )  # distinct domain cells, though the 20-cell window wraps the 16 periodic cells
    with pytest.raises(DataError, match=message):
        data[0]


def test_a_parameter_is_checked_where_it_is_used():
    ds = lead_dataset(n_sample=3, n_time=6)
    ds["f"][2, 4] = np.inf
    task = Task(inputs=["u"], targets=["u"], params=["f"], lead=1)
    CubeDataset(ds, task, crop=8, samples=[0, 1])
    CubeDataset(ds, task, crop=8, samples=[2], times=(0, 4))
    with pytest.raises(DataError, match=rf"parameter 'f' has a non-finite value \(inf\) at sample"
                                        rf" 2, time 4 \(t = 2\); {POLICY}"):  # fmt: skip
        CubeDataset(ds, task, crop=8, samples=[1, 2])


# -- rollout -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lead():
    return make_surrogate("vnet", 2, width=4, levels=1)


@BAD
def test_rollout_names_variable_sample_time_and_tile(tmp_path, lead, value, kind):
    state = make_state(lead, (20, 18), samples=2)
    state["v"][1, 0, 13, 5] = value
    to_netcdf(state, tmp_path / "state.nc")
    message = (
        rf"state\.nc: variable 'v' has a non-finite value \({value}\) at sample 1, time 0"
        rf" \(t = 2\): 1 cell\(s\) \(1 {kind}\) in the window x -8:16, y -8:16, first at"
        rf" x=13, y=5; {POLICY} \(input window of tile \(0, 0\), core"
        r" x 0:8, y 0:8, rollout step 1\)"
    )
    with pytest.raises(DataError, match=message):
        rollout(lead, open_dataset(tmp_path / "state.nc"), steps=2, tile=8, progress=False)


def test_rollout_refuses_to_write_a_non_finite_network_output(lead):
    state = make_state(lead, (20, 18), samples=2)
    broken = make_surrogate("vnet", 2, width=4, levels=1)
    with torch.no_grad():
        next(broken.model.parameters()).fill_(np.nan)
    message = (
        r"rollout step 1: the surrogate's output 'u' has \d+ non-finite value\(s\) \(\d+ NaN\)"
        r" for sample 0 in tile \(0, 0\) \(core x 0:\d+, y 0:\d+\), first at x=0, y=0, from"
        r" finite inputs: the network diverged"
    )
    with pytest.raises(ModelError, match=message):
        rollout(broken, state, steps=1, progress=False)


def _search(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None
