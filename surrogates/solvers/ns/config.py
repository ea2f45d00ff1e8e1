"""Configuration of the spectral Navier-Stokes solver: :class:`Config` and the
Taylor-Green Re = 1600 validation run."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from surrogates.errors import ModelError
from surrogates.solvers.ns.spectral import DEALIASING
from surrogates.solvers.ns.stepping import RK4_CFL_LIMIT

__all__ = ["Config", "taylor_green_1600"]

_INITS = ("taylor-green", "abc", "random")
_FORCINGS = ("none", "linear", "linear-energy")
_SCHEDULES = ("constant", "piecewise")
_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Config:
    """Parameters of one spectral Navier-Stokes run (all recipe ``[params]`` keys).

    Attributes
    ----------
    n : int
        Grid points per axis (``n^3`` cells).
    box_size : float
        Side of the periodic box (``2 pi`` makes the fundamental wavenumber 1).
    nu : float
        Kinematic viscosity (``>= 0``).
    t_end : float
        End time; the run stops at the last output time ``<= t_end``.
    save_every : float
        Time between saved frames (a time interval, not a step count: steps are CFL
        controlled and shortened to land on every frame time).
    spinup : float
        Time integrated before the first saved frame (frames at ``spinup + k save_every``).
    cfl : float
        ``dt sum_i max|u_i| / dx``; RK4 is stable up to ~1.35 with the 2/3 rule and ~0.95
        with phase shifts (:data:`~surrogates.solvers.ns.stepping.RK4_CFL_LIMIT`).
    dt : float or None
        Fixed step instead of the CFL step.
    init : {"taylor-green", "abc", "random"}
        Initial field; ``velocity`` scales the first two, ``spectrum_peak`` and ``energy``
        define the random one.
    velocity : float
        Amplitude ``V0`` of the Taylor-Green (``E = V0^2 / 8``) or ABC field.
    spectrum_peak : float
        Peak ``k_p`` of the random field's spectrum, in units of ``2 pi / box_size``.
    energy : float
        Kinetic energy ``<|u|^2> / 2`` of the random field.
    forcing : {"none", "linear", "linear-energy"}
        Lundgren forcing ``A(t) u``: amplitude from the schedule, or chosen at every stage
        as ``eps / (2 E_f)`` so that the kinetic energy stays at its initial value.
    forcing_schedule : {"constant", "piecewise"}
        ``A = forcing_amplitude``, or a new value drawn uniformly from ``forcing_range``
        (seeded by the run's seed) every ``forcing_interval``.
    forcing_amplitude : float
        Constant ``A`` (inverse time).
    forcing_range : tuple of float
        ``(low, high)`` for the piecewise schedule.
    forcing_interval : float
        Segment length of the piecewise schedule.
    forcing_kmax : float
        Force only modes with ``|k| <= forcing_kmax`` (units of ``2 pi / box_size``).
    pressure : bool
        Also output the pressure ``p``.
    dtype : {"float32", "float64"}
        Type of the saved fields.
    compute_dtype : {"float64", "float32"}
        Precision of the computation.
    dealiasing : {"two-thirds", "phase-shift"}
        ``"two-thirds"`` keeps modes with ``|m_i| < n / 3`` on every axis; ``"phase-shift"``
        keeps the sphere ``|m| < sqrt(2) n / 3`` and averages the products of the grid and
        of the half-cell shifted grid (twice the cost per step, the resolution of the 2/3
        rule on a 1.41x finer grid; :mod:`surrogates.solvers.ns.spectral`).
    """

    n: int = 64
    box_size: float = 2.0 * math.pi
    nu: float = 1.0 / 1600.0
    t_end: float = 1.0
    save_every: float = 0.1
    spinup: float = 0.0
    cfl: float = 0.5
    dt: float | None = None
    init: str = "taylor-green"
    velocity: float = 1.0
    spectrum_peak: float = 4.0
    energy: float = 0.5
    forcing: str = "none"
    forcing_schedule: str = "constant"
    forcing_amplitude: float = 0.0
    forcing_range: tuple[float, float] = (0.0, 0.0)
    forcing_interval: float = 1.0
    forcing_kmax: float = math.inf
    pressure: bool = False
    dtype: str = "float32"
    compute_dtype: str = "float64"
    dealiasing: str = "two-thirds"

    def __post_init__(self) -> None:
        object.__setattr__(self, "forcing_range", tuple(float(v) for v in self.forcing_range))
        for name, allowed in (
            ("dealiasing", DEALIASING),
            ("init", _INITS),
            ("forcing", _FORCINGS),
            ("forcing_schedule", _SCHEDULES),
            ("dtype", _DTYPES),
            ("compute_dtype", _DTYPES),
        ):
            if getattr(self, name) not in allowed:
                raise ModelError(
                    f"navier-stokes: {name}={getattr(self, name)!r}; expected one of {allowed}"
                )
        self._check_numbers()

    def _check_numbers(self) -> None:
        rule = self.dealiasing
        limit = RK4_CFL_LIMIT[rule]
        rules = [
            ("n", isinstance(self.n, int | np.integer) and self.n >= 4, "an integer >= 4"),
            ("box_size", self.box_size > 0, "> 0"),
            ("nu", self.nu >= 0, ">= 0"),
            ("save_every", self.save_every > 0, "> 0"),
            ("spinup", self.spinup >= 0, ">= 0"),
            ("t_end", self.t_end >= self.spinup, f">= spinup ({self.spinup})"),
            ("cfl", 0 < self.cfl <= limit, f"in (0, {limit:.3f}] (RK4 stability, {rule})"),
            ("dt", self.dt is None or self.dt > 0, "> 0 or None"),
            ("spectrum_peak", self.spectrum_peak > 0, "> 0"),
            ("energy", self.energy > 0, "> 0"),
            ("forcing_interval", self.forcing_interval > 0, "> 0"),
            ("forcing_kmax", self.forcing_kmax > 0, "> 0"),
            ("forcing_range", len(self.forcing_range) == 2, "two values (low, high)"),
        ]
        for name, ok, expected in rules:
            if not ok:
                raise ModelError(
                    f"navier-stokes: {name}={getattr(self, name)!r}; expected {expected}"
                )
        low, high = self.forcing_range
        if low > high:
            raise ModelError(
                f"navier-stokes: forcing_range={self.forcing_range}; expected low <= high"
            )
        if self.forcing == "linear-energy" and self.forcing_schedule != "constant":
            raise ModelError(
                "navier-stokes: forcing='linear-energy' sets the amplitude itself;"
                f" got forcing_schedule={self.forcing_schedule!r}, expected 'constant'"
            )

    @property
    def reynolds(self) -> float:
        """``Re = U ell / nu`` with ``ell = box_size / (2 pi)`` and ``U`` the initial
        velocity scale (``velocity``, or ``sqrt(2 energy / 3)`` for a random field)."""
        speed = math.sqrt(2.0 * self.energy / 3.0) if self.init == "random" else abs(self.velocity)
        return speed * self.box_size / (2.0 * math.pi) / self.nu if self.nu > 0 else math.inf


def taylor_green_1600(
    n: int, compute_dtype: str = "float64", dealiasing: str = "two-thirds", cfl: float = 1.0
) -> Config:
    """The Re = 1600 Taylor-Green validation run (van Rees et al. 2011): ``nu = 1/1600``,
    ``V0 = 1``, 2 pi box, frames every 0.1 from ``t = 6`` to 10, around the dissipation
    peak (published: 1.286e-2 at ``t = 8.97``). Run it with :func:`simulate_diagnostics`."""
    return Config(
        n=n,
        nu=1 / 1600,
        t_end=10.0,
        spinup=6.0,
        save_every=0.1,
        cfl=cfl,
        compute_dtype=compute_dtype,
        dealiasing=dealiasing,
    )
