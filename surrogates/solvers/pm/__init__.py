"""Particle-mesh N-body reference solver (FastPM-style): flat ΛCDM background and growth,
Eisenstein & Hu linear power, 2LPT initial conditions, CIC kick-drift-kick. Importing it
registers the ``pm`` solver."""

from surrogates.solvers.pm.cosmology import Background
from surrogates.solvers.pm.solver import Config, simulate, write

__all__ = ["Background", "Config", "simulate", "write"]
