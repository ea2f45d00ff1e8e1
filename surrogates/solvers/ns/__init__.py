"""Building blocks of the pseudo-spectral Navier-Stokes solver (see
:mod:`surrogates.solvers.navier_stokes` for the registered entry point)."""

from surrogates.solvers.ns.initial import abc_flow, random_isotropic, taylor_green
from surrogates.solvers.ns.spectral import Grid, shell_spectrum
from surrogates.solvers.ns.stepping import Schedule, System, integrate, pressure

__all__ = [
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
