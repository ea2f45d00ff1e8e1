"""Scores of probabilistic predictions: spread-skill ratio and CRPS (ensembles, Gaussians).

Pure NumPy functions on arrays of any shape; the member axis of an ensemble is axis 0.

- :func:`spread_skill`: RMS spread over RMS error of the ensemble mean; about 1 for a
  calibrated ensemble (with ``members`` given, the spread is inflated by
  ``sqrt((K + 1) / K)``, the finite-ensemble correction of Fortin et al. 2014).
- :func:`crps_ensemble`: the empirical CRPS of K members, ``mean|x_i - y| - mean|x_i - x_j| / 2``
  over all pairs (Gneiting & Raftery 2007, eq. 20), or the *fair* CRPS (``fair=True``,
  pairs ``i != j``: ``/ (2 K (K - 1))``), unbiased for the CRPS of the distribution the
  members are drawn from (Ferro 2014). One member: the absolute error.
- :func:`crps_gaussian`: closed form for ``N(μ, σ²)``,
  ``σ (z (2 Φ(z) - 1) + 2 φ(z) - 1 / sqrt(π))`` with ``z = (y - μ) / σ``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

__all__ = ["crps_ensemble", "crps_gaussian", "spread_skill"]


def spread_skill(spread: np.ndarray, error: np.ndarray, members: int | None = None) -> float:
    """RMS spread over RMS error, ``sqrt(mean s²) / sqrt(mean e²)``.

    Parameters
    ----------
    spread : numpy.ndarray
        Predicted standard deviation per cell (any shape).
    error : numpy.ndarray, same shape
        Error of the ensemble mean (prediction - truth).
    members : int, optional
        Ensemble size K of a member standard deviation (``ddof=1``): multiplies the spread
        by ``sqrt((K + 1) / K)``.
    """
    spread, error = np.asarray(spread, np.float64), np.asarray(error, np.float64)
    if spread.shape != error.shape:
        raise ValueError(f"spread_skill: spread {spread.shape} and error {error.shape} differ")
    factor = 1.0 if members is None else math.sqrt((members + 1) / members)
    return float(factor * np.sqrt(np.mean(spread**2)) / np.sqrt(np.mean(error**2)))


def crps_ensemble(members: np.ndarray, truth: np.ndarray, fair: bool = False) -> np.ndarray:
    """CRPS of an ensemble per cell, in the truth's units.

    Parameters
    ----------
    members : numpy.ndarray, shape (K, *shape)
    truth : numpy.ndarray, shape (*shape)
    fair : bool
        The fair (unbiased) estimate instead of the empirical one (needs K >= 2).

    Returns
    -------
    numpy.ndarray, shape (*shape)
    """
    x, y = np.asarray(members, np.float64), np.asarray(truth, np.float64)
    if x.shape[1:] != y.shape:
        raise ValueError(f"crps_ensemble: members {x.shape} for truth {y.shape}")
    k = x.shape[0]
    if fair and k < 2:
        raise ValueError("crps_ensemble: the fair CRPS needs at least 2 members")
    skill = np.mean(np.abs(x - y), axis=0)
    # sum_{i,j} |x_i - x_j| = 2 sum_i (2 i - K + 1) x_(i) with x_(i) sorted (O(K log K))
    ranks = 2 * np.arange(k) - k + 1
    pairs = 2 * np.tensordot(ranks, np.sort(x, axis=0), axes=(0, 0))
    return skill - pairs / (2 * k * (k - 1) if fair else 2 * k * k)


def crps_gaussian(mean: np.ndarray, sigma: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of ``N(mean, sigma²)`` at ``truth`` per cell (``sigma > 0``)."""
    mu, s, y = (np.asarray(a, np.float64) for a in (mean, sigma, truth))
    z = (y - mu) / s
    cdf = 0.5 * (1 + erf(z / math.sqrt(2)))
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return s * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))
