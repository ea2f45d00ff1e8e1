"""One-number summaries of an estimate's error: over bodies, and over whole fields.

:func:`coefficient_errors` summarises per-body coefficients (a drag coefficient of every
obstacle) by the mean and the largest magnitude of their relative error;
:func:`field_errors` gives one relative L2 error per field over everything it holds
(every sample, time and cell), and for a field known only up to a constant (the
pressure of an incompressible flow) the error of its gradient instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates.errors import DataError

__all__ = ["coefficient_errors", "field_errors"]

_SPATIAL = ("x", "y", "z")


def coefficient_errors(
    estimate: xr.DataArray, reference: xr.DataArray, dim: str = "body"
) -> dict[str, Any]:
    """Mean and largest magnitude over ``dim`` of the relative error of a coefficient.

    Parameters
    ----------
    estimate, reference : xarray.DataArray, dims (..., body)
        The coefficient of each body (e.g. ``C_D`` of :func:`force_coefficients`) and its
        reference; other dims (``time``) are kept.

    Returns
    -------
    dict
        ``mean`` and ``max`` of ``|estimate / reference - 1|`` over ``dim``: floats, or
        nested lists over the other dims (in ``estimate``'s order).

    Raises
    ------
    DataError
        If either input lacks ``dim``.
    """
    for name, a in (("estimate", estimate), ("reference", reference)):
        if dim not in a.dims:
            raise DataError(f"coefficient_errors: {name} has dims {a.dims}; expected {dim!r}")
    rel = abs(estimate / reference - 1).transpose(..., dim)
    return {"mean": rel.mean(dim).values.tolist(), "max": rel.max(dim).values.tolist()}


def _gradient(a: np.ndarray, spacing: Sequence[float], axes: tuple[int, ...]) -> np.ndarray:
    return np.stack([np.gradient(a, h, axis=ax) for h, ax in zip(spacing, axes, strict=True)])


def field_errors(
    prediction: xr.Dataset,
    truth: xr.Dataset,
    names: Sequence[str],
    gradient: Sequence[str] = (),
) -> dict[str, float]:
    """Relative L2 error ``||prediction - truth|| / ||truth||`` of each field, over all of it.

    Parameters
    ----------
    prediction, truth : xarray.Dataset
        Fields ``names`` with the same dims, shape ``(..., x, y[, z])``.
    names : sequence of str
        The fields compared.
    gradient : sequence of str
        Fields of ``names`` defined up to an additive constant: their error is that of
        the spatial gradient (central differences on the coordinates' spacing, one-sided
        at the edges), under the key ``"grad NAME"``.

    Returns
    -------
    dict of str to float
        One error per field, in the order of ``names``.

    Raises
    ------
    DataError
        If a field is missing, the shapes differ or a gradient field has no spatial dims.
    """
    out = {}
    for v in names:
        if v not in prediction or v not in truth:
            raise DataError(f"field_errors: {v!r} missing; expected it in prediction and truth")
        p, t = prediction[v], truth[v].transpose(*prediction[v].dims)
        if p.shape != t.shape:
            raise DataError(f"field_errors: {v} shapes {p.shape} and {t.shape}; expected equal")
        a, b = np.asarray(p.values, np.float64), np.asarray(t.values, np.float64)
        key = v
        if v in gradient:
            dims = [d for d in p.dims if d in _SPATIAL]
            if not dims:
                raise DataError(f"field_errors: {v} has dims {p.dims}; expected x, y[, z]")
            axes = tuple(p.dims.index(d) for d in dims)
            h = [float(np.diff(p[d].values[:2])[0]) if d in p.coords and p.sizes[d] > 1 else 1.0
                 for d in dims]  # fmt: skip
            a, b, key = _gradient(a, h, axes), _gradient(b, h, axes), f"grad {v}"
        out[key] = float(np.linalg.norm(a - b) / np.linalg.norm(b))
    return out
