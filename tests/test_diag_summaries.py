"""Error summaries: per-body coefficient errors and per-field relative L2 errors
(references: hand-computed values and fields whose differences are known exactly)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from surrogates.diagnostics import coefficient_errors, field_errors
from surrogates.errors import DataError


def test_coefficient_errors_mean_and_max_over_bodies():
    body = {"body": [1, 2, 3]}
    truth = xr.DataArray([2.0, 4.0, 5.0], dims="body", coords=body)
    estimate = xr.DataArray([2.2, 3.0, 5.0], dims="body", coords=body)  # +10 %, -25 %, 0
    errors = coefficient_errors(estimate, truth)
    assert errors["mean"] == pytest.approx((0.1 + 0.25 + 0.0) / 3)
    assert errors["max"] == pytest.approx(0.25)
    # a series over time (a solver's frames) against one steady reference: one per frame
    series = xr.concat([estimate, truth], dim="time").transpose("body", "time")
    over_time = coefficient_errors(series, truth)
    assert over_time["mean"] == pytest.approx([(0.1 + 0.25) / 3, 0.0])
    assert over_time["max"] == pytest.approx([0.25, 0.0])
    with pytest.raises(DataError, match=r"coefficient_errors: reference has dims \('k',\)"):
        coefficient_errors(estimate, truth.rename(body="k"))


def _fields(p: np.ndarray, u: np.ndarray) -> xr.Dataset:
    coords = {"x": np.arange(8) * 0.25, "y": np.arange(6) * 0.25}
    dims = ("sample", "x", "y")
    return xr.Dataset({"p": (dims, p), "u_x": (dims, u)}, coords=coords)


def test_field_errors_relative_l2_and_gauge_fields_by_their_gradient():
    rng = np.random.default_rng(0)
    x = np.broadcast_to(np.arange(8.0)[None, :, None], (2, 8, 6))
    u = rng.normal(size=(2, 8, 6)) + 3.0
    truth = _fields(x, u)
    # u_x 5 % too large everywhere: relative L2 error 0.05 exactly; p = 2 x + 7: an offset
    # (invisible to the gradient) and a slope twice the truth's, whose central (and
    # one-sided) differences are exact for linear fields: gradient error |2 - 1| / 1 = 1.
    prediction = _fields(2 * x + 7.0, 1.05 * u)
    errors = field_errors(prediction, truth, ["p", "u_x"], gradient=["p"])
    assert list(errors) == ["grad p", "u_x"]
    assert errors["grad p"] == pytest.approx(1.0, rel=1e-12)
    assert errors["u_x"] == pytest.approx(0.05, rel=1e-12)
    offset = field_errors(_fields(x + 100.0, u), truth, ["p"], gradient=["p"])
    assert offset["grad p"] == pytest.approx(0.0, abs=1e-12)
    plain = field_errors(_fields(x + 1.0, u), truth, ["p"])  # no gauge: the offset counts
    assert plain["p"] == pytest.approx(np.sqrt(2 * 8 * 6) / np.linalg.norm(x))


def test_field_errors_name_what_is_missing_or_mismatched():
    truth = _fields(np.ones((2, 8, 6)), np.ones((2, 8, 6)))
    with pytest.raises(DataError, match=r"field_errors: 'u_y' missing"):
        field_errors(truth, truth, ["u_y"])
    with pytest.raises(DataError, match=r"field_errors: p shapes \(1, 8, 6\) and \(2, 8, 6\)"):
        field_errors(truth.isel(sample=[0]), truth, ["p"])
