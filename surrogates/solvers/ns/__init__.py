"""Pseudo-spectral Navier-Stokes reference solver for a periodic 3D box: Taylor-Green, ABC
and random isotropic initial fields, dealiased RK4 with integrating factor, Lundgren
forcing. Importing it registers the solver ``"navier-stokes"``."""

from surrogates.solvers.ns.initial import abc_flow, random_isotropic, taylor_green
from surrogates.solvers.ns.solver import (
    Config,
    dissipation_peak,
    forcing_schedule,
    output_times,
    simulate,
    simulate_diagnostics,
    simulate_from,
    taylor_green_1600,
)
from surrogates.solvers.ns.spectral import Grid, shell_spectrum
from surrogates.solvers.ns.stepping import Schedule, System, integrate, pressure

__all__ = [
    "Config",
    "simulate",
    "simulate_diagnostics",
    "simulate_from",
    "output_times",
    "forcing_schedule",
    "taylor_green_1600",
    "dissipation_peak",
    "Grid",
    "Schedule",
    "System",
    "abc_flow",
    "integrate",
    "pressure",
    "random_isotropic",
    "shell_spectrum",
    "taylor_green",
]
