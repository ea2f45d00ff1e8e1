"""Power spectra of periodic fields: auto and cross power P(k), the cross-correlation
coefficient r(k) and the transfer function T(k), with mass-assignment compensation.

Conventions
-----------
- ``delta_k = sum_x delta(x) exp(-i k.x)`` (unnormalised DFT over ``N = prod(n_i)`` cells of
  a box of volume ``V = prod(L_i)``); ``P(k) = V |delta_k|^2 / N^2`` (cross power:
  ``V Re(a_k conj(b_k)) / N^2``). For a Gaussian field this is the continuum power
  spectrum, ``<delta(k) delta*(k')> = (2 pi)^d delta_D(k - k') P(k)``.
- Bins ``kmin + j dk <= |k| < kmin + (j + 1) dk``; by default ``dk = k_F = 2 pi / max(L)``
  and ``kmin = 0``, i.e. bin ``floor(|k| / k_F)``, up to the largest ``|k|`` of the grid
  (the corners beyond the Nyquist sphere included; pass ``kmax`` to cut). The ``k = 0``
  mode is excluded; empty bins are dropped.
- Modes are counted on the full FFT grid: each rfft mode stands for itself and its
  conjugate (weight 2) except the self-conjugate ``k_last = 0`` and Nyquist planes (weight
  1), so ``sum(n_modes) = N - 1`` with the default bins and
  ``sum(power * n_modes) / V`` is the variance of the field (Parseval).
- ``k`` of a bin is the mode-weighted mean ``|k|`` of the modes in it.

Mesh convention (comparing with Pylians and nbodykit)
-----------------------------------------------------
Our meshes hold cell ``i`` at ``(i + 1/2) H`` (:mod:`surrogates.ops.mesh`, the canonical
dataset's coordinates); Pylians' ``MAS_library`` and nbodykit hold it at ``i H``. P(k) of a
given mesh does not depend on where its cells are said to be (a shift of the whole grid is
a phase), but painting the same particles by the two conventions is: it shifts the
particles by half a cell relative to the grid, which changes the aliased power near the
Nyquist frequency. To reproduce Pylians' or nbodykit's P(k) from the same particles, paint
them with ``surrogates.ops.mesh.paint(..., cell_origin="corner")`` (the same as painting
``x + H / 2`` with our default) and pass the same ``scheme`` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates.diagnostics import _xr
from surrogates.diagnostics._shells import fft_modes, rfft_weights, shell_sums, uniform_bins
from surrogates.errors import DataError
from surrogates.ops.fft import rfftn
from surrogates.ops.mesh import window

__all__ = [
    "density_contrast",
    "power_spectrum",
    "cross_correlation",
    "transfer_function",
]

NORMALISATION = "P(k) = V |delta_k|^2 / N^2, delta_k = sum_x delta(x) exp(-i k.x)"


def density_contrast(field: Any) -> Any:
    """Overdensity ``delta = rho / mean(rho) - 1`` of a mass or density mesh (same type)."""
    mean = field.mean()
    if not float(mean) > 0:
        raise DataError(f"density_contrast: mean density must be positive, got {float(mean)}")
    return field / mean - 1.0


def _schemes(scheme: Any, count: int) -> list[str | None]:
    if scheme is None or isinstance(scheme, str):
        return [scheme] * count
    schemes = list(scheme)
    if len(schemes) != count:
        raise DataError(f"scheme: got {scheme!r}, expected one scheme or {count} (one per field)")
    return schemes


def _inverse_windows(grid: _xr.Grid, scheme: str | None) -> list[np.ndarray] | None:
    """Per-axis ``1 / W_i(k_i)`` of the mass-assignment kernel (the window is separable)."""
    if scheme is None:
        return None
    d = grid.ndim
    return [
        1.0 / window((n,), (length,), scheme, real=(i == d - 1))
        for i, (n, length) in enumerate(zip(grid.shape, grid.box, strict=True))
    ]


def _outer(factors: Sequence[np.ndarray]) -> np.ndarray:
    out = np.ones(())
    for i, f in enumerate(factors):
        out = out * f.reshape([-1 if j == i else 1 for j in range(len(factors))])
    return out


def _k_bins(grid: _xr.Grid, kmin: float | None, kmax: float | None, dk: float | None):
    k_nyq_corner = float(
        np.sqrt(sum((np.pi * n / b) ** 2 for n, b in zip(grid.shape, grid.box, strict=True)))
    )
    width = min(grid.fundamental) if dk is None else float(dk)
    return uniform_bins(
        0.0 if kmin is None else float(kmin),
        k_nyq_corner if kmax is None else float(kmax),
        width,
        "power_spectrum bins (kmin, kmax, dk)",
    )


def _binned_cross_powers(
    arrays: Sequence[np.ndarray],
    grid: _xr.Grid,
    pairs: Sequence[tuple[int, int]],
    schemes: Sequence[str | None],
    binning: dict[str, float | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``P_ab(k)`` for each ``(a, b)`` in ``pairs`` of the fields ``arrays``.

    Returns ``(edges, k_mean, n_modes, powers)`` over the non-empty bins; ``powers`` has
    shape ``(len(pairs), nbins)``.
    """
    fields_k = [rfftn(a) for a in arrays]
    inv = [_inverse_windows(grid, s) for s in schemes]
    rest = [None if w is None else _outer(w[1:]) for w in inv]
    norm = grid.volume / float(grid.size) ** 2

    def values(rows: slice) -> list[np.ndarray]:
        slabs = []
        for a, b in pairs:
            v = (fields_k[a][rows] * np.conj(fields_k[b][rows])).real * norm
            for f in (a, b):
                if inv[f] is not None:
                    w0 = inv[f][0][rows].reshape((-1,) + (1,) * (grid.ndim - 1))
                    v = v * (w0 * rest[f])
            slabs.append(v)
        return slabs

    bins = _k_bins(grid, **binning)
    count, k_mean, sums = shell_sums(
        values,
        fft_modes(grid.shape, real=True),
        grid.fundamental,
        bins,
        weights_last=rfft_weights(grid.shape[-1]),
        exclude_origin=True,
    )
    keep = count > 0
    edges = np.stack([bins.edges[:-1][keep], bins.edges[1:][keep]])
    return edges, k_mean[keep], count[keep], sums[:, keep] / count[keep]


