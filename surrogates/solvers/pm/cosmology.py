"""Flat ΛCDM background and growth for the particle-mesh solver: E(a), the linear growth
factor D(a) (D(1) = 1) and rate f, the second-order growth D2(a), and the FastPM kick and
drift factors built from them.

Units: the Hubble rate is in units of H0 (``E = H / H0``), time derivatives are taken with
respect to the scale factor ``a``. Radiation is neglected (``Omega_Lambda = 1 - Omega_m``).

References
----------
- Growing mode of matter-dominated ΛCDM as an integral (Heath 1977) and its closed form
  ``D ∝ a 2F1(1/3, 1; 11/6; -a^3 Ω_Λ / Ω_m)``.
- Second-order growth: ``D2'' + (2 + dlnE/dlna) D2' - 3/2 Ω_m(a) D2 = -3/2 Ω_m(a) D^2``
  (Bouchet et al. 1995, A&A 296:575), ``D2 → -3/7 D^2`` in the matter era.
- Kick and drift factors: Feng et al. 2016, MNRAS 463:2273 (FastPM, arXiv:1603.00476), eqs.
  15-20: with them a linear displacement field grows exactly as D(a) whatever the step size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.special

from surrogates.errors import ModelError

__all__ = ["Background"]

_A_EARLY = 1e-5  # start of the second-order growth integration (deep in the matter era)


@dataclass(frozen=True)
class Background:
    """Flat ΛCDM background with matter density ``Omega_m`` today (0 < Omega_m <= 1).

    All methods take the scale factor ``a`` (scalar or array, ``0 < a <= a_max``) and
    return arrays of the same shape.
    """

    Omega_m: float
    a_max: float = 4.0  # largest scale factor at which D2 is tabulated

    def __post_init__(self) -> None:
        if not 0.0 < self.Omega_m <= 1.0:
            raise ModelError(f"Omega_m must be in (0, 1] (flat ΛCDM), got {self.Omega_m!r}")

    @property
    def Omega_lambda(self) -> float:
        return 1.0 - self.Omega_m

    def E(self, a):
        """Hubble rate ``H(a) / H0 = sqrt(Ω_m a^-3 + Ω_Λ)``."""
        a = np.asarray(a, dtype=np.float64)
        return np.sqrt(self.Omega_m / a**3 + self.Omega_lambda)

    def Omega_m_of_a(self, a):
        """Matter density parameter at ``a``, ``Ω_m a^-3 / E^2``."""
        a = np.asarray(a, dtype=np.float64)
        return self.Omega_m / (a**3 * self.E(a) ** 2)

    def _growth_unnormalised(self, a):
        # Growing mode normalised to D -> a in the matter era: (5 Ω_m / 2) E ∫ da / (a E)^3.
        a = np.asarray(a, dtype=np.float64)
        x = -(a**3) * self.Omega_lambda / self.Omega_m
        return a * scipy.special.hyp2f1(1.0 / 3.0, 1.0, 11.0 / 6.0, x)

    @functools.cached_property
    def _d_today(self) -> float:
        return float(self._growth_unnormalised(1.0))

    def D(self, a):
        """Linear growth factor normalised to ``D(1) = 1``."""
        return self._growth_unnormalised(a) / self._d_today

    def f(self, a):
        """Linear growth rate ``dlnD / dlna``.

        From the integral form: ``f = dlnE/dlna + (5 Ω_m / 2) / (a^2 E^2 D_u)`` with the
        unnormalised growth ``D_u``.
        """
        a = np.asarray(a, dtype=np.float64)
        e2 = self.E(a) ** 2
        return -1.5 * self.Omega_m / (a**3 * e2) + 2.5 * self.Omega_m / (
            a**2 * e2 * self._growth_unnormalised(a)
        )

    def dD_da(self, a):
        """``dD / da = f D / a``."""
        a = np.asarray(a, dtype=np.float64)
        return self.f(a) * self.D(a) / a

    @functools.cached_property
    def _second_order(self):
        """Dense solution ``(D2, dD2/dlna)`` in ``ln a`` with the unnormalised D."""
        om, ol = self.Omega_m, self.Omega_lambda

        def rhs(lna, y):
            a = np.exp(lna)
            e2 = om / a**3 + ol
            om_a = om / (a**3 * e2)
            dlne = -1.5 * om_a
            d1 = float(self._growth_unnormalised(a))
            return [y[1], -(2.0 + dlne) * y[1] + 1.5 * om_a * (y[0] - d1 * d1)]

        a0 = _A_EARLY
        y0 = [-3.0 / 7.0 * a0**2, -6.0 / 7.0 * a0**2]  # matter-era solution, D_u = a
        sol = scipy.integrate.solve_ivp(
            rhs, (np.log(a0), np.log(self.a_max)), y0, method="DOP853",
            rtol=1e-11, atol=1e-16, dense_output=True,
        )  # fmt: skip
        assert sol.success, sol.message
        return sol.sol

    def D2(self, a):
        """Second-order growth factor, normalised consistently with ``D`` (``≈ -3/7 D^2``)."""
        return self._second_order(np.log(self._check(a)))[0] / self._d_today**2

    def dD2_da(self, a):
        """``dD2 / da``."""
        a = self._check(a)
        return self._second_order(np.log(a))[1] / (a * self._d_today**2)

    def _check(self, a) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        if np.any(a <= _A_EARLY) or np.any(a > self.a_max):
            raise ModelError(f"scale factor must be in ({_A_EARLY}, {self.a_max}], got {a}")
        return a

    # FastPM factors (Feng et al. 2016, eqs. 15-20). The canonical momentum is
    # p = a^3 E dx/da (x comoving, in units where H0 = 1); dx/da = p / (a^3 E) and
    # dp/da = F / (a^2 E) with F = -grad(phi), laplace(phi) = 3/2 Ω_m delta.

    def Gf(self, a):
        """``a^3 E dD/da``: the momentum of a unit linear displacement."""
        a = np.asarray(a, dtype=np.float64)
        return a**3 * self.E(a) * self.dD_da(a)

    def gf(self, a):
        """``dGf / da = 3/2 Ω_m D / (a^2 E)`` (the growth equation)."""
        a = np.asarray(a, dtype=np.float64)
        return 1.5 * self.Omega_m * self.D(a) / (a**2 * self.E(a))

    def drift_factor(self, ai: float, ac: float, af: float) -> float:
        """Drift ``x += p * factor`` from ``ai`` to ``af`` with the momentum at ``ac``."""
        return float((self.D(af) - self.D(ai)) / (ac**3 * self.E(ac) * self.dD_da(ac)))

    def kick_factor(self, ai: float, ac: float, af: float) -> float:
        """Kick ``p += F * factor`` from ``ai`` to ``af`` with the force at ``ac``."""
        return float((self.Gf(af) - self.Gf(ai)) / (ac**2 * self.E(ac) * self.gf(ac)))
