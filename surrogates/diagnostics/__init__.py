"""Aggregate diagnostics of fields: spectra, clustering, halos, turbulence, forces, errors.

Pure functions: nothing here reads files or knows about models. Inputs are numpy arrays,
torch tensors (converted to numpy), dask arrays (computed, except by the error metrics,
which reduce lazily chunk by chunk) or xarray DataArrays, whose ``x``, ``y``, ``z``
coordinates give the box (``box_size`` may then be omitted) and whose other dims
(``sample``, ``time``, ...) are looped over and kept in the result. Box sides may differ
per axis; fields may be 2D or 3D.

Return convention
-----------------
- Binned statistics and multi-quantity summaries are always a small ``xarray.Dataset``
  with the bin as coordinate (``k``, ``r``, ``mass``, ``triangle``, ``body``) and
  ``units`` attributes where the input carried units: :func:`power_spectrum`,
  :func:`cross_correlation`, :func:`transfer_function`, :func:`correlation_function`,
  :func:`bispectrum`, :func:`mass_function`, :func:`energy_spectrum`,
  :func:`structure_functions`, :func:`gradient_statistics`, :func:`force_coefficients`,
  :func:`error_metrics`.
- Single quantities follow the input: a float (or array over leading axes) for arrays,
  a DataArray for DataArrays, a Dataset per variable for Datasets: :func:`dissipation`,
  :func:`enstrophy`, :func:`strouhal` (float) and the metrics :func:`rmse` ... :func:`vrmse`.
- Probabilistic scores (NumPy arrays in, arrays or a float out): :func:`spread_skill`,
  :func:`crps_ensemble` (empirical or fair), :func:`crps_gaussian`.
- :func:`fof_halos` returns a :class:`HaloCatalog` (``.to_dataset()`` for xarray).
- :func:`body_boxes`, :func:`body_at`, :func:`approach_velocity`,
  :func:`placement_distance`: geometry of the bodies of a mask (lists, one entry per body
  or point).
- :func:`coefficient_errors` (mean and largest relative error over bodies) and
  :func:`field_errors` (relative L2 per field, of the gradient for gauge fields): dicts.
- :func:`matched_frame` (a solver's error series against a surrogate's error) returns the
  index of the frame from which on the solver is as accurate, or None;
  :func:`cheapest_matching` the cheapest of several solver runs as accurate, or None.
"""

from surrogates.diagnostics.baselines import persistence
from surrogates.diagnostics.bispectrum import bispectrum
from surrogates.diagnostics.bodies import (
    approach_velocity,
    body_at,
    body_boxes,
    placement_distance,
)
from surrogates.diagnostics.convergence import cheapest_matching, matched_frame
from surrogates.diagnostics.correlation import correlation_function
from surrogates.diagnostics.forces import force_coefficients, strouhal
from surrogates.diagnostics.halos import HaloCatalog, fof_halos, mass_function
from surrogates.diagnostics.metrics import (
    METRICS,
    brmse,
    crmse,
    error_metrics,
    frmse,
    nrmse,
    relative_l2,
    rmse,
    vrmse,
)
from surrogates.diagnostics.probabilistic import crps_ensemble, crps_gaussian, spread_skill
from surrogates.diagnostics.spectra import (
    cross_correlation,
    density_contrast,
    power_spectrum,
    transfer_function,
)
from surrogates.diagnostics.summaries import coefficient_errors, field_errors
from surrogates.diagnostics.turbulence import (
    dissipation,
    energy_spectrum,
    enstrophy,
    gradient_statistics,
    structure_functions,
)

__all__ = [
    "approach_velocity",
    "body_at",
    "body_boxes",
    "coefficient_errors",
    "field_errors",
    "placement_distance",
    "HaloCatalog",
    "METRICS",
    "bispectrum",
    "brmse",
    "correlation_function",
    "crmse",
    "crps_ensemble",
    "crps_gaussian",
    "cross_correlation",
    "density_contrast",
    "dissipation",
    "energy_spectrum",
    "enstrophy",
    "error_metrics",
    "fof_halos",
    "force_coefficients",
    "frmse",
    "gradient_statistics",
    "mass_function",
    "matched_frame",
    "cheapest_matching",
    "nrmse",
    "persistence",
    "power_spectrum",
    "relative_l2",
    "rmse",
    "spread_skill",
    "strouhal",
    "structure_functions",
    "transfer_function",
    "vrmse",
]
