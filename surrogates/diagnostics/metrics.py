"""Field error metrics of PDEBench and The Well, per variable and per snapshot.

Every metric reduces over the spatial dimensions only, so leading dimensions (``sample``,
``time``/``step``, ...) are kept: one value per variable, sample and rollout step. Dask-
backed inputs stay lazy and are reduced chunk by chunk (dask tree reductions); call
``.compute()`` on the result. fRMSE needs whole snapshots (one FFT each): a field chunked
along a spatial axis is rechunked along the spatial axes only, never along the leading ones.

Definitions (``d = pred - true``, means over the ``N`` cells of one snapshot):

- ``rmse = sqrt(mean(d^2))``.
- ``nrmse = rmse / sqrt(mean(true^2))``; PDEBench's nRMSE (Takamoto et al. 2022,
  "PDEBench: An Extensive Benchmark for Scientific Machine Learning", NeurIPS Datasets and
  Benchmarks, arXiv:2210.07182, metric_func in pdebench/models/metrics.py).
- ``crmse = |mean(pred) - mean(true)|``: PDEBench's cRMSE (error of the conserved
  quantity, the spatial mean) for one sample; PDEBench reports the root mean square of it
  over samples.
- ``brmse = sqrt(mean of d^2 over the boundary cells)``: PDEBench's bRMSE; the cells of
  the first and last slab of every axis, a cell on several faces counted once per face.
- ``frmse``: PDEBench's fRMSE. ``D = DFT(d)`` (unnormalised) on the first octant of modes
  ``0 <= m_i < n_i // 2``, grouped in shells ``s = floor(|m|) < min(n_i // 2)``;
  ``F_s = sqrt(sum_shell |D|^2) * prod(L_i) / N``; the bands are the means of ``F_s`` over
  ``s < i_low`` ("low"), ``i_low <= s < i_high`` ("mid") and ``s >= i_high`` ("high"),
  with PDEBench's ``i_low = 4, i_high = 12`` and ``L_i = 1`` by default. A band with no
  shell is NaN.
- ``vrmse = sqrt(mean(d^2) / (var(true) + eps))``, ``var`` with Bessel's correction and
  ``eps = 1e-7``: The Well's VRMSE (Ohana et al. 2024, "The Well: a Large-Scale Collection
  of Diverse Physics Simulations for Machine Learning", arXiv:2412.00568;
  ``NRMSE(norm_mode="std")`` in the_well/benchmark/metrics/spatial.py). 1 for a
  prediction equal to the spatial mean of the truth.
- ``relative_l2 = ||d||_2 / ||true||_2``; per snapshot this equals ``nrmse``.

Inputs: numpy / torch / dask arrays (the last ``ndim`` axes are spatial, default all),
xarray DataArrays (spatial dims ``x``, ``y``, ``z``) or Datasets (each shared variable with
spatial dims). Results: arrays for arrays, DataArrays for DataArrays, Datasets for
Datasets; :func:`error_metrics` returns one Dataset holding all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates.diagnostics import _xr
from surrogates.errors import DataError

__all__ = [
    "METRICS",
    "rmse",
    "nrmse",
    "crmse",
    "brmse",
    "frmse",
    "vrmse",
    "relative_l2",
    "error_metrics",
]

BANDS = ("low", "mid", "high")


def _as_dataarray(obj: Any, ndim: int | None, name: str) -> xr.DataArray:
    if isinstance(obj, xr.DataArray):
        _xr.spatial_dims(obj, name)
        return obj
    if not _xr.is_dask(obj):
        obj = _xr.to_numpy(obj, name)
    nd = obj.ndim if ndim is None else int(ndim)
    if not 1 <= nd <= min(3, obj.ndim):
        raise DataError(f"{name}: ndim={ndim} spatial axes invalid for shape {obj.shape}")
    dims = [f"dim_{i}" for i in range(obj.ndim - nd)] + list(_xr.SPATIAL_DIMS[:nd])
    return xr.DataArray(obj, dims=dims)


def _spatial(da: xr.DataArray) -> list[str]:
    return [d for d in _xr.SPATIAL_DIMS if d in da.dims]


def _rmse(p: xr.DataArray, t: xr.DataArray, **_: Any) -> xr.DataArray:
    return np.sqrt(((p - t) ** 2).mean(_spatial(t)))


def _nrmse(p, t, **_):
    return _rmse(p, t) / np.sqrt((t**2).mean(_spatial(t)))


def _crmse(p, t, **_):
    sd = _spatial(t)
    return abs(p.mean(sd) - t.mean(sd))


def _brmse(p, t, **_):
    sd = _spatial(t)
    sq = (p - t) ** 2
    total, count = 0.0, 0
    for dim in sd:
        others = [d for d in sd if d != dim]
        for end in (0, -1):
            total = total + sq.isel({dim: end}).sum(others)
            count += int(np.prod([t.sizes[d] for d in others]))
    return np.sqrt(total / count)


def _vrmse(p, t, *, eps: float = 1e-7, **_):
    sd = _spatial(t)
    return np.sqrt(((p - t) ** 2).mean(sd) / (t.var(sd, ddof=1) + eps))


def _relative_l2(p, t, **_):
    sd = _spatial(t)
    return np.sqrt(((p - t) ** 2).sum(sd) / (t**2).sum(sd))


def _fourier_bands(diff: np.ndarray, nd: int, box, i_low: int, i_high: int) -> np.ndarray:
    """PDEBench fRMSE bands of ``diff`` (..., *spatial) -> (..., 3)."""
    shape = diff.shape[-nd:]
    spec = np.fft.rfftn(diff, axes=tuple(range(-nd, 0)))
    octant = (Ellipsis,) + tuple(slice(0, n // 2) for n in shape)
    power = np.abs(spec[octant]) ** 2
    grids = np.meshgrid(*[np.arange(n // 2) for n in shape], indexing="ij")
    shell = np.floor(np.sqrt(sum(g.astype(np.float64) ** 2 for g in grids))).astype(int)
    nshell = min(n // 2 for n in shape)
    lead = power.shape[: power.ndim - nd]
    flat = power.reshape(lead + (-1,))
    ok = shell.ravel() < nshell
    sums = np.zeros(lead + (nshell,))
    for s in range(nshell):
        sums[..., s] = flat[..., ok & (shell.ravel() == s)].sum(axis=-1)
    scale = float(np.prod(box)) / float(np.prod(shape))
    per_shell = np.sqrt(sums) * scale
    out = np.full(lead + (3,), np.nan)
    for b, (lo, hi) in enumerate(((0, i_low), (i_low, i_high), (i_high, nshell))):
        if hi > lo and lo < nshell:
            out[..., b] = per_shell[..., lo : min(hi, nshell)].mean(axis=-1)
    return out


def _frmse(p, t, *, box_size: Any = 1.0, i_low: int = 4, i_high: int = 12, **_):
    sd = _spatial(t)
    diff = (p - t).astype(np.float64)
    if diff.chunks is not None:
        diff = diff.chunk({d: -1 for d in sd})
    box = _xr.box_tuple(box_size, sd, "frmse")
    out = xr.apply_ufunc(
        _fourier_bands,
        diff,
        input_core_dims=[sd],
        output_core_dims=[["band"]],
        kwargs={"nd": len(sd), "box": box, "i_low": i_low, "i_high": i_high},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"band": 3}},
    )
    return out.assign_coords(band=list(BANDS))


_CORES: dict[str, Callable[..., xr.DataArray]] = {
    "rmse": _rmse,
    "nrmse": _nrmse,
    "crmse": _crmse,
    "brmse": _brmse,
    "frmse": _frmse,
    "vrmse": _vrmse,
    "relative_l2": _relative_l2,
}
#: Names accepted by :func:`error_metrics`.
METRICS = tuple(_CORES)


def _pair(p: xr.DataArray, t: xr.DataArray, name: str) -> None:
    if p.sizes != t.sizes:
        raise DataError(f"{name}: prediction sizes {dict(p.sizes)} != truth {dict(t.sizes)}")


def _variables(pred: xr.Dataset, true: xr.Dataset) -> list[str]:
    names = [v for v in true.data_vars if _spatial(true[v])]
    missing = [v for v in names if v not in pred.data_vars]
    if missing:
        raise DataError(f"prediction lacks variables {missing} present in the truth")
    return names


def _apply(core: Callable, pred: Any, true: Any, ndim: int | None, **kw: Any) -> Any:
    if isinstance(true, xr.Dataset) != isinstance(pred, xr.Dataset):
        raise DataError(
            f"pred is a {type(pred).__name__}, true a {type(true).__name__}: pass two "
            "xarray.Datasets or two arrays"
        )
    if isinstance(true, xr.Dataset):
        out = {}
        for v in _variables(pred, true):
            _pair(pred[v], true[v], v)
            out[v] = core(pred[v].astype(np.float64), true[v].astype(np.float64), **kw)
        return xr.Dataset(out)
    p, t = _as_dataarray(pred, ndim, "pred"), _as_dataarray(true, ndim, "true")
    _pair(p, t, "pred vs true")
    result = core(p.astype(np.float64), t.astype(np.float64), **kw)
    return result if isinstance(true, xr.DataArray) else result.data


def rmse(pred: Any, true: Any, *, ndim: int | None = None) -> Any:
    """Root-mean-square error over the spatial axes (see module docstring)."""
    return _apply(_rmse, pred, true, ndim)


def nrmse(pred: Any, true: Any, *, ndim: int | None = None) -> Any:
    """PDEBench nRMSE: RMSE normalised by the RMS of the truth."""
    return _apply(_nrmse, pred, true, ndim)


def crmse(pred: Any, true: Any, *, ndim: int | None = None) -> Any:
    """PDEBench cRMSE of one snapshot: ``|mean(pred) - mean(true)|``."""
    return _apply(_crmse, pred, true, ndim)


def brmse(pred: Any, true: Any, *, ndim: int | None = None) -> Any:
    """PDEBench bRMSE: RMSE over the boundary cells of the domain."""
    return _apply(_brmse, pred, true, ndim)


def frmse(
    pred: Any,
    true: Any,
    *,
    ndim: int | None = None,
    box_size: float | Sequence[float] = 1.0,
    i_low: int = 4,
    i_high: int = 12,
) -> Any:
    """PDEBench fRMSE in the low / mid / high Fourier bands (new trailing axis ``band``)."""
    return _apply(_frmse, pred, true, ndim, box_size=box_size, i_low=i_low, i_high=i_high)


def vrmse(pred: Any, true: Any, *, ndim: int | None = None, eps: float = 1e-7) -> Any:
    """The Well's VRMSE: ``sqrt(MSE / (Var(true) + eps))``."""
    return _apply(_vrmse, pred, true, ndim, eps=eps)


