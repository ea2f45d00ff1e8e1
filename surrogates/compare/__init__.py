"""Surrogate versus ground truth: error metrics and aggregate diagnostics as one tidy Dataset.

:func:`compare` checks that the prediction (and any baselines) live on the truth's grid,
samples and times, then evaluates the requested diagnostic sets with
:mod:`surrogates.diagnostics`:

``metrics``
    PDEBench / The Well error metrics of every compared field variable, per sample and time.
``cosmology``
    Density contrast ``delta`` of the particles (Lagrangian lattice ``q`` + ``disp_x|y|z``,
    painted on a periodic mesh; or a ``delta`` / ``density`` field): power spectra, their
    ratio, the cross-correlation ``r(k)`` and transfer function ``T(k)``, ``xi(r)``, and
    (with displacements) friends-of-friends halo mass functions in common mass bins.
``turbulence``
    Shell-summed energy spectra ``E(k)`` and the dissipation ``epsilon`` over time.
``forces``
    Drag, lift (and in 3D side-force) coefficients of every body of the ``mask`` over time.

Layout of the result
--------------------
Every statistic of a model is a variable with a leading ``model`` dimension (coordinate: the
prediction's name, then the baselines in the order given); the same statistic of the truth
is ``<name>_truth`` without ``model``. Leading dims ``sample`` and ``time`` of the inputs
are kept. Dimensions and variables::

    metrics     rmse, nrmse, crmse, brmse, vrmse, relative_l2   (model, variable, sample, time)
                frmse                                    (model, variable, sample, time, band)
    cosmology   power, power_ratio, transfer, cross_correlation (model, sample, time, k)
                power_truth (sample, time, k); n_modes (k)
                xi (model, sample, time, r); xi_truth (sample, time, r)
                mass_function, mass_function_err, halo_count   (model, sample, time, mass)
                mass_function_truth, mass_function_err_truth, halo_count_truth,
                mass_lo, mass_hi (mass)
    turbulence  energy, energy_ratio (model, sample, time, k_shell); energy_truth
                dissipation, dissipation_error (model, sample, time); dissipation_truth
    forces      C_D, C_L[, C_S] (model, sample, time, body); C_D_truth, C_L_truth[,
                C_S_truth] (C_S in 3D); force_reference

(``sample`` / ``time`` only where the inputs have them.) ``ratio`` variables are
model / truth; ``dissipation_error`` is ``epsilon_model / epsilon_truth - 1``. Attributes:
``diagnostics``, ``models``, ``variables`` (comma-separated), ``truth_source``,
``prediction_source``, ``box_size``; for cosmology ``k_nyquist`` (``pi n / L`` of the
particle lattice or field grid, smallest over axes), ``shot_noise`` (``V / N``),
``linking_length``, ``min_members`` (or ``halos``, a note when no group was found); ``nu``
for turbulence; ``U``, ``rho``, ``force_method`` for forces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from surrogates.compare._cosmology import cosmology_set, density_field
from surrogates.compare._inputs import (
    DIAGNOSTICS,
    CompareOptions,
    box_of,
    match_inputs,
    resolve_sets,
    spatial_dims,
)
from surrogates.compare._sets import forces_set, metrics_set, turbulence_set

__all__ = ["DIAGNOSTICS", "CompareOptions", "compare", "density_field"]


def compare(
    prediction: xr.Dataset,
    truth: xr.Dataset,
    diagnostics: str | Sequence[str] = "auto",
    *,
    baselines: Mapping[str, xr.Dataset | str] | None = None,
    name: str = "surrogate",
    variables: Sequence[str] | None = None,
    **options: Any,
) -> xr.Dataset:
    """Compare a prediction (and baselines) with the truth; see the module docstring.

    Parameters
    ----------
    prediction, truth : xarray.Dataset
        Canonical datasets, fields with dims ``(sample, time, x, y[, z])`` (leading dims
        optional). The truth may hold more times than the prediction: it is then taken at
        the prediction's times.
    diagnostics : str or sequence of str
        Sets from :data:`DIAGNOSTICS`; ``"auto"`` is ``metrics`` plus the sets the fields
        allow (``disp_*``/``delta``/``density`` -> cosmology; ``u_*`` on an all-periodic
        box without a mask -> turbulence; ``mask``, ``p`` and ``u_*`` -> forces).
    baselines : mapping of str to Dataset or str, optional
        Further models, e.g. ``{"2LPT": ds_2lpt, "ZA": ds_za}``. A string is a variable stem
        of the truth: ``"disp_2lpt"`` stands for ``disp_2lpt_x|y|z`` as ``disp_x|y|z``.
    name : str
        Name of the prediction on the ``model`` dimension.
    variables : sequence of str, optional
        Field variables to compare; default those of the prediction (time-dependent ones
        when it has a ``time`` dimension), all of which the truth must hold.
    **options
        See :class:`CompareOptions`.

    Returns
    -------
    xarray.Dataset
        Computed (not lazy) results in the layout of the module docstring.

    Raises
    ------
    DataError
        When grids, variables, samples or times do not match (the message says which), or a
        requested set lacks what it needs.
    """
    opts = CompareOptions.from_kwargs(**options)
    fields, models, truth = match_inputs(prediction, truth, baselines, name, variables, opts)
    truth = _in_memory_if_small(truth, fields, opts.mask)
    models = {label: _in_memory_if_small(ds, fields, opts.mask) for label, ds in models.items()}
    sets = resolve_sets(diagnostics, fields, truth, opts)
    parts = [_SETS[s](models, truth, fields, opts) for s in sets]
    attrs: dict[str, Any] = {}
    for part in parts:
        attrs.update(part.attrs)
    result = xr.merge(parts, compat="no_conflicts", join="exact", combine_attrs="override")
    result.attrs = {
        **attrs,
        "diagnostics": ",".join(sets),
        "models": ",".join(models),
        "variables": ",".join(fields),
        "truth_source": str(truth.attrs.get("source", "")),
        "prediction_source": str(prediction.attrs.get("source", "")),
        "box_size": list(box_of(truth[fields[0]], opts.box_size)),
    }
    return result


#: Dask-backed inputs up to this size are loaded at once (graph overhead dominates them);
#: larger ones are reduced chunk by chunk.
LOAD_LIMIT_BYTES = 256 * 2**20


def _in_memory_if_small(ds: xr.Dataset, fields: Sequence[str], mask: str) -> xr.Dataset:
    """``ds`` reduced to the fields, the mask and the parameters; loaded when small."""
    keep = [v for v, da in ds.data_vars.items() if v in fields or v == mask or not spatial_dims(da)]
    ds = ds[keep]
    lazy = [v for v in ds.data_vars.values() if v.chunks is not None]
    if lazy and sum(v.nbytes for v in lazy) <= LOAD_LIMIT_BYTES:
        return ds.compute()
    return ds


_SETS = {
    "metrics": metrics_set,
    "cosmology": cosmology_set,
    "turbulence": turbulence_set,
    "forces": forces_set,
}