def _power_units(units: str | None, grid: _xr.Grid) -> dict[str, str]:
    if grid.length_units is None:
        return {}
    volume = f"({grid.length_units})^{grid.ndim}"
    return {"units": volume if units in (None, "", "1") else f"({units})^2 {volume}"}


def _dataset(edges, k_mean, n_modes, powers: dict[str, tuple], grid: _xr.Grid) -> xr.Dataset:
    k_attrs = _xr.length_attrs(grid.length_units, inverse=True)
    data = {name: ("k", value, attrs) for name, (value, attrs) in powers.items()}
    data["n_modes"] = ("k", n_modes, {"long_name": "number of Fourier modes (k and -k)"})
    data["k_lo"] = ("k", edges[0], k_attrs)
    data["k_hi"] = ("k", edges[1], k_attrs)
    coords = {"k": ("k", k_mean, {"long_name": "mode-averaged |k|", **k_attrs})}
    attrs = {"normalisation": NORMALISATION, "box_size": list(grid.box)}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def power_spectrum(
    field: Any,
    box_size: float | Sequence[float] | None = None,
    *,
    field2: Any = None,
    scheme: str | Sequence[str | None] | None = None,
    kmin: float | None = None,
    kmax: float | None = None,
    dk: float | None = None,
    shot_noise: float | None = None,
) -> xr.Dataset:
    """Auto (or cross, with ``field2``) power spectrum of a periodic field.

    Parameters
    ----------
    field : array-like, shape (n_1, ..., n_d), or DataArray with dims (..., x, y[, z])
        Overdensity (or any real field). Leading xarray dims are kept in the result.
    box_size : float or sequence of float, optional
        Box side length(s); read from the xarray coordinates when omitted.
    field2 : array-like, optional
        Second field of the same grid: the cross power ``V Re(a_k b_k*) / N^2``.
    scheme : {"ngp", "cic", "tsc"} or pair, optional
        Mass-assignment kernel of the field(s); its window is divided out per axis.
    kmin, kmax, dk : float, optional
        Binning (see the module docstring for the defaults).
    shot_noise : float, optional
        Shot-noise level (e.g. ``V / N_particles``); reported in ``attrs``, not subtracted.

    Notes
    -----
    Our painted meshes put cell ``i`` at ``(i + 1/2) H``; Pylians and nbodykit at ``i H``.
    For the P(k) they would compute from the same particles, paint with
    ``surrogates.ops.mesh.paint(..., cell_origin="corner")`` (equivalently, positions
    ``x + H / 2``); see the module docstring.

    Returns
    -------
    xarray.Dataset
        Coordinate ``k`` (mode-averaged, dim ``k``); variables ``power``, ``n_modes``,
        ``k_lo``, ``k_hi``; attrs ``normalisation``, ``box_size``, ``scheme``,
        ``shot_noise``.
    """
    fields = [field] if field2 is None else [field, field2]
    schemes = _schemes(scheme, len(fields))
    pair = (0, 0) if field2 is None else (0, 1)

    def core(arrays, grid, units):
        edges, k, n, p = _binned_cross_powers(
            arrays, grid, [pair], schemes, {"kmin": kmin, "kmax": kmax, "dk": dk}
        )
        unit = units[0] if field2 is None or units[0] == units[1] else None
        ds = _dataset(edges, k, n, {"power": (p[0], _power_units(unit, grid))}, grid)
        ds.attrs["scheme"] = str(schemes)
        if shot_noise is not None:
            ds.attrs["shot_noise"] = float(shot_noise)
        return ds

    return _xr.apply_fields(core, fields, box_size, ["field", "field2"])


