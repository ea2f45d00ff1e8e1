"""Publication-ready figures of surrogate-vs-truth comparisons (matplotlib).

Every function draws inside :func:`style` (one house style: font sizes, line widths, the
Okabe-Ito colour cycle, constrained layout), labels its axes with the units found in the
``units`` attributes, and returns a :class:`matplotlib.figure.Figure` that is not
registered with pyplot: nothing is shown; save it with ``fig.savefig(path)``, or let
Jupyter display it. The truth is always drawn in black, models in the colour cycle.

- :func:`slices`: truth | surrogate | difference panels of fields (shared colour scales).
- :func:`power_spectra`, :func:`correlation`, :func:`mass_function`: cosmology results.
- :func:`energy_spectra`, :func:`dissipation`: turbulence results.
- :func:`force_coefficients`: drag and lift time series per body.
- :func:`error_vs_step`: an error metric against the rollout step.
- :func:`matched_accuracy`: a solver's error against its cost, the surrogates' beside it.

All but :func:`slices` and :func:`matched_accuracy` take the Dataset returned by
:func:`surrogates.compare`.
"""

from surrogates.plot._style import RC, style
from surrogates.plot.fields import slices
from surrogates.plot.series import (
    dissipation,
    error_vs_step,
    force_coefficients,
    matched_accuracy,
)
from surrogates.plot.spectra import correlation, energy_spectra, mass_function, power_spectra

__all__ = [
    "RC",
    "correlation",
    "dissipation",
    "energy_spectra",
    "error_vs_step",
    "force_coefficients",
    "mass_function",
    "matched_accuracy",
    "power_spectra",
    "slices",
    "style",
]
