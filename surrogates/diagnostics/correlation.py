"""Two-point correlation function of a periodic field by FFT.

``xi(r) = < delta(x) delta(x + r) >`` is the inverse transform of ``|delta_k|^2``:
``xi(r_j) = irfftn(|delta_k|^2)_j / N`` on the lattice of cell separations
``r_j = m_j H_j`` with ``m_j`` in ``[-n_j/2, n_j/2)`` (minimum image), so that
``xi(0)`` is the variance of the field. It is the Fourier pair of the power spectrum of
:mod:`surrogates.diagnostics.spectra`: ``xi(r) = (1/V) sum_k P(k) exp(i k.r)``, which for
a fine grid and a large box approaches ``int d^dk/(2 pi)^d P(k) exp(i k.r)`` (in 3D the
Hankel transform ``(1 / 2 pi^2) int k^2 P(k) sin(kr)/(kr) dk``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates.diagnostics import _xr
from surrogates.diagnostics._shells import edge_bins, fft_modes, shell_sums, uniform_bins
from surrogates.ops.fft import irfftn, rfftn
from surrogates.ops.mesh import compensate

__all__ = ["correlation_function"]


def _r_bins(grid: _xr.Grid, r_bins: Any):
    if r_bins is None:
        width = max(grid.spacing)
        return uniform_bins(0.0, 0.5 * min(grid.box), width, "correlation_function r_bins")
    return edge_bins(r_bins, "correlation_function r_bins")


def correlation_function(
    field: Any,
    box_size: float | Sequence[float] | None = None,
    *,
    r_bins: Sequence[float] | None = None,
    scheme: str | None = None,
) -> xr.Dataset:
    """Two-point correlation function ``xi(r)`` of a periodic field, binned in ``|r|``.

    Parameters
    ----------
    field : array-like, shape (n_1, ..., n_d), or DataArray with dims (..., x, y[, z])
        Overdensity (or any real field); its mean is *not* subtracted.
    box_size : float or sequence of float, optional
        Box side length(s); read from the xarray coordinates when omitted.
    r_bins : sequence of float, optional
        Bin edges in ``|r|``. Default: width ``max(H)`` from 0 to ``min(L) / 2`` (the first
        bin then holds ``r = 0`` alone).
    scheme : {"ngp", "cic", "tsc"}, optional
        Mass-assignment kernel whose window is divided out of ``delta_k`` first.

    Returns
    -------
    xarray.Dataset
        Coordinate ``r`` (mean separation of the lattice vectors in the bin, dim ``r``);
        variables ``xi``, ``n_pairs`` (number of lattice separation vectors averaged),
        ``r_lo``, ``r_hi``. Empty bins are dropped.
    """

    def core(arrays, grid, units):
        field_k = rfftn(arrays[0])
        if scheme is not None:
            field_k = compensate(field_k, grid.shape, grid.box, scheme)
        xi = irfftn((field_k * np.conj(field_k)).real, grid.shape) / grid.size
        del field_k
        bins = _r_bins(grid, r_bins)
        count, r_mean, sums = shell_sums(
            lambda rows: [xi[rows]], fft_modes(grid.shape, real=False), grid.spacing, bins
        )
        keep = count > 0
        r_attrs = _xr.length_attrs(grid.length_units)
        unit = units[0]
        xi_attrs = {} if unit in (None, "", "1") else {"units": f"({unit})^2"}
        data = {
            "xi": ("r", sums[0, keep] / count[keep], xi_attrs),
            "n_pairs": ("r", count[keep], {"long_name": "number of lattice separations"}),
            "r_lo": ("r", bins.edges[:-1][keep], r_attrs),
            "r_hi": ("r", bins.edges[1:][keep], r_attrs),
        }
        coords = {"r": ("r", r_mean[keep], {"long_name": "mean separation", **r_attrs})}
        return xr.Dataset(data, coords=coords, attrs={"box_size": list(grid.box)})

    return _xr.apply_fields(core, [field], box_size, ["field"])
