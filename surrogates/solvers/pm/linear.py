"""Linear matter power spectrum at z = 0 for the particle-mesh initial conditions: the
Eisenstein & Hu (1998) no-wiggle transfer function with a primordial ``k^n_s`` spectrum, or a
user table, normalised to ``sigma8``.

Units: ``k`` in h/Mpc, ``P(k)`` in (Mpc/h)^3; ``σ_R`` uses a real-space top-hat of radius R
in Mpc/h.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.integrate

from surrogates.errors import DataError

__all__ = ["LinearPower", "eisenstein_hu_nowiggle", "eisenstein_hu_power", "read_power_table"]

T_CMB = 2.7255  # K (Fixsen 2009)
_K_SIGMA = (1e-4, 20.0)  # h/Mpc: the sigma_8 integral converges to < 1e-6 within this range


def eisenstein_hu_nowiggle(k, Omega_m: float, Omega_b: float, h: float, t_cmb: float = T_CMB):
    """Eisenstein & Hu 1998 (ApJ 496:605) zero-baryon-oscillation transfer function.

    Eqs. 26, 28-31: the CDM + baryon shape with the baryon suppression of the effective
    shape parameter ``Γ_eff(k)`` but without acoustic oscillations.

    Parameters
    ----------
    k : array_like
        Wavenumbers in h/Mpc.

    Returns
    -------
    ndarray
        ``T(k)``, same shape as ``k``, ``T -> 1`` as ``k -> 0``.
    """
    k = np.asarray(k, dtype=np.float64)
    om_h2, ob_h2 = Omega_m * h * h, Omega_b * h * h
    fb = Omega_b / Omega_m
    theta2 = (t_cmb / 2.7) ** 2
    s = 44.5 * np.log(9.83 / om_h2) / np.sqrt(1.0 + 10.0 * ob_h2**0.75)  # Mpc, eq. 26
    alpha = 1.0 - 0.328 * np.log(431.0 * om_h2) * fb + 0.38 * np.log(22.3 * om_h2) * fb**2
    gamma = Omega_m * h * (alpha + (1.0 - alpha) / (1.0 + (0.43 * k * h * s) ** 4))  # eq. 30
    q = k * theta2 / gamma  # eq. 28 with k in h/Mpc
    l0 = np.log(2.0 * np.e + 1.8 * q)
    c0 = 14.2 + 731.0 / (1.0 + 62.5 * q)
    return l0 / (l0 + c0 * q * q)


def _tophat(x):
    x = np.asarray(x, dtype=np.float64)
    small = x < 1e-3
    xs = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x * x / 10.0, 3.0 * (np.sin(xs) - xs * np.cos(xs)) / xs**3)


@dataclass(frozen=True, eq=False)
class LinearPower:
    """A linear power spectrum tabulated in ``(ln k, ln P)`` and interpolated linearly there.

    Attributes
    ----------
    k, p : ndarray, shape (m,)
        Strictly increasing wavenumbers (h/Mpc) and positive power ((Mpc/h)^3).
    source : str
        Where the table came from (named in errors).
    """

    k: np.ndarray
    p: np.ndarray
    source: str = "table"

    def __call__(self, k) -> np.ndarray:
        """``P(k)`` for ``k`` in h/Mpc; ``P(0) = 0``; raises outside the tabulated range."""
        k = np.asarray(k, dtype=np.float64)
        positive = k > 0
        if np.any(positive):
            kp = k[positive]
            lo, hi = float(kp.min()), float(kp.max())
            if lo < self.k[0] * (1 - 1e-9) or hi > self.k[-1] * (1 + 1e-9):
                raise DataError(
                    f"{self.source}: P(k) needed for k in [{lo:.4g}, {hi:.4g}] h/Mpc but the "
                    f"table covers [{self.k[0]:.4g}, {self.k[-1]:.4g}]"
                )
        out = np.zeros_like(k)
        out[positive] = np.exp(np.interp(np.log(k[positive]), np.log(self.k), np.log(self.p)))
        return out

    def sigma(self, radius: float = 8.0) -> float:
        """RMS of the linear field in top-hat spheres, ``σ_R^2 = ∫ dk k^2 P W^2 / (2π^2)``."""
        lo, hi = max(_K_SIGMA[0], self.k[0]), min(_K_SIGMA[1], self.k[-1])
        # Simpson in ln k; 2^14 points resolve the top-hat's oscillations to k = 20 h/Mpc.
        lnk = np.linspace(np.log(lo), np.log(hi), 2**14 + 1)
        k = np.exp(lnk)
        integrand = k**3 * self(k) * _tophat(k * radius) ** 2 / (2.0 * np.pi**2)
        value = scipy.integrate.simpson(integrand, x=lnk)
        return float(np.sqrt(value))

    def normalised(self, sigma8: float) -> LinearPower:
        """The same shape rescaled to ``σ_8 = sigma8``."""
        if self.k[0] > 1e-3 or self.k[-1] < 5.0:
            raise DataError(
                f"{self.source}: cannot normalise to sigma8: the table covers "
                f"[{self.k[0]:.4g}, {self.k[-1]:.4g}] h/Mpc, need at least [1e-3, 5]"
            )
        scale = (sigma8 / self.sigma(8.0)) ** 2
        return LinearPower(self.k, self.p * scale, self.source)


def eisenstein_hu_power(
    Omega_m: float,
    Omega_b: float,
    h: float,
    n_s: float,
    sigma8: float,
    k_range: tuple[float, float] = (1e-5, 1e3),
    points: int = 4096,
) -> LinearPower:
    """``P(k) ∝ k^n_s T_EH,nw(k)^2`` normalised to ``sigma8``, tabulated on a log grid.

    The log-log interpolation error of the default table is below 1e-6.
    """
    k = np.geomspace(*k_range, points)
    p = k**n_s * eisenstein_hu_nowiggle(k, Omega_m, Omega_b, h) ** 2
    return LinearPower(k, p, "Eisenstein-Hu no-wiggle").normalised(sigma8)


def read_power_table(path: str | Path) -> LinearPower:
    """Read a two-column text table (``k`` [h/Mpc], ``P`` [(Mpc/h)^3]; ``#`` comments)."""
    path = Path(path)
    try:
        data = np.loadtxt(path, comments="#", ndmin=2)
    except (OSError, ValueError) as err:
        raise DataError(
            f"{path}: cannot read power spectrum table: {err}; expected two whitespace-separated"
            " columns, k [h/Mpc] and P(k) [(Mpc/h)^3]"
        ) from None
    if data.shape[1] != 2 or data.shape[0] < 2:
        raise DataError(f"{path}: expected two columns k [h/Mpc], P [(Mpc/h)^3], got {data.shape}")
    k, p = data[:, 0], data[:, 1]
    if not (np.all(np.isfinite(data)) and np.all(k > 0) and np.all(p > 0)):
        raise DataError(f"{path}: k and P must be finite and positive")
    if np.any(np.diff(k) <= 0):
        raise DataError(f"{path}: k must be strictly increasing")
    return LinearPower(k, p, str(path))
