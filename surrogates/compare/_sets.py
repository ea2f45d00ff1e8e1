"""The metrics, turbulence and forces sets of :func:`surrogates.compare.compare`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates import diagnostics as dg
from surrogates.compare._inputs import CompareOptions, first_along, per_model, spatial_dims
from surrogates.errors import DataError

__all__ = ["metrics_set", "turbulence_set", "forces_set"]

_METRIC_NAMES = {
    "rmse": "RMSE",
    "nrmse": "nRMSE (PDEBench)",
    "crmse": "cRMSE (PDEBench)",
    "brmse": "bRMSE (PDEBench)",
    "frmse": "fRMSE (PDEBench) per Fourier band",
    "vrmse": "VRMSE (The Well)",
    "relative_l2": "relative L2 error",
}


def metrics_set(
    models: Mapping[str, xr.Dataset], truth: xr.Dataset, fields: Sequence[str], opts: CompareOptions
) -> xr.Dataset:
    """Error metrics ``(model, variable, sample, time[, band])``, computed."""
    true = truth[list(fields)]

    def one(ds: xr.Dataset) -> xr.Dataset:
        return dg.error_metrics(ds[list(fields)], true, opts.metrics).compute()

    out = per_model(one, models)
    for name in out.data_vars:
        out[name].attrs["long_name"] = _METRIC_NAMES.get(str(name), str(name))
    return out


def _scalar(truth: xr.Dataset, name: str, attr: str | None, given: float | None, what: str):
    """An option, else a constant parameter variable (or attribute) of the truth."""
    if given is not None:
        return float(given)
    if name in truth.data_vars and not spatial_dims(truth[name]):
        values = np.unique(np.asarray(truth[name].values, dtype=np.float64))
        if values.size == 1:
            return float(values[0])
        raise DataError(
            f"compare: the truth's {name!r} varies over samples ({values[:4].tolist()}...); "
            f"pass {name}=... and compare one sample at a time"
        )
    if attr is not None and attr in truth.attrs:
        return float(truth.attrs[attr])
    raise DataError(
        f"compare: {what} needs {name}: pass {name}=... (the truth has no {name!r} variable"
        + (f" or {attr!r} attribute)" if attr else ")")
    )


def _velocity(ds: xr.Dataset, axes: Sequence[str]) -> list[Any]:
    return [ds[f"u_{a}"] for a in axes] + [None] * (3 - len(axes))


def turbulence_set(
    models: Mapping[str, xr.Dataset], truth: xr.Dataset, fields: Sequence[str], opts: CompareOptions
) -> xr.Dataset:
    """Energy spectra ``(..., k_shell)`` and dissipation ``(...)`` of each model and the truth."""
    axes = spatial_dims(truth[fields[0]])
    nu = _scalar(truth, "nu", "viscosity", opts.nu, "the dissipation")
    bounds = [str(truth.attrs.get(f"boundary_{a}", "open")) for a in axes]

    def stats(ds: xr.Dataset) -> xr.Dataset:
        u = _velocity(ds, axes)
        spectrum = dg.energy_spectrum(*u, box_size=opts.box_size)["energy"]
        eps = dg.dissipation(*u, box_size=opts.box_size, nu=nu, boundary=bounds)
        eps.attrs["long_name"] = "dissipation rate 2 nu <s_ij s_ij>"
        return xr.Dataset({"energy": spectrum, "dissipation": eps})

    ref = stats(truth)
    out = per_model(stats, models)
    ratio = out["energy"] / ref["energy"]
    out["energy_ratio"] = ratio.assign_attrs(long_name="E_model / E_truth")
    out["dissipation_error"] = (out["dissipation"] / ref["dissipation"] - 1.0).assign_attrs(
        long_name="epsilon_model / epsilon_truth - 1"
    )
    out["energy_truth"] = ref["energy"]
    out["dissipation_truth"] = ref["dissipation"]
    out.attrs["nu"] = nu
    return out.rename({"k": "k_shell"})


_COEFFICIENTS = {"C_D": "drag", "C_L": "lift", "C_S": "side force"}


def _forces(ds: xr.Dataset, mask: xr.DataArray, axes: Sequence[str], kw: dict) -> xr.Dataset:
    """Force coefficients of one dataset; a per-sample mask is applied sample by sample."""
    if "sample" in mask.dims:
        parts = [
            _forces(ds.isel(sample=i), mask.isel(sample=i), axes, kw)
            for i in range(mask.sizes["sample"])
        ]
        return xr.concat(parts, dim="sample", join="outer").assign_coords(sample=ds["sample"])
    res = dg.force_coefficients(ds["p"], *_velocity(ds, axes), mask=mask, **kw)
    return res[[c for c in (*_COEFFICIENTS, "reference") if c in res]]


def forces_set(
    models: Mapping[str, xr.Dataset], truth: xr.Dataset, fields: Sequence[str], opts: CompareOptions
) -> xr.Dataset:
    """Drag and lift coefficients ``(..., body)`` of each body of the truth's mask."""
    axes = spatial_dims(truth[fields[0]])
    mask = truth[opts.mask]
    if "time" in mask.dims:
        raise DataError(f"compare: mask {opts.mask!r} must be static (no 'time' dimension)")
    kw = {
        "box_size": opts.box_size,
        "velocity": _scalar(truth, "U", None, opts.U, "the force coefficients"),
        "nu": _scalar(truth, "nu", "viscosity", opts.nu, "the force coefficients"),
        "rho": opts.rho,
        "reference": opts.reference,
        "method": opts.force_method,
        "drag_axis": opts.drag_axis,
        "lift_axis": opts.lift_axis,
    }
    ref = _forces(truth, mask, axes, kw)
    names = [c for c in _COEFFICIENTS if c in ref]  # C_S: 3D only
    out = per_model(lambda ds: _forces(ds, mask, axes, kw)[names], models)
    for name in names:
        out[f"{name}_truth"] = ref[name]
    out["force_reference"] = first_along(ref["reference"], ["body", "sample"])
    for name in names:
        for var in (name, f"{name}_truth"):
            out[var].attrs.update(
                long_name=f"{_COEFFICIENTS[name]} coefficient 2 F / (rho U^2 A)", units="1"
            )
    out.attrs.update(U=kw["velocity"], rho=opts.rho, force_method=opts.force_method)
    return out
