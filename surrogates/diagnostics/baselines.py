"""Baselines every lead surrogate must beat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = ["persistence"]


def persistence(truth: xr.Dataset, names: Sequence[str], times: np.ndarray) -> xr.Dataset:
    """The truth's first frame of ``names`` held fixed at ``times``.

    Parameters
    ----------
    truth : xarray.Dataset
        Fields with dims ``(sample, time, ...)``.
    names : sequence of str
        The variables to hold.
    times : array
        The times of the returned frames.

    Returns
    -------
    xarray.Dataset
        ``names`` with dims ``(sample, time, ...)``, every frame equal to the first.
    """
    first = truth[list(names)].isel(time=0, drop=True)
    return first.expand_dims(time=times).transpose("sample", "time", ...)
