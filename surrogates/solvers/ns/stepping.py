"""Right-hand side, integrating-factor RK4 step and time loop of the spectral NS solver.

The equations, with density 1 and ``Pi = p + |u|^2 / 2``, are in rotational form::

    du/dt = P[u x omega] - nu k^2 u + A(t) chi(k) u

``P`` is the Leray projection (the pressure gradient), products are formed on the grid and
dealiased by the grid's rule (:func:`surrogates.solvers.ns.spectral.products`), and
``A chi u`` is Lundgren's linear forcing, restricted to the band ``chi(k) = [|k| <= k_f]``.
The viscous term is integrated exactly by the factor ``exp(-nu k^2 t)``; the rest by
classical RK4 (Canuto et al. 2007, sec. 4.4.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from surrogates.solvers.ns.spectral import Grid, mean_square, products, project, to_physical

__all__ = ["Schedule", "System", "pressure", "integrate", "RK4_CFL_LIMIT"]

# Stability bound of the CFL number sum_i max|u_i| dt / dx for RK4: |k . u| dt, at most
# max|k_i| dx CFL, must stay inside RK4's imaginary-axis interval 2 sqrt(2). The 2/3 rule
# keeps max|k_i| dx = 2 pi / 3; the phase-shift rule's sphere keeps sqrt(2) times more.
RK4_CFL_LIMIT = {
    "two-thirds": 2.0 * math.sqrt(2.0) / (2.0 * math.pi / 3.0),
    "phase-shift": 2.0 * math.sqrt(2.0) / (2.0 * math.sqrt(2.0) * math.pi / 3.0),
}


@dataclass(frozen=True)
class Schedule:
    """Piecewise-constant forcing amplitude ``A(t)``, right-continuous at the breaks.

    Attributes
    ----------
    breaks : tuple of float
        Start time of each segment, increasing, ``breaks[0] = 0``.
    values : tuple of float
        Amplitude on each segment (the last one holds to the end of the run).
    """

    breaks: tuple[float, ...] = (0.0,)
    values: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        assert len(self.breaks) == len(self.values) and self.breaks[0] == 0.0
        assert all(b < c for b, c in zip(self.breaks, self.breaks[1:], strict=False))

    @classmethod
    def piecewise(
        cls, low: float, high: float, interval: float, t_end: float, rng: np.random.Generator
    ) -> Schedule:
        """Values drawn uniformly from ``[low, high]`` for each ``interval`` up to ``t_end``."""
        count = max(1, math.ceil(t_end / interval - 1e-9))
        values = rng.uniform(low, high, size=count)
        return cls(tuple(i * interval for i in range(count)), tuple(float(v) for v in values))

    def __call__(self, t: float) -> float:
        """Amplitude at time ``t`` (the segment that starts at or before ``t``)."""
        index = int(np.searchsorted(self.breaks, t, side="right")) - 1
        return self.values[max(index, 0)]


@dataclass(frozen=True)
class System:
    """The semi-discrete equations on a grid.

    Parameters
    ----------
    grid : Grid
    nu : float
        Kinematic viscosity.
    forcing : {"none", "linear", "linear-energy"}
        ``linear``: ``A`` from the schedule. ``linear-energy``: ``A = eps / (2 E_f)`` at
        every stage, which makes ``dE/dt = 0`` (Carroll & Blanquart 2013).
    band : ndarray, shape ``grid.spectral_shape``, optional
        1 on forced modes, 0 elsewhere, in the grid's real type (all modes when None).
    """

    grid: Grid
    nu: float
    forcing: str = "none"
    band: np.ndarray | None = None

    def forced_energy(self, uk: np.ndarray) -> float:
        """Kinetic energy of the forced modes."""
        return 0.5 * mean_square(self.grid, uk, self.band)

    def dissipation(self, uk: np.ndarray) -> float:
        """Viscous dissipation ``eps = nu <|omega|^2> = 2 nu <s_ij s_ij>``."""
        return self.nu * mean_square(self.grid, uk, self.grid.k2)

    def hold_amplitude(self, uk: np.ndarray) -> float:
        """Amplitude that balances dissipation: ``eps / (2 E_f)`` (0 without forced energy)."""
        forced = self.forced_energy(uk)
        return self.dissipation(uk) / (2.0 * forced) if forced > 0 else 0.0

    def tendency(self, uk: np.ndarray, amplitude: float) -> tuple[np.ndarray, float]:
        """Non-viscous right-hand side and the advective rate ``sum_i max|u_i| / dx``.

        Parameters
        ----------
        uk : ndarray, shape ``(3, *grid.spectral_shape)``
        amplitude : float
            Forcing amplitude ``A`` (ignored unless ``forcing == "linear"``).
        """
        nk, _, rate = products(self.grid, uk)
        project(self.grid, nk)
        self._add_forcing(nk, uk, amplitude)
        return nk, rate

    def _add_forcing(self, nk: np.ndarray, uk: np.ndarray, amplitude: float) -> None:
        if self.forcing == "none":
            return
        if self.forcing == "linear-energy":
            amplitude = self.hold_amplitude(uk)
        if amplitude == 0.0:
            return
        nk += amplitude * uk if self.band is None else (amplitude * self.band) * uk

    def step(self, uk: np.ndarray, k1: np.ndarray, dt: float, amplitude: float) -> np.ndarray:
        """One integrating-factor RK4 step of size ``dt`` from ``uk`` (``k1`` its tendency).

        With ``E = exp(-nu k^2 dt / 2)`` the update is
        ``E^2 u + dt/6 (E^2 k1 + 2 E k2 + 2 E k3 + k4)``, the stages taken at
        ``E (u + dt/2 k1)``, ``E u + dt/2 k2`` and ``E^2 u + dt E k3``.
        """
        eh = np.exp((-0.5 * dt * self.nu) * self.grid.k2)
        base = eh * uk
        acc = eh * k1
        k2, _ = self.tendency(base + (0.5 * dt) * acc, amplitude)
        k3, _ = self.tendency(base + (0.5 * dt) * k2, amplitude)
        acc += 2.0 * k2
        acc += 2.0 * k3
        del k2
        k3 *= dt
        k3 += base
        k3 *= eh
        k4, _ = self.tendency(k3, amplitude)
        acc *= dt / 6.0
        acc += base
        acc *= eh
        k4 *= dt / 6.0
        acc += k4
        return acc


def pressure(grid: Grid, uk: np.ndarray) -> np.ndarray:
    """Kinematic pressure ``p / rho`` with zero mean, shape ``(n, n, n)``.

    From ``Pi = p + |u|^2 / 2`` and ``k^2 Pi_k = -i k . (u x omega)_k`` (the divergence of
    the momentum equation), with the products dealiased as in the time stepping.
    """
    nk, kinetic, _ = products(grid, uk, kinetic=True)
    kx, ky, kz = grid.k
    pk = (-1j * grid.inv_k2) * (kx * nk[0] + ky * nk[1] + kz * nk[2])
    pk -= kinetic
    pk[0, 0, 0] = 0.0
    return to_physical(grid, pk)


def _step_size(rate: float, remaining: float, cfl: float, fixed: float | None) -> float:
    """CFL (or fixed) step, shortened so that ``remaining`` is covered exactly."""
    limit = fixed if fixed is not None else (cfl / rate if rate > 0 else math.inf)
    if remaining <= limit * (1.0 + 1e-9):
        return remaining
    if remaining < 2.0 * limit:
        return 0.5 * remaining
    return limit


def integrate(
    system: System,
    uk: np.ndarray,
    output_times: Sequence[float],
    on_output: Callable[[int, np.ndarray, float], None],
    *,
    schedule: Schedule = Schedule(),
    cfl: float = 0.5,
    dt: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Advance ``uk`` from ``t = 0`` through ``output_times``, calling ``on_output`` at each.

    Steps end exactly on every output time and every schedule break.

    Parameters
    ----------
    system : System
    uk : ndarray, shape ``(3, *grid.spectral_shape)``
        Initial state (not modified).
    output_times : sequence of float
        Increasing, ``>= 0``.
    on_output : callable
        ``on_output(index, uk, amplitude)`` with the state and forcing amplitude there.
    schedule : Schedule
        ``A(t)`` for ``forcing == "linear"``.
    cfl, dt : float
        CFL number ``dt sum_i max|u_i| / dx``, or a fixed step ``dt`` (then ``cfl`` unused).
    progress : callable, optional
        ``progress(done, total)`` after each step; ``total`` is an estimate from the last
        step size, larger than ``done`` until the final call, the only one where
        ``done == total``.

    Returns
    -------
    int
        Number of steps taken.
    """
    stops = sorted({*output_times, *(b for b in schedule.breaks if b <= output_times[-1])})
    outputs = {t: i for i, t in enumerate(output_times)}
    t, steps, h = 0.0, 0, dt or 0.0
    for stop in stops:
        while t < stop:
            k1, rate = system.tendency(uk, schedule(t))
            h = _step_size(rate, stop - t, cfl, dt)
            uk = system.step(uk, k1, h, schedule(t))
            t, steps = (stop if h == stop - t else t + h), steps + 1
            if progress is not None and t < output_times[-1]:
                progress(steps, steps + max(1, math.ceil((output_times[-1] - t) / h - 1e-9)))
        if stop in outputs:
            amplitude = system.hold_amplitude(uk) if system.forcing == "linear-energy" else 0.0
            amplitude = schedule(stop) if system.forcing == "linear" else amplitude
            on_output(outputs[stop], uk, amplitude)
    if progress is not None:
        progress(steps, steps)
    return steps
