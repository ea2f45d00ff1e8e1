"""Tests of surrogates.diagnostics.metrics: hand-computed values, xarray/dask/torch inputs."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import torch
import xarray as xr

from surrogates import DataError
from surrogates.diagnostics import (
    METRICS,
    brmse,
    crmse,
    error_metrics,
    frmse,
    nrmse,
    relative_l2,
    rmse,
    vrmse,
)

TRUE = np.arange(1.0, 10.0).reshape(3, 3)
DIFF = np.array([[0.0, 1.0, 0.0], [0.0, 5.0, 0.0], [2.0, 0.0, 0.0]])
PRED = TRUE + DIFF


def test_metrics_by_hand_on_a_3x3_field():
    # Hand computation (d = pred - true, true = 1..9):
    # sum d^2 = 1 + 25 + 4 = 30 over 9 cells; sum true^2 = 285; mean d = 8 / 9;
    # boundary faces x=0: 1, x=-1: 4, y=0: 0+0+4, y=-1: 0 -> 9 over 4 x 3 = 12 cells;
    # var(true, ddof=1) = 60 / 8 = 7.5 (The Well uses torch.std, unbiased).
    assert rmse(PRED, TRUE) == pytest.approx(np.sqrt(30 / 9), rel=1e-14)
    assert nrmse(PRED, TRUE) == pytest.approx(np.sqrt(30 / 285), rel=1e-14)
    assert relative_l2(PRED, TRUE) == pytest.approx(np.sqrt(30 / 285), rel=1e-14)
    assert crmse(PRED, TRUE) == pytest.approx(8 / 9, rel=1e-14)
    assert brmse(PRED, TRUE) == pytest.approx(np.sqrt(9 / 12), rel=1e-14)
    assert vrmse(PRED, TRUE) == pytest.approx(np.sqrt((30 / 9) / (7.5 + 1e-7)), rel=1e-14)
    # VRMSE is 1 for the constant prediction mean(true) (up to eps and Bessel's factor).
    mean_pred = np.full_like(TRUE, TRUE.mean())
    assert vrmse(mean_pred, TRUE) == pytest.approx(np.sqrt(8 / 9), rel=1e-6)


def test_frmse_bands_by_hand():
    # d = cos(2 pi x / 8) + cos(2 pi (2x + 2y) / 8) on 8x8: the first-octant DFT holds
    # |D| = N / 2 = 32 at m = (1, 0) (shell floor(1) = 1) and at m = (2, 2) (shell
    # floor(2.83) = 2), so F_s = 32 * L_x L_y / 64 = 0.5 L_x L_y for s = 1, 2 and 0 for
    # s = 0, 3 (4 shells = min(n) / 2). Bands [0, i_low), [i_low, i_high), [i_high, 4).
    i, j = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    d = np.cos(2 * np.pi * i / 8) + np.cos(2 * np.pi * (2 * i + 2 * j) / 8)
    truth = np.zeros((8, 8))
    np.testing.assert_allclose(frmse(d, truth, i_low=1, i_high=3), [0.0, 0.5, 0.0], atol=1e-14)
    np.testing.assert_allclose(
        frmse(d, truth, box_size=(2.0, 3.0), i_low=2, i_high=3), [1.5, 3.0, 0.0], atol=1e-13
    )
    default = frmse(d, truth)  # PDEBench i_low = 4, i_high = 12: only the low band exists
    assert default[0] == pytest.approx(1.0 / 4) and np.isnan(default[1:]).all()


def test_leading_axes_torch_and_xarray_dataset():
    # Metrics are per snapshot: leading axes are kept; torch tensors give numpy results;
    # a Dataset gives one value per variable and step, and error_metrics stacks them.
    stack_pred = np.stack([PRED, TRUE, 2 * TRUE])
    stack_true = np.stack([TRUE] * 3)
    np.testing.assert_allclose(
        rmse(torch.from_numpy(stack_pred), torch.from_numpy(stack_true), ndim=2),
        [np.sqrt(30 / 9), 0.0, np.sqrt(285 / 9)],
    )
    dims = ("time", "x", "y")
    pred = xr.Dataset(
        {"rho": (dims, stack_pred), "p": (dims, 2 * stack_pred)}, coords={"time": [0.0, 0.5, 1.0]}
    )
    true = xr.Dataset(
        {"rho": (dims, stack_true), "p": (dims, 2 * stack_true)}, coords={"time": [0.0, 0.5, 1.0]}
    )
    per_var = crmse(pred, true)
    np.testing.assert_allclose(per_var["p"], 2 * per_var["rho"])
    table = error_metrics(pred, true)
    assert set(table.data_vars) == set(METRICS)
    assert table["rmse"].dims == ("variable", "time")
    assert table["frmse"].dims == ("variable", "time", "band")
    np.testing.assert_allclose(table["rmse"].sel(variable="rho", time=0.0), np.sqrt(30 / 9))


def test_dask_inputs_reduce_chunk_by_chunk():
    # Streaming: a (time, x, y, z) field chunked one step at a time is reduced lazily; the
    # graph holds no rechunk (nothing gathers the steps) and each output chunk is one step;
    # the values equal the in-memory ones. fRMSE merges spatial chunks only.
    rng = np.random.default_rng(0)
    shape = (6, 16, 16, 16)
    truth = rng.normal(size=shape)
    pred = truth + 0.1 * rng.normal(size=shape)
    dims = ("time", "x", "y", "z")
    lazy_p = xr.Dataset({"u": (dims, da.from_array(pred, chunks=(1, 16, 8, 16)))})
    lazy_t = xr.Dataset({"u": (dims, da.from_array(truth, chunks=(1, 16, 8, 16)))})
    table = error_metrics(lazy_p, lazy_t)
    for name in ("rmse", "nrmse", "crmse", "brmse", "vrmse", "relative_l2"):
        graph = table[name].data.__dask_graph__()
        assert not any(layer.startswith("rechunk") for layer in graph.layers), name
        assert table[name].data.chunks[-1] == (1,) * 6
    assert table["frmse"].data.chunks[1] == (1,) * 6
    eager = error_metrics(xr.Dataset({"u": (dims, pred)}), xr.Dataset({"u": (dims, truth)}))
    for name in METRICS:
        np.testing.assert_allclose(table[name].compute(), eager[name], rtol=1e-12)
    direct = rmse(da.from_array(pred, chunks=(2, 16, 16, 16)), truth, ndim=3)
    assert isinstance(direct, da.Array)
    np.testing.assert_allclose(direct.compute(), eager["rmse"].sel(variable="u"))


def test_metric_errors():
    with pytest.raises(DataError, match="prediction sizes"):
        rmse(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(DataError, match=r"prediction lacks variables \['p'\]"):
        rmse(
            xr.Dataset({"u": (("x",), np.zeros(3))}),
            xr.Dataset({"u": (("x",), np.zeros(3)), "p": (("x",), np.zeros(3))}),
        )
    with pytest.raises(DataError, match="pred is a ndarray, true a Dataset"):
        rmse(np.zeros(3), xr.Dataset({"u": (("x",), np.zeros(3))}))
    with pytest.raises(DataError, match="unknown metrics"):
        error_metrics(PRED, TRUE, metrics=("mae",))
    with pytest.raises(DataError, match="ndim=4 spatial axes invalid"):
        rmse(np.zeros((2, 3, 3, 3)), np.zeros((2, 3, 3, 3)), ndim=4)


def test_matched_frame_is_where_the_error_stays_below_the_target():
    from surrogates.diagnostics import matched_frame

    seconds = [1.0, 2.0, 3.0, 4.0, 5.0]
    error = [0.5, 0.05, 0.3, 0.08, 0.02]  # right by chance at 2 s, for good from 4 s
    assert seconds[matched_frame(error, 0.1)] == 4.0
    assert seconds[matched_frame(error, 0.6)] == 1.0
    assert matched_frame(error, 0.01) is None
    assert seconds[matched_frame([float("nan")] * 4 + [0.0], 0.1)] == 5.0
    with pytest.raises(DataError, match="non-empty error series"):
        matched_frame([], 0.1)


def test_cheapest_matching_is_the_cheapest_run_as_accurate():
    from surrogates.diagnostics import cheapest_matching

    costs = {"PM-2": 3.0, "PM-5": 6.0, "PM-4": 5.0, "PM-3": 4.0}
    errors = {"PM-2": 0.08, "PM-5": 0.007, "PM-4": 0.0097, "PM-3": 0.026}
    assert cheapest_matching(costs, errors, 0.0094) == "PM-5"  # PM-4 misses by 3e-4
    assert cheapest_matching(costs, errors, 0.0097) == "PM-4"  # a tie counts
    assert cheapest_matching(costs, errors, 1.0) == "PM-2"
    assert cheapest_matching(costs, errors | {"PM-5": float("nan")}, 0.0094) is None
    with pytest.raises(DataError, match="name different runs"):
        cheapest_matching(costs, {"PM-2": 0.1}, 0.1)
