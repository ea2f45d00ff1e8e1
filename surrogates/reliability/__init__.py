"""Calibrated error estimates: every prediction carries a map of its own error.

- :mod:`~surrogates.reliability.conformal`: split-conformal calibration (:func:`calibrate`,
  :class:`Calibration`, :func:`coverage`), per cell or per tile, per rollout step.
- :class:`ErrorModel` / :func:`fit_error_model`: a small local network trained on held-out
  residuals of a fitted surrogate to predict its error scale ``σ̂``, conformal-calibrated;
  stored in the surrogate's artifact file (``Surrogate.reliability``).
- :class:`EnsembleEstimator` / :func:`calibrate_ensemble`: the member spread of an
  ensemble surrogate (``fit(..., ensemble=K)``), conformal-calibrated; :func:`members`
  gives one surrogate per member (member-by-member rollouts).
- :func:`predict_error`: the calibrated half-widths ``<var>_error`` of a prediction.

This room sits above ``artifact`` and never imports ``training`` (so loading an artifact
with an error model stays free of Lightning).
"""

from surrogates.reliability.conformal import (
    PER,
    Calibration,
    calibrate,
    check_level,
    conformal_quantile,
    coverage,
    min_calibration,
    scores,
    tile_scores,
)
from surrogates.reliability.ensemble import (
    EnsembleEstimator,
    calibrate_ensemble,
    field_spread,
    members,
)
from surrogates.reliability.error_model import ErrorModel, ErrorNet, predict_error
from surrogates.reliability.fit import ErrorModelConfig, fit_error_model
from surrogates.reliability.store import decode

__all__ = [
    "PER",
    "Calibration",
    "EnsembleEstimator",
    "ErrorModel",
    "ErrorModelConfig",
    "ErrorNet",
    "calibrate",
    "calibrate_ensemble",
    "check_level",
    "conformal_quantile",
    "coverage",
    "decode",
    "field_spread",
    "fit_error_model",
    "members",
    "min_calibration",
    "predict_error",
    "scores",
    "tile_scores",
]
