"""The cosmology set of :func:`surrogates.compare.compare`: density contrast of particles
(or a density field), P(k), T(k), r(k), xi(r) and FoF halo mass functions of every model
against the truth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from surrogates import diagnostics as dg
from surrogates.compare._inputs import (
    CompareOptions,
    box_of,
    first_along,
    lead_dims,
    per_model,
    snapshots,
    spatial_dims,
)
from surrogates.errors import DataError
from surrogates.ops.constants import RHO_CRIT
from surrogates.ops.mesh import paint

__all__ = ["density_field", "cosmology_set"]


def _reference(ds: xr.Dataset) -> tuple[xr.DataArray, bool]:
    """A field giving the grid, and whether the dataset holds particle displacements."""
    for name in ("disp_x", "delta", "density"):
        if name in ds.data_vars and spatial_dims(ds[name]):
            return ds[name], name == "disp_x"
    raise DataError(
        f"density_field: need disp_x|y|z (particles), delta or density; got {list(ds.data_vars)}"
    )


def _positions(ds: xr.Dataset, axes: Sequence[str], sel: dict, box: Sequence[float]):
    """Particle positions ``q + disp`` (wrapped), shape (N, d), of one snapshot."""
    q = np.meshgrid(*[np.asarray(ds[a].values, dtype=np.float64) for a in axes], indexing="ij")
    cols = []
    for a, qa in zip(axes, q, strict=True):
        if f"disp_{a}" not in ds.data_vars:
            raise DataError(f"density_field: particles need disp_{a} (have {list(ds.data_vars)})")
        disp = ds[f"disp_{a}"].isel(sel).transpose(*axes).values
        cols.append((qa + disp).ravel())
    return np.mod(np.stack(cols, axis=1), np.asarray(box))


def density_field(
    ds: xr.Dataset,
    *,
    mesh: int | None = None,
    scheme: str = "cic",
    box_size: float | Sequence[float] | None = None,
) -> xr.DataArray:
    """Density contrast ``delta`` of a canonical dataset, per sample and time.

    Particles (``disp_x|y|z`` on the Lagrangian lattice given by the ``x, y, z``
    coordinates) are moved to ``q + disp``, wrapped into the periodic box and painted on a
    ``mesh``-cell mesh per axis (default: the lattice size) with ``scheme``; otherwise the
    ``delta`` field is returned, or ``density / mean(density) - 1`` per snapshot.

    Returns
    -------
    xarray.DataArray
        Dims ``(sample, time, x, y[, z])`` (leading dims where the input has them), cell
        centres as coordinates with the input's length units.
    """
    ref, particles = _reference(ds)
    axes = spatial_dims(ref)
    if not particles:
        da = ref.astype(np.float64)
        if ref.name == "density":
            da = da / da.mean(axes) - 1.0
        return da.rename("delta")
    box = box_of(ref, box_size)
    shape = tuple(int(mesh or ref.sizes[a]) for a in axes)
    lead = lead_dims(ref)
    out = np.empty(tuple(ref.sizes[d] for d in lead) + shape)
    for idx, sel in snapshots(ref):
        rho = paint(_positions(ds, axes, sel, box), shape, box, scheme=scheme)
        out[idx] = rho / rho.mean() - 1.0
    units = ref[axes[0]].attrs.get("units")
    coords = {d: ref[d] for d in lead if d in ref.coords}
    for a, n, length in zip(axes, shape, box, strict=True):
        coords[a] = (a, (np.arange(n) + 0.5) * (length / n), {"units": units} if units else {})
    attrs = {"long_name": f"density contrast of the particles ({scheme})", "units": "1"}
    return xr.DataArray(out, dims=(*lead, *axes), coords=coords, name="delta", attrs=attrs)


def cosmology_set(
    models: Mapping[str, xr.Dataset],
    truth: xr.Dataset,
    fields: Sequence[str],
    opts: CompareOptions,
) -> xr.Dataset:
    """P(k), T(k), r(k), xi(r) of each model and the truth, and halo mass functions."""
    ref, particles = _reference(truth[list(fields)])
    box = box_of(ref, opts.box_size)
    axes = spatial_dims(ref)

    def delta(ds: xr.Dataset) -> xr.DataArray:
        return density_field(ds, mesh=opts.mesh, scheme=opts.scheme, box_size=opts.box_size)

    true_delta = delta(truth)
    scheme = opts.scheme if particles and opts.compensate else None
    kmax = opts.kmax or _nyquist([true_delta.sizes[a] for a in axes], box)
    truth_stats: dict[str, Any] = {}

    def stats(ds: xr.Dataset) -> xr.Dataset:
        d = delta(ds)
        tf = dg.transfer_function(d, true_delta, box_size=opts.box_size, scheme=scheme, kmax=kmax)
        truth_stats.setdefault("power", tf["power_true"])
        truth_stats.setdefault("n_modes", first_along(tf["n_modes"], ["k"]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = tf["power_pred"] / tf["power_true"]
        xi = dg.correlation_function(d, box_size=opts.box_size)["xi"]
        return xr.Dataset(
            {
                "power": tf["power_pred"],
                "power_ratio": ratio.assign_attrs(long_name="P_model / P_truth"),
                "transfer": tf["transfer"],
                "cross_correlation": tf["r"].assign_attrs(
                    long_name="r(k) = P_model,truth / sqrt(P_model P_truth)"
                ),
                "xi": xi,
            }
        )

    out = per_model(stats, models)
    out["power_truth"] = truth_stats["power"]
    out["n_modes"] = truth_stats["n_modes"]
    out["xi_truth"] = dg.correlation_function(true_delta, box_size=opts.box_size)["xi"]
    n_grid = [ref.sizes[a] for a in axes]
    out.attrs["k_nyquist"] = _nyquist(n_grid, box)
    if particles:
        out.attrs["shot_noise"] = float(np.prod(box) / np.prod(n_grid))
        halos = _halos(models, truth, axes, box, opts)
        out = out.merge(halos).assign_attrs(out.attrs | halos.attrs)
    return out


def _nyquist(cells: Sequence[int], box: Sequence[float]) -> float:
    """Nyquist wavenumber ``min_i pi n_i / L_i`` of a grid."""
    return float(min(np.pi * n / b for n, b in zip(cells, box, strict=True)))


def _particle_mass(truth: xr.Dataset, sel: dict, box, n: int, opts: CompareOptions):
    """Particle mass and its units for one snapshot."""
    if opts.particle_mass is not None:
        return float(opts.particle_mass), "particle mass units"
    units = truth["disp_x"].attrs.get("units") or truth["x"].attrs.get("units")
    if "Omega_m" in truth.data_vars and units == "Mpc/h":
        om = truth["Omega_m"]
        om = om.isel({d: i for d, i in sel.items() if d in om.dims})
        return float(om) * RHO_CRIT * float(np.prod(box)) / n, "1e10 Msun/h"
    return 1.0, "particle masses"


def _catalogues(ds: xr.Dataset, truth: xr.Dataset, axes, box, opts: CompareOptions):
    """Halo masses of each snapshot, in ``snapshots`` order, and the mass units."""
    ref = ds["disp_x"]
    n = int(np.prod([ref.sizes[a] for a in axes]))
    masses, units = [], ""
    for _, sel in snapshots(ref):
        mass, units = _particle_mass(truth, sel, box, n, opts)
        cat = dg.fof_halos(
            _positions(ds, axes, sel, box),
            box,
            linking_length=opts.linking_length,
            min_members=opts.min_members,
            particle_mass=mass,
        )
        masses.append(cat.masses)
    return masses, units


def _mass_edges(catalogues: list[list[np.ndarray]], bins: Any) -> np.ndarray | None:
    if not np.isscalar(bins):
        return np.asarray(bins, dtype=np.float64)
    found = [m for cat in catalogues for m in cat if m.size]
    if not found:
        return None
    lo, hi = min(m.min() for m in found), max(m.max() for m in found)
    if hi <= lo:
        return np.array([lo / 1.1, lo * 1.1])
    return np.geomspace(lo, hi * (1.0 + 1e-9), int(bins) + 1)


def _halos(models, truth: xr.Dataset, axes, box, opts: CompareOptions) -> xr.Dataset:
    """Mass functions in common bins: ``mass_function*`` (model, lead..., mass)."""
    sets = [truth, *models.values()]
    results = [_catalogues(ds, truth, axes, box, opts) for ds in sets]
    edges = _mass_edges([masses for masses, _ in results], opts.mass_bins)
    if edges is None:
        return xr.Dataset(attrs={"halos": f"no FoF group of >= {opts.min_members} particles"})
    ref = truth["disp_x"]
    lead = lead_dims(ref)
    shape = tuple(ref.sizes[d] for d in lead) + (edges.size - 1,)
    keys = ("dn_dlnm", "dn_dlnm_err", "count")
    arrays = {k: np.zeros((len(sets),) + shape) for k in keys}
    for s, (masses, _) in enumerate(results):
        for (idx, _), m in zip(snapshots(ref), masses, strict=True):
            if m.size:
                mf = dg.mass_function(m, box, bins=edges)
                for k in keys:
                    arrays[k][(s, *idx)] = mf[k].values
    units = {"units": results[0][1]}
    dens = {"units": f"1/({ref[axes[0]].attrs.get('units', 'length')})^{len(axes)}"}
    dims = (*lead, "mass")
    coords = {d: ref[d] for d in lead if d in ref.coords}
    coords["mass"] = ("mass", np.sqrt(edges[:-1] * edges[1:]), {"long_name": "bin centre", **units})
    names = {"dn_dlnm": "mass_function", "dn_dlnm_err": "mass_function_err", "count": "halo_count"}
    data = {}
    for key, name in names.items():
        attrs = dens if key != "count" else {}
        data[f"{name}_truth"] = (dims, arrays[key][0], attrs)
        data[name] = (("model", *dims), arrays[key][1:], attrs)
    data["mass_lo"] = ("mass", edges[:-1], units)
    data["mass_hi"] = ("mass", edges[1:], units)
    coords["model"] = list(models)
    attrs = {"linking_length": opts.linking_length, "min_members": opts.min_members}
    return xr.Dataset(data, coords=coords, attrs=attrs)
