"""Inputs of :func:`surrogates.compare.compare`: its options, and the checks that the
prediction, the baselines and the truth share grid, variables, samples and times."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from surrogates import diagnostics as dg
from surrogates.errors import DataError

#: Diagnostic sets accepted by :func:`compare` (besides ``"auto"``).
DIAGNOSTICS = ("metrics", "cosmology", "turbulence", "forces")
SPATIAL = ("x", "y", "z")


@dataclass(frozen=True)
class CompareOptions:
    """Options of :func:`surrogates.compare.compare` (its keyword arguments).

    Attributes
    ----------
    metrics : tuple of str
        Error metrics, names from :data:`surrogates.diagnostics.METRICS` (default all).
    box_size : float or tuple of float, optional
        Box side(s); default from the ``x, y, z`` coordinates (spacing times cells).
    mesh : int, optional
        Mesh cells per side to paint particles on (default: the lattice size).
    scheme : {"cic", "ngp", "tsc"}
        Mass-assignment scheme for particles.
    compensate : bool
        Divide the scheme's window out of P(k) (r(k) and T(k) do not depend on it).
    kmax : float, optional
        Largest ``|k|`` binned (default: the Nyquist wavenumber ``pi n / L`` of the density
        mesh, smallest over axes; the corners of the FFT cube beyond it are left out).
    linking_length, min_members : float, int
        FoF halos: linking length in mean interparticle spacings, smallest group.
    particle_mass : float, optional
        Default ``Omega_m rho_crit V / N`` in 1e10 Msun/h when the truth has ``Omega_m``
        and Mpc/h coordinates, else 1.
    mass_bins : int or tuple of float
        Number of log mass bins over all catalogues (truth and models), or bin edges.
    nu : float, optional
        Kinematic viscosity; default the truth's ``nu`` variable or ``viscosity`` attribute.
    rho, U, reference : float
        Force coefficients ``2 F / (rho U^2 A)``: density, reference speed (default the
        truth's ``U`` variable), reference length (2D) / area (3D) (default per body).
    force_method, drag_axis, lift_axis : str, int, int
        See :func:`surrogates.diagnostics.force_coefficients`.
    mask : str
        Name of the solid mask variable of the truth (never compared as a field).
    """

    metrics: tuple[str, ...] = dg.METRICS
    box_size: float | tuple[float, ...] | None = None
    mesh: int | None = None
    scheme: str = "cic"
    compensate: bool = True
    kmax: float | None = None
    linking_length: float = 0.2
    min_members: int = 20
    particle_mass: float | None = None
    mass_bins: int | tuple[float, ...] = 8
    nu: float | None = None
    rho: float = 1.0
    U: float | None = None
    reference: float | None = None
    force_method: str = "surface"
    drag_axis: int = 0
    lift_axis: int = 1
    mask: str = "mask"

    @classmethod
    def from_kwargs(cls, **options: Any) -> CompareOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise DataError(f"compare: unknown options {unknown}; accepted: {sorted(known)}")
        if "metrics" in options:
            options["metrics"] = tuple(options["metrics"])
        return cls(**options)


def match_inputs(
    prediction: Any,
    truth: Any,
    baselines: Mapping[str, Any] | None,
    name: str,
    variables: Sequence[str] | None,
    opts: CompareOptions,
) -> tuple[list[str], dict[str, xr.Dataset], xr.Dataset]:
    """Check the inputs; return the compared fields, the models (prediction first) and the
    truth, all at the prediction's times."""
    for label, ds in (("prediction", prediction), ("truth", truth)):
        if not isinstance(ds, xr.Dataset):
            raise DataError(f"compare: {label} is a {type(ds).__name__}, expected xarray.Dataset")
    fields = select_fields(prediction, truth, variables, opts.mask)
    models = {name: prediction, **baseline_models(baselines or {}, truth, fields, name)}
    first = prediction[fields[0]]
    times = first["time"].values if "time" in first.dims else None
    truth = at_times(truth, times, "truth")
    for label, ds in models.items():
        ds = at_times(ds, times, f"model {label!r}")
        missing = [v for v in fields if v not in ds.data_vars]
        if missing:
            raise DataError(f"compare: model {label!r} lacks variables {missing} of {fields}")
        check_grid(ds[fields], truth[fields], f"model {label!r}")
        models[label] = ds
    return fields, models, truth


def spatial_dims(da: xr.DataArray) -> list[str]:
    return [d for d in SPATIAL if d in da.dims]


def select_fields(pred: xr.Dataset, truth: xr.Dataset, variables, mask: str) -> list[str]:
    if variables is None:
        timed = "time" in pred.dims
        variables = [
            v
            for v, da in pred.data_vars.items()
            if spatial_dims(da) and v != mask and (not timed or "time" in da.dims)
        ]
        # in the truth's order: a zarr store lists its arrays in directory order
        order = {v: i for i, v in enumerate(truth.data_vars)}
        variables.sort(key=lambda v: order.get(v, len(order)))
    variables = list(variables)
    if not variables:
        raise DataError(
            f"compare: the prediction has no field variables to compare (variables: "
            f"{list(pred.data_vars)}; expected some with spatial dims {SPATIAL})"
        )
    for label, ds in (("prediction", pred), ("truth", truth)):
        missing = [v for v in variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"compare: the {label} lacks variables {missing}; it has {list(ds.data_vars)}"
            )
    return variables


def baseline_models(baselines, truth: xr.Dataset, fields: list[str], name: str) -> dict:
    out = {}
    for label, base in baselines.items():
        if label == name or label in out:
            raise DataError(f"compare: model name {label!r} is used twice")
        if isinstance(base, str):
            base = _from_stem(truth, base, fields, label)
        elif not isinstance(base, xr.Dataset):
            raise DataError(f"baseline {label!r}: got {type(base).__name__}, expected a Dataset")
        out[label] = base
    return out


def _from_stem(truth: xr.Dataset, stem: str, fields: list[str], label: str) -> xr.Dataset:
    """The truth with ``<stem>_<axis>`` (or ``<stem>`` for a scalar field) as the fields."""
    sources = {}
    for v in fields:
        axis = v.rsplit("_", 1)[-1] if "_" in v else ""
        sources[v] = f"{stem}_{axis}" if axis in SPATIAL else stem
    if len(set(sources.values())) < len(sources):
        raise DataError(
            f"baseline {label!r}: stem {stem!r} is ambiguous for the fields {fields} "
            "(one scalar field, or vector components only); pass a Dataset"
        )
    for v, source in sources.items():
        if source not in truth.data_vars:
            raise DataError(f"baseline {label!r}: truth has no variable {source!r} (for {v!r})")
    return truth.drop_vars(fields).assign({v: truth[s].rename(v) for v, s in sources.items()})


def at_times(ds: xr.Dataset, times: np.ndarray | None, label: str) -> xr.Dataset:
    """``ds`` at the prediction's ``times`` (all of which it must hold)."""
    has = "time" in ds.dims
    if times is None or not has:
        if (times is None) != (not has):
            what = "has no 'time' dimension" if not has else f"has {ds.sizes['time']} times"
            other = "none" if times is None else f"{len(times)}"
            raise DataError(f"compare: {label} {what}, the prediction has {other}")
        return ds
    own = ds["time"].values
    index = [np.flatnonzero(np.isclose(own, t, rtol=1e-9, atol=0.0)) for t in times]
    missing = [t for t, i in zip(times, index, strict=True) if i.size == 0]
    if missing:
        raise DataError(
            f"compare: times differ: {label} lacks prediction times {missing[:5]} "
            f"({len(missing)} of {len(times)}); it has {own[:5].tolist()}..."
        )
    ds = ds.isel(time=[int(i[0]) for i in index])
    return ds.assign_coords(time=ds["time"].copy(data=np.asarray(times)))  # exactly equal


def check_grid(model: xr.Dataset, truth: xr.Dataset, label: str) -> None:
    dims_m = [d for d in SPATIAL if d in model.dims]
    dims_t = [d for d in SPATIAL if d in truth.dims]
    if dims_m != dims_t:
        raise DataError(f"compare: grid differs: {label} has spatial dims {dims_m}, truth {dims_t}")
    for d in dims_t:
        if model.sizes[d] != truth.sizes[d]:
            raise DataError(
                f"compare: grid differs along {d}: {label} has {model.sizes[d]} cells, "
                f"truth {truth.sizes[d]}"
            )
        cm, ct = (np.asarray(ds[d].values, dtype=np.float64) for ds in (model, truth))
        scale = abs(ct[1] - ct[0]) if ct.size > 1 else max(abs(ct[0]), 1.0)
        if not np.allclose(cm, ct, rtol=0.0, atol=1e-6 * scale):
            sm, st = (float(np.mean(np.diff(c))) if c.size > 1 else np.nan for c in (cm, ct))
            raise DataError(
                f"compare: grid differs along {d}: {label} cell centres {cm[0]:.6g} + "
                f"i * {sm:.6g}, truth {ct[0]:.6g} + i * {st:.6g}"
            )
    for d in sorted((set(model.dims) | set(truth.dims)) - set(SPATIAL) - {"time"}):
        if d not in model.dims or d not in truth.dims:
            who = label if d in model.dims else "truth"
            raise DataError(f"compare: only the {who} has a {d!r} dimension")
        same = model.sizes[d] == truth.sizes[d] and (
            d not in model.coords
            or d not in truth.coords
            or np.array_equal(model[d].values, truth[d].values)
        )
        if not same:
            raise DataError(
                f"compare: {d}s differ: {label} has {model.sizes[d]} ({_head(model, d)}), "
                f"truth {truth.sizes[d]} ({_head(truth, d)})"
            )


def _head(ds: xr.Dataset, dim: str) -> str:
    return str(ds[dim].values[:5].tolist()) if dim in ds.coords else "no coordinate"


def _has(names: Sequence[str], fields: Sequence[str]) -> bool:
    return all(n in fields for n in names)


def resolve_sets(diagnostics, fields, truth: xr.Dataset, opts: CompareOptions) -> list[str]:
    asked = [diagnostics] if isinstance(diagnostics, str) else list(diagnostics)
    unknown = [d for d in asked if d not in (*DIAGNOSTICS, "auto")]
    if unknown:
        raise DataError(f"compare: unknown diagnostics {unknown}; expected {DIAGNOSTICS}/'auto'")
    axes = spatial_dims(truth[fields[0]])
    vel = [f"u_{a}" for a in axes]
    periodic = all(truth.attrs.get(f"boundary_{a}") == "periodic" for a in axes)
    particles = _has([f"disp_{a}" for a in axes], fields)
    needs = {
        "cosmology": particles or "delta" in fields or "density" in fields,
        "turbulence": _has(vel, fields),
        "forces": _has(["p", *vel], fields) and opts.mask in truth.data_vars,
    }
    auto = {**needs, "turbulence": needs["turbulence"] and periodic and not needs["forces"]}
    sets = []
    for d in asked:
        chosen = ["metrics", *(s for s in DIAGNOSTICS[1:] if auto[s])] if d == "auto" else [d]
        for s in chosen:
            if s != "metrics" and not needs[s]:
                raise DataError(
                    f"compare: diagnostics {s!r} need {_NEEDS[s]} among the compared "
                    f"variables {fields}"
                )
            if s not in sets:
                sets.append(s)
    return sets


_NEEDS = {
    "cosmology": "disp_x|y|z, delta or density",
    "turbulence": "u_x, u_y[, u_z]",
    "forces": "p and u_x, u_y[, u_z] (and a mask variable in the truth)",
}


# ---------------------------------------------------------------- helpers


def box_of(da: xr.DataArray, box_size: Any) -> tuple[float, ...]:
    dims = spatial_dims(da)
    if box_size is not None:
        box = np.broadcast_to(np.asarray(box_size, dtype=np.float64), (len(dims),))
        return tuple(float(b) for b in box)
    out = []
    for d in dims:
        if d not in da.coords or da.sizes[d] < 2:
            raise DataError(f"compare: no {d!r} coordinate to read the box from; pass box_size")
        out.append(float(da[d].values[1] - da[d].values[0]) * da.sizes[d])
    return tuple(out)


def snapshots(da: xr.DataArray) -> Iterator[tuple[tuple[int, ...], dict[str, int]]]:
    """Index tuples and ``isel`` dicts over the non-spatial dims of ``da``."""
    lead = [d for d in da.dims if d not in SPATIAL]
    for idx in np.ndindex(*(da.sizes[d] for d in lead)):
        yield idx, dict(zip(lead, idx, strict=True))


def lead_dims(da: xr.DataArray) -> list[str]:
    return [d for d in da.dims if d not in SPATIAL]


def per_model(func, models: Mapping[str, xr.Dataset]) -> xr.Dataset:
    parts = [func(ds) for ds in models.values()]
    return xr.concat(parts, dim="model", coords="minimal", compat="override").assign_coords(
        model=list(models)
    )


def first_along(da: xr.DataArray, keep: Sequence[str]) -> xr.DataArray:
    """``da`` at index 0 of every dim not in ``keep`` (for values equal along them)."""
    return da.isel({d: 0 for d in da.dims if d not in keep}, drop=True)