def relative_l2(pred: Any, true: Any, *, ndim: int | None = None) -> Any:
    """Relative L2 error ``||pred - true|| / ||true||`` over the spatial axes."""
    return _apply(_relative_l2, pred, true, ndim)


def error_metrics(
    pred: Any,
    true: Any,
    metrics: Sequence[str] = METRICS,
    *,
    ndim: int | None = None,
    box_size: float | Sequence[float] = 1.0,
    i_low: int = 4,
    i_high: int = 12,
    eps: float = 1e-7,
) -> xr.Dataset:
    """All requested metrics in one tidy Dataset.

    Returns
    -------
    xarray.Dataset
        One variable per metric; dims: ``variable`` (for Dataset inputs), the leading
        dims of the inputs, and ``band`` for ``frmse``. Lazy for dask-backed inputs.
    """
    unknown = [m for m in metrics if m not in _CORES]
    if unknown:
        raise DataError(f"unknown metrics {unknown}; expected some of {METRICS}")
    kw = {"box_size": box_size, "i_low": i_low, "i_high": i_high, "eps": eps}
    out = {}
    for m in metrics:
        res = _apply(_CORES[m], pred, true, ndim, **kw)
        if isinstance(res, xr.Dataset):
            res = res.to_dataarray("variable")
        elif not isinstance(res, xr.DataArray):
            p = _as_dataarray(true, ndim, "true")
            lead = [d for d in p.dims if d not in _xr.SPATIAL_DIMS]
            dims = lead + (["band"] if m == "frmse" else [])
            res = xr.DataArray(res, dims=dims)
        out[m] = res
    return xr.Dataset(out)
