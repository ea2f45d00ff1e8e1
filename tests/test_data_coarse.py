"""coarse_grain: block means on the coarse cell centres (reference: a linear field)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from surrogates.data import coarse_grain
from surrogates.errors import DataError


def _linear(n: int = 8) -> xr.Dataset:
    x = (np.arange(n) + 0.5) / n
    u = x[:, None, None] + 2 * x[None, :, None] - x[None, None, :]
    return xr.Dataset(
        {"u": (("x", "y", "z"), u, {"units": "m/s"}), "eps": (("x", "y", "z"), u**2)},
        {"x": x, "y": x, "z": x},
        {"source": "fine.nc", "boundary_x": "periodic"},
    )


def test_block_mean_of_a_linear_field_is_its_value_at_the_coarse_centres():
    # The mean of a linear function over a cell is its value at the cell centre: exact
    # up to round-off (tolerance 1e-12).
    coarse = coarse_grain(_linear(), 4, drop=["eps"])
    xc = coarse["x"].values
    np.testing.assert_allclose(xc, (np.arange(2) + 0.5) / 2, atol=1e-12)
    expected = xc[:, None, None] + 2 * xc[None, :, None] - xc[None, None, :]
    np.testing.assert_allclose(coarse["u"].values, expected, atol=1e-12)
    assert "eps" not in coarse and coarse["u"].attrs["units"] == "m/s"
    assert coarse.attrs["source"] == "fine.nc (box filter 4x4x4, subsampled)"
    assert coarse.attrs["boundary_x"] == "periodic"


def test_sizes_must_be_multiples_of_the_factor():
    with pytest.raises(DataError, match=r"fine\.nc: sizes .* not multiples of .* factor 3"):
        coarse_grain(_linear(), 3)
    with pytest.raises(DataError, match="factor=0, expected an integer >= 1"):
        coarse_grain(_linear(), 0)