def _pair_spectra(a: Any, b: Any, box_size: Any, scheme: Any, binning: dict, names) -> Any:
    schemes = _schemes(scheme, 2)

    def core(arrays, grid, units):
        edges, k, n, p = _binned_cross_powers(
            arrays, grid, [(0, 0), (1, 1), (0, 1)], schemes, binning
        )
        powers = {
            f"power_{names[0]}": (p[0], _power_units(units[0], grid)),
            f"power_{names[1]}": (p[1], _power_units(units[1], grid)),
            "power_cross": (p[2], {}),
        }
        return _dataset(edges, k, n, powers, grid)

    return _xr.apply_fields(core, [a, b], box_size, list(names))


def cross_correlation(
    a: Any,
    b: Any,
    box_size: float | Sequence[float] | None = None,
    *,
    scheme: str | Sequence[str | None] | None = None,
    kmin: float | None = None,
    kmax: float | None = None,
    dk: float | None = None,
) -> xr.Dataset:
    """Cross-correlation coefficient ``r(k) = P_ab / sqrt(P_aa P_bb)`` (1 for identical
    phases). Same inputs and binning as :func:`power_spectrum`.

    Returns
    -------
    xarray.Dataset
        ``r``, ``power_a``, ``power_b``, ``power_cross``, ``n_modes``, ``k_lo``, ``k_hi``
        over the coordinate ``k``.
    """
    binning = {"kmin": kmin, "kmax": kmax, "dk": dk}
    ds = _pair_spectra(a, b, box_size, scheme, binning, ("a", "b"))
    with np.errstate(invalid="ignore", divide="ignore"):
        ds["r"] = ds["power_cross"] / np.sqrt(ds["power_a"] * ds["power_b"])
    ds["r"].attrs["long_name"] = "cross-correlation coefficient P_ab / sqrt(P_aa P_bb)"
    return ds


def transfer_function(
    pred: Any,
    true: Any,
    box_size: float | Sequence[float] | None = None,
    *,
    scheme: str | Sequence[str | None] | None = None,
    kmin: float | None = None,
    kmax: float | None = None,
    dk: float | None = None,
) -> xr.Dataset:
    """Transfer function ``T(k) = sqrt(P_pred / P_true)`` (1 for a perfect amplitude).

    Returns
    -------
    xarray.Dataset
        ``transfer``, ``r`` (cross-correlation), ``power_pred``, ``power_true``,
        ``power_cross``, ``n_modes``, ``k_lo``, ``k_hi`` over the coordinate ``k``.
    """
    binning = {"kmin": kmin, "kmax": kmax, "dk": dk}
    ds = _pair_spectra(pred, true, box_size, scheme, binning, ("pred", "true"))
    with np.errstate(invalid="ignore", divide="ignore"):
        ds["transfer"] = np.sqrt(ds["power_pred"] / ds["power_true"])
        ds["r"] = ds["power_cross"] / np.sqrt(ds["power_pred"] * ds["power_true"])
    ds["transfer"].attrs["long_name"] = "transfer function sqrt(P_pred / P_true)"
    return ds
